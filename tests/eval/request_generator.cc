#include "request_generator.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reference_evaluator.h"
#include "residency/explain.h"

namespace residency::testing {

int ByteChoices::Pick(int n) {
  if (n <= 1) return 0;
  int bytes = n <= 256 ? 1 : 4;
  uint32_t v = 0;
  for (int i = 0; i < bytes && pos_ < bytes_.size(); ++i) {
    v = (v << 8) | static_cast<uint8_t>(bytes_[pos_++]);
  }
  return static_cast<int>(v % static_cast<uint32_t>(n));
}

RequestGenerator::RequestGenerator(const PolicySnapshot& snap, Choices* choices)
    : choices_(choices) {
  locations_ = snap.locations();
  locations_.push_back("aws:nowhere-1");  // unknown: fails closed
  for (const auto& c : snap.impl().classes) classes_.push_back(c.id);
  classes_.push_back("personal.favourite_colour");  // unknown class
}

Request RequestGenerator::Make() {
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
                            "marketing",
                            "contract_with_data_subject",
                            "compelling_legitimate_interests",
                            "vital_interests"};
  r.purpose = purposes[Pick(9)];
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
      // The stream's aggregate: absent (unknown), small, or past the usual thresholds.
      const double streams[] = {50, 20000, 2000000};
      if (const int s = Pick(4); s > 0) c.prompt_cumulative_subjects = streams[s - 1];
    }
    r.compute = std::move(c);
  }
  return r;
}

