// The JSON-lines request format of `residency tag` (docs/tagging.md), shared by the CLI and its
// fuzzer:
// {"headers": {...}, "peer": "IP", "tenant": "ID", "payload": "..." | ["chunk", ...]}, every
// field optional; unknown keys, duplicate keys, wrong types and deep nesting are errors.
#ifndef RESIDENCY_LIB_TAGGING_REQUEST_JSON_H_
#define RESIDENCY_LIB_TAGGING_REQUEST_JSON_H_

#include <string>
#include <string_view>
#include <vector>

#include "residency/tagging.h"

namespace residency::tagging::internal {

// A parsed request that owns its bytes; view() points into it (keep it alive while tagging).
struct OwnedRequest {
  std::vector<std::string> header_storage;  // name, value, name, value, ...
  std::vector<Header> headers;
  std::vector<std::string> chunk_storage;
  std::vector<std::string_view> chunks;
  std::string tenant;
  IpAddress peer;
  RequestView view() const;
};

// Parses one line. Returns "" on success, else a one-line lowercase error message.
std::string ParseRequestLine(std::string_view line, OwnedRequest* out);

// The output line for a result: {"tags", "detectors", "provenance", "status", "bytes_scanned",
// "user"} (no trailing newline).
std::string RenderResultLine(const TagResult& r);

// The error line for input line `lineno`: {"line": N, "error": "..."}.
std::string RenderErrorLine(long lineno, const std::string& error);

}  // namespace residency::tagging::internal

#endif  // RESIDENCY_LIB_TAGGING_REQUEST_JSON_H_
