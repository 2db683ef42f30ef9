# The compiled evaluator against the reference evaluator of the differential test, on requests
# generated from the fuzz bytes (tests/eval/request_generator.h) over the shipped policies and
# the evaluator tests' fixtures. Seeds: fuzz/corpus/eval_diff/.
residency_fuzzer(eval_diff_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/eval_diff_fuzzer.cc
          ${PROJECT_SOURCE_DIR}/tests/eval/request_generator.cc
          ${PROJECT_SOURCE_DIR}/tests/eval/reference_evaluator.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/eval_diff)
target_include_directories(eval_diff_fuzzer PRIVATE ${PROJECT_SOURCE_DIR}/tests/eval
                                                    ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(eval_diff_fuzzer PRIVATE RESIDENCY_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
