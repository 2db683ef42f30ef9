#include "internal/time_util.h"

#include "absl/strings/str_cat.h"

namespace residency::internal {

absl::StatusOr<absl::Time> ParseTimestamp(std::string_view text) {
  absl::Time t;
  std::string err;
  std::string s(text);
  if (s.size() == 10 && absl::ParseTime("%Y-%m-%d", s, absl::UTCTimeZone(), &t, &err)) return t;
  // RFC 3339 requires the 'T' separator and an offset; %Y-%m-%d%ET%H:%M:%E*S%Ez covers both
  // `Z` and `+hh:mm`.
  if (s.size() >= 20 && absl::ParseTime(absl::RFC3339_full, s, absl::UTCTimeZone(), &t, &err)) {
    return t;
  }
  return absl::InvalidArgumentError(absl::StrCat("invalid timestamp `", std::string(text),
                                                 "`: want RFC 3339 such as 2026-06-30T00:00:00Z"));
}

std::string FormatTimestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

}  // namespace residency::internal
