// What a policy change widens or narrows (`residency diff`, docs/policy-review.md).
//
//   auto old_set = residency::CompilePolicy({"policies-old"});
//   auto new_set = residency::CompilePolicy({"policies-new"});
//   residency::DiffOptions options;
//   options.now = absl::FromUnixSeconds(...);                  // default: the clock, read once
//   absl::StatusOr<residency::DiffReport> r = residency::DiffPolicies(**old_set, **new_set,
//   options); if (r.ok() && !r->widened.empty()) { /* the change lets something through */ }
//
// The two sets are compared by evaluating both on a generated space of requests: every catalogue
// location (of the union of both catalogues) as the checked location, every data class (built-in
// and policy-added), the origins the policies mention (plus one they do not), five request shapes
// (dataset store, dataset transfer, model deploy with lineage, compute training, inference), and
// request profiles: none, each evidence type a rule references (country = the checked location's
// country, recipient named), each operator sector a policy references, and for each rule and
// alternative a profile built to satisfy its conditions (evidence, operator, recipient, transfer,
// purpose, use case, tier, numbers at the rule's thresholds). Locations and classes that no
// condition of either set can tell apart are explored once and counted for all of them, so
// `count` is the number of requests of the generated space that differ. The rules, lists and
// catalogue entries that changed are explored first; the rest of the space follows until the
// evaluation budget is spent (`complete` says whether it was).
//
// A difference is a request whose decision is less restrictive under the new set (widened:
// deny -> escalate / allow_with_obligations / allow, escalate -> allow..., allow_with_obligations
// -> allow) or more restrictive (narrowed). Changes of obligations or reasons at the same decision
// are not reported. Differences are grouped by (old decision, new decision, rules that gave the
// more restrictive decision) and each group keeps its first example requests in exploration order,
// which is deterministic. Rules, lists and location sets are compared by meaning: a location set
// that covers every location of a country is that country, so adding a location to the
// catalogue is reported as that one change (and explored at that location).
//
// Thread safety: DiffPolicies reads both snapshots and may run concurrently with evaluations.
#ifndef RESIDENCY_DIFF_H_
#define RESIDENCY_DIFF_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace residency {

struct DiffOptions {
  // The evaluation time of every explored request (and the `now` of the examples); default: the
  // clock, read once.
  std::optional<absl::Time> now;
  // Budget: evaluations in all (two per explored request). The changed rules are explored first.
  size_t max_evaluations = 1000000;
  // Example requests kept per group (at least 1).
  size_t max_examples = 1;
  // Two sets with the same policy_digest cannot decide differently; by default they are not
  // explored. Set to explore anyway (a self-check of the engine's determinism).
  bool explore_identical = false;
};

struct DiffExample {
  Request request;
  std::string request_json;  // one line; what `residency check` accepts
  Decision old_decision;     // evaluated without suggestions
  Decision new_decision;
};

struct DiffGroup {
  Effect from = Effect::kDeny;  // decision under the old set
  Effect to = Effect::kDeny;    // decision under the new set
  // Rule ids that gave the more restrictive of the two decisions (the old one for a widening,
  // the new one for a narrowing), `residency.*` for fail-closed reasons; sorted.
  std::vector<std::string> rules;
  size_t count = 0;                    // requests of the generated space in this group
  std::vector<std::string> locations;  // checked locations of those requests, catalogue order
  std::vector<DiffExample> examples;   // at most max_examples, first found first
};

struct DiffReport {
  std::string old_digest, new_digest;
  absl::Time now;
  // What changed between the compiled sets, one line each (`rule kr.cross_border changed`,
  // `list kr/pipc_recognized changed`, `location aws:xx added`, ...), sorted.
  std::vector<std::string> changes;
  // Most severe first: widened by (from descending, to, rules) so that deny -> allow leads;
  // narrowed by (to descending, from, rules) so that allow -> deny leads.
  std::vector<DiffGroup> widened;
  std::vector<DiffGroup> narrowed;
  size_t requests_explored = 0;  // distinct requests evaluated (representatives)
  size_t requests_covered = 0;   // requests of the generated space those stand for
  size_t evaluations = 0;
  size_t space = 0;      // representatives in the whole generated space
  bool complete = true;  // false when the budget ran out before the space did
  // True when every request the changes call for (the changed rules on the classes and origins
  // they apply to, changed locations, classes and groups on the whole space) was explored, even
  // if the rest of the space was not.
  bool changes_complete = true;
  size_t errors = 0;  // requests either set refused to evaluate (not counted)
};

absl::StatusOr<DiffReport> DiffPolicies(const PolicySnapshot& old_set,
                                        const PolicySnapshot& new_set,
                                        const DiffOptions& options = DiffOptions());

// The report as one JSON object: {"old_digest", "new_digest", "now", "changes", "explored":
// {...}, "widened": [...], "narrowed": [...]}; each group {"from", "to", "rules", "count",
// "locations", "example" (the first example request), "examples": [{"request", "old", "new"}]}.
// Deterministic for the same report.
std::string DiffReportToJson(const DiffReport& report, int indent = -1);

// The report for a reviewer: changes, then widened and narrowed groups with their examples.
std::string DiffReportToText(const DiffReport& report);

// RequestToJson (a request as the JSON that `residency check` accepts) is in
// residency/request.h.

}  // namespace residency

#endif  // RESIDENCY_DIFF_H_
