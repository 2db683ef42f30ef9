// One immutable plan shared by several threads, each with its own scratch: every thread gets the
// single-threaded results (run under TSan with `ctest -L concurrency`).
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "residency/tagging.h"
#include "tagging/tagging_corpus.h"
#include "tagging/tagging_test_util.h"

namespace residency::tagging {
namespace {

TEST(Concurrency, SharedPlanPerThreadScratch) {
  const TaggerPlan& plan = testing::ShippedPlan();
  std::vector<std::string> docs;
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    docs.push_back(corpus::Text(seed, static_cast<corpus::Kind>(seed % 5), 300 + seed * 50, 0.02));
  }
  const std::vector<Header> headers = {{"x-user-country", "KR"}};
  std::vector<uint8_t> want_detectors;
  std::vector<std::vector<std::string>> want_tags;
  for (const std::string& d : docs) {
    const TagResult r = testing::TagChunks(plan, {d}, headers, "t2", "203.0.113.1");
    want_detectors.push_back(r.detectors);
    want_tags.push_back(testing::TagStrings(r));
  }
  std::atomic<int> mismatches{0};
  std::atomic<int> positives{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      TagScratch scratch(plan);
      IpAddress peer;
      IpAddress::Parse("203.0.113.1", &peer);
      for (int round = 0; round < 50; ++round) {
        const size_t i = static_cast<size_t>(round * 7 + t) % docs.size();
        const std::string_view chunk(docs[i]);
        RequestView v;
        v.headers = headers;
        v.tenant = "t2";
        v.peer = peer;
        v.payload = absl::MakeConstSpan(&chunk, 1);
        const TagResult r = TagRequest(plan, v, scratch);
        if (r.detectors != want_detectors[i] || r.user.view() != "DE" ||
            testing::TagStrings(r) != want_tags[i]) {
          mismatches.fetch_add(1);
        }
        positives.fetch_add(r.num_tags > 0);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(positives.load(), 0);
}

}  // namespace
}  // namespace residency::tagging
