# Audit trail benchmarks (bars in docs/benchmarks.md): append throughput, decision-path overhead, verification.
add_executable(audit_benchmark ${CMAKE_CURRENT_SOURCE_DIR}/audit_benchmark.cc)
target_include_directories(audit_benchmark PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(audit_benchmark PRIVATE residency_audit residency_internal residency_flags
    benchmark::benchmark OpenSSL::Crypto Threads::Threads)
