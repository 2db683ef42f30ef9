// TagRequest() does not allocate: this binary replaces the global operator new with a counting
// one and tags every kind of request between two reads of the counter.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "residency/tagging.h"
#include "tagging/tagging_corpus.h"
#include "tagging/tagging_test_util.h"

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const size_t al = static_cast<size_t>(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace residency::tagging {
namespace {

TEST(NoAllocation, CounterWorks) {
  const long before = g_allocations.load();
  auto* v = new std::vector<int>(100);
  delete v;
  EXPECT_GE(g_allocations.load() - before, 2);
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
  const long before = g_allocations.load();
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
  const long after = g_allocations.load();
  EXPECT_EQ(after - before, 0) << "allocations during " << tagged << " requests";
  EXPECT_GT(found, 0);
}

}  // namespace
}  // namespace residency::tagging
