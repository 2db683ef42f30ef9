// TagRequest() does not allocate: this binary replaces the global operator new with a counting
// one and tags every kind of request between two reads of the counter.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "residency/tagging.h"
#include "tagging/tagging_corpus.h"
#include "tagging/tagging_test_util.h"
#include "testing/counting_new.h"

namespace residency::tagging {
namespace {

std::vector<int>* volatile g_escape;  // so that the compiler cannot elide the allocation

TEST(NoAllocation, CounterWorks) {
  const long before = residency::testing::AllocationCount();
  g_escape = new std::vector<int>(100);
  delete g_escape;
  EXPECT_GE(residency::testing::AllocationCount() - before, 2);
}

TEST(NoAllocation, TagRequestNeverAllocates) {
  const TaggerPlan& plan = testing::ShippedPlan();
  TagScratch scratch(plan);
  std::vector<std::string> bodies;
  for (auto kind : {corpus::Kind::kEnglish, corpus::Kind::kKorean, corpus::Kind::kDigits,
                    corpus::Kind::kChatJson}) {
    bodies.push_back(corpus::Text(1, kind, 4096, 0.01));
  }
  for (const std::string& s : corpus::Adversarial(3, 2000)) bodies.push_back(s);
  bodies.push_back(std::string(100000, '7'));  // over the budget
  const std::vector<Header> headers = {
      {"user-agent", "x"}, {"X-User-Country", "kr"}, {"accept", "*/*"}};
  IpAddress v4, v6;
  ASSERT_TRUE(IpAddress::Parse("203.0.113.9", &v4));
  ASSERT_TRUE(IpAddress::Parse("2001:db8:82::5", &v6));
  std::vector<std::vector<std::string_view>> payloads;
  for (const std::string& b : bodies) {
    payloads.push_back({b});
    payloads.push_back({std::string_view(b).substr(0, 100), std::string_view(b).substr(100)});
  }
  const long before = residency::testing::AllocationCount();
  int tagged = 0, found = 0;
  for (const auto& chunks : payloads) {
    for (int variant = 0; variant < 3; ++variant) {
      RequestView v;
      v.headers = headers;
      v.tenant = variant == 0 ? "t1" : "unknown-tenant";
      v.peer = variant == 1 ? v4 : v6;
      v.payload = chunks;
      const TagResult r = TagRequest(plan, v, scratch);
      found += r.num_tags;
      ++tagged;
    }
  }
  const long after = residency::testing::AllocationCount();
  EXPECT_EQ(after - before, 0) << "allocations during " << tagged << " requests";
  EXPECT_GT(found, 0);
}

}  // namespace
}  // namespace residency::tagging
