#include "internal/time_util.h"

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

}  // namespace
}  // namespace residency::internal
