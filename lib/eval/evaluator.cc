// The evaluator: runs the rules of a compiled policy set over the units of a request (each tag
// of each artifact, and the request itself) at each checked location, in three-valued logic: a
// rule whose condition cannot be evaluated for lack of a fact applies, and denies (fail closed).
#include <algorithm>
#include <array>
#include <deque>
#include <memory>

#include "absl/base/attributes.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "eval/facts.h"
#include "residency/decision.h"

namespace residency {
namespace eval_internal {

// Builds a decision and its parts (the friend of Decision, Reason, ObligationRef and LiftedTag).
// Parts are made with views into the policy set or into texts kept here; Finish gives the
// decision and each of its parts a share of what the views point to: the policy set, or, when
// the request needed texts of its own, a block holding them and the set.
class DecisionBuilder {
 public:
  explicit DecisionBuilder(const PolicySnapshot& s) : snapshot_(s) {}

  // Keeps a text made for this request; the view is valid as long as the decision's parts.
  std::string_view Keep(std::string text) {
    if (!own_) {
      own_ = std::make_shared<OwnTexts>();
      own_->set = snapshot_.shared_impl();
    }
    return own_->texts.emplace_back(std::move(text));
  }

  struct ReasonText {
    std::string_view policy, rule, basis;
    Effect effect = Effect::kDeny;
    std::string_view citation, message, alternative, exception;
  };
  static Reason MakeReason(const ReasonText& t) {
    Reason r;
    r.policy_ = t.policy;
    r.rule_ = t.rule;
    r.basis_ = t.basis;
    r.effect_ = t.effect;
    r.citation_ = t.citation;
    r.message_ = t.message;
    r.alternative_ = t.alternative;
    r.exception_ = t.exception;
    return r;
  }
  static ObligationRef MakeObligation(std::string_view id, std::string_view policy) {
    ObligationRef o;
    o.id_ = id;
    o.policy_ = policy;
    return o;
  }
  static LiftedTag MakeLifted(std::string tag, std::string_view policy) {
    LiftedTag l;
    l.tag_ = std::move(tag);
    l.policy_ = policy;
    return l;
  }

  // Sets the decision's own texts, then gives the decision and every part of it the owner.
  void Finish(std::string_view digest, std::vector<std::string_view> suggested, Decision* d) {
    std::shared_ptr<const void> owner;
    if (own_) {
      owner = std::move(own_);
    } else {
      owner = snapshot_.shared_impl();
    }
    for (Reason& r : d->reasons) r.texts_ = owner;
    for (Reason& r : d->dry_run) r.texts_ = owner;
    for (ObligationRef& o : d->obligations) o.texts_ = owner;
    for (LiftedTag& l : d->lifted) l.texts_ = owner;
    d->policy_digest_ = digest;
    d->suggested_ = std::move(suggested);
    d->texts_ = std::move(owner);
  }

 private:
  struct OwnTexts {
    std::shared_ptr<const policy_internal::CompiledSet> set;
    std::deque<std::string> texts;  // a deque: its strings never move
  };
  const PolicySnapshot& snapshot_;
  std::shared_ptr<OwnTexts> own_;
};

}  // namespace eval_internal

namespace {

using eval_internal::Artifact;
using eval_internal::ArtifactKind;
using eval_internal::DecisionBuilder;
using eval_internal::Facts;
using eval_internal::ResolvedEvidence;
using eval_internal::TagFact;
using policy_internal::ClassBits;
using policy_internal::CompiledSet;
using policy_internal::Condition;
using policy_internal::Field;
using policy_internal::Location;
using policy_internal::LocationBits;
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

// A condition's value at every candidate location (for suggestions): the same everywhere
// (`varies` false: `tri`), or the locations where it is true (`t`) and unknown (`u`); false at
// the others. Only the first LocSets::words() words of the sets are meaningful, and only when
// `varies`; they are left unset otherwise (this sits on the hot path of every denied request).
struct LocVal {
  bool varies;
  Tri tri;
  uint64_t t[LocationBits::kCapacity / 64], u[LocationBits::kCapacity / 64];

