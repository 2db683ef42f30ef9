// Thousands of generated requests through Evaluate() and the reference evaluator, against the
// shipped policies and the test fixtures: decisions, deciding rules, obligations and lifted tags
// must be identical. eval_diff_fuzzer runs the same comparison on requests built from fuzz bytes.
#include <algorithm>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "eval_fixtures.h"
#include "gtest/gtest.h"
#include "policy/compiled_set.h"
#include "policy/eval_index.h"
#include "reference_evaluator.h"
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

// The definition of `suggested_locations`, read directly: the catalogue locations (other
// than the refused one) at which the same request, its primary placement moved there, is not
// denied; same provider and country first, then same provider, then same country, then the
// rest, catalogue order within each; at most 8; government and financial sites only for an
// operator of their sector. Each candidate is decided by the reference evaluator.
std::vector<std::string> ReferenceSuggestions(const PolicySnapshot& snap, const Request& r) {
  const auto& locs = snap.impl().catalogue.locations;
  const std::string primary = testing::ReferencePlacement(r);
  std::string provider = primary.substr(0, primary.find(':')), country;
  for (const auto& l : locs)
    if (l.id == primary) country = l.country_code;
  std::vector<std::string> ranked[4];
  for (const auto& l : locs) {
    if (l.id == primary) continue;
    // A government or financial site is offered only to an operator of its country's sector.
    if (l.site == "gov" || l.site == "fin") {
      std::string sector =
          absl::AsciiStrToLower(l.country_code) + (l.site == "gov" ? "_public" : "_financial");
      if (!r.operator_party ||
          std::find(r.operator_party->sectors.begin(), r.operator_party->sectors.end(), sector) ==
              r.operator_party->sectors.end()) {
        continue;
      }
    }
    Request moved = testing::ReferenceMovedTo(r, l.id);
    if (testing::ReferenceEvaluate(snap.impl(), moved, *r.now).decision == "deny") continue;
    bool same_p = l.provider == provider, same_c = l.country_code == country;
    ranked[same_p && same_c ? 0 : same_p ? 1 : same_c ? 2 : 3].push_back(l.id);
  }
  std::vector<std::string> out;
  for (const auto& rank : ranked)
    for (const auto& id : rank)
      if (out.size() < 8) out.push_back(id);
  return out;
}

void DifferentialSuggestions(const PolicySnapshot& snap, uint32_t seed, int denied_wanted) {
  testing::RandomChoices choices(seed);
  testing::RequestGenerator gen(snap, &choices);
  int checked = 0, with_suggestions = 0, without = 0;
  for (int i = 0; checked < denied_wanted && i < 50 * denied_wanted; ++i) {
    Request r = gen.Make();
    auto d = Evaluate(snap, r, EvalOptions());
    ASSERT_TRUE(d.ok()) << d.status();
    if (d->decision != Effect::kDeny) continue;
    ++checked;
    SCOPED_TRACE("request #" + std::to_string(i) + " seed " + std::to_string(seed));
    std::vector<std::string> expected = ReferenceSuggestions(snap, r);
    if (d->suggested_locations().empty()) {
      ++without;
      // None offered: either none exists, or every deny came from a rule that does not suggest
      // (`suggest: false`) rather than from the placement.
      if (expected.empty()) continue;
      for (const auto& reason : d->reasons) {
        ASSERT_NE(reason.policy(), "residency") << DecisionToJson(*d);
        for (const auto& p : snap.impl().policies) {
          if (p.id != reason.policy()) continue;
          for (const auto& rule : p.rules) {
            if (rule.id == reason.rule()) {
              EXPECT_FALSE(rule.suggest) << DecisionToJson(*d);
            }
          }
        }
      }
    } else {
      ++with_suggestions;
      EXPECT_EQ(std::vector<std::string>(d->suggested_locations().begin(),
                                         d->suggested_locations().end()),
                expected)
          << DecisionToJson(*d);
    }
  }
  EXPECT_EQ(checked, denied_wanted);
  EXPECT_GT(with_suggestions, denied_wanted / 10);
  EXPECT_GT(without, 0);
}

TEST(Differential, SuggestionsShippedPolicies) {
  auto snap = CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(snap.ok()) << snap.status();
  DifferentialSuggestions(**snap, 20261130, 300);
}

TEST(Differential, SuggestionsTestFixturePolicies) {
  auto r = testing::CompileWith({testing::kKrPolicy, testing::kCorpPolicy});
  ASSERT_TRUE(r.ok());
  DifferentialSuggestions(*r.snapshot, 8, 300);
}

// A dated list's per-date location sets (the EvalIndex's) against a direct reading of its entries
// at many instants: random entries over a few locations and days, overlapping, open-ended,
// undated, and ones that end before they start (never active).
TEST(Differential, DatedListSegments) {
  const std::vector<std::string> values = {"KR", "JP", "DE", "EU", "ncp:KR", "aws:us-east-1"};
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto date = [](int day) {
    return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(1767225600 + 86400LL * day),
                            absl::UTCTimeZone());
  };
  for (int round = 0; round < 20; ++round) {
    std::string policy =
        "kind: policy\nid: dated\nbasis: law\ntitle: t\nscope: {always: true}\nlists:\n  l:\n";
    for (int i = 0, n = 1 + pick(30); i < n; ++i) {
      absl::StrAppend(&policy, "    - {value: \"", values[pick(values.size())], "\"");
      if (pick(4)) absl::StrAppend(&policy, ", effective_from: \"", date(pick(20)), "\"");
      if (pick(3)) absl::StrAppend(&policy, ", effective_until: \"", date(pick(20)), "\"");
      absl::StrAppend(&policy, "}\n");
    }
    absl::StrAppend(&policy,
                    "rules:\n  - id: dated.r\n    citation: c\n    message: m\n"
                    "    when: {location: {in_list: l}}\n    effect: deny\n");
    CompileResult r = testing::CompileWith({policy});
    ASSERT_TRUE(r.ok()) << policy;
    const policy_internal::NamedList& list = r.snapshot->impl().policies[0].lists[0];
    const policy_internal::DatedLocations& dated = r.snapshot->index().policies[0].lists[0];
    for (int half_day = -2; half_day < 46; ++half_day) {
      absl::Time t = absl::FromUnixSeconds(1767225600 + 43200LL * half_day);
      policy_internal::LocationBits want;
      for (const auto& e : list.entries)
        if ((!e.from || *e.from <= t) && (!e.until || t < *e.until)) want |= e.locations;
      EXPECT_TRUE(dated.locations_at[policy_internal::ListSegment(dated, t)] == want)
          << "round " << round << " at " << absl::FormatTime(t) << "\n"
          << policy;
    }
  }
}

}  // namespace
}  // namespace residency
