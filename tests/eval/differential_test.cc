// Thousands of generated requests through Evaluate() and the reference evaluator, against the
// shipped policies and the test fixtures: decisions, deciding rules, obligations and lifted tags
// must be identical.
#include <random>

#include "eval_fixtures.h"
#include "gtest/gtest.h"
#include "reference_evaluator.h"
#include "residency/decision.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

class Generator {
 public:
  Generator(const PolicySnapshot& snap, uint32_t seed) : rng_(seed) {
    locations_ = snap.locations();
    locations_.push_back("aws:nowhere-1");  // unknown: fails closed
    for (const auto& c : snap.impl().classes) classes_.push_back(c.id);
    classes_.push_back("personal.favourite_colour");  // unknown class
  }

  Request Make() {
    Request r;
    int kind = Pick(3);
    r.now = absl::FromUnixSeconds(1735689600 + Pick(60) * 86400 * 14);  // 2025-01-01 .. +2.3y
    if (Pick(4) == 0) r.operator_party = MakeParty(true);
    if (Pick(2) == 0) r.recipient = MakeParty(false);
    const char* types[] = {"", "entrustment", "storage", "provision"};
    r.transfer.type = types[Pick(4)];
    const char* patterns[] = {"", "occasional", "systematic"};
    r.transfer.pattern = patterns[Pick(3)];
    const char* tx[] = {"", "data_brokerage", "vendor", "employment", "investment"};
    r.transfer.transaction = tx[Pick(5)];
    if (Pick(3) == 0) r.transfer.retention_hours = Pick(72);
    const char* purposes[] = {"",
                              "scientific_research",
                              "statistics",
                              "contract_with_individual",
                              "hr_management",
                              "marketing"};
    r.purpose = purposes[Pick(6)];
    const char* uses[] = {"", "credit_scoring", "recruitment", "chat"};
    r.use_case = uses[Pick(4)];
    r.evidence = MakeEvidence();
    if (kind == 0) {
      r.kind = Request::Kind::kDataset;
      r.action = Pick(2) ? "store" : "transfer";
      r.dataset = MakeDataset(2);
      r.destination = Loc();
    } else if (kind == 1) {
      r.kind = Request::Kind::kModel;
      const char* actions[] = {"store", "transfer", "deploy", "serve"};
      r.action = actions[Pick(4)];
      r.model = MakeModel(2);
      r.destination = Loc();
    } else {
      r.kind = Request::Kind::kCompute;
      Compute c;
      const char* jobs[] = {"training", "fine_tune", "batch", "evaluate", "inference"};
      const char* acts[] = {"train", "fine_tune", "process", "evaluate", "infer"};
      int j = Pick(5);
      c.job = jobs[j];
      r.action = acts[j];
      c.location = Loc();
      for (int i = Pick(3); i > 0; --i) {
        ComputeInput in;
        if (Pick(2))
          in.dataset = MakeDataset(1);
        else
          in.model = MakeModel(1);
        c.inputs.push_back(std::move(in));
      }
      if (Pick(2)) c.outputs.push_back(ComputeOutput{Loc(), "checkpoint"});
      if (c.job == "inference" || Pick(5) == 0) {
        const char* provs[] = {"verified", "claimed", "inferred"};
        c.user = User{Origin(), provs[Pick(3)]};
        if (Pick(6) == 0) c.user->jurisdiction = "";
        std::vector<std::string> pc;
        for (int i = Pick(3); i > 0; --i) pc.push_back(Class());
        c.prompt_classes = pc;
      }
      r.compute = std::move(c);
    }
    return r;
  }

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string Loc() {
    return Pick(15) == 0 ? locations_.back() : locations_[Pick(locations_.size() - 1)];
  }
  std::string Class() {
    if (Pick(25) == 0) return classes_.back();
    static const char* common[] = {"personal", "personal.credit", "personal.sensitive", "kr.rrn",
                                   "kr.emr",   "pseudonymized",   "anonymized",         "public"};
    if (Pick(2)) return common[Pick(8)];
    return classes_[Pick(classes_.size() - 1)];
  }
  std::string Origin() {
    static const char* o[] = {"KR", "KR", "DE", "FR", "EU", "CN",
                              "US", "JP", "IN", "GB", "HK", "XX"};
    return o[Pick(12)];
  }
  std::optional<absl::Time> MaybeTime() {
    if (Pick(2)) return std::nullopt;
    return absl::FromUnixSeconds(1735689600 + Pick(60) * 86400 * 14);
  }
  std::vector<Evidence> MakeEvidence() {
    static const char* types[] = {"consent",
                                  "consent.cross_border",
                                  "consent.sensitive_separate",
                                  "statute",
                                  "treaty",
                                  "contract_necessity_disclosure",
                                  "pipc_certification",
                                  "scc_2021_914",
                                  "tia",
                                  "bcr",
                                  "art9_condition",
                                  "recipient_cannot_reidentify",
                                  "equivalent_measures",
                                  "anonymization_attestation",
                                  "model_anonymity_assessment",
                                  "fsc_sandbox_designation",
                                  "export_licence",
                                  "cac_security_assessment",
                                  "cac_standard_contract_filing",
                                  "pipl_certification",
                                  "cisa_security_requirements"};
    std::vector<Evidence> out;
    for (int i = Pick(4) == 0 ? Pick(4) : 0; i > 0; --i) {
      Evidence e;
      e.type = types[Pick(21)];
      if (Pick(2)) e.country = Origin();
      if (Pick(2)) e.recipient = Pick(2) ? "X Ltd" : "Y Ltd";
      if (Pick(3) == 0) e.origin = Origin();
      e.not_before = MaybeTime();
      e.not_after = MaybeTime();
      if (Pick(5) == 0) e.withdrawn_at = MaybeTime();
      out.push_back(e);
    }
    return out;
  }
  Party MakeParty(bool op) {
    Party p;
    p.id = Pick(2) ? "X Ltd" : "Y Ltd";
    p.country = Origin();
    if (op) {
      static const char* sectors[] = {"kr_financial", "kr_public", "kr_medical", "in_payment"};
      if (Pick(2)) p.sectors.push_back(sectors[Pick(4)]);
      if (Pick(3) == 0) p.attributes["ciio"] = Pick(2) ? "true" : "false";
      if (Pick(3) == 0) p.attributes["sdf"] = Pick(2) ? "true" : "false";
      static const char* tiers[] = {"low", "medium", "high"};
      if (Pick(3) == 0) p.attributes["csap_tier"] = tiers[Pick(3)];
    } else {
      static const char* roles[] = {"processor", "third_party", "affiliate"};
      p.role = roles[Pick(3)];
      static const char* attrs[] = {"dpf_certified", "pipeda_commercial", "covered_person",
                                    "fsc_supervised_credit", "public_sector"};
      if (Pick(2)) p.attributes[attrs[Pick(5)]] = Pick(2) ? "true" : "false";
    }
    return p;
  }
  Dataset MakeDataset(int depth) {
    Dataset d;
    d.id = "ds-" + std::to_string(Pick(6));
    if (Pick(4) == 0) d.uri = Pick(2) ? "s3://kr-customers/2026/" : "gs://eu-health/x";
    if (Pick(2)) d.location = Loc();
    for (int i = 1 + Pick(2); i > 0; --i) {
      Partition p;
      for (int k = 1 + Pick(2); k > 0; --k) p.classes.push_back(Class());
      p.origin = Origin();
      if (Pick(6)) p.subjects = Pick(3) == 0 ? Pick(2000000) : Pick(20000);
      if (Pick(2)) p.sensitive_subjects = Pick(20000);
      if (Pick(3) == 0) p.cumulative_subjects = Pick(2000000);
      d.partitions.push_back(p);
    }
    if (Pick(6) == 0) d.evidence = MakeEvidence();
    if (depth > 0 && Pick(5) == 0) d.derived_from.push_back(MakeDataset(depth - 1));
    return d;
  }
  Model MakeModel(int depth) {
    Model m;
    m.id = "m-" + std::to_string(Pick(6));
    static const char* arts[] = {"weights", "checkpoint", "adapter"};
    m.artifact = arts[Pick(3)];
    if (Pick(3) == 0) m.tier = "sovereign-kr";
    if (Pick(2)) m.location = Loc();
    if (Pick(10)) {
      m.trained_on.emplace();
      for (int i = Pick(3); i > 0; --i)
        m.trained_on->push_back(MakeDataset(depth - 1 < 0 ? 0 : depth - 1));
    }
    if (depth > 0 && Pick(3) == 0) m.base_models.push_back(MakeModel(depth - 1));
    if (Pick(2)) m.training_flops = Pick(2) ? 3e26 : 1e24;
    if (Pick(5) == 0) m.evidence = MakeEvidence();
    return m;
  }

