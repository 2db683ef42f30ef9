# Tagging benchmarks: the tagger, RE2::Set and (when libhs is found by pkg-config)
# Hyperscan on the same generated corpora. Hyperscan is a benchmark-only dependency.
pkg_check_modules(RESIDENCY_HS QUIET IMPORTED_TARGET libhs)
add_executable(tagging_benchmark ${CMAKE_CURRENT_LIST_DIR}/tagging_benchmark.cc)
target_include_directories(tagging_benchmark PRIVATE ${PROJECT_SOURCE_DIR}/lib
    ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(tagging_benchmark PRIVATE residency_tagging residency_internal residency_re2
    ${RESIDENCY_YAML_TARGET} absl::flat_hash_map benchmark::benchmark residency_flags)
target_compile_definitions(tagging_benchmark PRIVATE RESIDENCY_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
if(RESIDENCY_HS_FOUND)
  target_link_libraries(tagging_benchmark PRIVATE PkgConfig::RESIDENCY_HS)
  target_compile_definitions(tagging_benchmark PRIVATE RESIDENCY_BENCH_HYPERSCAN=1)
else()
  message(WARNING "Hyperscan (pkg-config libhs) not found: tagging_benchmark is built without "
                  "its Hyperscan peer and bench/run_tagging.sh will refuse it; run "
                  "bench/install_peers.sh hyperscan and configure again")
endif()
