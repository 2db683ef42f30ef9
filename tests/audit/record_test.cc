// The canonical record encoding: round trips, and every other byte form rejected.
#include "audit/record.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "audit/codec.h"
#include "residency/audit.h"

namespace residency::audit {
namespace {

DecisionRecord SampleDecision() {
  DecisionRecord d;
  d.decision = "deny";
  d.rule_ids = {"kr.cross_border", "corp.sovereign"};
  d.tags = {"KR:personal", "DE:personal.credit"};  // unsorted on purpose
  for (int i = 0; i < 32; ++i) d.request_digest[i] = static_cast<uint8_t>(i);
  d.policy_digest = "sha256:" + std::string(64, 'a');
  d.now = absl::FromUnixSeconds(1782777600);
  return d;
}

TEST(Record, DecisionRoundTripsCanonically) {
  std::string bytes;
  ASSERT_TRUE(EncodeDecision(SampleDecision(), 42, nullptr, &bytes).ok());
  RecordView v;
  ASSERT_TRUE(DecodeRecord(bytes, &v).ok());
  EXPECT_EQ(v.type, RecordType::kDecision);
  EXPECT_EQ(v.index, 42u);
  EXPECT_EQ(v.time_ns, 0);  // the record's time is the writer's to stamp, never d.now
  EXPECT_EQ(v.evaluated_at_ns, int64_t{1782777600} * 1000000000);
  EXPECT_STREQ(DecisionName(v.decision), "deny");
  ASSERT_EQ(v.tags.size(), 2u);
  EXPECT_EQ(v.tags[0], "DE:personal.credit");  // stored sorted
  EXPECT_EQ(v.rule_ids[0], "kr.cross_border");
  EXPECT_FALSE(v.has_principal);
  std::string again;
  ASSERT_TRUE(EncodeRecord(v, &again).ok());
  EXPECT_EQ(again, bytes);
  EXPECT_EQ(RecordToJson(v),
            "{\"index\":42,\"type\":\"decision\",\"time\":\"1970-01-01T00:00:00Z\","
            "\"evaluated_at\":\"2026-06-30T00:00:00Z\",\"decision\":\"deny\",\"rule_ids\":[\"kr."
            "cross_border\",\"corp.sovereign\"],"
            "\"tags\":[\"DE:personal.credit\",\"KR:personal\"],\"request_digest\":\"sha256:"
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\","
            "\"policy_digest\":\"sha256:" +
                std::string(64, 'a') + "\"}");
}

TEST(Record, DuplicateTagsAreStoredOnce) {
  DecisionRecord d = SampleDecision();
  d.tags = {"KR:personal", "KR:personal", "CN:personal"};
  std::string bytes;
  ASSERT_TRUE(EncodeDecision(d, 0, nullptr, &bytes).ok());
  RecordView v;
  ASSERT_TRUE(DecodeRecord(bytes, &v).ok());
  ASSERT_EQ(v.tags.size(), 2u);
}

TEST(Record, EncoderRejectsBadFields) {
  std::string out;
  DecisionRecord d = SampleDecision();
  d.decision = "maybe";
  EXPECT_FALSE(EncodeDecision(d, 0, nullptr, &out).ok());
  d = SampleDecision();
  d.policy_digest = "sha256:abc";
  EXPECT_FALSE(EncodeDecision(d, 0, nullptr, &out).ok());
  d = SampleDecision();
  d.rule_ids = {""};
  EXPECT_FALSE(EncodeDecision(d, 0, nullptr, &out).ok());
  d.rule_ids = {"a\nb"};
  EXPECT_FALSE(EncodeDecision(d, 0, nullptr, &out).ok());
  d.rule_ids = {std::string(256, 'x')};
  EXPECT_FALSE(EncodeDecision(d, 0, nullptr, &out).ok());
  d = SampleDecision();
  d.now = absl::InfiniteFuture();
  EXPECT_FALSE(EncodeDecision(d, 0, nullptr, &out).ok());
  EXPECT_TRUE(out.empty());
}

// Every single-byte change, truncation and extension of a valid record is either rejected or
// decodes to a record whose encoding is exactly the changed bytes (one byte form per record).
TEST(Record, OnlyCanonicalFormsDecode) {
  std::vector<std::string> samples;
  std::string b;
  Hash commit{};
  commit[5] = 9;
  ASSERT_TRUE(EncodeDecision(SampleDecision(), 7, &commit, &b).ok());
  samples.push_back(b);
  RecordView hb;
  hb.type = RecordType::kHeartbeat;
  hb.count = 3;
  hb.prev_size = 2;
  b.clear();
  ASSERT_TRUE(EncodeRecord(hb, &b).ok());
  samples.push_back(b);
  RecordView open;
  open.type = RecordType::kLogOpen;
  open.origin = "gw1/x";
  open.key_name = "gw1";
  open.vkey = "gw1+00000000+AQ==";
  open.software = "residency 0.1.0";
  b.clear();
  ASSERT_TRUE(EncodeRecord(open, &b).ok());
  samples.push_back(b);
  std::mt19937 rng(1);
  int rejected = 0;
  for (const auto& s : samples) {
    RecordView v;
    ASSERT_TRUE(DecodeRecord(s, &v).ok());
    for (size_t i = 0; i < s.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string m = s;
        m[i] ^= static_cast<char>(1 << bit);
        if (DecodeRecord(m, &v).ok()) {
          std::string re;
          ASSERT_TRUE(EncodeRecord(v, &re).ok());
          EXPECT_EQ(re, m) << "byte " << i;
        } else {
          ++rejected;
        }
      }
    }
    for (size_t n = 0; n < s.size(); ++n) EXPECT_FALSE(DecodeRecord(s.substr(0, n), &v).ok());
    EXPECT_FALSE(DecodeRecord(s + '\0', &v).ok());
  }
  EXPECT_GT(rejected, 100);
}

TEST(Record, RejectsUnsortedTagsAndBadFlags) {
  std::string bytes;
  DecisionRecord d = SampleDecision();
  d.tags = {"A:x", "B:y"};
  ASSERT_TRUE(EncodeDecision(d, 0, nullptr, &bytes).ok());
  size_t a = bytes.find("A:x"), bb = bytes.find("B:y");
  ASSERT_NE(a, std::string::npos);
  std::string swapped = bytes;
  swapped.replace(a, 3, "B:y");
  swapped.replace(bb, 3, "A:x");
  RecordView v;
  EXPECT_FALSE(DecodeRecord(swapped, &v).ok());
  std::string flag = bytes;
  flag.back() = 2;  // has_principal must be 0 or 1
  EXPECT_FALSE(DecodeRecord(flag, &v).ok());
  for (char other : {'\1', '\3'}) {  // version 1 (record time from the request) and unknown
    std::string version = bytes;
    version[0] = other;
    EXPECT_FALSE(DecodeRecord(version, &v).ok());
  }
}

}  // namespace
}  // namespace residency::audit

namespace residency::audit {
namespace {

TEST(Record, FuzzSeedsAreCanonicalRecords) {
  std::string dir = std::string(RESIDENCY_SOURCE_DIR) + "/fuzz/corpus/audit_record";
  std::error_code ec;
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    RecordView v;
    ASSERT_TRUE(DecodeRecord(bytes, &v).ok()) << e.path();
    std::string again;
    ASSERT_TRUE(EncodeRecord(v, &again).ok());
    EXPECT_EQ(again, bytes);
    ++n;
  }
  EXPECT_GE(n, 4) << "seed corpus missing under " << dir;
}

}  // namespace
}  // namespace residency::audit
