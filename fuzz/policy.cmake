# Policy YAML and request parsers. Seeds: the shipped policies, the example requests, the policy
# tests and the YAML test suite (../shared/testdata, read where present).
residency_fuzzer(policy_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/policy_fuzzer.cc
  SEEDS ${PROJECT_SOURCE_DIR}/policies ${PROJECT_SOURCE_DIR}/policies/tests
        ${RESIDENCY_SHARED_TESTDATA}/yaml-test-suite)
residency_fuzzer(request_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/request_fuzzer.cc
  SEEDS ${PROJECT_SOURCE_DIR}/examples/requests ${RESIDENCY_SHARED_TESTDATA}/yaml-test-suite)