  void SetFixed(Tri value) {
    varies = false;
    tri = value;
  }
};

// Kleene connectives on one value.
Tri TriAnd(Tri a, Tri b) {
  if (a == Tri::kFalse || b == Tri::kFalse) return Tri::kFalse;
  return (a == Tri::kUnknown || b == Tri::kUnknown) ? Tri::kUnknown : Tri::kTrue;
}
Tri TriOr(Tri a, Tri b) {
  if (a == Tri::kTrue || b == Tri::kTrue) return Tri::kTrue;
  return (a == Tri::kUnknown || b == Tri::kUnknown) ? Tri::kUnknown : Tri::kFalse;
}

// Set operations on LocVal over the catalogue's words.
class LocSets {
 public:
  explicit LocSets(const LocationBits& all, size_t count) : all_(all), n_((count + 63) / 64) {}

  const LocationBits& all() const { return all_; }
  size_t words() const { return n_; }

  // Set operations on the catalogue's words only (the rest are zero).
  void Or(const LocationBits& src, LocationBits* dst) const {
    for (size_t i = 0; i < n_; ++i) dst->w[i] |= src.w[i];
  }
  void And(const LocationBits& src, LocationBits* dst) const {
    for (size_t i = 0; i < n_; ++i) dst->w[i] &= src.w[i];
  }
  void Remove(const LocationBits& src, LocationBits* dst) const {
    for (size_t i = 0; i < n_; ++i) dst->w[i] &= ~src.w[i];
  }
  bool Any(const LocationBits& b) const {
    uint64_t any = 0;
    for (size_t i = 0; i < n_; ++i) any |= b.w[i];
    return any != 0;
  }
  bool SubsetOf(const LocationBits& a, const LocationBits& b) const {
    uint64_t extra = 0;
    for (size_t i = 0; i < n_; ++i) extra |= a.w[i] & ~b.w[i];
    return extra == 0;
  }
  uint64_t True(const LocVal& v, size_t i) const {
    if (v.varies) return v.t[i];
    return v.tri == Tri::kTrue ? all_.w[i] : 0;
  }
  uint64_t Unknown(const LocVal& v, size_t i) const {
    if (v.varies) return v.u[i];
    return v.tri == Tri::kUnknown ? all_.w[i] : 0;
  }
  LocationBits True(const LocVal& v) const {
    LocationBits out;
    for (size_t i = 0; i < n_; ++i) out.w[i] = True(v, i);
    return out;
  }
  LocationBits Unknown(const LocVal& v) const {
    LocationBits out;
    for (size_t i = 0; i < n_; ++i) out.w[i] = Unknown(v, i);
    return out;
  }
  // *dst |= where v is true.
  void OrTrue(const LocVal& v, LocationBits* dst) const {
    for (size_t i = 0; i < n_; ++i) dst->w[i] |= True(v, i);
  }
  // *out = the value true on `t` (and nowhere unknown).
  void SetTrueOn(const LocationBits& t, LocVal* out) const {
    for (size_t i = 0; i < n_; ++i) {
      out->t[i] = t.w[i];
      out->u[i] = 0;
    }
    out->varies = true;
    Normalize(out);
  }
  // Kleene `and` (or `or`) of *acc and v at every location, into *acc.
  void Combine(const LocVal& v, bool is_and, LocVal* acc) const {
    for (size_t i = 0; i < n_; ++i) {
      uint64_t all = all_.w[i];
      uint64_t ta = True(*acc, i), ua = Unknown(*acc, i), tb = True(v, i), ub = Unknown(v, i);
      uint64_t fa = all & ~(ta | ua), fb = all & ~(tb | ub);
      uint64_t t = is_and ? ta & tb : ta | tb;
      uint64_t f = is_and ? fa | fb : fa & fb;
      acc->t[i] = t;
      acc->u[i] = all & ~(t | f);
    }
    acc->varies = true;
    Normalize(acc);
  }
  void Negate(LocVal* v) const {
    if (!v->varies) {
      if (v->tri != Tri::kUnknown) v->tri = v->tri == Tri::kTrue ? Tri::kFalse : Tri::kTrue;
      return;
    }
    for (size_t i = 0; i < n_; ++i) v->t[i] = all_.w[i] & ~(v->t[i] | v->u[i]);
    Normalize(v);
  }

