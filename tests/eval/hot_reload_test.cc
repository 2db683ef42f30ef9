// Readers evaluate while the policy set is hot-swapped: each request sees exactly one snapshot
// from start to end. Run under TSan by the concurrency leg.
#include <atomic>
#include <thread>
#include <vector>

#include "eval_fixtures.h"
#include "gtest/gtest.h"
#include "residency/decision.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

TEST(HotReload, ReadersSeeOneConsistentSnapshotPerRequest) {
  // Two policy sets that decide the same request differently.
  std::string strict = testing::kKrPolicy;
  std::string lenient = strict;
  lenient.replace(lenient.find("    otherwise: deny"), 19, "    otherwise: escalate");
  auto a = testing::CompileWith({strict}).snapshot;
  auto b = testing::CompileWith({lenient}).snapshot;
  ASSERT_TRUE(a && b);
  ASSERT_NE(a->digest(), b->digest());
  auto req = ParseRequest(
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:ap-northeast-1\"\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 3}]}\n");
  ASSERT_TRUE(req.ok());

  PolicyStore store(a);
  std::atomic<bool> stop{false};
  std::atomic<int> evaluations{0}, mismatches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      EvalOptions o;
      o.suggest = (evaluations.load() % 7) == 0;
      while (!stop.load(std::memory_order_relaxed)) {
        auto snap = store.Get();
        auto d = Evaluate(*snap, *req, o);
        if (!d.ok()) {
          ++mismatches;
          continue;
        }
        Effect want = snap->digest() == a->digest() ? Effect::kDeny : Effect::kEscalate;
        if (d->decision != want || d->policy_digest() != snap->digest()) ++mismatches;
        ++evaluations;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    store.Swap(i % 2 ? a : b);
    std::this_thread::yield();
  }
  // Reload from files as well, while readers run.
  EXPECT_FALSE(store.Reload({"/nonexistent"}).ok());
  // Swaps no longer wait for readers (Get takes no lock): let the readers finish a request at
  // least before stopping them, however the threads were scheduled.
  while (evaluations.load() + mismatches.load() == 0) std::this_thread::yield();
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(evaluations.load(), 0);
}

}  // namespace
}  // namespace residency
