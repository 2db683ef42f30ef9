# Policy YAML and request parsers. Seeds: the shipped policies, the example requests, the policy
# tests, fuzz/corpus/{policy,request}/ (multi-document texts, mappings for lists, trailing JSON,
# bytes that are not UTF-8) and the YAML test suite (../shared/testdata, read where present).
residency_fuzzer(policy_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/policy_fuzzer.cc
  SEEDS ${PROJECT_SOURCE_DIR}/policies ${PROJECT_SOURCE_DIR}/policies/tests
        ${CMAKE_CURRENT_SOURCE_DIR}/corpus/policy ${RESIDENCY_SHARED_TESTDATA}/yaml-test-suite)
residency_fuzzer(request_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/request_fuzzer.cc
  SEEDS ${PROJECT_SOURCE_DIR}/examples/requests ${CMAKE_CURRENT_SOURCE_DIR}/corpus/request
        ${RESIDENCY_SHARED_TESTDATA}/yaml-test-suite)