 private:
  // Makes a value that is uniform over the catalogue fixed.
  void Normalize(LocVal* v) const {
    uint64_t any_t = 0, any_u = 0, not_all_t = 0, not_all_u = 0;
    for (size_t i = 0; i < n_; ++i) {
      any_t |= v->t[i];
      any_u |= v->u[i];
      not_all_t |= v->t[i] ^ all_.w[i];
      not_all_u |= v->u[i] ^ all_.w[i];
    }
    if (!any_t && !any_u) {
      v->SetFixed(Tri::kFalse);
    } else if (!not_all_t) {
      v->SetFixed(Tri::kTrue);
    } else if (!not_all_u) {
      v->SetFixed(Tri::kUnknown);
    }
  }

  const LocationBits& all_;
  size_t n_;
};

using Outcomes = absl::InlinedVector<Outcome, 16>;
using ObligationSlots = absl::InlinedVector<std::pair<int, int>, 16>;  // outcome, obligation

struct SlotScratch {
  std::vector<int> slot, touched;
};
SlotScratch& Slots() {
  thread_local SlotScratch scratch;
  return scratch;
}

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
bool Contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

class Evaluator {
 public:
  Evaluator(const CompiledSet& set, const Facts& facts)
      : set_(set), f_(facts), sets_(set.catalogue.all_locations, set.catalogue.locations.size()) {}

  // Evaluates every policy in scope into `outcomes` (and `obligations`: outcome index,
  // obligation index pairs) and `lifted`.
  void Run(Outcomes* outcomes, ObligationSlots* obligations, std::vector<LiftedTag>* lifted);

  // For suggestions: the catalogue locations at which the request, with its primary placement
  // moved there, would still be denied. False when it would be denied wherever that placement
  // goes (a deny that does not depend on it).
  bool DeniedCandidates(const LocationBits& candidates, LocationBits* denied);

 private:
  bool InScope(const Policy& p) const;
  bool Lifted(const Policy& p, const Artifact& a, const TagFact& t) const;
  Tri Eval(const Condition& c, const Unit& u, const char** missing) const;
  void EvalAt(const Condition& c, const Unit& u, LocVal* out) const;
  LocationBits TrueAt(const Condition& c, const Unit& u) const;
  // The nodes Eval dispatches to stay out of line (see Eval).
  // all: (stop at kFalse) and any: (stop at kTrue), in Kleene logic.
  ABSL_ATTRIBUTE_NOINLINE Tri Junction(const Condition& c, const Unit& u, const char** missing,
                                       Tri stop) const;
  ABSL_ATTRIBUTE_NOINLINE Tri Not(const Condition& c, const Unit& u, const char** missing) const;
  ABSL_ATTRIBUTE_NOINLINE Tri Tags(const Condition& c, const Unit& u) const;
  ABSL_ATTRIBUTE_NOINLINE Tri Values(const Condition& c, const Unit& u) const;
  ABSL_ATTRIBUTE_NOINLINE Tri Number(const Condition& c, const Unit& u, const char** missing) const;
  ABSL_ATTRIBUTE_NOINLINE Tri Regex(const Condition& c, const Unit& u) const;
  ABSL_ATTRIBUTE_NOINLINE Tri User(const policy_internal::UserCond& uc) const;
  ABSL_ATTRIBUTE_NOINLINE Tri LocationMatches(const policy_internal::LocationCond& lc,
                                              const Unit& u) const;
  LocationBits LocationsMatching(const policy_internal::LocationCond& lc, const Unit& u) const;
  ABSL_ATTRIBUTE_NOINLINE Tri PartyMatches(const policy_internal::PartyCond& pc,
                                           const std::optional<Party>& party, int country) const;
  bool EvidenceUsable(const policy_internal::EvidenceCond& ec, const Unit& u,
                      const ResolvedEvidence& e) const;
  template <typename F>
  bool AnyEvidence(const policy_internal::EvidenceCond& ec, const Unit& u, F f) const;
  ABSL_ATTRIBUTE_NOINLINE Tri EvidenceHolds(const policy_internal::EvidenceCond& ec,
                                            const Unit& u) const;
  LocationBits EvidenceLocations(const policy_internal::EvidenceCond& ec, const Unit& u) const;
  bool ListHas(int list, const std::string& value) const;
  bool ListHasLocation(int list, int location) const;
  const LocationBits& ListLocations(int list) const;
  bool Judge(int rule_index, const Unit& u, Outcome* o);
  void EvalRule(int rule_index, const Unit& u);
  void AddDenySet(int rule_index, const Unit& u, LocationBits* denied);
  // Calls f(rule index, unit) for every rule of the current policy that can apply to a unit of
  // the request, every unit (artifact tag or request) at every checked location.
  template <typename F>
  void ForEachUnit(const Policy& p, std::vector<LiftedTag>* lifted, F f);

