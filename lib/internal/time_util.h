// RFC 3339 timestamps as used in requests, policies and decisions.
#ifndef RESIDENCY_LIB_INTERNAL_TIME_UTIL_H_
#define RESIDENCY_LIB_INTERNAL_TIME_UTIL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "residency/util.h"

namespace residency::internal {

// RFC 3339 timestamps (public: residency/util.h).
using ::residency::FormatTimestamp;
using ::residency::ParseTimestamp;

}  // namespace residency::internal

#endif  // RESIDENCY_LIB_INTERNAL_TIME_UTIL_H_
