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
