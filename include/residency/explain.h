// Why a request was decided as it was (docs/explain.md): every rule that applied to it, where it
// applied (which artifact, tag and location), and for each place every alternative and exception
// tried, with each condition's value and the facts that gave it: which evidence was missing,
// outside its window, withdrawn or bound to another recipient, which fact the request lacks.
//
//   auto e = residency::Explain(**snap, *req);
//   if (e.ok()) std::cout << residency::ExplanationToText(*e);
//
// An explanation evaluates the rules again, condition by condition, without stopping at the
// first false one: it costs many times a decision, and is meant for people and tools that ask
// why, not for the path of every request. Its decision is the one Evaluate makes.
#ifndef RESIDENCY_EXPLAIN_H_
#define RESIDENCY_EXPLAIN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace residency {

// A condition's value in three-valued logic: unknown when the request lacks a fact it needs.
enum class Truth : uint8_t { kFalse, kTrue, kUnknown };
const char* TruthName(Truth t);  // "false", "true", "unknown"

// One condition as it was evaluated at one place.
struct ConditionTrace {
  // As the policy writes it: `key: <canonical JSON>` (`location: {"not_in":["KR"]}`), or `all`,
  // `any`, `not`, `all of` (the keys of one map, all of which must hold), `always`.
  std::string condition;
  std::string source;  // policy file:line:column; empty when not known
  Truth value = Truth::kFalse;
  // The facts read and why they give `value`, a line each (`location aws:us-east-1 is in US`,
  // `evidence #0 consent.cross_border: expired at 2026-01-01T00:00:00Z`).
  std::vector<std::string> facts;
  std::vector<ConditionTrace> children;  // of all, any, not, all of
};

// An alternative of a rule (a way out of its `otherwise` effect).
struct AlternativeTrace {
  std::string name;
  Effect effect = Effect::kDeny;
  ConditionTrace when;  // held when when.value is kTrue; an unknown one legalises nothing
  bool chosen = false;  // the alternative that gave the rule its result here
};

// An exception that may lift a company rule's deny or escalate.
struct ExceptionTrace {
  std::string id;
  bool active = false;  // `now` is within its not_before .. not_after
  ConditionTrace when;
  bool chosen = false;
};

// One place a rule applied: a tag of an artifact (or the request itself) at a location.
struct UnitTrace {
  // As Reason's: `dataset`, `model`, `prompt` or empty (the request itself); the artifact's id;
  // the lineage dataset the tag came through; ORIGIN:class; the catalogue location (empty when
  // the rule decides alike everywhere).
  std::string artifact_kind, artifact, via, tag, location;
  Effect effect = Effect::kDeny;               // the rule's result at this place
  ConditionTrace when;                         // kTrue, or kUnknown (then the rule fails closed)
  std::string unknown;                         // the fact the request lacks, when `when` is unknown
  std::vector<AlternativeTrace> alternatives;  // every one, in the policy's order
  std::vector<ExceptionTrace> exceptions;      // those naming the rule (company rules)
};

// A rule that applied somewhere in the request.
struct RuleTrace {
  std::string policy, rule, basis, citation, message;
  std::string source;             // policy file:line:column
  Effect effect = Effect::kDeny;  // the most restrictive over its places: its result
  bool dry_run = false;
  bool deciding = false;         // enforced and its result is the decision's: among its reasons
  std::vector<UnitTrace> units;  // where it applied, at most ExplainOptions::max_units
  size_t units_left_out = 0;     // beyond max_units
};

struct ExplainOptions {
  EvalOptions eval;
  size_t max_units = 64;  // places listed per rule; the rest are counted
};

struct Explanation {
  Decision decision;
  // Every rule that applied at some place, enforced and dry-run, by policy then rule order.
  std::vector<RuleTrace> rules;
  std::vector<std::string> policies_in_scope, policies_out_of_scope;  // by id
};

// The decision Evaluate makes and why. Errors as Evaluate's.
absl::StatusOr<Explanation> Explain(const PolicySnapshot& snapshot, const Request& request,
                                    const ExplainOptions& options = ExplainOptions());

// One JSON object: {"decision": <the decision JSON>, "policies_in_scope": [...],
// "policies_out_of_scope": [...], "rules": [...]} (docs/explain.md).
std::string ExplanationToJson(const Explanation& explanation);
// For people: the decision, then each rule with its places, alternatives and conditions.
std::string ExplanationToText(const Explanation& explanation);

}  // namespace residency

#endif  // RESIDENCY_EXPLAIN_H_
