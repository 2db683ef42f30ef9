// Kernel differential tests: every kernel the CPU supports against the scalar reference, mask for
// mask, on random, adversarial and boundary inputs.
#include "tagging/kernels.h"

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "residency/tagging.h"
#include "tagging/tagging_corpus.h"
#include "tagging/tagging_test_util.h"

namespace residency::tagging {
namespace {

using internal::BlockMasks;
using internal::KernelKind;
using internal::KernelParams;

std::vector<KernelKind> SupportedKernels() {
  std::vector<KernelKind> v;
  for (int i = 0; i < internal::kNumKernels; ++i) {
    const KernelKind k = static_cast<KernelKind>(i);
    if (internal::KernelSupported(k)) v.push_back(k);
  }
  return v;
}

KernelParams ShippedParams() {
  // The shipped keywords' anchors plus one ASCII letter, so all four slots are exercised.
  KernelParams p;
  p.anchor[0] = 0xEC;
  p.anchor[1] = 0xA3;
  p.anchor[2] = 'r';
  p.anchor[3] = 'e';
  p.anchor[4] = 0xBC;
  p.anchor[5] = 'n';
  p.num_anchors = 6;
  return p;
}

void ExpectSameMasks(const std::string& in, const KernelParams& params, const std::string& what) {
  const size_t nb = (in.size() + 63) / 64;
  std::vector<BlockMasks> ref(nb + 1), got(nb + 1);
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  internal::ClassifyAll(KernelKind::kScalar, p, in.size(), params, ref.data());
  for (KernelKind k : SupportedKernels()) {
    internal::ClassifyAll(k, p, in.size(), params, got.data());
    for (size_t b = 0; b < nb; ++b) {
      ASSERT_EQ(ref[b].digit, got[b].digit) << internal::KernelName(k) << " " << what << " b" << b;
      ASSERT_EQ(ref[b].at, got[b].at) << internal::KernelName(k) << " " << what;
      ASSERT_EQ(ref[b].plus, got[b].plus) << internal::KernelName(k) << " " << what;
      ASSERT_EQ(ref[b].slow, got[b].slow) << internal::KernelName(k) << " " << what;
      for (int a = 0; a < internal::kMaxAnchorBytes; ++a) {
        ASSERT_EQ(ref[b].anchor[a], got[b].anchor[a]) << internal::KernelName(k) << " " << what;
      }
    }
  }
}

TEST(Kernels, ScalarReferenceIsRight) {
  const std::string s =
      "a1@+\\\xEF"
      "Rr\xEC\xA3 9";
  BlockMasks m[1];
  internal::ClassifyAll(KernelKind::kScalar, reinterpret_cast<const uint8_t*>(s.data()), s.size(),
                        ShippedParams(), m);
  EXPECT_EQ(m[0].digit, (1u << 1) | (1u << 11));
  EXPECT_EQ(m[0].at, 1u << 2);
  EXPECT_EQ(m[0].plus, 1u << 3);
  EXPECT_EQ(m[0].slow, (1u << 4) | (1u << 5));
  EXPECT_EQ(m[0].anchor[0], 1u << 8);  // 0xEC only (0xEF | 0x20 is 0xEF)
  EXPECT_EQ(m[0].anchor[3], 0u);
  EXPECT_EQ(m[0].anchor[1], 1u << 9);
  EXPECT_EQ(m[0].anchor[2], (1u << 6) | (1u << 7));
}

TEST(Kernels, EveryByteValueAtEveryPosition) {
  // Each of the 256 byte values lands at every lane of a 64-byte block.
  for (int shift = 0; shift < 64; ++shift) {
    std::string s(320, 'x');
    for (int v = 0; v < 256; ++v) s[(shift + v) % 320] = static_cast<char>(v);
    ExpectSameMasks(s, ShippedParams(), "bytes shift " + std::to_string(shift));
  }
}

TEST(Kernels, RandomInputsAllLengths) {
  corpus::Rng r(42);
  const char alphabet[] = "0123456789@+\\-. aZrR\xEC\xA3\xEF\xBC\x90\x80\xFF";
  for (size_t len = 0; len <= 300; ++len) {
    for (int rep = 0; rep < 4; ++rep) {
      std::string s(len, '\0');
      for (auto& c : s) {
        c = rep == 0 ? static_cast<char>(r.Below(256)) : alphabet[r.Below(sizeof(alphabet) - 1)];
      }
      ExpectSameMasks(s, ShippedParams(), "len " + std::to_string(len));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(Kernels, DigitsAtBlockEdges) {
  for (size_t len : {15u, 16u, 17u, 31u, 32u, 33u, 63u, 64u, 65u, 127u, 128u, 129u, 191u, 192u}) {
    for (size_t pos = 0; pos < len; ++pos) {
      std::string s(len, 'a');
      s[pos] = '9';
      if (pos + 1 < len) s[pos + 1] = '@';
      if (pos > 0) s[pos - 1] = '\xEF';
      ExpectSameMasks(s, ShippedParams(),
                      "edge " + std::to_string(len) + "/" + std::to_string(pos));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(Kernels, AdversarialAndCorpora) {
  for (size_t size : {1u, 63u, 64u, 65u, 1000u, 4096u}) {
    for (const std::string& s : corpus::Adversarial(7, size))
      ExpectSameMasks(s, ShippedParams(), "adv");
  }
  for (auto kind : {corpus::Kind::kEnglish, corpus::Kind::kKorean, corpus::Kind::kDigits,
                    corpus::Kind::kChatJson}) {
    ExpectSameMasks(corpus::Text(3, kind, 5000, 0.01), ShippedParams(), "corpus");
  }
}

TEST(Kernels, FewerAnchorsLeaveSlotsEmpty) {
  KernelParams p;
  p.anchor[0] = 'r';
  p.num_anchors = 1;
  std::string s(200, 'r');
  ExpectSameMasks(s, p, "one anchor");
  std::vector<BlockMasks> m(4);
  for (KernelKind k : SupportedKernels()) {
    internal::ClassifyAll(k, reinterpret_cast<const uint8_t*>(s.data()), s.size(), p, m.data());
    EXPECT_EQ(m[0].anchor[0], ~uint64_t{0});
    EXPECT_EQ(m[0].anchor[1], 0u);
    EXPECT_EQ(m[3].anchor[0], (uint64_t{1} << 8) - 1) << internal::KernelName(k);
  }
}

// The whole tagger gives the same result with every kernel.
TEST(Kernels, TaggerResultsIndependentOfKernel) {
  std::string yaml;
  {
    std::FILE* f = std::fopen(testing::ShippedConfigPath().c_str(), "rb");
    ASSERT_NE(f, nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) yaml.append(buf, n);
    std::fclose(f);
  }
  std::vector<TaggerPlan> plans;
  for (KernelKind k : SupportedKernels()) {
    TaggerOptions o;
    o.force_kernel = internal::KernelName(k);
    plans.push_back(testing::MustCompile(yaml, o));
    EXPECT_STREQ(plans.back().kernel_name(), internal::KernelName(k));
  }
  std::vector<std::string> inputs;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const auto kind = static_cast<corpus::Kind>(seed % 4);
    inputs.push_back(corpus::Text(seed, kind, 64 + seed * 37, 0.02));
  }
  for (const std::string& s : corpus::Adversarial(9, 700)) inputs.push_back(s);
  for (const std::string& in : inputs) {
    const TagResult ref = testing::TagText(plans[0], in);
    for (size_t i = 1; i < plans.size(); ++i) {
      const TagResult got = testing::TagText(plans[i], in);
      EXPECT_EQ(ref.detectors, got.detectors) << plans[i].kernel_name();
      EXPECT_EQ(ref.high_confidence, got.high_confidence) << plans[i].kernel_name();
      EXPECT_EQ(testing::TagStrings(ref), testing::TagStrings(got));
    }
  }
}

}  // namespace
}  // namespace residency::tagging