  const CompiledSet& set_;
  const Facts& f_;
  const LocSets sets_;
  std::optional<double> PartitionSum(Field field, const Unit& u) const;

  const Policy* policy_ = nullptr;
  const Rule* rule_ = nullptr;
  int policy_index_ = -1;
  Outcomes* outcomes_ = nullptr;
  ObligationSlots* obligations_ = nullptr;
  // Rule index -> outcome index for the current policy, -1 if none; and the rule indexes set.
  // Per thread and kept between evaluations, so that a warm evaluation does not allocate; each
  // policy starts by resetting what the one before it (in this or an earlier call) set.
  std::vector<int>& slot_ = Slots().slot;
  std::vector<int>& touched_ = Slots().touched;
};

bool Evaluator::InScope(const Policy& p) const {
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

const LocationBits& Evaluator::ListLocations(int list) const {
  const auto& l = policy_->lists[list];
  return l.locations_at[policy_internal::ListSegment(l, f_.now)];
}

Tri Evaluator::LocationMatches(const policy_internal::LocationCond& lc, const Unit& u) const {
  if (!lc.fixed.Test(u.location)) return Tri::kFalse;
  if (lc.in_list >= 0 && !ListHasLocation(lc.in_list, u.location)) return Tri::kFalse;
  if (lc.not_in_list >= 0 && ListHasLocation(lc.not_in_list, u.location)) return Tri::kFalse;
  if (lc.outside_origin) {
    if (!u.tag || u.tag->origin_bits.Test(set_.catalogue.locations[u.location].country)) {
      return Tri::kFalse;
    }
  }
  return Tri::kTrue;
}

LocationBits Evaluator::LocationsMatching(const policy_internal::LocationCond& lc,
                                          const Unit& u) const {
  LocationBits out = lc.fixed;
  if (lc.in_list >= 0) out &= ListLocations(lc.in_list);
  if (lc.not_in_list >= 0) out.Remove(ListLocations(lc.not_in_list));
  if (lc.outside_origin) {
    if (!u.tag) return LocationBits();
    out.Remove(set_.catalogue.jurisdiction_locations[u.tag->origin]);
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
bool Evaluator::EvidenceUsable(const policy_internal::EvidenceCond& ec, const Unit& u,
                               const ResolvedEvidence& e) const {
  if (!e.valid || !Contains(ec.type_ids, e.type)) return false;
  if (u.tag) {
    for (const auto& ig : policy_->ignores) {
      if (Contains(ig.type_ids, e.type) &&
          set_.classes[u.tag->effective_cls].ancestors.Intersects(ig.classes)) {
        return false;
      }
    }
  }
  if (ec.require_country && !e.item->country) return false;
  if (ec.require_recipient && !e.item->recipient) return false;
  if (ec.require_origin && !e.item->origin) return false;
  if (ec.match_recipient && e.item->recipient) {
    const auto& recipient = f_.request->recipient;
    if (!recipient || recipient->id != *e.item->recipient) return false;
  }
  if (ec.match_origin && e.item->origin && u.tag) {
    if (e.origin_unknown ||
        !u.tag->origin_bits.SubsetOf(set_.catalogue.jurisdiction_members[e.origin])) {
      return false;
    }
  }
  return true;
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

LocationBits Evaluator::EvidenceLocations(const policy_internal::EvidenceCond& ec,
                                          const Unit& u) const {
  LocationBits out;
  const LocationBits& all = set_.catalogue.all_locations;
  AnyEvidence(ec, u, [&](const ResolvedEvidence& e) {
    if (!ec.match_country || !e.item->country) {
      out = all;
      return true;  // holds everywhere: nothing more to find
    }
    if (!e.country_unknown) out |= set_.catalogue.jurisdiction_locations[e.country];
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

// Eval is a dispatcher that only tail-calls: it keeps no frame of its own, so the recursion
// through all/any/not costs a few instructions per node.
Tri Evaluator::Eval(const Condition& c, const Unit& u, const char** missing) const {
  using K = Condition::Kind;
  switch (c.kind) {
    case K::kTrue:
      return Tri::kTrue;
    case K::kAll:
      return Junction(c, u, missing, Tri::kFalse);
    case K::kAny:
      return Junction(c, u, missing, Tri::kTrue);
    case K::kNot:
      return Not(c, u, missing);
    case K::kTags:
      return Tags(c, u);
    case K::kValues:
      return Values(c, u);
    case K::kNumber:
      return Number(c, u, missing);
    case K::kRegex:
      return Regex(c, u);
    case K::kLocation:
      return LocationMatches(*c.location, u);
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

Tri Evaluator::Junction(const Condition& c, const Unit& u, const char** missing, Tri stop) const {
  Tri out = stop == Tri::kFalse ? Tri::kTrue : Tri::kFalse;  // the value of no children
  for (const auto& ch : c.children) {
    Tri t = Eval(ch, u, missing);
    if (t == stop) return stop;
    if (t == Tri::kUnknown) out = Tri::kUnknown;
  }
  return out;
}

Tri Evaluator::Not(const Condition& c, const Unit& u, const char** missing) const {
  Tri t = Eval(c.children[0], u, missing);
  return t == Tri::kUnknown ? t : (t == Tri::kTrue ? Tri::kFalse : Tri::kTrue);
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
  if (!c.by_location) return out->SetFixed(Eval(c, u, nullptr));
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
      return sets_.SetTrueOn(LocationsMatching(*c.location, u), out);
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

bool Evaluator::Judge(int rule_index, const Unit& u, Outcome* out) {
  const Rule& rule = policy_->rules[rule_index];
  rule_ = &rule;
  const char* missing = nullptr;
  Tri applies = Eval(rule.when, u, &missing);
  if (applies == Tri::kFalse) return false;
  Outcome o;
  o.policy = policy_index_;
  o.rule = rule_index;
  o.dry_run = rule.dry_run || policy_->dry_run;
  if (applies == Tri::kUnknown) {
    o.effect = Effect::kDeny;
    o.missing = missing;
  } else if (!rule.has_alternatives) {
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
  if ((o.effect == Effect::kDeny || o.effect == Effect::kEscalate) && o.missing == nullptr &&
      rule.corp) {
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

void Evaluator::EvalRule(int rule_index, const Unit& u) {
  Outcome o;
  if (!Judge(rule_index, u, &o)) return;
  const Rule& rule = policy_->rules[rule_index];
  const std::vector<int>* obl = o.missing            ? nullptr
                                : o.exception >= 0   ? &policy_->exceptions[o.exception].obligations
                                : o.alternative >= 0 ? &rule.alternatives[o.alternative].obligations
                                                     : &rule.obligations;
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

// Judge's reading of a rule at every candidate location at once: adds to *denied the locations
// where the unit makes it deny.
void Evaluator::AddDenySet(int rule_index, const Unit& u, LocationBits* denied) {
  const Rule& rule = policy_->rules[rule_index];
  rule_ = &rule;
  const LocationBits& all = sets_.all();
  if (!rule.by_location) {
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
  LocationBits deny = sets_.True(applies);  // where it applies with a deny effect, below
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
  sets_.Or(sets_.Unknown(applies), denied);  // cannot be evaluated: fail closed
}

// The rule index slot of a unit of artifact `a` in this request (policy_internal::UnitSlot).
int Slot(Request::Kind kind, ArtifactKind a) {
  switch (kind) {
    case Request::Kind::kDataset:
      return policy_internal::kSlotDatasetRequest;
    case Request::Kind::kModel:
      return policy_internal::kSlotModelRequest;
    case Request::Kind::kCompute:
      break;
  }
  return a == ArtifactKind::kDataset ? policy_internal::kSlotComputeDataset
         : a == ArtifactKind::kModel ? policy_internal::kSlotComputeModel
                                     : policy_internal::kSlotComputePrompt;
}

template <typename F>
void Evaluator::ForEachUnit(const Policy& p, std::vector<LiftedTag>* lifted, F f) {
  const Request::Kind kind = f_.request->kind;
  for (const auto& a : f_.artifacts) {
    const auto& by_class = p.rules_by_slot[Slot(kind, a.kind)];
    for (const auto& t : a.tags) {
      if (!p.lifts.empty() && Lifted(p, a, t)) {
        if (lifted) {
          lifted->push_back(
              eval_internal::DecisionBuilder::MakeLifted(eval_internal::TagText(t), p.id));
        }
        continue;
      }
      for (uint32_t ri : by_class[t.effective_cls]) {
        const Rule& rule = p.rules[ri];
        if (!ActiveAt(rule.from, rule.until, f_.now)) continue;
        if (!f(static_cast<int>(ri), &a, &t)) return;
      }
    }
  }
  for (uint32_t ri : p.request_rules_by_kind[static_cast<int>(kind)]) {
    const Rule& rule = p.rules[ri];
    if (!ActiveAt(rule.from, rule.until, f_.now)) continue;
    if (!f(static_cast<int>(ri), nullptr, nullptr)) return;
  }
}

void Evaluator::Run(Outcomes* outcomes, ObligationSlots* obligations,
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
    ForEachUnit(p, lifted, [&](int ri, const Artifact* a, const TagFact* t) {
      if (!p.rules[ri].by_location) {
        // The same result at every checked location: one evaluation stands for all of them.
        if (!f_.locations.empty()) EvalRule(ri, Unit{a, t, f_.locations[0]});
        return true;
      }
      const policy_internal::LocationCond* where = p.rules[ri].top_location;
      for (int loc : f_.locations) {
        const Unit u{a, t, loc};
        // Not here (all of the top-level conditions must hold): the rule does not apply.
        if (where && LocationMatches(*where, u) == Tri::kFalse) continue;
        EvalRule(ri, u);
      }
      return true;
    });
  }
}

bool Evaluator::DeniedCandidates(const LocationBits& candidates, LocationBits* denied) {
  const int primary = f_.primary;  // index into f_.locations, or -1: the placement is added
  bool everywhere = false;
  for (size_t pi = 0; pi < set_.policies.size() && !everywhere; ++pi) {
    const Policy& p = set_.policies[pi];
    if (p.dry_run || !InScope(p)) continue;
    policy_ = &p;
    policy_index_ = static_cast<int>(pi);
    ForEachUnit(p, nullptr, [&](int ri, const Artifact* a, const TagFact* t) {
      if (p.rules[ri].dry_run) return true;
      // The other checked locations stay where they are: a deny there is a deny everywhere.
      for (size_t k = 0; k < f_.locations.size(); ++k) {
        if (static_cast<int>(k) == primary) continue;
        Outcome o;
        if (Judge(ri, Unit{a, t, f_.locations[k]}, &o) && o.effect == Effect::kDeny) {
          everywhere = true;
          return false;
        }
      }
      AddDenySet(ri, Unit{a, t, -1}, denied);
      if (sets_.SubsetOf(candidates, *denied)) {
        everywhere = true;
        return false;
      }
      return true;
    });
  }
  return !everywhere;
}

struct Core {
  Effect decision = Effect::kAllow;
  Outcomes outcomes;
  ObligationSlots obligations;
  std::vector<LiftedTag> lifted;
  bool fail = false;
  bool suggestible = false;
};

void RunCore(const CompiledSet& set, const Facts& facts, Core* core) {
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
    core->fail = true;
    core->decision = Effect::kDeny;
    if (fr.primary_location) core->suggestible = true;
  }
}

Reason MakeReason(const CompiledSet& set, const Outcome& o, DecisionBuilder* builder) {
  const Policy& p = set.policies[o.policy];
  const Rule& r = p.rules[o.rule];
  DecisionBuilder::ReasonText t;
  t.policy = p.id;
  t.rule = r.id;
  t.basis = r.basis;
  t.effect = o.effect;
  t.citation = r.citation;
  t.message = r.message;
  if (o.missing) {
    t.basis = "fail_closed";
    t.message = builder->Keep(absl::StrCat(
        r.message, " (cannot be evaluated: the request does not give `", o.missing, "`)"));
  }
  if (o.alternative >= 0) t.alternative = r.alternatives[o.alternative].name;
  if (o.exception >= 0) t.exception = p.exceptions[o.exception].id;
  return DecisionBuilder::MakeReason(t);
}

std::vector<std::string_view> Suggest(const CompiledSet& set, const Facts& facts) {
  // A fail-closed reason other than the placement's own stays wherever it goes.
  for (const auto& fr : facts.fail)
    if (!fr.primary_location) return {};
  const auto& locs = set.catalogue.locations;
  const int current = facts.primary >= 0 ? facts.locations[facts.primary] : -1;
  // The refused placement's provider and country (an unknown location: its provider prefix).
  int provider = -1, country = -1;
  if (current >= 0) {
    provider = locs[current].provider_id;
    country = locs[current].country;
  } else {
    std::string_view name = facts.primary_name;
    size_t colon = name.find(':');
    for (const auto& l : locs) {
      if (colon != std::string_view::npos && l.provider == name.substr(0, colon)) {
        provider = l.provider_id;
        break;
      }
    }
  }
  const LocSets sets(set.catalogue.all_locations, locs.size());
  LocationBits candidates = set.catalogue.all_locations;
  if (current >= 0) {
    LocationBits here;
    here.Set(current);
    sets.Remove(here, &candidates);
  }
  LocationBits denied;
  Evaluator ev(set, facts);
  if (!ev.DeniedCandidates(candidates, &denied)) return {};
  sets.Remove(denied, &candidates);
  // In the order they are suggested: same provider and country, same provider, same country,
  // the rest; catalogue order within each; at most 8.
  LocationBits same_p, same_c;
  if (provider >= 0) same_p = set.catalogue.provider_locations[provider];
  if (country >= 0) same_c = set.catalogue.jurisdiction_locations[country];
  std::array<LocationBits, 4> ranked;
  for (size_t i = 0; i < sets.words(); ++i) {
    uint64_t c = candidates.w[i], p = same_p.w[i], k = same_c.w[i];
    ranked[0].w[i] = c & p & k;
    ranked[1].w[i] = c & p & ~k;
    ranked[2].w[i] = c & ~p & k;
    ranked[3].w[i] = c & ~p & ~k;
  }
  constexpr size_t kMax = 8;
  std::array<int, kMax> chosen;
  size_t n = 0;
  for (const auto& bits : ranked) {
    for (size_t i = 0; i < sets.words() && n < kMax; ++i)
      for (uint64_t w = bits.w[i]; w && n < kMax; w &= w - 1)
        chosen[n++] = static_cast<int>(i * 64 + __builtin_ctzll(w));
  }
  std::vector<std::string_view> out(n);
  for (size_t k = 0; k < n; ++k) out[k] = locs[chosen[k]].id;
  return out;
}

// A model artifact is weights, checkpoint or adapter (or not said). The rule index
// relies on it (a model is never a `dataset` or `prompt` artifact).
bool KnownModelArtifact(const Model& m) {
  return m.artifact.empty() || m.artifact == "weights" || m.artifact == "checkpoint" ||
         m.artifact == "adapter";
}
absl::Status BadModelArtifact(const Model& m) {
  return absl::InvalidArgumentError(absl::StrCat("model `", m.id, "` has artifact `", m.artifact,
                                                 "`; want weights, checkpoint or adapter"));
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
      if (!KnownModelArtifact(*request.model)) return BadModelArtifact(*request.model);
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
        if (in.model && !KnownModelArtifact(*in.model)) return BadModelArtifact(*in.model);
      }
      break;
  }
  if (request.now && options.request_time == RequestTime::kRefuse) {
    return absl::InvalidArgumentError(
        "request field `now` is refused here: the evaluation time is the service's clock");
  }
  const bool use_request_now = request.now && options.request_time == RequestTime::kHonour;
  absl::Time now = use_request_now ? *request.now : options.now ? *options.now : absl::Now();
  Facts facts;
  eval_internal::BuildFacts(set, request, now, options, &facts);
  Core core;
  RunCore(set, facts, &core);

  Decision d;
  DecisionBuilder builder(snapshot);
  d.decision = core.decision;
  d.now = now;
  d.tags = std::move(facts.all_tags);
  // Reasons: the fail-closed ones, then every rule whose result is the decision.
  for (auto& fr : facts.fail) {
    DecisionBuilder::ReasonText t;
    t.policy = "residency";
    t.rule = fr.rule;
    t.basis = "fail_closed";
    t.effect = Effect::kDeny;
    t.citation =
        "residency: fail closed (a fact the decision needs is missing, unknown or cannot be "
        "checked)";
    t.message = builder.Keep(std::move(fr.message));
    d.reasons.push_back(DecisionBuilder::MakeReason(t));
  }
  absl::InlinedVector<uint32_t, 16> order;  // outcomes by (policy, rule)
  size_t deciding = 0, dry = 0;
  for (uint32_t i = 0; i < core.outcomes.size(); ++i) {
    const Outcome& o = core.outcomes[i];
    if (o.dry_run) {
      ++dry;
    } else if (o.effect == d.decision) {
      ++deciding;
    } else {
      continue;
    }
    order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const auto& x = core.outcomes[a];
    const auto& y = core.outcomes[b];
    return std::tie(x.policy, x.rule) < std::tie(y.policy, y.rule);
  });
  d.reasons.reserve(d.reasons.size() + deciding);
  d.dry_run.reserve(dry);
  for (uint32_t i : order) {
    const Outcome& o = core.outcomes[i];
    (o.dry_run ? d.dry_run : d.reasons).push_back(MakeReason(set, o, &builder));
  }
  // Obligations: the union over every enforced rule result, by policy then id.
  absl::InlinedVector<std::pair<int, int>, 16> obligations;  // policy, obligation
  for (const auto& [slot, ob] : core.obligations) {
    const Outcome& o = core.outcomes[slot];
    if (!o.dry_run) obligations.emplace_back(o.policy, ob);
  }
  for (auto& [pi, ob] : obligations) ob = set.policies[pi].obligation_rank[ob];  // id order
  std::sort(obligations.begin(), obligations.end());
  obligations.erase(std::unique(obligations.begin(), obligations.end()), obligations.end());
  d.obligations.reserve(obligations.size());
  for (const auto& [pi, rank] : obligations) {
    const Policy& p = set.policies[pi];
    d.obligations.push_back(
        DecisionBuilder::MakeObligation(p.obligations[p.obligation_order[rank]].id, p.id));
  }
  d.lifted = std::move(core.lifted);
  auto key = [](const LiftedTag& l) {
    return std::make_pair(std::string_view(l.tag()), l.policy());
  };
  std::sort(d.lifted.begin(), d.lifted.end(),
            [&](const auto& a, const auto& b) { return key(a) < key(b); });
  d.lifted.erase(std::unique(d.lifted.begin(), d.lifted.end(),
                             [&](const auto& a, const auto& b) { return key(a) == key(b); }),
                 d.lifted.end());
  std::vector<std::string_view> suggested;
  if (d.decision == Effect::kDeny && options.suggest && core.suggestible) {
    suggested = Suggest(set, facts);
  }
  builder.Finish(set.digest, std::move(suggested), &d);
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
