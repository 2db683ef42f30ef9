# Audit parsers: the canonical record decoder and the signed-note / checkpoint / tlog-proof parsers.
residency_fuzzer(audit_record_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/audit_record_fuzzer.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/audit_record
  LIBS residency_audit residency_internal OpenSSL::Crypto Threads::Threads)
residency_fuzzer(checkpoint_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint_fuzzer.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/checkpoint
  LIBS residency_audit residency_internal OpenSSL::Crypto Threads::Threads)
# Segment scan and crash recovery over arbitrary bytes written as the segment of a crashed log
# (in the fault-injecting file layer): never crashes; a recovered log keeps the input's prefix
# and verifies. Seeds: segments of small logs written by the fuzzer itself (see its header).
residency_fuzzer(segment_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/segment_fuzzer.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/segment
  LIBS residency_audit residency_internal OpenSSL::Crypto Threads::Threads)
# Key reading: `.vkey` text, PEM private keys and signed notes as users hand them over. Errors
# never quote the input; a key of the wrong kind is named as such. Seeds: keygen output.
residency_fuzzer(key_fuzzer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/key_fuzzer.cc
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/key
  LIBS residency_audit residency_internal OpenSSL::Crypto Threads::Threads)
