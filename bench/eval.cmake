# Decision-engine benchmarks (bars in docs/benchmarks.md): check latency percentiles (own harness), rule-count
# scaling, compile time and peak RSS of a 10,000-rule set (own process), and a Google Benchmark
# binary for ad-hoc profiling. Driven by bench/run_eval.sh.
add_executable(eval_latency ${CMAKE_CURRENT_LIST_DIR}/eval_latency.cc)
target_link_libraries(eval_latency PRIVATE residency)

add_executable(bench_compile ${CMAKE_CURRENT_LIST_DIR}/eval_compile.cc)
target_link_libraries(bench_compile PRIVATE residency)

add_executable(bench_eval ${CMAKE_CURRENT_LIST_DIR}/eval_benchmark.cc)
target_link_libraries(bench_eval PRIVATE residency benchmark::benchmark)
target_compile_definitions(bench_eval PRIVATE RESIDENCY_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
