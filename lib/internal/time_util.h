// RFC 3339 timestamps as used in requests, policies and decisions.
#ifndef RESIDENCY_LIB_INTERNAL_TIME_UTIL_H_
#define RESIDENCY_LIB_INTERNAL_TIME_UTIL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace residency::internal {

// Parses an RFC 3339 timestamp with an explicit offset (`Z` or `+09:00`); a bare date
// `YYYY-MM-DD` is accepted as midnight UTC. Returns InvalidArgument otherwise.
absl::StatusOr<absl::Time> ParseTimestamp(std::string_view text);

// Formats as `YYYY-MM-DDTHH:MM:SSZ` (UTC, sub-second digits only when non-zero).
std::string FormatTimestamp(absl::Time t);

}  // namespace residency::internal

#endif  // RESIDENCY_LIB_INTERNAL_TIME_UTIL_H_
