// The evaluator: SPEC §4 over a compiled policy set.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "eval/facts.h"
#include "residency/decision.h"

namespace residency {
namespace {

using eval_internal::Artifact;
using eval_internal::ArtifactKind;
using eval_internal::Facts;
using eval_internal::ResolvedEvidence;
using eval_internal::TagFact;
using policy_internal::ClassBits;
using policy_internal::CompiledSet;
using policy_internal::Condition;
using policy_internal::Field;
using policy_internal::Location;
using policy_internal::Policy;
using policy_internal::Rule;

enum class Tri : uint8_t { kFalse, kTrue, kUnknown };

struct Unit {
  const Artifact* artifact = nullptr;  // null for request units
  const TagFact* tag = nullptr;
  int location = -1;  // catalogue index
};

// One rule's result over all its units.
struct Outcome {
  int policy = -1;
  int rule = -1;
  Effect effect = Effect::kAllow;
  int alternative = -1;
  int exception = -1;
  const char* missing = nullptr;  // a number the rule needed but the request lacked
  bool dry_run = false;
};

const char* FieldName(Field f) {
  switch (f) {
    case Field::kSubjects:
      return "subjects";
    case Field::kSensitiveSubjects:
      return "sensitive_subjects";
    case Field::kCumulativeSubjects:
      return "cumulative_subjects";
    case Field::kTrainingFlops:
      return "training_flops";
    case Field::kRetentionHours:
      return "transfer.retention_hours";
    default:
      return "value";
  }
}

bool ActiveAt(const std::optional<absl::Time>& from, const std::optional<absl::Time>& until,
              absl::Time now) {
  return (!from || *from <= now) && (!until || now < *until);
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class Evaluator {
 public:
  Evaluator(const CompiledSet& set, const Facts& facts) : set_(set), f_(facts) {}

  // Evaluates every policy in scope into `outcomes` (and `obligations`: outcome index,
  // obligation index pairs) and `lifted`.
  void Run(std::vector<Outcome>* outcomes, std::vector<std::pair<int, int>>* obligations,
           std::vector<LiftedTag>* lifted);

 private:
  bool InScope(const Policy& p) const;
  bool Lifted(const Policy& p, const Artifact& a, const TagFact& t) const;
  Tri Eval(const Condition& c, const Unit& u, const char** missing) const;
  Tri Values(const Condition& c, const Unit& u) const;
  Tri Number(const Condition& c, const Unit& u, const char** missing) const;
  bool Regex(const Condition& c, const Unit& u) const;
  bool LocationMatches(const policy_internal::LocationCond& lc, const Unit& u) const;
  bool PartyMatches(const policy_internal::PartyCond& pc, const std::optional<Party>& party,
                    int country) const;
  bool EvidenceHolds(const policy_internal::EvidenceCond& ec, const Unit& u) const;
  bool ListHas(int list, const std::string& value) const;
  bool ListHasLocation(int list, int location) const;
  void EvalRule(int rule_index, const Unit& u);

  const CompiledSet& set_;
  const Facts& f_;
  std::optional<double> PartitionSum(Field field, const Unit& u) const;

  const Policy* policy_ = nullptr;
  const Rule* rule_ = nullptr;
  int policy_index_ = -1;
  std::vector<Outcome>* outcomes_ = nullptr;
  std::vector<std::pair<int, int>>* obligations_ = nullptr;
  std::vector<int> slot_;     // rule index -> outcome index for the current policy, -1 if none
  std::vector<int> touched_;  // rule indexes whose slot was set for the current policy
};

bool Evaluator::InScope(const Policy& p) const {
  const auto& s = p.scope;
  if (s.always) return true;
  if (s.has_origins) {
    for (const auto& a : f_.artifacts)
      for (const auto& t : a.tags)
        if (t.origin_bits.Intersects(s.origins)) return true;
  }
  const auto& op = f_.request->operator_party;
  if (s.has_operator_countries && f_.operator_country >= 0 &&
      s.operator_countries.Test(f_.operator_country)) {
    return true;
  }
  if (op && !s.operator_sectors.empty()) {
    for (const auto& sec : op->sectors)
      if (Contains(s.operator_sectors, sec)) return true;
  }
  if (s.has_user_jurisdictions && f_.user_jurisdiction >= 0 &&
      set_.catalogue.jurisdiction_members[f_.user_jurisdiction].Intersects(s.user_jurisdictions)) {
    return true;
  }
  return false;
}

bool Evaluator::Lifted(const Policy& p, const Artifact& a, const TagFact& t) const {
  if (a.kind == ArtifactKind::kPrompt) return false;
  const char* kind = a.kind == ArtifactKind::kDataset ? "dataset" : "model";
  for (const auto& l : p.lifts) {
    if (!Contains(l.artifacts, kind)) continue;
    if (!set_.classes[t.cls].ancestors.Intersects(l.classes)) continue;
    for (const auto& e : a.evidence) {
      if (!e.valid || !Contains(l.evidence_types, e.item->type) || e.origin_unknown) continue;
      if (l.match_origin && e.origin >= 0 &&
          !t.origin_bits.SubsetOf(set_.catalogue.jurisdiction_members[e.origin])) {
        continue;
      }
      return true;
    }
  }
  return false;
}

bool Evaluator::ListHas(int list, const std::string& value) const {
  for (const auto& e : policy_->lists[list].entries) {
    if (e.value == value && ActiveAt(e.from, e.until, f_.now)) return true;
  }
  return false;
}

bool Evaluator::ListHasLocation(int list, int location) const {
  for (const auto& e : policy_->lists[list].entries) {
    if (e.locations.Test(location) && ActiveAt(e.from, e.until, f_.now)) return true;
  }
  return false;
}

bool Evaluator::LocationMatches(const policy_internal::LocationCond& lc, const Unit& u) const {
  const Location& loc = set_.catalogue.locations[u.location];
  if (lc.has_in && !lc.in.Test(u.location)) return false;
  if (lc.has_not_in && lc.not_in.Test(u.location)) return false;
  if (lc.in_list >= 0 && !ListHasLocation(lc.in_list, u.location)) return false;
  if (lc.not_in_list >= 0 && ListHasLocation(lc.not_in_list, u.location)) return false;
  for (const auto& c : lc.certifications)
    if (!Contains(loc.certifications, c)) return false;
  for (const auto& [k, v] : lc.attributes) {
    auto it = loc.attributes.find(k);
    if (it == loc.attributes.end() || it->second != v) return false;
  }
  if (!lc.sites.empty() && !Contains(lc.sites, loc.site)) return false;
  if (!lc.providers.empty() && !Contains(lc.providers, loc.provider)) return false;
  if (lc.outside_origin) {
    if (!u.tag || u.tag->origin_bits.Test(loc.country)) return false;
  }
  return true;
}

bool Evaluator::PartyMatches(const policy_internal::PartyCond& pc,
                             const std::optional<Party>& party, int country) const {
  if (pc.present) {
    if (*pc.present != party.has_value()) return false;
    if (!party) return true;
  }
  if (!party) return false;
  if (!pc.ids.empty() && !Contains(pc.ids, party->id)) return false;
  if (pc.id_regex && !RE2::PartialMatch(party->id, *pc.id_regex)) return false;
  if (pc.has_countries && (country < 0 || !pc.countries.Test(country))) return false;
  if (!pc.sectors.empty()) {
    bool any = false;
    for (const auto& s : party->sectors) any |= Contains(pc.sectors, s);
    if (!any) return false;
  }
  if (!pc.roles.empty() && !Contains(pc.roles, party->role)) return false;
  for (const auto& [k, v] : pc.attributes) {
    auto it = party->attributes.find(k);
    if (it == party->attributes.end() || it->second != v) return false;
  }
  if (pc.in_list >= 0 && !ListHas(pc.in_list, party->id)) return false;
  if (pc.not_in_list >= 0 && ListHas(pc.not_in_list, party->id)) return false;
  return true;
}

bool Evaluator::EvidenceHolds(const policy_internal::EvidenceCond& ec, const Unit& u) const {
  const Location& loc = set_.catalogue.locations[u.location];
  const auto& recipient = f_.request->recipient;
  auto ok = [&](const ResolvedEvidence& e) {
    if (!e.valid || !Contains(ec.types, e.item->type)) return false;
    if (u.tag) {
      for (const auto& ig : policy_->ignores) {
        if (Contains(ig.types, e.item->type) &&
            set_.classes[u.tag->effective_cls].ancestors.Intersects(ig.classes)) {
          return false;
        }
      }
    }
    if (ec.require_country && !e.item->country) return false;
    if (ec.require_recipient && !e.item->recipient) return false;
    if (ec.require_origin && !e.item->origin) return false;
    if (ec.match_country && e.item->country) {
      if (e.country_unknown || !set_.catalogue.jurisdiction_members[e.country].Test(loc.country)) {
        return false;
      }
    }
    if (ec.match_recipient && e.item->recipient) {
      if (!recipient || recipient->id != *e.item->recipient) return false;
    }
    if (ec.match_origin && e.item->origin && u.tag) {
      if (e.origin_unknown ||
          !u.tag->origin_bits.SubsetOf(set_.catalogue.jurisdiction_members[e.origin])) {
        return false;
      }
    }
    return true;
  };
  for (const auto& e : f_.request_evidence)
    if (ok(e)) return true;
  if (u.artifact) {
    for (const auto& e : u.artifact->evidence)
      if (ok(e)) return true;
  }
  return false;
}

Tri Evaluator::Values(const Condition& c, const Unit& u) const {
  const Request& r = *f_.request;
  auto in = [&](std::string_view s) {
    for (const auto& v : c.values)
      if (v == s) return Tri::kTrue;
    return Tri::kFalse;
  };
  switch (c.field) {
    case Field::kKind:
      return in(KindName(r.kind));
    case Field::kAction:
      return in(r.action);
    case Field::kJob:
      return r.compute ? in(r.compute->job) : Tri::kFalse;
    case Field::kArtifact: {
      const Artifact* a = u.artifact;
      if (!a) {
        if (r.kind == Request::Kind::kDataset) return in("dataset");
        if (r.kind == Request::Kind::kModel) {
          return (in("model") == Tri::kTrue || in(r.model->artifact) == Tri::kTrue) ? Tri::kTrue
                                                                                    : Tri::kFalse;
        }
        return Tri::kFalse;
      }
      if (a->kind == ArtifactKind::kDataset) return in("dataset");
      if (a->kind == ArtifactKind::kPrompt) return in("prompt");
      return (in("model") == Tri::kTrue || in(a->model->artifact) == Tri::kTrue) ? Tri::kTrue
                                                                                 : Tri::kFalse;
    }
    case Field::kPurpose:
      return in(r.purpose);
    case Field::kUseCase:
      return in(r.use_case);
    case Field::kTier:
      if (u.artifact && u.artifact->model) return in(u.artifact->model->tier);
      for (const auto& t : f_.tiers)
        if (Contains(c.values, t)) return Tri::kTrue;
      return Tri::kFalse;
    case Field::kTransferType:
      return in(r.transfer.type);
    case Field::kTransferPattern:
      return in(r.transfer.pattern);
    case Field::kTransaction:
      return in(r.transfer.transaction);
    case Field::kUserProvenance:
      return r.compute && r.compute->user ? in(r.compute->user->provenance) : Tri::kFalse;
    default:
      return Tri::kFalse;
  }
}

Tri Evaluator::Number(const Condition& c, const Unit& u, const char** missing) const {
  std::optional<double> v;
  const Request& r = *f_.request;
  switch (c.field) {
    case Field::kSubjects:
    case Field::kSensitiveSubjects:
    case Field::kCumulativeSubjects:
      if (u.tag && rule_ && !rule_->tag_filters.empty()) {
        v = PartitionSum(c.field, u);
      } else if (u.tag) {
        v = c.field == Field::kSubjects            ? u.tag->subjects
            : c.field == Field::kSensitiveSubjects ? u.tag->sensitive_subjects
                                                   : u.tag->cumulative_subjects;
      } else {
        v = c.field == Field::kSubjects            ? f_.subjects
            : c.field == Field::kSensitiveSubjects ? f_.sensitive_subjects
                                                   : f_.cumulative_subjects;
      }
      break;
    case Field::kTrainingFlops:
      v = (u.artifact && u.artifact->model) ? u.artifact->model->training_flops : f_.training_flops;
      break;
    case Field::kRetentionHours:
      v = r.transfer.retention_hours;
      break;
    default:
      break;
  }
  if (!v) {
    if (missing && !*missing) *missing = FieldName(c.field);
    return Tri::kUnknown;
  }
  const auto& bounds = *c.bounds;
  if (bounds.gte && !(*v >= *bounds.gte)) return Tri::kFalse;
  if (bounds.gt && !(*v > *bounds.gt)) return Tri::kFalse;
  if (bounds.lte && !(*v <= *bounds.lte)) return Tri::kFalse;
  if (bounds.lt && !(*v < *bounds.lt)) return Tri::kFalse;
  return Tri::kTrue;
}

// Sum of `field` over the unit's artifact's partitions that the rule's tag filters match, each
// partition counted once however many of its classes match; nullopt when one of them lacks it.
std::optional<double> Evaluator::PartitionSum(Field field, const Unit& u) const {
  double sum = 0;
  for (const auto& p : u.artifact->parts) {
    bool all = true;
    for (const auto& filter : rule_->tag_filters) {
      bool any = false;
      for (int cls : p.effective_classes) {
        const ClassBits& anc = set_.classes[cls].ancestors;
        for (const auto& pat : filter) {
          if ((pat.any_class || anc.Intersects(pat.classes)) &&
              (pat.any_origin || p.origin_bits.SubsetOf(pat.origins))) {
            any = true;
            break;
          }
        }
        if (any) break;
      }
      if (!any) {
        all = false;
        break;
      }
    }
    if (!all) continue;
    const std::optional<double>& v = field == Field::kSubjects            ? p.subjects
                                     : field == Field::kSensitiveSubjects ? p.sensitive_subjects
                                                                          : p.cumulative_subjects;
    if (!v) return std::nullopt;
    sum += *v;
  }
  return sum;
}

bool Evaluator::Regex(const Condition& c, const Unit& u) const {
  auto match = [&](const Dataset* d) {
    if (!d) return false;
    const std::string& s = c.field == Field::kDatasetId ? d->id : d->uri;
    return RE2::PartialMatch(s, *c.regex);
  };
  if (u.artifact) return match(u.artifact->dataset);
  for (const auto& a : f_.artifacts)
    if (match(a.dataset)) return true;
  return false;
}

Tri Evaluator::Eval(const Condition& c, const Unit& u, const char** missing) const {
  using K = Condition::Kind;
  switch (c.kind) {
    case K::kTrue:
      return Tri::kTrue;
    case K::kAll: {
      Tri out = Tri::kTrue;
      for (const auto& ch : c.children) {
        Tri t = Eval(ch, u, missing);
        if (t == Tri::kFalse) return Tri::kFalse;
        if (t == Tri::kUnknown) out = Tri::kUnknown;
      }
      return out;
    }
    case K::kAny: {
      Tri out = Tri::kFalse;
      for (const auto& ch : c.children) {
        Tri t = Eval(ch, u, missing);
        if (t == Tri::kTrue) return Tri::kTrue;
        if (t == Tri::kUnknown) out = Tri::kUnknown;
      }
      return out;
    }
    case K::kNot: {
      Tri t = Eval(c.children[0], u, missing);
      return t == Tri::kUnknown ? t : (t == Tri::kTrue ? Tri::kFalse : Tri::kTrue);
    }
    case K::kTags: {
      if (!u.tag) return Tri::kFalse;
      const ClassBits& anc = set_.classes[u.tag->effective_cls].ancestors;
      for (const auto& p : c.tags) {
        if ((p.any_class || anc.Intersects(p.classes)) &&
            (p.any_origin || u.tag->origin_bits.SubsetOf(p.origins))) {
          return Tri::kTrue;
        }
      }
      return Tri::kFalse;
    }
    case K::kValues:
      return Values(c, u);
    case K::kNumber:
      return Number(c, u, missing);
    case K::kRegex:
      return Regex(c, u) ? Tri::kTrue : Tri::kFalse;
    case K::kLocation:
      return LocationMatches(*c.location, u) ? Tri::kTrue : Tri::kFalse;
    case K::kOperator:
      return PartyMatches(*c.party, f_.request->operator_party, f_.operator_country) ? Tri::kTrue
                                                                                     : Tri::kFalse;
    case K::kRecipient:
      return PartyMatches(*c.party, f_.request->recipient, f_.recipient_country) ? Tri::kTrue
                                                                                 : Tri::kFalse;
    case K::kUser: {
      const auto& user = f_.request->compute ? f_.request->compute->user : std::nullopt;
      if (!user) return Tri::kFalse;
      if (c.user->has_jurisdictions) {
        if (f_.user_jurisdiction < 0 ||
            !set_.catalogue.jurisdiction_members[f_.user_jurisdiction].SubsetOf(
                c.user->jurisdictions)) {
          return Tri::kFalse;
        }
      }
      if (!c.user->provenance.empty() && !Contains(c.user->provenance, user->provenance)) {
        return Tri::kFalse;
      }
      return Tri::kTrue;
    }
    case K::kEvidence:
      return EvidenceHolds(*c.evidence, u) ? Tri::kTrue : Tri::kFalse;
  }
  return Tri::kFalse;
}

void Evaluator::EvalRule(int rule_index, const Unit& u) {
  const Rule& rule = policy_->rules[rule_index];
  rule_ = &rule;
  const char* missing = nullptr;
  Tri applies = Eval(rule.when, u, &missing);
  if (applies == Tri::kFalse) return;
  Outcome o;
  o.policy = policy_index_;
  o.rule = rule_index;
  o.dry_run = rule.dry_run || policy_->dry_run;
  const std::vector<int>* obl = &rule.obligations;
  if (applies == Tri::kUnknown) {
    o.effect = Effect::kDeny;
    o.missing = missing;
    obl = nullptr;
  } else if (!rule.has_alternatives) {
    o.effect = rule.effect;
  } else {
    int best = -1;
    for (size_t i = 0; i < rule.alternatives.size(); ++i) {
      const auto& a = rule.alternatives[i];
      if (best >= 0 && a.effect >= rule.alternatives[best].effect) continue;
      // An alternative whose condition cannot be established does not legalise anything.
      if (Eval(a.when, u, nullptr) == Tri::kTrue) best = static_cast<int>(i);
    }
    if (best >= 0) {
      o.effect = rule.alternatives[best].effect;
      o.alternative = best;
      obl = &rule.alternatives[best].obligations;
    } else {
      o.effect = rule.effect;
    }
  }
  if ((o.effect == Effect::kDeny || o.effect == Effect::kEscalate) && o.missing == nullptr &&
      rule.basis == "corp") {
    for (size_t x = 0; x < policy_->exceptions.size(); ++x) {
      const auto& ex = policy_->exceptions[x];
      if (std::find(ex.rules.begin(), ex.rules.end(), rule_index) == ex.rules.end()) continue;
      if (!ActiveAt(ex.not_before, ex.not_after, f_.now)) continue;
      if (Eval(ex.when, u, nullptr) != Tri::kTrue) continue;
      o.effect = Effect::kAllowWithObligations;
      o.exception = static_cast<int>(x);
      o.alternative = -1;
      obl = &ex.obligations;
      break;
    }
  }
  int& slot = slot_[rule_index];
  if (slot < 0) {
    touched_.push_back(rule_index);
    slot = static_cast<int>(outcomes_->size());
    outcomes_->push_back(o);
  } else {
    Outcome& prev = (*outcomes_)[slot];
    if (o.effect > prev.effect) {
      prev.effect = o.effect;
      prev.alternative = o.alternative;
      prev.exception = o.exception;
      prev.missing = o.missing;
    }
  }
  if (obl) {
    for (int ob : *obl) obligations_->emplace_back(slot, ob);
  }
}

void Evaluator::Run(std::vector<Outcome>* outcomes, std::vector<std::pair<int, int>>* obligations,
                    std::vector<LiftedTag>* lifted) {
  outcomes_ = outcomes;
  obligations_ = obligations;
  for (size_t pi = 0; pi < set_.policies.size(); ++pi) {
    const Policy& p = set_.policies[pi];
    if (!InScope(p)) continue;
    policy_ = &p;
    policy_index_ = static_cast<int>(pi);
    // Reset only the slots the previous policy touched: a full reset per policy would cost
    // O(rules) per evaluation.
    if (slot_.size() < p.rules.size()) slot_.resize(p.rules.size(), -1);
    for (int r : touched_) slot_[r] = -1;
    touched_.clear();
    for (const auto& a : f_.artifacts) {
      for (const auto& t : a.tags) {
        if (!p.lifts.empty() && Lifted(p, a, t)) {
          if (lifted) lifted->push_back(LiftedTag{t.text, p.id});
          continue;
        }
        for (uint32_t ri : p.rules_by_class[t.effective_cls]) {
          const Rule& rule = p.rules[ri];
          if (!ActiveAt(rule.from, rule.until, f_.now)) continue;
          for (int loc : f_.locations) EvalRule(static_cast<int>(ri), Unit{&a, &t, loc});
        }
      }
    }
    for (uint32_t ri : p.request_rules) {
      const Rule& rule = p.rules[ri];
      if (!ActiveAt(rule.from, rule.until, f_.now)) continue;
      for (int loc : f_.locations) EvalRule(static_cast<int>(ri), Unit{nullptr, nullptr, loc});
    }
  }
}

struct Core {
  Effect decision = Effect::kAllow;
  std::vector<Outcome> outcomes;
  std::vector<std::pair<int, int>> obligations;
  std::vector<LiftedTag> lifted;
  bool fail = false;
  bool suggestible = false;
};

void RunCore(const CompiledSet& set, const Facts& facts, bool skip_primary_fail, Core* core) {
  Evaluator ev(set, facts);
  ev.Run(&core->outcomes, &core->obligations, &core->lifted);
  core->decision = Effect::kAllow;
  for (const auto& o : core->outcomes) {
    if (o.dry_run) continue;
    core->decision = std::max(core->decision, o.effect);
    if (o.effect == Effect::kDeny && set.policies[o.policy].rules[o.rule].suggest) {
      core->suggestible = true;
    }
  }
  for (const auto& fr : facts.fail) {
    if (skip_primary_fail && fr.primary_location) continue;
    core->fail = true;
    core->decision = Effect::kDeny;
    if (fr.primary_location) core->suggestible = true;
  }
}

Reason MakeReason(const CompiledSet& set, const Outcome& o) {
  const Policy& p = set.policies[o.policy];
  const Rule& r = p.rules[o.rule];
  Reason out;
  out.policy = p.id;
  out.rule = r.id;
  out.basis = r.basis;
  out.effect = o.effect;
  out.citation = r.citation;
  out.message = r.message;
  if (o.missing) {
    out.basis = "fail_closed";
    absl::StrAppend(&out.message, " (cannot be evaluated: the request does not give `", o.missing,
                    "`)");
  }
  if (o.alternative >= 0) out.alternative = r.alternatives[o.alternative].name;
  if (o.exception >= 0) out.exception = p.exceptions[o.exception].id;
  return out;
}

std::vector<std::string> Suggest(const CompiledSet& set, const Facts& facts) {
  const auto& locs = set.catalogue.locations;
  std::string provider, country;
  if (facts.primary >= 0) {
    const Location& cur = locs[facts.locations[facts.primary]];
    provider = cur.provider;
    country = cur.country_code;
  } else {
    auto colon = facts.primary_name.find(':');
    provider = colon == std::string::npos ? "" : facts.primary_name.substr(0, colon);
  }
  // Candidates in the order they are suggested (same provider and country, same provider, same
  // country, the rest; catalogue order within each), evaluated until 8 are found.
  std::vector<std::pair<int, int>> order;  // (rank, catalogue index)
  order.reserve(locs.size());
  for (size_t i = 0; i < locs.size(); ++i) {
    if (facts.primary >= 0 && static_cast<int>(i) == facts.locations[facts.primary]) continue;
    bool same_p = locs[i].provider == provider, same_c = locs[i].country_code == country;
    order.emplace_back(same_p && same_c ? 0 : same_p ? 1 : same_c ? 2 : 3, static_cast<int>(i));
  }
  std::stable_sort(order.begin(), order.end());
  Facts trial = facts;
  std::vector<std::string> out;
  Core core;
  for (const auto& [rank, i] : order) {
    eval_internal::SetPrimaryLocation(set, i, &trial);
    core.outcomes.clear();
    core.obligations.clear();
    core.lifted.clear();
    core.fail = core.suggestible = false;
    RunCore(set, trial, /*skip_primary_fail=*/true, &core);
    if (core.decision == Effect::kDeny) continue;
    out.push_back(locs[i].id);
    if (out.size() == 8) break;
  }
  return out;
}

}  // namespace

absl::StatusOr<Decision> Evaluate(const PolicySnapshot& snapshot, const Request& request,
                                  const EvalOptions& options) {
  const CompiledSet& set = snapshot.impl();
  switch (request.kind) {
    case Request::Kind::kDataset:
      if (!request.dataset) return absl::InvalidArgumentError("a dataset request needs `dataset`");
      if (request.destination.empty() && request.dataset->location.empty()) {
        return absl::InvalidArgumentError(
            "a dataset request needs `destination` or `dataset.location`");
      }
      break;
    case Request::Kind::kModel:
      if (!request.model) return absl::InvalidArgumentError("a model request needs `model`");
      if (request.destination.empty() && request.model->location.empty()) {
        return absl::InvalidArgumentError(
            "a model request needs `destination` or `model.location`");
      }
      break;
    case Request::Kind::kCompute:
      if (!request.compute) return absl::InvalidArgumentError("a compute request needs `compute`");
      if (request.compute->location.empty()) {
        return absl::InvalidArgumentError("a compute request needs `compute.location`");
      }
      for (const auto& in : request.compute->inputs) {
        if (in.dataset.has_value() == in.model.has_value()) {
          return absl::InvalidArgumentError("each compute input is exactly one dataset or model");
        }
      }
      break;
  }
  absl::Time now = request.now ? *request.now : options.now ? *options.now : absl::Now();
  Facts facts;
  eval_internal::BuildFacts(set, request, now, options, &facts);
  Core core;
  RunCore(set, facts, false, &core);

  Decision d;
  d.decision = core.decision;
  d.now = now;
  d.policy_digest = set.digest;
  d.tags = facts.all_tags;
  // Reasons: the fail-closed ones, then every rule whose result is the decision.
  for (const auto& fr : facts.fail) {
    Reason r;
    r.policy = "residency";
    r.rule = fr.rule;
    r.basis = "fail_closed";
    r.effect = Effect::kDeny;
    r.citation = "SPEC §4 (fail closed)";
    r.message = fr.message;
    d.reasons.push_back(std::move(r));
  }
  std::vector<size_t> order(core.outcomes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& x = core.outcomes[a];
    const auto& y = core.outcomes[b];
    return std::tie(x.policy, x.rule) < std::tie(y.policy, y.rule);
  });
  for (size_t i : order) {
    const Outcome& o = core.outcomes[i];
    if (o.dry_run) {
      d.dry_run.push_back(MakeReason(set, o));
    } else if (o.effect == d.decision) {
      d.reasons.push_back(MakeReason(set, o));
    }
  }
  // Obligations: the union over every enforced rule result.
  for (const auto& [slot, ob] : core.obligations) {
    const Outcome& o = core.outcomes[slot];
    if (o.dry_run) continue;
    const Policy& p = set.policies[o.policy];
    d.obligations.push_back(ObligationRef{p.obligations[ob].id, p.id});
  }
  std::sort(d.obligations.begin(), d.obligations.end(), [](const auto& a, const auto& b) {
    return std::tie(a.policy, a.id) < std::tie(b.policy, b.id);
  });
  d.obligations.erase(std::unique(d.obligations.begin(), d.obligations.end(),
                                  [](const auto& a, const auto& b) {
                                    return a.policy == b.policy && a.id == b.id;
                                  }),
                      d.obligations.end());
  d.lifted = std::move(core.lifted);
  std::sort(d.lifted.begin(), d.lifted.end(), [](const auto& a, const auto& b) {
    return std::tie(a.tag, a.policy) < std::tie(b.tag, b.policy);
  });
  d.lifted.erase(std::unique(d.lifted.begin(), d.lifted.end(),
                             [](const auto& a, const auto& b) {
                               return a.tag == b.tag && a.policy == b.policy;
                             }),
                 d.lifted.end());
  if (d.decision == Effect::kDeny && options.suggest && core.suggestible) {
    d.suggested_locations = Suggest(set, facts);
  }
  return d;
}

absl::StatusOr<Decision> CheckDataset(const PolicySnapshot& s, Request r, const EvalOptions& o) {
  r.kind = Request::Kind::kDataset;
  return Evaluate(s, r, o);
}
absl::StatusOr<Decision> CheckModel(const PolicySnapshot& s, Request r, const EvalOptions& o) {
  r.kind = Request::Kind::kModel;
  return Evaluate(s, r, o);
}
absl::StatusOr<Decision> CheckCompute(const PolicySnapshot& s, Request r, const EvalOptions& o) {
  r.kind = Request::Kind::kCompute;
  if (r.compute && r.action.empty()) {
    static const std::pair<const char*, const char*> kJobAction[] = {{"training", "train"},
                                                                     {"fine_tune", "fine_tune"},
                                                                     {"batch", "process"},
                                                                     {"evaluate", "evaluate"},
                                                                     {"inference", "infer"}};
    for (const auto& [job, action] : kJobAction)
      if (r.compute->job == job) r.action = action;
  }
  return Evaluate(s, r, o);
}

}  // namespace residency
