// Thousands of generated requests through Evaluate() and the reference evaluator, against the
// shipped policies and the test fixtures: decisions, deciding rules, obligations and lifted tags
// must be identical. eval_diff_fuzzer runs the same comparison on requests built from fuzz bytes.
#include "eval_fixtures.h"
#include "gtest/gtest.h"
#include "request_generator.h"
#include "residency/decision.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

void Differential(const PolicySnapshot& snap, uint32_t seed, int n) {
  testing::RandomChoices choices(seed);
  testing::RequestGenerator gen(snap, &choices);
  int decisions[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; ++i) {
    Request r = gen.Make();
    testing::Comparison c = testing::CompareWithReference(snap, r);
    ASSERT_EQ(c.mismatch, "") << "request #" << i << " seed " << seed;
    ++decisions[static_cast<int>(c.decision)];
  }
  // The generated mix must exercise every outcome, or the comparison proves little.
  for (int k = 0; k < 4; ++k)
    EXPECT_GT(decisions[k], 0) << "no " << EffectName(static_cast<Effect>(k));
}

TEST(Differential, ShippedPolicies) {
  auto snap = CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(snap.ok()) << snap.status();
  Differential(**snap, 20261129, 4000);
}

TEST(Differential, TestFixturePolicies) {
  auto r = testing::CompileWith({testing::kKrPolicy, testing::kCorpPolicy});
  ASSERT_TRUE(r.ok());
  Differential(*r.snapshot, 7, 3000);
}

}  // namespace
}  // namespace residency
