# Audit parsers: the canonical record decoder and the signed-note / checkpoint / tlog-proof parsers.
residency_fuzzer(audit_record_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/audit_record_fuzzer.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/audit_record
  LIBS residency_audit residency_internal OpenSSL::Crypto Threads::Threads)
residency_fuzzer(checkpoint_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint_fuzzer.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/checkpoint
  LIBS residency_audit residency_internal OpenSSL::Crypto Threads::Threads)
# The parsers live in residency_audit: instrument it for coverage when building real fuzzers.
if(RESIDENCY_FUZZ_LIBFUZZER)
  target_compile_options(residency_audit PRIVATE -fsanitize=fuzzer-no-link)
endif()
