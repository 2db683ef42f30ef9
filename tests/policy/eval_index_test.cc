// The evaluation index built from a compiled set (policy/eval_index.h): every condition node
// numbered once by the compiler, location conditions pointing at their fixed sets, the rule
// facts, the slot index and the catalogue's sets.
#include "policy/eval_index.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "policy/compiled_set.h"
#include "policy/condition_walk.h"
#include "residency/policy.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

using policy_internal::CompiledSet;
using policy_internal::Condition;
using policy_internal::EvalIndex;
using policy_internal::LocationBits;

// Calls f(c) on every condition node of the set: exceptions', rules' and alternatives'.
template <typename F>
void ForEachNode(const CompiledSet& set, F f) {
  for (const auto& p : set.policies) {
    for (const auto& x : p.exceptions) policy_internal::ForEachCondition(x.when, f);
    for (const auto& r : p.rules) {
      policy_internal::ForEachCondition(r.when, f);
      for (const auto& a : r.alternatives) policy_internal::ForEachCondition(a.when, f);
    }
  }
}

TEST(EvalIndex, EveryConditionOfTheShippedSetHasANumberOfItsOwn) {
  auto r = CompilePolicies({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(r.ok());
  const CompiledSet& set = r.snapshot->impl();
  std::set<int> seen;
  size_t nodes = 0;
  ForEachNode(set, [&](const Condition& c, int) {
    ++nodes;
    EXPECT_GE(c.id, 0);
    EXPECT_LT(static_cast<size_t>(c.id), set.condition_count);
    EXPECT_TRUE(seen.insert(c.id).second) << "condition " << c.id << " numbered twice";
  });
  EXPECT_GT(nodes, 100u);
  EXPECT_EQ(nodes, set.condition_count);
  EXPECT_EQ(r.snapshot->index().conditions.size(), set.condition_count);
  EXPECT_EQ(r.snapshot->index().policies.size(), set.policies.size());
}

// The locations of the test catalogue for which `pred(location)` holds.
template <typename P>
LocationBits Where(const CompiledSet& set, P pred) {
  LocationBits out;
  for (size_t i = 0; i < set.catalogue.locations.size(); ++i)
    if (pred(set.catalogue.locations[i])) out.Set(i);
  return out;
}

const char kPolicy[] = R"yaml(kind: policy
id: t
basis: corp
scope: {always: true}
obligations:
  t.review: "review"
rules:
  - id: t.request
    citation: c
    message: m
    when: {kind: [model], action: [deploy]}
    effect: escalate
  - id: t.aws_in_eu
    citation: c
    message: m
    when: {classes: [personal], location: {in: [EU], providers: [aws]}}
    effect: deny
  - id: t.tier
    citation: c
    message: m
    when: {classes: [personal], kind: [dataset]}
    effect: deny
exceptions:
  - id: EXC-1
    owner: platform
    ticket: T-1
    rules: [t.tier]
    when: {location: {in: ["aws:ap-northeast-1"]}}
    not_after: "2027-01-01"
    obligations: [t.review]
)yaml";

TEST(EvalIndex, LocationConditionsPointAtTheLocationsTheyName) {
  auto r = testing::CompileWith({kPolicy});
  ASSERT_TRUE(r.ok()) << FormatDiagnostic(r.diagnostics.at(0));
  const CompiledSet& set = r.snapshot->impl();
  const EvalIndex& ix = r.snapshot->index();
  const LocationBits aws_in_eu = Where(set, [](const policy_internal::Location& l) {
    return l.provider == "aws" && (l.country_code == "DE" || l.country_code == "SE");
  });
  const LocationBits tokyo =
      Where(set, [](const policy_internal::Location& l) { return l.id == "aws:ap-northeast-1"; });
  int locations = 0;
  ForEachNode(set, [&](const Condition& c, int) {
    const auto& facts = ix.conditions[c.id];
    if (c.kind != Condition::Kind::kLocation) {
      EXPECT_EQ(facts.fixed, nullptr) << c.id;
      return;
    }
    ++locations;
    ASSERT_NE(facts.fixed, nullptr);
    EXPECT_TRUE(facts.by_location);
    const bool in_eu = c.location->providers.size() == 1;
    EXPECT_TRUE(*facts.fixed == (in_eu ? aws_in_eu : tokyo)) << c.id;
  });
  EXPECT_EQ(locations, 2);
}

TEST(EvalIndex, RuleFactsSayWhichRulesDependOnTheLocation) {
  auto r = testing::CompileWith({kPolicy});
  ASSERT_TRUE(r.ok()) << FormatDiagnostic(r.diagnostics.at(0));
  const auto& p = r.snapshot->impl().policies[0];
  const auto& pi = r.snapshot->index().policies[0];
  ASSERT_EQ(pi.rules.size(), 3u);
  // No location condition anywhere: the same at every location.
  EXPECT_FALSE(pi.rules[0].by_location);
  EXPECT_EQ(pi.rules[0].top_location, nullptr);
  // A top-level location condition: the rule does not apply where it is false.
  EXPECT_TRUE(pi.rules[1].by_location);
  ASSERT_NE(pi.rules[1].top_location, nullptr);
  const Condition* top = nullptr;
  for (const Condition& c : p.rules[1].when.children)
    if (c.location.get() == pi.rules[1].top_location) top = &c;
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(top->kind, Condition::Kind::kLocation);
  EXPECT_EQ(pi.rules[1].top_fixed, r.snapshot->index().conditions[top->id].fixed);
  EXPECT_NE(pi.rules[1].top_fixed, nullptr);
  // No location condition of its own, but an exception that names it has one.
  EXPECT_TRUE(p.rules[2].corp);
  EXPECT_TRUE(pi.rules[2].by_location);
  EXPECT_EQ(pi.rules[2].top_location, nullptr);
}

TEST(EvalIndex, SlotsLeaveOutRulesForAnotherKindOfRequest) {
  auto r = testing::CompileWith({kPolicy});
  ASSERT_TRUE(r.ok()) << FormatDiagnostic(r.diagnostics.at(0));
  const CompiledSet& set = r.snapshot->impl();
  const auto& pi = r.snapshot->index().policies[0];
  const int personal = set.class_index.at("personal");
  auto has = [](const std::vector<uint32_t>& v, uint32_t x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  const auto& dataset = pi.rules_by_slot[policy_internal::kSlotDatasetRequest][personal];
  const auto& model = pi.rules_by_slot[policy_internal::kSlotModelRequest][personal];
  EXPECT_TRUE(has(dataset, 1));
  EXPECT_TRUE(has(dataset, 2));
  EXPECT_TRUE(has(model, 1));
  EXPECT_FALSE(has(model, 2));  // `kind: [dataset]`
  // The request-scoped rule, by request kind (dataset, model, compute).
  EXPECT_TRUE(pi.request_rules_by_kind[0].empty());
  EXPECT_EQ(pi.request_rules_by_kind[1], std::vector<uint32_t>{0});
  EXPECT_TRUE(pi.request_rules_by_kind[2].empty());
}

TEST(EvalIndex, CatalogueSetsFollowTheCatalogue) {
  auto r = testing::CompileWith({kPolicy});
  ASSERT_TRUE(r.ok()) << FormatDiagnostic(r.diagnostics.at(0));
  const CompiledSet& set = r.snapshot->impl();
  const EvalIndex& ix = r.snapshot->index();
  const auto& cat = set.catalogue;
  const size_t n = cat.locations.size();
  ASSERT_EQ(ix.provider_of.size(), n);
  ASSERT_EQ(ix.reserved_for.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_TRUE(ix.all_locations.Test(i));
    for (size_t k = 0; k < n; ++k) {
      EXPECT_EQ(ix.provider_of[i] == ix.provider_of[k],
                cat.locations[i].provider == cat.locations[k].provider);
    }
    EXPECT_TRUE(ix.provider_locations[ix.provider_of[i]].Test(i));
    const int eu = cat.jurisdiction_index.at("EU");
    EXPECT_EQ(ix.jurisdiction_locations[eu].Test(i),
              cat.jurisdiction_members[eu].Test(cat.locations[i].country))
        << cat.locations[i].id;
  }
  const int gov = cat.location_index.at("ncp:gov-KR");
  EXPECT_EQ(ix.reserved_for[gov], "kr_public");
  EXPECT_TRUE(ix.reserved_locations.Test(gov));
  EXPECT_EQ(ix.reserved_for[cat.location_index.at("ncp:KR")], "");
}

}  // namespace
}  // namespace residency
