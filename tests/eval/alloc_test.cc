// Evaluate() allocates only for the decision it returns: once warm, every heap allocation of an
// evaluation is one the result keeps (its vectors and the strings too long for the small-string
// buffer). This binary counts every operator new (tests/testing/counting_new.cc).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "residency/decision.h"
#include "testing/counting_new.h"

namespace residency {
namespace {

const size_t kInlineChars = std::string().capacity();  // 15 in libstdc++, 22 in libc++

// The block a reason keeps for its trigger (the request's artifact id, lineage dataset and tag,
// copied one after the other), when they are too long for the reason's own 48 bytes.
long TriggerBlocks(const std::vector<Reason>& reasons) {
  long n = 0;
  for (const Reason& r : reasons)
    n += r.artifact().size() + r.via().size() + r.tag().size() > 48 ? 1 : 0;
  return n;
}

// Heap blocks a decision owns: its vectors, and the texts it builds itself (tags, lifted tags,
// reasons' triggers) when they are too long for the standard library's small-string buffer.
// Policy texts are views into the policy set, which the decision and its parts share, and cost no
// allocation.
long OwnedBlocks(const Decision& d) {
  long n = 0;
  auto str = [&](const std::string& s) { n += s.size() > kInlineChars ? 1 : 0; };
  auto vec = [&](const auto& v) { n += v.capacity() > 0 ? 1 : 0; };
  vec(d.reasons);
  n += TriggerBlocks(d.reasons);
  vec(d.dry_run);
  n += TriggerBlocks(d.dry_run);
  vec(d.obligations);
  vec(d.lifted);
  for (const auto& l : d.lifted) str(l.tag());
  vec(d.tags);
  for (const auto& t : d.tags) str(t);
  vec(d.suggested_locations());
  return n;
}

std::vector<Request> ExampleRequests() {
  std::vector<Request> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(RESIDENCY_SOURCE_DIR) +
                                                           "/examples/requests")) {
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    auto r = ParseRequest(text.str());
    EXPECT_TRUE(r.ok()) << e.path() << ": " << r.status();
    if (r.ok()) out.push_back(*std::move(r));
  }
  return out;
}

void ExpectOnlyOwnedAllocations(bool suggest) {
  auto snap = CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(snap.ok()) << snap.status();
  std::vector<Request> requests = ExampleRequests();
  ASSERT_GE(requests.size(), 10u);
  EvalOptions options;
  options.suggest = suggest;
  for (const Request& r : requests) ASSERT_TRUE(Evaluate(**snap, r, options).ok());  // warm
  int with_suggestions = 0;
  for (const Request& r : requests) {
    const long before = testing::AllocationCount();
    absl::StatusOr<Decision> d = Evaluate(**snap, r, options);
    const long made = testing::AllocationCount() - before;
    ASSERT_TRUE(d.ok());
    // None of the examples fails closed: every text is the policy set's own.
    for (const Reason& x : d->reasons) ASSERT_NE(x.basis(), "fail_closed") << DecisionToJson(*d);
    with_suggestions += d->suggested_locations().empty() ? 0 : 1;
    EXPECT_EQ(made, OwnedBlocks(*d)) << DecisionToJson(*d);
    // Parts copied out share the policy texts: a copy of the reasons is the vector and the
    // reasons' own triggers.
    const long before_copy = testing::AllocationCount();
    std::vector<Reason> reasons = d->reasons;
    std::vector<ObligationRef> obligations = d->obligations;
    EXPECT_EQ(testing::AllocationCount() - before_copy,
              (reasons.empty() ? 0 : 1) + TriggerBlocks(reasons) + (obligations.empty() ? 0 : 1));
  }
  if (suggest) {
    EXPECT_GT(with_suggestions, 0);
  }
}

std::vector<int>* volatile g_escape;  // so that the compiler cannot elide the allocation

TEST(EvalAllocation, CounterWorks) {
  const long before = testing::AllocationCount();
  g_escape = new std::vector<int>(100);
  delete g_escape;
  EXPECT_GE(testing::AllocationCount() - before, 2);
}

TEST(EvalAllocation, OnlyForTheDecision) { ExpectOnlyOwnedAllocations(false); }

TEST(EvalAllocation, OnlyForTheDecisionWithSuggestions) { ExpectOnlyOwnedAllocations(true); }

}  // namespace
}  // namespace residency