  std::mt19937 rng_;
  std::vector<std::string> locations_, classes_;
};

void Differential(const PolicySnapshot& snap, uint32_t seed, int n) {
  Generator gen(snap, seed);
  int decisions[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; ++i) {
    Request r = gen.Make();
    EvalOptions o;
    o.suggest = false;
    auto d = Evaluate(snap, r, o);
    ASSERT_TRUE(d.ok()) << d.status();
    testing::RefDecision ref = testing::ReferenceEvaluate(snap.impl(), r, *r.now);
    std::set<std::string> rules, obligations, lifted;
    for (const auto& x : d->reasons)
      if (x.policy != "residency") rules.insert(x.policy + "/" + x.rule);
    for (const auto& x : d->obligations) obligations.insert(x.policy + "/" + x.id);
    for (const auto& x : d->lifted) lifted.insert(x.policy + "/" + x.tag);
    std::set<std::string> tags(d->tags.begin(), d->tags.end());
    ++decisions[static_cast<int>(d->decision)];
    SCOPED_TRACE("request #" + std::to_string(i) + " seed " + std::to_string(seed));
    ASSERT_EQ(EffectName(d->decision), ref.decision) << DecisionToJson(*d);
    ASSERT_EQ(rules, ref.rules) << DecisionToJson(*d);
    ASSERT_EQ(obligations, ref.obligations) << DecisionToJson(*d);
    ASSERT_EQ(lifted, ref.lifted) << DecisionToJson(*d);
    ASSERT_EQ(tags, ref.tags);
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

// SPEC §4's definition of `suggested_locations`, read directly: the catalogue locations (other
// than the refused one) at which the same request, its primary placement moved there, is not
// denied; same provider and country first, then same provider, then same country, then the
// rest, catalogue order within each; at most 8. Each candidate is decided by the reference
// evaluator.
std::vector<std::string> ReferenceSuggestions(const PolicySnapshot& snap, const Request& r) {
  const auto& locs = snap.impl().catalogue.locations;
  std::string primary = r.kind == Request::Kind::kCompute ? r.compute->location
                        : !r.destination.empty()          ? r.destination
                        : r.kind == Request::Kind::kDataset ? r.dataset->location
                                                            : r.model->location;
  std::string provider = primary.substr(0, primary.find(':')), country;
  for (const auto& l : locs)
    if (l.id == primary) country = l.country_code;
  std::vector<std::string> ranked[4];
  for (const auto& l : locs) {
    if (l.id == primary) continue;
    Request moved = r;
    if (moved.kind == Request::Kind::kCompute) {
      moved.compute->location = l.id;
    } else {
      moved.destination = l.id;
    }
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
  Generator gen(snap, seed);
  int checked = 0, with_suggestions = 0, without = 0;
  for (int i = 0; checked < denied_wanted && i < 50 * denied_wanted; ++i) {
    Request r = gen.Make();
    auto d = Evaluate(snap, r, EvalOptions());
    ASSERT_TRUE(d.ok()) << d.status();
    if (d->decision != Effect::kDeny) continue;
    ++checked;
    SCOPED_TRACE("request #" + std::to_string(i) + " seed " + std::to_string(seed));
    std::vector<std::string> expected = ReferenceSuggestions(snap, r);
    if (d->suggested_locations.empty()) {
      ++without;
      // None offered: either none exists, or every deny came from a rule that does not suggest
      // (`suggest: false`) rather than from the placement.
      if (expected.empty()) continue;
      for (const auto& reason : d->reasons) {
        ASSERT_NE(reason.policy, "residency") << DecisionToJson(*d);
        for (const auto& p : snap.impl().policies) {
          if (p.id != reason.policy) continue;
          for (const auto& rule : p.rules)
            if (rule.id == reason.rule) EXPECT_FALSE(rule.suggest) << DecisionToJson(*d);
        }
      }
    } else {
      ++with_suggestions;
      EXPECT_EQ(d->suggested_locations, expected) << DecisionToJson(*d);
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

}  // namespace
}  // namespace residency
