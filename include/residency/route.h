// Inference routing (docs/architecture.md, lib/eval Router): where may an inference request of a
// given shape be served?
//
//   residency::Router router(snapshot);                       // per policy snapshot
//   int model = *router.AddModel(model_with_lineage);         // once per served model
//   residency::Router::Query q{"KR", "verified", {"personal"}, model};
//   residency::Router::Result r = router.Route(q, absl::Now(), preferred_location);
//   if (r.status.ok() && r.preferred == residency::Effect::kAllow) serve_at(preferred_location);
//
// Answers come from a table memoised per (user jurisdiction, provenance, prompt class set, model
// profile, operator profile), computed by evaluating the inference request at every catalogue
// location and valid until the next date at which a rule, list entry or exception of the
// snapshot starts or ends. After a shape's first request, Route() neither allocates nor
// evaluates: it hashes the query and reads the table, without a lock when this thread has seen
// the shape recently (a per-thread cache of 64 entries). A request that carries its own evidence
// takes the full check (Evaluate) instead. A shape says nothing of the stream of prompts it
// belongs to: the table answers as for a prompt whose aggregate is unknown
// (Compute::prompt_cumulative_subjects absent: a threshold on it cannot be ruled out), so it may
// allow fewer locations than Evaluate does for a request that gives its aggregate, never more.
//
// Thread safety: Route() and the Add*() functions may be called concurrently.
#ifndef RESIDENCY_ROUTE_H_
#define RESIDENCY_ROUTE_H_

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace residency {

namespace route_internal {
struct Table;
}

class Router {
 public:
  explicit Router(std::shared_ptr<const PolicySnapshot> snapshot);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers the model that serves (its lineage gives its tags; `location` is ignored: the model
  // is checked at the serving location). Returns its profile id. Allocates.
  absl::StatusOr<int> AddModel(const Model& model);
  // Registers an operator profile. Returns its id. Allocates.
  absl::StatusOr<int> AddOperator(const Party& op);

  struct Query {
    std::string_view user_jurisdiction;       // empty when unknown
    std::string_view provenance = "claimed";  // verified | claimed | inferred
    absl::Span<const std::string_view> prompt_classes;
    int model = -1;             // from AddModel; -1: no model input
    int operator_profile = -1;  // from AddOperator; -1: no operator
  };

  struct Result {
    absl::Status status;  // InvalidArgument for an unknown profile; treat any error as deny
    // Allowed serving locations: bit i is catalogue location i (PolicySnapshot::locations()).
    // Points into the memo table; valid while this Router lives.
    const std::vector<bool>* allowed = nullptr;
    Effect preferred = Effect::kDeny;  // the decision at `preferred_location`, when given
    bool Allowed(int location) const {
      return allowed && location >= 0 && static_cast<size_t>(location) < allowed->size() &&
             (*allowed)[location];
    }
  };

  // `preferred_location`: a catalogue index (see LocationIndex), or -1.
  Result Route(const Query& query, absl::Time now, int preferred_location = -1);

  // The catalogue index of `location_id`, or -1.
  int LocationIndex(std::string_view location_id) const;
  const PolicySnapshot& snapshot() const { return *snapshot_; }

 private:
  std::shared_ptr<const PolicySnapshot> snapshot_;
  std::unique_ptr<route_internal::Table> table_;
};

}  // namespace residency

#endif  // RESIDENCY_ROUTE_H_
