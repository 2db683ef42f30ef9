// The detectors agree with an RE2 oracle (tagging_oracle.h) on generated corpora and on random
// strings drawn from the characters the detectors care about.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "residency/tagging.h"
#include "tagging/scan.h"
#include "tagging/tagging_corpus.h"
#include "tagging/tagging_oracle.h"
#include "tagging/tagging_test_util.h"

namespace residency::tagging {
namespace {

const std::vector<std::string> kKeywords = {"주민등록번호", "주민번호", "RRN"};

bool HasSlowTrigger(const std::string& s) {
  return s.find("\\u") != std::string::npos || s.find("\xEF\xBC") != std::string::npos ||
         s.find("\xEF\xBD") != std::string::npos;
}

uint8_t Expected(const oracle::Oracle& o, const std::string& s) {
  uint8_t bits = o.Detect(s);
  if (HasSlowTrigger(s)) {
    std::string norm(s.size(), '\0');
    norm.resize(internal::Normalize(reinterpret_cast<const uint8_t*>(s.data()), s.size(),
                                    reinterpret_cast<uint8_t*>(norm.data())));
    bits |= o.Detect(norm);
  }
  return bits;
}

std::string Bits(uint8_t b) {
  std::string s;
  for (int i = 0; i < kNumDetectors; ++i) {
    if (b & (1u << i)) s += std::string(DetectorName(static_cast<Detector>(i))) + " ";
  }
  return s;
}

TEST(Oracle, PatternsCompile) {
  oracle::Oracle o(kKeywords);
  EXPECT_TRUE(o.ok());
}

TEST(Oracle, AgreesOnGeneratedCorpora) {
  oracle::Oracle o(kKeywords);
  const TaggerPlan& plan = testing::ShippedPlan();
  int positives = 0, total = 0;
  for (auto kind : {corpus::Kind::kEnglish, corpus::Kind::kKorean, corpus::Kind::kDigits,
                    corpus::Kind::kChatJson}) {
    for (double rate : {0.0, 0.001, 0.01, 0.05}) {
      for (size_t size : {256u, 1024u, 4096u}) {
        for (uint64_t seed = 1; seed <= 12; ++seed) {
          const std::string text = corpus::Text(seed * 1000 + size, kind, size, rate);
          const uint8_t want = Expected(o, text);
          const uint8_t got = testing::TagText(plan, text).detectors;
          ASSERT_EQ(Bits(want), Bits(got)) << "kind " << static_cast<int>(kind) << " rate " << rate
                                           << " size " << size << " seed " << seed;
          positives += want != 0;
          ++total;
        }
      }
    }
  }
  // The corpora must actually exercise the detectors.
  EXPECT_GT(positives, total / 4);
}

TEST(Oracle, AgreesOnAdversarialInputs) {
  oracle::Oracle o(kKeywords);
  for (size_t size : {5u, 64u, 300u, 2048u}) {
    for (const std::string& s : corpus::Adversarial(size, size)) {
      EXPECT_EQ(Bits(Expected(o, s)), Bits(testing::TagText(testing::ShippedPlan(), s).detectors))
          << s.substr(0, 80);
    }
  }
}

TEST(Oracle, AgreesOnRandomDetectorAlphabet) {
  oracle::Oracle o(kKeywords);
  corpus::Rng r(2024);
  // Pieces that form near-misses of every detector when strung together at random.
  const std::vector<std::string> pieces = {
      "0",    "1",        "2",      "3",    "4",       "5",        "6",    "7",    "8",
      "9",    "00",       "01",     "02",   "10",      "29",       "31",   "-",    "-",
      " ",    ".",        "+",      "+82",  "@",       "a",        "Z",    "ab",   ".com",
      "_",    "%",        "\n",     "x@",   "주민",    "등록번호", "번호", "RRN",  "rrn",
      "R",    "\xEC\xA3", "010",    "4111", "9001011", "2221",     "6011", "3528", "676770",
      "1234", "12345",    "123456", "1",    "9",       "0"};
  int positives = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    const int n = 1 + static_cast<int>(r.Below(30));
    for (int k = 0; k < n; ++k) s += pieces[r.Below(static_cast<uint32_t>(pieces.size()))];
    const uint8_t want = Expected(o, s);
    ASSERT_EQ(Bits(want), Bits(testing::TagText(testing::ShippedPlan(), s).detectors)) << s;
    positives += want != 0;
  }
  EXPECT_GT(positives, 1000);
}

}  // namespace
}  // namespace residency::tagging
