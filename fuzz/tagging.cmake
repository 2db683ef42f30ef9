# Tagging fuzzers: kernels vs scalar and chunked vs whole (abort on any disagreement), the
# tagging.yaml compiler, and the detectors vs the RE2 oracle of tests/tagging/tagging_oracle.h.
# Seeds: fuzz/corpus/tagging_*/ and the shipped policies/tagging.yaml.
set(_tagging_fuzz_libs residency_tagging residency_internal ${RESIDENCY_YAML_TARGET}
    absl::flat_hash_map)
residency_fuzzer(tagging_kernels_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tagging_kernels_fuzzer.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/tagging_kernels
  LIBS ${_tagging_fuzz_libs})
residency_fuzzer(tagging_config_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tagging_config_fuzzer.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/tagging_config ${PROJECT_SOURCE_DIR}/policies/tagging.yaml
  LIBS ${_tagging_fuzz_libs})
residency_fuzzer(tagging_request_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tagging_request_fuzzer.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/tagging_request
  LIBS ${_tagging_fuzz_libs} nlohmann_json::nlohmann_json)
residency_fuzzer(tagging_detectors_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tagging_detectors_fuzzer.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/tagging_detectors
  LIBS ${_tagging_fuzz_libs} residency_re2)
target_include_directories(tagging_detectors_fuzzer PRIVATE ${PROJECT_SOURCE_DIR}/tests)
