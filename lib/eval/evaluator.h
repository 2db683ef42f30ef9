// Internals of the evaluator shared by its translation units: the decision builder, the
// three-valued value of a condition at every candidate location and the set operations on it,
// and the entry points into the rule evaluation (evaluator.cc) that the decision assembly
// (decision.cc) and the suggestions (suggest.cc) use.
#ifndef RESIDENCY_LIB_EVAL_EVALUATOR_H_
#define RESIDENCY_LIB_EVAL_EVALUATOR_H_

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "eval/facts.h"
#include "policy/condition_walk.h"
#include "policy/eval_index.h"
#include "residency/decision.h"

namespace residency::eval_internal {

// Builds a decision and its parts (the friend of Decision, Reason, ObligationRef and LiftedTag).
// Parts are made with views into the policy set or into texts kept here; Finish gives the
// decision and each of its parts a share of what the views point to: the policy set, or, when
// the request needed texts of its own, a block holding them and the set.
class DecisionBuilder {
 public:
  explicit DecisionBuilder(const PolicySnapshot& s) : snapshot_(&s) {}
  // For a decision read back from its JSON (DecisionFromJson): every text is kept.
  DecisionBuilder() = default;

  // Keeps a text made for this request; the view is valid as long as the decision's parts.
  std::string_view Keep(std::string text) {
    if (!own_) {
      own_ = std::make_shared<OwnTexts>();
      if (snapshot_ != nullptr) own_->set = snapshot_->shared_impl();
    }
    return own_->texts.emplace_back(std::move(text));
  }

