#include "internal/time_util.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace residency::internal {
namespace {

TEST(Timestamp, ParsesRfc3339WithOffsets) {
  auto z = ParseTimestamp("2026-06-30T00:00:00Z");
  ASSERT_TRUE(z.ok()) << z.status();
  auto kst = ParseTimestamp("2026-06-30T09:00:00+09:00");
  ASSERT_TRUE(kst.ok()) << kst.status();
  EXPECT_EQ(*z, *kst);
  EXPECT_EQ(FormatTimestamp(*z), "2026-06-30T00:00:00Z");
}

TEST(Timestamp, BareDateIsMidnightUtc) {
  auto d = ParseTimestamp("2025-09-16");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(FormatTimestamp(*d), "2025-09-16T00:00:00Z");
}

TEST(Timestamp, RejectsMalformed) {
  for (const char* bad : {"", "2026-13-01T00:00:00Z", "2026-06-30 00:00:00", "2026-06-30T00:00:00",
                          "yesterday", "2026-02-30"}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

// RFC 3339's year is four digits: what is read is written back the same way and reads again.
TEST(Timestamp, FourDigitYearsBothWays) {
  for (int y : {0, 1, 99, 506, 999, 1000, 9999}) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-03-01T12:00:00Z", y);
    auto t = ParseTimestamp(buf);
    ASSERT_TRUE(t.ok()) << buf << ": " << t.status();
    EXPECT_EQ(FormatTimestamp(*t), buf);
    auto again = ParseTimestamp(FormatTimestamp(*t));
    ASSERT_TRUE(again.ok()) << FormatTimestamp(*t);
    EXPECT_EQ(*again, *t);
  }
  for (const char* bad :
       {"10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "+2026-06-30T00:00:00Z", "12026-06-30",
        "0000-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00", "2026-06-30T00:00:00+9:00"}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

// ParseTimestamp reads the common forms itself; it must agree with absl::ParseTime on them.
TEST(Timestamp, CommonFormsAgreeWithAbslParseTime) {
  int checked = 0;
  for (int y : {1000, 1899, 1900, 1970, 1999, 2000, 2024, 2025, 2026, 2100, 2400, 9999}) {
    for (int mo = 1; mo <= 12; ++mo) {
      for (int d : {1, 15, 28, 29, 30, 31}) {
        for (const char* clock : {"00:00:00", "23:59:59", "09:30:07"}) {
          char buf[16];
          std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, mo, d);
          const std::string date = buf;
          for (const std::string& text : {date, absl::StrCat(date, "T", clock, "Z")}) {
            absl::Time want;
            std::string err;
            const bool ok = absl::ParseTime(text.size() == 10 ? "%Y-%m-%d" : absl::RFC3339_full,
                                            text, absl::UTCTimeZone(), &want, &err);
            auto got = ParseTimestamp(text);
            ASSERT_EQ(got.ok(), ok) << text;
            if (ok) {
              ASSERT_EQ(*got, want) << text;
            }
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 2000);
  for (const char* odd : {"0999-01-01", "2026-06-30T23:59:60Z", "2026-06-30t00:00:00z",
                          "2026-06-30T00:00:00.5Z", "2026-06-30T24:00:00Z", "2026-6-30"}) {
    absl::Time want;
    std::string err;
    const std::string text = odd;
    const bool ok = absl::ParseTime(text.size() == 10 ? "%Y-%m-%d" : absl::RFC3339_full, text,
                                    absl::UTCTimeZone(), &want, &err);
    auto got = ParseTimestamp(text);
    EXPECT_EQ(got.ok(), ok) << text;
    if (ok && got.ok()) {
      EXPECT_EQ(*got, want) << text;
    }
  }
}

}  // namespace
}  // namespace residency::internal
