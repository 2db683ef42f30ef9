// PolicyStore under concurrent readers and swaps: Get() takes no lock (each thread keeps its own
// reference to the current snapshot); these tests check what that must still guarantee. Run under
// TSan by the concurrency leg.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "eval_fixtures.h"
#include "gtest/gtest.h"
#include "residency/policy.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

std::shared_ptr<const PolicySnapshot> Compile(const std::string& otherwise) {
  std::string p = testing::kKrPolicy;
  p.replace(p.find("    otherwise: deny"), 19, "    otherwise: " + otherwise);
  return testing::CompileWith({p}).snapshot;
}

TEST(StoreConcurrency, ReadersSeeOnlyPublishedSnapshotsAndNewOnesAfterASwap) {
  auto a = Compile("deny");
  auto b = Compile("escalate");
  ASSERT_TRUE(a && b);
  PolicyStore store(a);
  std::atomic<int> published{0};  // 0: only a so far; 1: b was swapped in
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, stale_after_swap{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        int seen = published.load(std::memory_order_acquire);
        auto s = store.Get();
        if (s != a && s != b) ++bad;
        // A swap that happened before this Get (in the happens-before sense) must be visible.
        if (seen == 1 && s != b) ++stale_after_swap;
        std::shared_ptr<const PolicySnapshot> copy = s;  // copies share the thread's count
        if (copy->digest() != s->digest()) ++bad;
      }
    });
  }
  for (int i = 0; i < 500; ++i) store.Swap(i % 2 ? a : b);
  store.Swap(b);  // the last swap: b stays
  published.store(1, std::memory_order_release);
  for (int i = 0; i < 200; ++i) std::this_thread::yield();
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(stale_after_swap.load(), 0);
  EXPECT_EQ(store.Get(), b);
  EXPECT_EQ(store.generation(), 501u);
}

TEST(StoreConcurrency, HeldSnapshotOutlivesSwapAndOldOneIsReleased) {
  auto a = Compile("deny");
  auto b = Compile("escalate");
  ASSERT_TRUE(a && b);
  std::weak_ptr<const PolicySnapshot> weak_a = a;
  PolicyStore store(a);
  a.reset();
  std::shared_ptr<const PolicySnapshot> held_by_thread;
  std::thread t([&] { held_by_thread = store.Get(); });
  t.join();  // the thread's own cached reference went with it; `held_by_thread` remains
  auto held = store.Get();
  store.Swap(b);
  EXPECT_FALSE(weak_a.expired());
  EXPECT_EQ(held->digest(), held_by_thread->digest());
  EXPECT_EQ(store.Get(), b);  // this thread's cached reference to a is replaced
  held.reset();
  EXPECT_FALSE(weak_a.expired());
  held_by_thread.reset();
  EXPECT_TRUE(weak_a.expired());
}

TEST(StoreConcurrency, SeveralStoresOnOneThreadKeepTheirOwnSnapshots) {
  auto a = Compile("deny");
  auto b = Compile("escalate");
  ASSERT_TRUE(a && b);
  std::vector<std::unique_ptr<PolicyStore>> stores;
  for (int i = 0; i < 9; ++i) stores.push_back(std::make_unique<PolicyStore>(i % 2 ? b : a));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 9; ++i) EXPECT_EQ(stores[i]->Get(), i % 2 ? b : a) << i;
  }
  stores[4]->Swap(b);
  EXPECT_EQ(stores[4]->Get(), b);
  EXPECT_EQ(stores[3]->Get(), b);
  EXPECT_EQ(stores[2]->Get(), a);
  stores.clear();
  PolicyStore empty(nullptr);
  EXPECT_EQ(empty.Get(), nullptr);
  empty.Swap(a);
  EXPECT_EQ(empty.Get(), a);
}

}  // namespace
}  // namespace residency
