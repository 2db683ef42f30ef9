// Audit record decoder: anything accepted must re-encode to exactly the input (one byte form per
// record); everything else must be rejected without crashing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "audit/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  residency::audit::RecordView v;
  if (!residency::audit::DecodeRecord(in, &v).ok()) return 0;
  std::string out;
  if (!residency::audit::EncodeRecord(v, &out).ok() || out != in) std::abort();
  (void)residency::audit::RecordToJson(v);
  return 0;
}
