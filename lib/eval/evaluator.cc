// The evaluator: runs the rules of a compiled policy set over the units of a request (each tag
// of each artifact, and the request itself) at each checked location, in three-valued logic. A
// rule whose condition cannot be evaluated for lack of a fact gives the most restrictive result
// over the values the fact could take: it is judged as if it applied, and an alternative or an
// exception that cannot be evaluated legalises nothing. A deny rule denies, an obligations rule
// attaches its obligations, an escalate rule escalates (fail closed, capped at the rule's effect).
#include <algorithm>

#include "eval/rule_eval.h"

namespace residency::eval_internal {

bool Evaluator::InScope(const Policy& p, const policy_internal::PolicyIndex& pi) const {
  if (InScopeButWhere(p)) return true;
  for (int loc : f_.locations)
    if (pi.scope_locations.Test(loc)) return true;
  return false;
}

// In scope by what the request is and who makes it, whatever its locations.
bool Evaluator::InScopeButWhere(const Policy& p) const {
  const auto& s = p.scope;
  if (s.always) return true;
  if (s.has_origins && f_.tag_origins.Intersects(s.origins)) return true;
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
  const bool dataset = a.kind == ArtifactKind::kDataset;
  for (const auto& l : p.lifts) {
    if (!(dataset ? l.datasets : l.models)) continue;
    if (!set_.classes[t.cls].ancestors.Intersects(l.classes)) continue;
    for (const auto& e : a.evidence) {
      if (!e.valid || !Contains(l.evidence_type_ids, e.type) || e.origin_unknown) continue;
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
  return ListLocations(list).Test(location);
}

inline const LocationBits& Evaluator::ListLocations(int list) const {
  const auto& l = pix_->lists[list];
  return l.locations_at[policy_internal::ListSegment(l, f_.now)];
}

Tri Evaluator::LocationMatches(const policy_internal::LocationCond& lc, const LocationBits& fixed,
                               const Unit& u) const {
  if (!fixed.Test(u.location)) return Tri::kFalse;
  if (lc.in_list >= 0 && !ListHasLocation(lc.in_list, u.location)) return Tri::kFalse;
  if (lc.not_in_list >= 0 && ListHasLocation(lc.not_in_list, u.location)) return Tri::kFalse;
  if (lc.outside_origin) {
    if (!u.tag || u.tag->origin_bits.Test(set_.catalogue.locations[u.location].country)) {
      return Tri::kFalse;
    }
  }
  if (lc.own_premises && f_.own_locations->Test(u.location) != *lc.own_premises) {
    return Tri::kFalse;
  }
  return Tri::kTrue;
}

inline LocationBits Evaluator::LocationsMatching(const Condition& c, const Unit& u) const {
  const policy_internal::LocationCond& lc = *c.location;
  LocationBits out = *cond_[c.id].fixed;
  if (lc.in_list >= 0) out &= ListLocations(lc.in_list);
  if (lc.not_in_list >= 0) out.Remove(ListLocations(lc.not_in_list));
  if (lc.outside_origin) {
    if (!u.tag) return LocationBits();
    out.Remove(ix_.jurisdiction_locations[u.tag->origin]);
  }
  if (lc.own_premises) {
    if (*lc.own_premises) {
      out &= *f_.own_locations;
    } else {
      out.Remove(*f_.own_locations);
    }
  }
  return out;
}

Tri Evaluator::PartyMatches(const policy_internal::PartyCond& pc, const std::optional<Party>& party,
                            int country) const {
  if (pc.present) {
    if (*pc.present != party.has_value()) return Tri::kFalse;
    if (!party) return Tri::kTrue;
  }
  if (!party) return Tri::kFalse;
  if (!pc.ids.empty() && !Contains(pc.ids, party->id)) return Tri::kFalse;
  if (pc.id_regex && !RE2::PartialMatch(party->id, *pc.id_regex)) return Tri::kFalse;
  if (pc.has_countries && (country < 0 || !pc.countries.Test(country))) return Tri::kFalse;
  if (!pc.sectors.empty()) {
    bool any = false;
    for (const auto& s : party->sectors) any |= Contains(pc.sectors, s);
    if (!any) return Tri::kFalse;
  }
  if (!pc.roles.empty() && !Contains(pc.roles, party->role)) return Tri::kFalse;
  for (const auto& [k, v] : pc.attributes) {
    auto it = party->attributes.find(k);
    if (it == party->attributes.end() || it->second != v) return Tri::kFalse;
  }
  if (pc.in_list >= 0 && !ListHas(pc.in_list, party->id)) return Tri::kFalse;
  if (pc.not_in_list >= 0 && ListHas(pc.not_in_list, party->id)) return Tri::kFalse;
  return Tri::kTrue;
}

// The checks of an evidence condition on one item that do not depend on the location.
EvidenceFit Evaluator::Fit(const policy_internal::EvidenceCond& ec, const Unit& u,
                           const ResolvedEvidence& e) const {
  if (!Contains(ec.type_ids, e.type)) return EvidenceFit::kOtherType;
  if (!e.valid) return EvidenceFit::kNotValid;
  if (u.tag) {
    for (const auto& ig : policy_->ignores) {
      if (Contains(ig.type_ids, e.type) &&
          set_.classes[u.tag->effective_cls].ancestors.Intersects(ig.classes)) {
        return EvidenceFit::kIgnored;
      }
    }
  }
  if (ec.require_country && !e.item->country) return EvidenceFit::kNoCountry;
  if (ec.require_recipient && !e.item->recipient) return EvidenceFit::kNoRecipient;
  if (ec.require_origin && !e.item->origin) return EvidenceFit::kNoOrigin;
  for (const auto& c : ec.covers)
    if (!Contains(e.item->covers, c)) return EvidenceFit::kNotCovering;
  if (ec.match_recipient && e.item->recipient) {
    const auto& recipient = f_.request->recipient;
    if (!recipient || recipient->id != *e.item->recipient) return EvidenceFit::kOtherRecipient;
  }
  if (ec.match_origin && e.item->origin && u.tag) {
    if (e.origin_unknown ||
        !u.tag->origin_bits.SubsetOf(set_.catalogue.jurisdiction_members[e.origin])) {
      return EvidenceFit::kOtherOrigin;
    }
  }
  return EvidenceFit::kUsable;
}

bool Evaluator::EvidenceUsable(const policy_internal::EvidenceCond& ec, const Unit& u,
                               const ResolvedEvidence& e) const {
  return Fit(ec, u, e) == EvidenceFit::kUsable;
}

// Calls `f(item)` for each evidence item the unit can use (the request's, then its artifact's)
// until it returns true.
template <typename F>
bool Evaluator::AnyEvidence(const policy_internal::EvidenceCond& ec, const Unit& u, F f) const {
  for (const auto& e : f_.request_evidence)
    if (EvidenceUsable(ec, u, e) && f(e)) return true;
  if (u.artifact) {
    for (const auto& e : u.artifact->evidence)
      if (EvidenceUsable(ec, u, e) && f(e)) return true;
  }
  return false;
}

// The location is read only when the condition matches countries: a condition that does not
// is evaluated without one (location -1) when suggestions are computed.
Tri Evaluator::EvidenceHolds(const policy_internal::EvidenceCond& ec, const Unit& u) const {
  bool holds = AnyEvidence(ec, u, [&](const ResolvedEvidence& e) {
    if (!ec.match_country || !e.item->country) return true;
    int country = set_.catalogue.locations[u.location].country;
    return !e.country_unknown && set_.catalogue.jurisdiction_members[e.country].Test(country);
  });
  return holds ? Tri::kTrue : Tri::kFalse;
}

inline LocationBits Evaluator::EvidenceLocations(const policy_internal::EvidenceCond& ec,
                                                 const Unit& u) const {
  LocationBits out;
  const LocationBits& all = ix_.all_locations;
  AnyEvidence(ec, u, [&](const ResolvedEvidence& e) {
    if (!ec.match_country || !e.item->country) {
      out = all;
      return true;  // holds everywhere: nothing more to find
    }
    if (!e.country_unknown) out |= ix_.jurisdiction_locations[e.country];
    return false;
  });
  return out;
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
      for (const std::string* t : f_.tiers)
        if (Contains(c.values, *t)) return Tri::kTrue;
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

inline std::optional<double> Evaluator::NumberOf(Field field, const Unit& u,
                                                 const Condition* count) const {
  switch (field) {
    case Field::kSubjects:
    case Field::kSensitiveSubjects:
    case Field::kCumulativeSubjects:
      if (u.tag && u.rule && (!u.rule->tag_filters.empty() || (count && count->beside))) {
        return PartitionSum(field, u, count);
      }
      if (u.tag) {
        return field == Field::kSubjects            ? u.tag->subjects
               : field == Field::kSensitiveSubjects ? u.tag->sensitive_subjects
                                                    : u.tag->cumulative_subjects;
      }
      return field == Field::kSubjects            ? f_.subjects
             : field == Field::kSensitiveSubjects ? f_.sensitive_subjects
                                                  : f_.cumulative_subjects;
    case Field::kTrainingFlops:
      return (u.artifact && u.artifact->model) ? u.artifact->model->training_flops
                                               : f_.training_flops;
    case Field::kRetentionHours:
      return f_.request->transfer.retention_hours;
    default:
      return std::nullopt;
  }
}

std::optional<double> Evaluator::NumberFact(Field field, const Unit& u,
                                            const Condition* count) const {
  return NumberOf(field, u, count);
}

Tri Evaluator::Number(const Condition& c, const Unit& u, const char** missing) const {
  const std::optional<double> v = NumberOf(c.field, u, &c);
  if (!v) {
    if (missing && !*missing) *missing = FieldNameFor(c.field, u);
    return Tri::kUnknown;
  }
  const auto& bounds = *c.bounds;
  if (bounds.gte && !(*v >= *bounds.gte)) return Tri::kFalse;
  if (bounds.gt && !(*v > *bounds.gt)) return Tri::kFalse;
  if (bounds.lte && !(*v <= *bounds.lte)) return Tri::kFalse;
  if (bounds.lt && !(*v < *bounds.lt)) return Tri::kFalse;
  return Tri::kTrue;
}

// Sum of `field` over the unit's artifact's partitions that the rule's tag filters and the tag
// conditions beside the count (`count->beside`) match, each partition counted once however many
// of its classes match; nullopt when one of them lacks it.
inline std::optional<double> Evaluator::PartitionSum(Field field, const Unit& u,
                                                     const Condition* count) const {
  // Does the partition match one pattern of each filter?
  auto matches = [&](const PartFact& p,
                     const std::vector<std::vector<policy_internal::TagPattern>>& filters) {
    for (const auto& filter : filters) {
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
      if (!any) return false;
    }
    return true;
  };
  double sum = 0;
  for (const auto& p : u.artifact->parts) {
    bool all =
        matches(p, u.rule->tag_filters) && (!count || !count->beside || matches(p, *count->beside));
    if (!all) continue;
    const std::optional<double>& v = field == Field::kSubjects            ? p.subjects
                                     : field == Field::kSensitiveSubjects ? p.sensitive_subjects
                                                                          : p.cumulative_subjects;
    if (!v) return std::nullopt;
    sum += *v;
  }
  return sum;
}

Tri Evaluator::Regex(const Condition& c, const Unit& u) const {
  auto match = [&](const Dataset* d) {
    if (!d) return false;
    const std::string& s = c.field == Field::kDatasetId ? d->id : d->uri;
    return RE2::PartialMatch(s, *c.regex);
  };
  if (u.artifact) return match(u.artifact->dataset) ? Tri::kTrue : Tri::kFalse;
  for (const auto& a : f_.artifacts)
    if (match(a.dataset)) return Tri::kTrue;
  return Tri::kFalse;
}

Tri Evaluator::User(const policy_internal::UserCond& uc) const {
  const auto& user = f_.request->compute ? f_.request->compute->user : std::nullopt;
  if (!user) return Tri::kFalse;
  if (uc.has_jurisdictions) {
    if (f_.user_jurisdiction < 0 ||
        !set_.catalogue.jurisdiction_members[f_.user_jurisdiction].SubsetOf(uc.jurisdictions)) {
      return Tri::kFalse;
    }
  }
  return uc.provenance.empty() || Contains(uc.provenance, user->provenance) ? Tri::kTrue
                                                                            : Tri::kFalse;
}

// Eval walks all/any/not (JudgeCondition) and dispatches each leaf by tail calls (Leaf keeps no
// frame of its own, so a leaf costs a few instructions beyond its own test).
Tri Evaluator::Eval(const Condition& c, const Unit& u, const char** missing) const {
  return policy_internal::JudgeCondition(
      c, [&](const Condition& leaf) { return Leaf(leaf, u, missing); });
}

Tri Evaluator::Leaf(const Condition& c, const Unit& u, const char** missing) const {
  using K = Condition::Kind;
  switch (c.kind) {
    case K::kTrue:
    case K::kAll:
    case K::kAny:
    case K::kNot:
      break;  // JudgeCondition's
    case K::kTags:
      return Tags(c, u);
    case K::kValues:
      return Values(c, u);
    case K::kNumber:
      return Number(c, u, missing);
    case K::kRegex:
      return Regex(c, u);
    case K::kLocation:
      return LocationMatches(*c.location, *cond_[c.id].fixed, u);
    case K::kOperator:
      return PartyMatches(*c.party, f_.request->operator_party, f_.operator_country);
    case K::kRecipient:
      return PartyMatches(*c.party, f_.request->recipient, f_.recipient_country);
    case K::kUser:
      return User(*c.user);
    case K::kEvidence:
      return EvidenceHolds(*c.evidence, u);
  }
  return Tri::kFalse;
}

Tri Evaluator::Tags(const Condition& c, const Unit& u) const {
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

void Evaluator::EvalAt(const Condition& c, const Unit& u, LocVal* out) const {
  using K = Condition::Kind;
  if (!cond_[c.id].by_location) return out->SetFixed(Eval(c, u, nullptr));
  switch (c.kind) {
    case K::kAll:
    case K::kAny: {
      const bool is_all = c.kind == K::kAll;
      const Tri stop = is_all ? Tri::kFalse : Tri::kTrue;
      out->SetFixed(is_all ? Tri::kTrue : Tri::kFalse);
      LocVal v;
      for (const auto& ch : c.children) {
        EvalAt(ch, u, &v);
        if (!v.varies) {
          if (v.tri == stop) return out->SetFixed(stop);
          if (!out->varies) {
            out->tri = is_all ? TriAnd(out->tri, v.tri) : TriOr(out->tri, v.tri);
            continue;
          }
          if (v.tri != Tri::kUnknown) continue;  // the neutral element
        }
        sets_.Combine(v, is_all, out);
        if (!out->varies && out->tri == stop) return;
      }
      return;
    }
    case K::kNot:
      EvalAt(c.children[0], u, out);
      return sets_.Negate(out);
    case K::kLocation:
      return sets_.SetTrueOn(LocationsMatching(c, u), out);
    case K::kEvidence:
      return sets_.SetTrueOn(EvidenceLocations(*c.evidence, u), out);
    default:
      return out->SetFixed(Eval(c, u, nullptr));
  }
}

LocationBits Evaluator::TrueAt(const Condition& c, const Unit& u) const {
  LocVal v;
  EvalAt(c, u, &v);
  return sets_.True(v);
}

bool Evaluator::Judge(int rule_index, const Unit& unit, Outcome* out) {
  const Rule& rule = policy_->rules[rule_index];
  Unit u = unit;
  u.rule = &rule;
  const char* missing = nullptr;
  Tri applies = Eval(rule.when, u, &missing);
  if (applies == Tri::kFalse) return false;
  Outcome o;
  o.policy = policy_index_;
  o.rule = rule_index;
  o.dry_run = rule.DryRunAt(f_.now) || policy_->dry_run;
  if (applies == Tri::kUnknown) o.missing = missing;
  if (!rule.has_alternatives) {
    o.effect = rule.effect;
  } else {
    int best = -1;
    for (size_t i = 0; i < rule.alternatives.size(); ++i) {
      const auto& a = rule.alternatives[i];
      if (best >= 0 && a.effect >= rule.alternatives[best].effect) continue;
      // An alternative whose condition cannot be established does not legalise anything.
      if (Eval(a.when, u, nullptr) == Tri::kTrue) {
        best = static_cast<int>(i);
        if (a.effect == Effect::kAllow) break;  // none is more lenient
      }
    }
    if (best >= 0) {
      o.effect = rule.alternatives[best].effect;
      o.alternative = best;
    } else {
      o.effect = rule.effect;
    }
  }
  if ((o.effect == Effect::kDeny || o.effect == Effect::kEscalate) && rule.corp) {
    for (size_t x = 0; x < policy_->exceptions.size(); ++x) {
      const auto& ex = policy_->exceptions[x];
      if (std::find(ex.rules.begin(), ex.rules.end(), rule_index) == ex.rules.end()) continue;
      if (!ActiveAt(ex.not_before, ex.not_after, f_.now)) continue;
      if (Eval(ex.when, u, nullptr) != Tri::kTrue) continue;
      o.effect = Effect::kAllowWithObligations;
      o.exception = static_cast<int>(x);
      o.alternative = -1;
      break;
    }
  }
  *out = o;
  return true;
}

void Evaluator::EvalRule(int rule_index, const Unit& u, bool by_location) {
  Outcome o;
  if (!Judge(rule_index, u, &o)) return;
  const Rule& rule = policy_->rules[rule_index];
  const std::vector<int>* obl = o.exception >= 0     ? &policy_->exceptions[o.exception].obligations
                                : o.alternative >= 0 ? &rule.alternatives[o.alternative].obligations
                                                     : &rule.obligations;
  o.artifact = u.artifact;
  o.tag = u.tag;
  o.location = by_location ? u.location : -1;
  int& slot = slots_->slot[rule_index];
  if (slot < 0) {
    slots_->touched.push_back(rule_index);
    slot = static_cast<int>(outcomes_->size());
    outcomes_->push_back(o);
  } else {
    Outcome& prev = (*outcomes_)[slot];
    if (o.effect > prev.effect) prev = o;
  }
  if (obl) {
    for (int ob : *obl) obligations_->emplace_back(slot, ob);
  }
}

// Judge's reading of a rule at every candidate location at once: adds to *denied the locations
// where the unit makes it deny.
void Evaluator::AddDenySet(int rule_index, const Unit& unit, LocationBits* denied) {
  const Rule& rule = policy_->rules[rule_index];
  Unit u = unit;
  u.rule = &rule;
  const LocationBits& all = sets_.all();
  if (!pix_->rules[rule_index].by_location) {
    // The same result at every location: judge it at any one.
    Outcome o;
    Unit any = u;
    any.location = 0;
    if (Judge(rule_index, any, &o) && o.effect == Effect::kDeny) *denied = all;
    return;
  }
  LocVal applies;
  EvalAt(rule.when, u, &applies);
  if (!applies.varies && applies.tri == Tri::kFalse) return;
  // Where it applies, or cannot be evaluated (judged as if it applied), with a deny effect, below.
  LocationBits deny = sets_.True(applies);
  sets_.Or(sets_.Unknown(applies), &deny);
  if (!rule.has_alternatives) {
    if (rule.effect != Effect::kDeny) deny = LocationBits();
  } else {
    // The most lenient alternative that holds decides; none: the rule's own effect.
    LocationBits lenient, strict;
    for (const auto& a : rule.alternatives) {
      LocVal v;
      EvalAt(a.when, u, &v);
      sets_.OrTrue(v, a.effect == Effect::kDeny ? &strict : &lenient);
    }
    if (rule.effect != Effect::kDeny) sets_.And(strict, &deny);
    sets_.Remove(lenient, &deny);
  }
  if (rule.corp && sets_.Any(deny)) {
    for (const auto& ex : policy_->exceptions) {
      if (std::find(ex.rules.begin(), ex.rules.end(), rule_index) == ex.rules.end()) continue;
      if (!ActiveAt(ex.not_before, ex.not_after, f_.now)) continue;
      sets_.Remove(TrueAt(ex.when, u), &deny);
    }
  }
  sets_.Or(deny, denied);
}

inline void Evaluator::Run(Outcomes* outcomes, ObligationSlots* obligations,
                           std::vector<LiftedTag>* lifted) {
  outcomes_ = outcomes;
  obligations_ = obligations;
  for (size_t pi = 0; pi < set_.policies.size(); ++pi) {
    const Policy& p = set_.policies[pi];
    if (!InScope(p, ix_.policies[pi])) continue;
    Enter(pi);
    // Reset only the slots the previous policy touched: a full reset per policy would cost
    // O(rules) per evaluation.
    std::vector<int>& slot = slots_->slot;
    if (slot.size() < p.rules.size()) slot.resize(p.rules.size(), -1);
    for (int r : slots_->touched) slot[r] = -1;
    slots_->touched.clear();
    ForEachUnit(lifted, [&](int ri, const policy_internal::RuleFacts& rf, const Artifact* a,
                            const TagFact* t) {
      if (!rf.by_location) {
        // The same result at every checked location: one evaluation stands for all of them.
        if (!f_.locations.empty()) EvalRule(ri, Unit{a, t, f_.locations[0]}, false);
        return true;
      }
      for (int loc : f_.locations) {
        const Unit u{a, t, loc};
        // Not here (all of the top-level conditions must hold): the rule does not apply. The
        // fixed part is tested inline first, so a location outside it costs no call.
        if (rf.top_location &&
            (!rf.top_fixed->Test(loc) ||
             LocationMatches(*rf.top_location, *rf.top_fixed, u) == Tri::kFalse)) {
          continue;
        }
        EvalRule(ri, u, true);
      }
      return true;
    });
  }
}

inline bool Evaluator::DeniedCandidates(const LocationBits& candidates, LocationBits* denied) {
  const int primary = f_.primary;  // index into f_.locations, or -1: the placement is added
  bool everywhere = false;
  for (size_t pi = 0; pi < set_.policies.size() && !everywhere; ++pi) {
    const Policy& p = set_.policies[pi];
    if (p.dry_run) continue;
    const policy_internal::PolicyIndex& scope = ix_.policies[pi];
    // A policy in scope by where processing happens is in scope at a candidate within its
    // `locations`, or everywhere when a checked location that stays is within them.
    bool whole = InScopeButWhere(p);
    for (size_t k = 0; k < f_.locations.size() && !whole; ++k) {
      whole = static_cast<int>(k) != primary && scope.scope_locations.Test(f_.locations[k]);
    }
    if (!whole && !sets_.Any(scope.scope_locations)) continue;
    Enter(pi);
    LocationBits local;  // where the policy denies, before its scope is applied
    LocationBits* target = whole ? denied : &local;
    bool all_of_it = false;
    ForEachUnit(nullptr, [&](int ri, const policy_internal::RuleFacts&, const Artifact* a,
                             const TagFact* t) {
      if (p.rules[ri].DryRunAt(f_.now)) return true;
      // The other checked locations stay where they are: a deny there is a deny everywhere.
      for (size_t k = 0; k < f_.locations.size(); ++k) {
        if (static_cast<int>(k) == primary) continue;
        Outcome o;
        if (Judge(ri, Unit{a, t, f_.locations[k]}, &o) && o.effect == Effect::kDeny) {
          all_of_it = true;
          return false;
        }
      }
      AddDenySet(ri, Unit{a, t, -1}, target);
      if (sets_.SubsetOf(candidates, *target)) {
        all_of_it = true;
        return false;
      }
      return true;
    });
    if (whole) {
      everywhere = all_of_it;
      continue;
    }
    if (all_of_it) local = sets_.all();
    sets_.And(scope.scope_locations, &local);
    sets_.Or(local, denied);
    everywhere = sets_.SubsetOf(candidates, *denied);
  }
  return !everywhere;
}

void RunPolicies(const PolicySnapshot& s, const Facts& facts, Outcomes* outcomes,
                 ObligationSlots* obligations, std::vector<LiftedTag>* lifted) {
  thread_local SlotScratch slots;
  Evaluator ev(s.impl(), s.index(), facts, &slots);
  ev.Run(outcomes, obligations, lifted);
}

bool DeniedCandidates(const PolicySnapshot& s, const Facts& facts, const LocationBits& candidates,
                      LocationBits* denied) {
  Evaluator ev(s.impl(), s.index(), facts, nullptr);
  return ev.DeniedCandidates(candidates, denied);
}

}  // namespace residency::eval_internal
