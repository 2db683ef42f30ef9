// Evaluating a request against a compiled policy set (SPEC §4, §6).
//
//   auto snap = residency::CompilePolicy({"policies"});            // once
//   auto req = residency::ParseRequest(text);                       // or fill a Request
//   absl::StatusOr<residency::Decision> d = residency::Evaluate(**snap, *req);
//   if (!d.ok() || d->decision == residency::Effect::kDeny) { /* refuse */ }
//
// A deny is a value, not an error: Evaluate returns a non-OK status only for a request that is
// structurally unusable (a dataset request without a dataset, no location to check, a model
// artifact other than weights, checkpoint or adapter). Callers must treat any non-OK status as
// deny.
//
// Text in a decision: policy and rule ids, citations, messages, obligation ids, suggested
// locations and the digest are views (std::string_view) into the compiled policy set, and the
// few texts made for one request (fail-closed messages) into storage of the decision's own.
// `Decision::texts` owns both: the views are valid as long as the Decision, or a copy of it,
// lives, even after its snapshot has been swapped out and released. A Reason or ObligationRef
// copied out of its Decision keeps nothing alive: copy the strings (std::string(r.message)) to
// keep them longer. Evaluating therefore copies no policy text; a typical decision owns three
// heap blocks (its reasons, obligations and tags).
//
// Thread safety: Evaluate may be called concurrently on one snapshot; it does not mutate it.
#ifndef RESIDENCY_DECISION_H_
#define RESIDENCY_DECISION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace residency {

// Ordered by restrictiveness: the most restrictive result wins.
enum class Effect : uint8_t { kAllow = 0, kAllowWithObligations = 1, kEscalate = 2, kDeny = 3 };
const char* EffectName(Effect e);  // "allow", "allow_with_obligations", "escalate", "deny"

struct Reason {
  std::string_view policy;  // policy id, or `residency` for the engine's own fail-closed reasons
  std::string_view rule;
  std::string_view basis;  // law | corp | fail_closed
  Effect effect = Effect::kDeny;
  std::string_view citation;
  std::string_view message;
  std::string_view alternative;  // the alternative that decided, when one did
  std::string_view exception;    // the exception that lifted a corp deny, when one did
};

struct ObligationRef {
  std::string_view id;
  std::string_view policy;
};

struct LiftedTag {
  std::string tag;  // ORIGIN:class, as the request gives it
  std::string_view policy;
};

struct AuditRef {
  std::string log;
  uint64_t index = 0;
};

struct Decision {
  Effect decision = Effect::kDeny;
  std::vector<Reason> reasons;  // every rule that decided (for an allow, those that allowed)
  std::vector<ObligationRef> obligations;
  std::vector<std::string_view> suggested_locations;  // for a denied placement, at most 8
  std::vector<std::string> tags;  // ORIGIN:class before lifting, unique, sorted bytewise
  std::vector<LiftedTag> lifted;
  std::vector<Reason> dry_run;  // results of dry-run rules and policies
  absl::Time now;
  std::string_view policy_digest;
  std::optional<AuditRef> audit;
  // Owns what the views above point to (see the top of this file). Set by Evaluate; a Decision
  // built by hand may leave it empty and point its views at storage of its own.
  std::shared_ptr<const void> texts;
};

// What Evaluate does with a request's own `now` (the time the law is applied at).
enum class RequestTime {
  kHonour,  // use it (the default; for tests and what-if questions)
  kRefuse,  // a request with `now` is InvalidArgument naming the field (a gateway)
  kIgnore,  // evaluate at EvalOptions::now or the clock, as if the request had none
};

struct EvalOptions {
  // The evaluation time when the request has no `now` (or when `request_time` is kIgnore);
  // default: the clock, read once.
  std::optional<absl::Time> now;
  // Whether the caller may choose the evaluation time with the request's `now`. A service that
  // must not let its callers pick the law's effective date sets kRefuse or kIgnore.
  // Default: kHonour.
  RequestTime request_time = RequestTime::kHonour;
  // Compute `suggested_locations` for denied placements (one more pass over the rules that
  // apply, evaluated at every catalogue location at once; roughly doubles the cost of a deny;
  // turn off when the caller never shows them).
  bool suggest = true;
  // Lineage bounds (depth of derived_from / trained_on / base_models nesting, nodes in all).
  int max_lineage_depth = 64;
  size_t max_lineage_nodes = 100000;
};

absl::StatusOr<Decision> Evaluate(const PolicySnapshot& snapshot, const Request& request,
                                  const EvalOptions& options = EvalOptions());

// Conveniences that build the request kind and evaluate.
absl::StatusOr<Decision> CheckDataset(const PolicySnapshot& snapshot, Request request,
                                      const EvalOptions& options = EvalOptions());
absl::StatusOr<Decision> CheckModel(const PolicySnapshot& snapshot, Request request,
                                    const EvalOptions& options = EvalOptions());
absl::StatusOr<Decision> CheckCompute(const PolicySnapshot& snapshot, Request request,
                                      const EvalOptions& options = EvalOptions());

// The decision as one line of JSON (SPEC §6), keys in a fixed order; byte-for-byte
// deterministic for the same decision.
std::string DecisionToJson(const Decision& decision);

}  // namespace residency

#endif  // RESIDENCY_DECISION_H_