std::string RequestGenerator::Loc() {
  return Pick(15) == 0 ? locations_.back() : locations_[Pick(locations_.size() - 1)];
}
std::string RequestGenerator::Class() {
  if (Pick(25) == 0) return classes_.back();
  static const char* common[] = {"personal", "personal.credit", "personal.sensitive", "kr.rrn",
                                 "kr.emr",   "pseudonymized",   "anonymized",         "public"};
  if (Pick(2)) return common[Pick(8)];
  return classes_[Pick(classes_.size() - 1)];
}
std::string RequestGenerator::Origin() {
  static const char* o[] = {"KR", "KR", "DE", "FR", "EU", "CN", "US", "JP", "IN", "GB", "HK", "XX"};
  return o[Pick(12)];
}
std::optional<absl::Time> RequestGenerator::MaybeTime() {
  if (Pick(2)) return std::nullopt;
  return absl::FromUnixSeconds(1735689600 + Pick(60) * 86400 * 14);
}
std::vector<Evidence> RequestGenerator::MakeEvidence() {
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
                                "cisa_security_requirements",
                                "art46_certification",
                                "art46_3_authorised_clauses"};
  std::vector<Evidence> out;
  for (int i = Pick(4) == 0 ? Pick(4) : 0; i > 0; --i) {
    Evidence e;
    e.type = types[Pick(23)];
    static const char* covers[] = {"processing", "transfer", "sensitive", "unique_id"};
    for (int k = Pick(3); k > 0; --k) e.covers.push_back(covers[Pick(4)]);
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
Party RequestGenerator::MakeParty(bool op) {
  Party p;
  p.id = Pick(2) ? "X Ltd" : "Y Ltd";
  p.country = Origin();
  if (op) {
    if (Pick(4) == 0) p.id = "naver";  // controls two catalogue sites (own_premises)
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
Dataset RequestGenerator::MakeDataset(int depth) {
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
Model RequestGenerator::MakeModel(int depth) {
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

namespace {
std::string Describe(const char* what, const std::set<std::string>& got,
                     const std::set<std::string>& want, const Decision& d) {
  return absl::StrCat(what, " differ: Evaluate {", absl::StrJoin(got, ", "), "}, reference {",
                      absl::StrJoin(want, ", "), "}; decision ", DecisionToJson(d));
}
}  // namespace

Comparison CompareWithReference(const PolicySnapshot& snap, const Request& request) {
  Comparison out;
  EvalOptions o;
  o.suggest = false;
  auto d = Evaluate(snap, request, o);
  if (!d.ok()) {
    out.mismatch = absl::StrCat("Evaluate failed: ", d.status().ToString());
    return out;
  }
  out.decision = d->decision;
  RefDecision ref = ReferenceEvaluate(snap.impl(), request, *request.now);
  std::set<std::string> rules, obligations, lifted;
  for (const auto& x : d->reasons)
    if (x.policy() != "residency")
      rules.insert(std::string(x.policy()) + "/" + std::string(x.rule()));
  for (const auto& x : d->obligations)
    obligations.insert(std::string(x.policy()) + "/" + std::string(x.id()));
  for (const auto& x : d->lifted) lifted.insert(std::string(x.policy()) + "/" + x.tag());
  std::set<std::string> tags(d->tags.begin(), d->tags.end());
  if (EffectName(d->decision) != ref.decision) {
    out.mismatch = absl::StrCat("decisions differ: Evaluate ", EffectName(d->decision),
                                ", reference ", ref.decision, "; ", DecisionToJson(*d));
  } else if (rules != ref.rules) {
    out.mismatch = Describe("rules", rules, ref.rules, *d);
  } else if (obligations != ref.obligations) {
    out.mismatch = Describe("obligations", obligations, ref.obligations, *d);
  } else if (lifted != ref.lifted) {
    out.mismatch = Describe("lifted tags", lifted, ref.lifted, *d);
  } else if (tags != ref.tags) {
    out.mismatch = Describe("tags", tags, ref.tags, *d);
  }
  return out;
}

std::string CompareExplainWithEvaluate(const PolicySnapshot& snap, const Request& request) {
  ExplainOptions options;
  options.max_units = 100000;
  options.eval.suggest = false;
  auto d = Evaluate(snap, request, options.eval);
  auto e = Explain(snap, request, options);
  if (d.ok() != e.ok()) {
    return absl::StrCat("Evaluate: ", d.status().ToString(), "; Explain: ", e.status().ToString());
  }
  if (!d.ok()) return "";
  if (DecisionToJson(e->decision) != DecisionToJson(*d)) {
    return absl::StrCat("decisions differ: ", DecisionToJson(e->decision), " vs ",
                        DecisionToJson(*d));
  }
  std::multiset<std::string> reasons, dry, deciding, dry_traced;
  for (const Reason& x : d->reasons)
    if (x.policy() != "residency") reasons.insert(std::string(x.rule()));
  for (const Reason& x : d->dry_run)
    dry.insert(absl::StrCat(std::string(x.rule()), "/", EffectName(x.effect())));
  for (const RuleTrace& t : e->rules) {
    if (t.deciding) deciding.insert(t.rule);
    if (t.dry_run) dry_traced.insert(absl::StrCat(t.rule, "/", EffectName(t.effect)));
  }
  if (deciding != reasons) {
    return absl::StrCat("deciding rules ", absl::StrJoin(deciding, ","), " vs reasons ",
                        absl::StrJoin(reasons, ","));
  }
  if (dry_traced != dry) {
    return absl::StrCat("dry-run rules ", absl::StrJoin(dry_traced, ","), " vs ",
                        absl::StrJoin(dry, ","));
  }
  for (const Reason& x : d->reasons) {
    if (x.policy() == "residency") continue;
    bool found = false;
    for (const RuleTrace& t : e->rules) {
      if (t.rule != x.rule()) continue;
      for (const UnitTrace& u : t.units) {
        found |= u.artifact_kind == x.artifact_kind() && u.artifact == x.artifact() &&
                 u.via == x.via() && u.tag == x.tag() && u.location == x.location() &&
                 u.effect == x.effect();
      }
    }
    if (!found) {
      return absl::StrCat("reason ", std::string(x.rule()), " names ", std::string(x.artifact()),
                          "|", std::string(x.via()), "|", std::string(x.tag()), "|",
                          std::string(x.location()), ", not among its explained places");
    }
  }
  return "";
}

}  // namespace residency::testing
