#include "internal/time_util.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace residency::internal {

namespace {

// The common forms `YYYY-MM-DD` and `YYYY-MM-DDTHH:MM:SSZ` without absl::ParseTime (which costs
// microseconds): false for anything else, and for values it leaves to ParseTime (years before
// 1000, leap seconds, days past the month's end).
bool ParseCanonical(std::string_view s, absl::Time* t) {
  if (s.size() != 10 && s.size() != 20) return false;
  auto digits = [&](size_t at, size_t n, int* v) {
    int x = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
  };
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(0, 4, &y) || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' || !digits(8, 2, &d)) {
    return false;
  }
  if (s.size() == 20 &&
      (s[10] != 'T' || !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &mi) || s[16] != ':' ||
       !digits(17, 2, &sec) || s[19] != 'Z')) {
    return false;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return false;
  // Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
  const int yy = mo <= 2 ? y - 1 : y;
  const int era = yy / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
  const int64_t days = int64_t{era} * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
  *t = absl::FromUnixSeconds(days * 86400 + h * 3600 + mi * 60 + sec);
  return true;
}

}  // namespace

}  // namespace residency::internal

namespace residency {

absl::StatusOr<absl::Time> ParseTimestamp(std::string_view text) {
  absl::Time t;
  if (internal::ParseCanonical(text, &t)) return t;
  auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid timestamp `", std::string(text), "`: want RFC 3339 such as 2026-06-30T00:00:00Z"));
  };
  // RFC 3339's year is four digits (absl::ParseTime's %Y would also take a sign or more digits).
  if (text.size() < 10 || text[4] != '-' ||
      !std::all_of(text.begin(), text.begin() + 4, [](char c) { return c >= '0' && c <= '9'; })) {
    return invalid();
  }
  std::string err;
  std::string s(text);
  bool ok = false;
  if (s.size() == 10) {
    ok = absl::ParseTime("%Y-%m-%d", s, absl::UTCTimeZone(), &t, &err);
  } else if (s.size() >= 20) {
    // RFC 3339 requires the 'T' separator and an offset; %Y-%m-%d%ET%H:%M:%E*S%Ez covers both
    // `Z` and `+hh:mm`.
    ok = absl::ParseTime(absl::RFC3339_full, s, absl::UTCTimeZone(), &t, &err);
  }
  if (!ok) return invalid();
  // In UTC it must still be a four-digit year, so that it is written back as RFC 3339
  // (0000-01-01T00:00:00+01:00 is in the year -1).
  static const absl::Time kFirst = absl::FromCivil(absl::CivilYear(0), absl::UTCTimeZone());
  static const absl::Time kEnd = absl::FromCivil(absl::CivilYear(10000), absl::UTCTimeZone());
  if (t < kFirst || t >= kEnd) {
    return absl::InvalidArgumentError(absl::StrCat("invalid timestamp `", std::string(text),
                                                   "`: outside the years 0000-9999 in UTC"));
  }
  return t;
}

std::string FormatTimestamp(absl::Time t) {
  // %E4Y: four digits for the years 0000-9999 (%Y would write 506 for 0506).
  return absl::FormatTime("%E4Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

}  // namespace residency
