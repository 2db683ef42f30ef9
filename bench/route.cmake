add_executable(route_benchmark ${CMAKE_CURRENT_SOURCE_DIR}/route_benchmark.cc)
target_link_libraries(route_benchmark PRIVATE residency benchmark::benchmark)
target_compile_definitions(route_benchmark PRIVATE
    RESIDENCY_BENCH_POLICIES="${PROJECT_SOURCE_DIR}/policies")
