// Helpers shared by the tagging tests.
#ifndef RESIDENCY_TESTS_TAGGING_TAGGING_TEST_UTIL_H_
#define RESIDENCY_TESTS_TAGGING_TAGGING_TEST_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "residency/tagging.h"

namespace residency::tagging::testing {

inline std::string ShippedConfigPath() {
  return std::string(RESIDENCY_SOURCE_DIR) + "/policies/tagging.yaml";
}

// The shipped plan with the kernel the environment selects (RESIDENCY_FORCE_KERNEL or the CPU).
inline const TaggerPlan& ShippedPlan() {
  static const TaggerPlan* plan = [] {
    auto p = TaggerPlan::Load(ShippedConfigPath());
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      std::abort();
    }
    return new TaggerPlan(std::move(*p));
  }();
  return *plan;
}

inline TaggerPlan MustCompile(std::string_view yaml, const TaggerOptions& options = {}) {
  auto p = TaggerPlan::Compile(yaml, "test.yaml", options);
  if (!p.ok()) {
    ADD_FAILURE() << p.status();
    std::abort();
  }
  return std::move(*p);
}

inline TagResult TagChunks(const TaggerPlan& plan, const std::vector<std::string_view>& chunks,
                           absl::Span<const Header> headers = {}, std::string_view tenant = "",
                           std::string_view peer = "") {
  TagScratch scratch(plan);
  RequestView v;
  v.headers = headers;
  v.tenant = tenant;
  v.payload = chunks;
  if (!peer.empty()) {
    EXPECT_TRUE(IpAddress::Parse(peer, &v.peer)) << peer;
  }
  return TagRequest(plan, v, scratch);
}

inline TagResult TagText(const TaggerPlan& plan, std::string_view text) {
  return TagChunks(plan, {text});
}

inline std::vector<std::string> DetectorNames(const TagResult& r) {
  std::vector<std::string> out;
  for (int i = 0; i < kNumDetectors; ++i) {
    if (r.detectors & (1u << i)) out.push_back(DetectorName(static_cast<Detector>(i)));
  }
  return out;
}

inline std::vector<std::string> TagStrings(const TagResult& r) {
  std::vector<std::string> out;
  for (const Tag& t : r.tag_span()) out.push_back(t.ToString());
  return out;
}

// Registration-number check digit computed here, independently of the library.
inline char CheckDigit(const std::string& twelve, bool foreigner) {
  const int w[12] = {2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5};
  int sum = 0;
  for (int i = 0; i < 12; ++i) sum += w[i] * (twelve[i] - '0');
  return static_cast<char>('0' + ((foreigner ? 13 : 11) - sum % 11) % 10);
}

}  // namespace residency::tagging::testing

#endif  // RESIDENCY_TESTS_TAGGING_TAGGING_TEST_UTIL_H_