  // MakeReason (decision.cc) gives every member in this order, at once: keep them in step.
  struct ReasonText {
    std::string_view policy, rule, basis;
    Effect effect = Effect::kDeny;
    std::string_view citation, message, alternative, exception;
    // The trigger (Reason::artifact() ...): the request's strings, copied into the reason.
    const char* artifact_kind = "";
    std::string_view artifact, via, tag_origin, tag_class, location;
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
    r.artifact_kind_ = t.artifact_kind;
    r.location_ = t.location;
    if (!t.artifact.empty() || !t.via.empty() || !t.tag_class.empty()) {
      const bool tag = !t.tag_class.empty();
      const size_t n = t.artifact.size() + t.via.size() +
                       (tag ? t.tag_origin.size() + 1 + t.tag_class.size() : 0);
      r.trigger_.resize(n);
      char* p = r.trigger_.data();
      auto put = [&p](std::string_view s) {
        if (!s.empty()) std::memcpy(p, s.data(), s.size());
        p += s.size();
      };
      put(t.artifact);
      put(t.via);
      if (tag) {
        put(t.tag_origin);
        *p++ = ':';
        put(t.tag_class);
      }
      r.artifact_len_ = static_cast<uint32_t>(t.artifact.size());
      r.via_len_ = static_cast<uint32_t>(t.via.size());
    }
    return r;
  }
  static ObligationRef MakeObligation(std::string_view id, std::string_view policy,
                                      std::string_view text) {
    ObligationRef o;
    o.id_ = id;
    o.policy_ = policy;
    o.text_ = text;
    return o;
  }
  // One that owns a share of its texts already (made outside a decision).
  static ObligationRef MakeObligation(std::string_view id, std::string_view policy,
                                      std::string_view text, std::shared_ptr<const void> owner) {
    ObligationRef o = MakeObligation(id, policy, text);
    o.texts_ = std::move(owner);
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
    } else if (snapshot_ != nullptr) {
      owner = snapshot_->shared_impl();
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
  const PolicySnapshot* snapshot_ = nullptr;
  std::shared_ptr<OwnTexts> own_;
};

using policy_internal::Catalogue;
using policy_internal::EvalIndex;
using policy_internal::LocationBits;

// ---------------------------------------------------------------------------------------------
// Location sets: a condition's value in Kleene logic, at one location or at every candidate
// location at once (for suggestions). Inline: they are on the path of every denied request.

using policy_internal::Tri;  // three-valued truth (Kleene logic)
using policy_internal::TriAnd;
using policy_internal::TriNot;
using policy_internal::TriOr;

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

// ---------------------------------------------------------------------------------------------
// Rule evaluation (evaluator.cc).

// One rule's result over all its units.
struct Outcome {
  int policy = -1;
  int rule = -1;
  Effect effect = Effect::kAllow;
  int alternative = -1;
  int exception = -1;
  const char* missing = nullptr;  // a number the rule needed but the request lacked
  bool dry_run = false;
  // What gave the rule its result first: the artifact and tag (null for a rule on the request
  // itself) and the catalogue location (-1 when the result does not depend on the location).
  const Artifact* artifact = nullptr;
  const TagFact* tag = nullptr;
  int location = -1;
};

// What a unit names in a reason or an explanation: the artifact kind (`dataset`, `model`,
// `prompt`; empty for the request itself) and id, the lineage dataset its tag came through and
// the tag (views into the request).
struct UnitNames {
  const char* kind = "";
  std::string_view artifact, via, origin, cls;
};
inline UnitNames NamesOf(const Artifact* a, const TagFact* t) {
  UnitNames n;
  if (a) {
    switch (a->kind) {
      case ArtifactKind::kDataset:
        n.kind = "dataset";
        n.artifact = a->dataset->id;
        break;
      case ArtifactKind::kModel:
        n.kind = "model";
        n.artifact = a->model->id;
        break;
      case ArtifactKind::kPrompt:
        n.kind = "prompt";
        break;
    }
  }
  if (t) {
    if (t->via) n.via = *t->via;
    n.origin = *t->origin_name;
    n.cls = *t->class_name;
  }
  return n;
}

using Outcomes = absl::InlinedVector<Outcome, 16>;
using ObligationSlots = absl::InlinedVector<std::pair<int, int>, 16>;  // outcome, obligation

// Evaluates every policy in scope into `outcomes` (and `obligations`: outcome index,
// obligation index pairs) and `lifted`.
void RunPolicies(const PolicySnapshot& s, const Facts& facts, Outcomes* outcomes,
                 ObligationSlots* obligations, std::vector<LiftedTag>* lifted);

// For suggestions: adds to *denied the catalogue locations at which the request, with its
// primary placement moved there, would still be denied. False when it would be denied
// wherever among `candidates` that placement goes (a deny that does not depend on it).
bool DeniedCandidates(const PolicySnapshot& s, const Facts& facts, const LocationBits& candidates,
                      LocationBits* denied);

// ---------------------------------------------------------------------------------------------
// Suggestions (suggest.cc).

// For AllowedLocations: the decision's effect for `facts` as Evaluate would make it (fail-closed
// reasons included), and its obligations, without the rest of a decision.
Effect DecideAt(const PolicySnapshot& snapshot, const Facts& facts,
                std::vector<ObligationRef>* obligations);

// Sector clouds (catalogue `site: gov` or `fin`) are for operators of their sector: removes from
// *candidates those whose `reserved_for` sector `op` is not in.
void RemoveReservedSites(const EvalIndex& ix, const std::optional<Party>& op,
                         LocationBits* candidates);

// `candidates` (catalogue indexes), at most `max`, in the order places are offered: the same
// provider and country as the catalogue location `placement`, then the same provider, the same
// country, the rest; catalogue order within each. For an unknown placement (-1), the `provider:`
// prefix of its `name` is the provider.
using LocationOrder = absl::InlinedVector<int, 8>;  // inline: a decision's suggestions
LocationOrder SuggestionOrder(const Catalogue& cat, const EvalIndex& ix, int placement,
                              std::string_view name, const LocationBits& candidates, size_t max);

// Up to 8 catalogue locations the denied request's primary placement could move to without
// being denied, in SuggestionOrder, leaving out sector clouds the operator may not use; none
// when the request would be denied wherever it goes.
std::vector<std::string_view> Suggest(const PolicySnapshot& s, const Facts& facts);

}  // namespace residency::eval_internal

#endif  // RESIDENCY_LIB_EVAL_EVALUATOR_H_
