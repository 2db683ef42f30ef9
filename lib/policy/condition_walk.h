// The walks over compiled conditions that every stage needs, in one place: the compiler (rule
// index, count filters), the evaluation index (location dependence, top-level conditions), the
// evaluator and the explainer (three-valued logic), and diff (every condition of a rule, the
// canonical text of a condition). A new condition kind is parsed in conditions.cc; this module
// says which kinds are junctions, which depend on the location, how each reads as canonical text.
#ifndef RESIDENCY_LIB_POLICY_CONDITION_WALK_H_
#define RESIDENCY_LIB_POLICY_CONDITION_WALK_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "policy/compiled_set.h"

namespace residency::policy_internal {

// ---------------------------------------------------------------------------------------------
// Three-valued truth: a condition whose fact the request lacks is unknown (Kleene logic).

enum class Tri : uint8_t { kFalse, kTrue, kUnknown };

inline Tri TriNot(Tri t) {
  return t == Tri::kUnknown ? t : (t == Tri::kTrue ? Tri::kFalse : Tri::kTrue);
}
inline Tri TriAnd(Tri a, Tri b) {
  if (a == Tri::kFalse || b == Tri::kFalse) return Tri::kFalse;
  if (a == Tri::kUnknown || b == Tri::kUnknown) return Tri::kUnknown;
  return Tri::kTrue;
}
inline Tri TriOr(Tri a, Tri b) {
  if (a == Tri::kTrue || b == Tri::kTrue) return Tri::kTrue;
  if (a == Tri::kUnknown || b == Tri::kUnknown) return Tri::kUnknown;
  return Tri::kFalse;
}

// Whether `c` combines its children (`all`, `any`, `not`) rather than reading the request.
inline bool IsJunction(const Condition& c) {
  return c.kind == Condition::Kind::kAll || c.kind == Condition::Kind::kAny ||
         c.kind == Condition::Kind::kNot;
}

template <typename Leaf>
Tri JudgeCondition(const Condition& c, const Leaf& leaf);

// `all` (stop at kFalse) and `any` (stop at kTrue), and `not`: out of line, so that
// JudgeCondition only dispatches (tail calls, no frame of its own: a few instructions a node).
template <typename Leaf>
ABSL_ATTRIBUTE_NOINLINE Tri JudgeJunction(const Condition& c, const Leaf& leaf, Tri stop) {
  Tri out = stop == Tri::kFalse ? Tri::kTrue : Tri::kFalse;  // the value of no children
  for (const auto& ch : c.children) {
    const Tri t = JudgeCondition(ch, leaf);
    if (t == stop) return stop;
    if (t == Tri::kUnknown) out = Tri::kUnknown;
  }
  return out;
}
template <typename Leaf>
ABSL_ATTRIBUTE_NOINLINE Tri JudgeNot(const Condition& c, const Leaf& leaf) {
  return TriNot(JudgeCondition(c.children[0], leaf));
}

// The value of `c`: `all`, `any` and `not` by three-valued logic over their children (stopping
// at the first child that decides), `always` true, and every other kind `leaf(c)`.
template <typename Leaf>
Tri JudgeCondition(const Condition& c, const Leaf& leaf) {
  using K = Condition::Kind;
  switch (c.kind) {
    case K::kTrue:
      return Tri::kTrue;
    case K::kAll:
      return JudgeJunction(c, leaf, Tri::kFalse);
    case K::kAny:
      return JudgeJunction(c, leaf, Tri::kTrue);
    case K::kNot:
      return JudgeNot(c, leaf);
    default:
      return leaf(c);
  }
}

// ---------------------------------------------------------------------------------------------
// Visiting.

// Calls `f(c, negations)` on `c` and on every condition under it, parents first; `negations`
// counts the `not`s above each (start value `negations`).
template <typename C, typename F>
void ForEachCondition(C& c, F&& f, int negations = 0) {
  f(c, negations);
  const int below = negations + (c.kind == Condition::Kind::kNot ? 1 : 0);
  for (auto& ch : c.children) ForEachCondition(ch, f, below);
}

// Whether `pred` holds for `c` or any condition under it.
template <typename P>
bool AnyCondition(const Condition& c, P&& pred) {
  if (pred(c)) return true;
  return std::any_of(c.children.begin(), c.children.end(),
                     [&](const Condition& ch) { return AnyCondition(ch, pred); });
}

// Whether exception `e` names rule `rule_index` of its policy.
inline bool ExceptionNames(const Exception& e, int rule_index) {
  return std::find(e.rules.begin(), e.rules.end(), rule_index) != e.rules.end();
}

// Calls `f(c, negations)` on every condition of a rule: its `when`, its alternatives', and those
// of the exceptions of its policy that name it.
template <typename F>
void ForEachRuleCondition(const Policy& p, int rule_index, F&& f) {
  const Rule& r = p.rules[rule_index];
  ForEachCondition(r.when, f);
  for (const auto& a : r.alternatives) ForEachCondition(a.when, f);
  for (const auto& e : p.exceptions) {
    if (ExceptionNames(e, rule_index)) ForEachCondition(e.when, f);
  }
}

// A rule's top-level conditions, every one of which must hold for the rule to apply: the
// children of a top-level `all` (one map's keys compile to one), else `when` itself.
inline absl::Span<const Condition> TopLevelConditions(const Condition& when) {
  if (when.kind == Condition::Kind::kAll) return when.children;
  return absl::MakeConstSpan(&when, 1);
}

// Whether the value of `c` itself (not counting its children) can differ between two catalogue
// locations of one request: a location condition, and evidence that must name the location's
// country.
bool DependsOnLocation(const Condition& c);

// Whether `c` or a condition under it reads the unit's tag (so the rule is judged per tag).
bool UsesTag(const Condition& c);

// ---------------------------------------------------------------------------------------------
// Canonical text: a compiled condition with indexes translated to names, so that conditions of
// two sets compare as text (`residency diff`). Independent of the order of bits, stable across
// catalogues that differ only in locations a condition does not touch.

// `v` with 17 significant digits.
std::string CanonNumber(double v);
// The strings of `v`, comma-separated.
std::string CanonStrings(const std::vector<std::string>& v);
// The ISO codes of the countries in `b`, comma-separated.
std::string CanonCountries(const CountryBits& b);
// The ids of the classes in `b`, sorted, comma-separated.
std::string CanonClasses(const CompiledSet& s, const ClassBits& b);
// RFC 3339, or `-` when absent.
std::string CanonTime(const std::optional<absl::Time>& t);
// A named list of `p` (its entries, their dates and locations), or `-` for no list (index -1).
std::string CanonList(const CompiledSet& s, const Policy& p, int list);
// Obligation ids and messages, in the given order.
std::string CanonObligations(const Policy& p, const std::vector<int>& obligations);
// Appends the canonical text of `c` (a condition of policy `p` of set `s`) to *out.
void AppendConditionCanon(const CompiledSet& s, const Policy& p, const Condition& c,
                          std::string* out);

}  // namespace residency::policy_internal

#endif  // RESIDENCY_LIB_POLICY_CONDITION_WALK_H_
