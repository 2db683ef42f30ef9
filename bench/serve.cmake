# `residency serve`: PolicyStore::Get + Evaluate scaling from 1 to 2 threads (the HTTP and gRPC
# numbers come from wrk and h2load against the real binary, see bench/run_serve.sh).
add_executable(store_scaling ${CMAKE_CURRENT_LIST_DIR}/store_scaling.cc)
target_link_libraries(store_scaling PRIVATE residency Threads::Threads)
target_compile_definitions(store_scaling PRIVATE
    RESIDENCY_BENCH_POLICIES="${PROJECT_SOURCE_DIR}/policies")
