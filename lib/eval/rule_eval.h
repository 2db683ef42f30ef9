// The rule evaluator's class, shared by the evaluation (evaluator.cc) and the explanations
// (explain.cc), which walk the same units and read the same facts.
#ifndef RESIDENCY_LIB_EVAL_RULE_EVAL_H_
#define RESIDENCY_LIB_EVAL_RULE_EVAL_H_

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "eval/evaluator.h"
#include "residency/explain.h"

namespace residency::eval_internal {

using policy_internal::ClassBits;
using policy_internal::Condition;
using policy_internal::Field;
using policy_internal::Location;
using policy_internal::Policy;
using policy_internal::Rule;

struct Unit {
  const Artifact* artifact = nullptr;  // null for request units
  const TagFact* tag = nullptr;
  int location = -1;  // catalogue index
  // The rule being judged (set by Judge and AddDenySet): its tag filters choose the partitions
  // whose subject counts a subjects condition sums (PartitionSum).
  const Rule* rule = nullptr;
};

// Rule index -> outcome index for the current policy, -1 if none; and the rule indexes set.
// Kept between evaluations (RunPolicies keeps one per thread), so that a warm evaluation does
// not allocate; each policy starts by resetting what the one before it (in this or an earlier
// evaluation) set.
struct SlotScratch {
  std::vector<int> slot, touched;
};

inline const char* FieldName(Field f) {
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

// The request field a unit's number comes from, for a reason or an explanation that says it is
// missing: a prompt's aggregate is `compute.prompt.cumulative_subjects`.
inline const char* FieldNameFor(Field f, const Unit& u) {
  if (f == Field::kCumulativeSubjects && u.artifact != nullptr &&
      u.artifact->kind == ArtifactKind::kPrompt) {
    return "compute.prompt.cumulative_subjects";
  }
  return FieldName(f);
}

inline bool ActiveAt(const std::optional<absl::Time>& from, const std::optional<absl::Time>& until,
                     absl::Time now) {
  return (!from || *from <= now) && (!until || now < *until);
}

inline bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
inline bool Contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Whether an evidence item can serve an evidence condition for a unit, and if not, why.
enum class EvidenceFit : uint8_t {
  kUsable,
  kOtherType,       // not of a type the condition names
  kNotValid,        // outside its window or withdrawn at `now`
  kIgnored,         // the policy ignores this type for the tag's class (`ignore_evidence`)
  kNoCountry,       // the condition requires `country`
  kNoRecipient,     // ... `recipient`
  kNoOrigin,        // ... `origin`
  kOtherRecipient,  // names a recipient other than the request's
  kOtherOrigin,     // covers data of another origin than the tag's
  kNotCovering,     // does not say it authorises what the condition asks for (`covers`)
};

// Hidden: the class is internal to the library, and a symbol that cannot be interposed at link
// time can be inlined into its callers in position-independent code (the library is built so,
// for the Python module); with default visibility GCC keeps every call out of line.
#if defined(__GNUC__)
#define RESIDENCY_INTERNAL_HIDDEN __attribute__((visibility("hidden")))
#else
#define RESIDENCY_INTERNAL_HIDDEN
#endif

// A few hot members are defined `inline` in evaluator.cc (an inlining hint to the compiler):
// they are called only there.
class RESIDENCY_INTERNAL_HIDDEN Evaluator {
 public:
  // `slots` is needed by Run only (DeniedCandidates records no outcomes).
  Evaluator(const CompiledSet& set, const EvalIndex& ix, const Facts& facts, SlotScratch* slots)
      : set_(set),
        ix_(ix),
        cond_(ix.conditions.data()),
        f_(facts),
        sets_(ix.all_locations, set.catalogue.locations.size()),
        slots_(slots) {}

  // Evaluates every policy in scope into `outcomes` (and `obligations`: outcome index,
  // obligation index pairs) and `lifted`.
  void Run(Outcomes* outcomes, ObligationSlots* obligations, std::vector<LiftedTag>* lifted);

  // For suggestions: the catalogue locations at which the request, with its primary placement
  // moved there, would still be denied. False when it would be denied wherever that placement
  // goes (a deny that does not depend on it).
  bool DeniedCandidates(const LocationBits& candidates, LocationBits* denied);

  // Explanations (explain.cc): every rule that applies somewhere, where, and why, into *out;
  // the ids of the policies in and out of scope.
  void Explain(size_t max_units, std::vector<RuleTrace>* out, std::vector<std::string>* in_scope,
               std::vector<std::string>* out_of_scope);

 private:
  bool InScope(const Policy& p, const policy_internal::PolicyIndex& pi) const;
  bool InScopeButWhere(const Policy& p) const;
  bool Lifted(const Policy& p, const Artifact& a, const TagFact& t) const;
  Tri Eval(const Condition& c, const Unit& u, const char** missing) const;
  void EvalAt(const Condition& c, const Unit& u, LocVal* out) const;
  LocationBits TrueAt(const Condition& c, const Unit& u) const;
  // A condition that is not all/any/not/always, by its kind.
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline Tri Leaf(const Condition& c, const Unit& u,
                                               const char** missing) const;
  // The leaves Leaf dispatches to stay out of line (see Eval).
  ABSL_ATTRIBUTE_NOINLINE Tri Tags(const Condition& c, const Unit& u) const;
  ABSL_ATTRIBUTE_NOINLINE Tri Values(const Condition& c, const Unit& u) const;
  ABSL_ATTRIBUTE_NOINLINE Tri Number(const Condition& c, const Unit& u, const char** missing) const;
  ABSL_ATTRIBUTE_NOINLINE Tri Regex(const Condition& c, const Unit& u) const;
  ABSL_ATTRIBUTE_NOINLINE Tri User(const policy_internal::UserCond& uc) const;
  // `fixed`: the condition's ConditionFacts::fixed.
  ABSL_ATTRIBUTE_NOINLINE Tri LocationMatches(const policy_internal::LocationCond& lc,
                                              const LocationBits& fixed, const Unit& u) const;
  LocationBits LocationsMatching(const Condition& c, const Unit& u) const;
  ABSL_ATTRIBUTE_NOINLINE Tri PartyMatches(const policy_internal::PartyCond& pc,
                                           const std::optional<Party>& party, int country) const;
  EvidenceFit Fit(const policy_internal::EvidenceCond& ec, const Unit& u,
                  const ResolvedEvidence& e) const;
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
  // `by_location`: the rule's RuleFacts::by_location (its outcome then names the location).
  void EvalRule(int rule_index, const Unit& u, bool by_location);
  void AddDenySet(int rule_index, const Unit& u, LocationBits* denied);
  // Calls f(rule index, its RuleFacts, artifact, tag) for every rule of the current policy that
  // can apply to a unit of the request (in force at `now`), for every unit (artifact tag, or
  // null and null for the request); stops when f returns false.
  template <typename F>
  void ForEachUnit(std::vector<LiftedTag>* lifted, F f);
  // Makes policy `pi` the current one (policy_, its index, pix_).
  void Enter(size_t pi) {
    policy_ = &set_.policies[pi];
    policy_index_ = static_cast<int>(pi);
    pix_ = &ix_.policies[pi];
  }

  const CompiledSet& set_;
  const EvalIndex& ix_;
  // ix_.conditions' elements, by Condition::id (read at every condition node: one load less).
  const policy_internal::ConditionFacts* const cond_;
  const Facts& f_;
  const LocSets sets_;
  std::optional<double> PartitionSum(Field field, const Unit& u, const Condition* count) const;
  // The number a kNumber condition on `field` reads for the unit; nullopt when the request
  // lacks it.
  // `count`: the number condition asking (its tag conditions beside it narrow a subject count).
  std::optional<double> NumberOf(Field field, const Unit& u,
                                 const Condition* count) const;  // inline: for Number
  std::optional<double> NumberFact(Field field, const Unit& u,
                                   const Condition* count) const;  // the same, for explain.cc

  // Explanations (explain.cc).
  Tri Trace(const Condition& c, const Unit& u, ConditionTrace* out) const;
  void TraceFacts(const Condition& c, const Unit& u, std::vector<std::string>* out) const;
  std::vector<std::string> ValuesOf(Field field, const Unit& u) const;
  std::string TagFacts(const Unit& u) const;
  std::string NumberFacts(const Condition& c, const Unit& u) const;
  std::string RegexFacts(Field field, const Unit& u) const;
  void LocationFacts(const Condition& c, const Unit& u, std::vector<std::string>* out) const;
  void PartyFacts(const policy_internal::PartyCond& pc, bool op,
                  std::vector<std::string>* out) const;
  void EvidenceFacts(const policy_internal::EvidenceCond& ec, const Unit& u,
                     std::vector<std::string>* out) const;
  std::string EvidenceLine(const policy_internal::EvidenceCond& ec, const Unit& u,
                           const ResolvedEvidence& e, EvidenceFit fit) const;
  std::string EvidenceName(const ResolvedEvidence& e, const Unit& u) const;
  UnitTrace TraceUnit(int rule_index, const Unit& u);
  // The rules of one policy traced so far: rule index -> index into `rules`, or -1.
  struct TraceSlots {
    std::vector<int> slot;
    std::vector<std::pair<int, RuleTrace>> rules;  // rule index, its trace
  };
  RuleTrace NewRuleTrace(const Rule& rule) const;
  void ExplainUnit(int rule_index, const Unit& unit, size_t max_units, TraceSlots* traces);

  SlotScratch* const slots_;
  const Policy* policy_ = nullptr;
  int policy_index_ = -1;
  const policy_internal::PolicyIndex* pix_ = nullptr;  // the current policy's index
  Outcomes* outcomes_ = nullptr;
  ObligationSlots* obligations_ = nullptr;
};

// The rule index slot of a unit of artifact `a` in this request (policy_internal::UnitSlot).
inline int Slot(Request::Kind kind, ArtifactKind a) {
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
inline void Evaluator::ForEachUnit(std::vector<LiftedTag>* lifted, F f) {
  const Policy& p = *policy_;
  const policy_internal::PolicyIndex& pi = *pix_;
  const policy_internal::RuleFacts* facts = pi.rules.data();
  const Request::Kind kind = f_.request->kind;
  for (const auto& a : f_.artifacts) {
    const auto& by_class = pi.rules_by_slot[Slot(kind, a.kind)];
    for (const auto& t : a.tags) {
      if (!p.lifts.empty() && Lifted(p, a, t)) {
        if (lifted) {
          lifted->push_back(
              eval_internal::DecisionBuilder::MakeLifted(eval_internal::TagText(t), p.id));
        }
        continue;
      }
      for (uint32_t ri : by_class[t.effective_cls]) {
        const policy_internal::RuleFacts& rf = facts[ri];
        if (rf.dated && !ActiveAt(p.rules[ri].from, p.rules[ri].until, f_.now)) continue;
        if (!f(static_cast<int>(ri), rf, &a, &t)) return;
      }
    }
  }
  for (uint32_t ri : pi.request_rules_by_kind[static_cast<int>(kind)]) {
    const policy_internal::RuleFacts& rf = facts[ri];
    if (rf.dated && !ActiveAt(p.rules[ri].from, p.rules[ri].until, f_.now)) continue;
    if (!f(static_cast<int>(ri), rf, nullptr, nullptr)) return;
  }
}

}  // namespace residency::eval_internal

#endif  // RESIDENCY_LIB_EVAL_RULE_EVAL_H_
