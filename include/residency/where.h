// Where may this request go? Every catalogue location at which a request, with its placement
// moved there, would be allowed, with the effect and the obligations at each (docs/where.md).
//
//   auto where = residency::AllowedLocations(*snapshot, request);
//   if (where.ok())
//     for (const auto& a : where->allowed) use(a.location, a.effect, a.obligations);
//
// A request's placement is the location it asks about: a dataset's or model's `destination`
// (its `location` when there is no destination), a compute job's `compute.location`. Whatever
// a job holds at the same location (a model it serves, a dataset or output next to it) moves
// with it; everything elsewhere, and lineage, stays where it is. Suggestions in a decision move
// a placement the same way.
//
// Thread safety: as Evaluate; may be called concurrently on one snapshot.
#ifndef RESIDENCY_WHERE_H_
#define RESIDENCY_WHERE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace residency {

// One location where the request may go.
struct AllowedLocation {
  std::string location;  // catalogue id, e.g. `ncp:KR`
  std::string provider;  // e.g. `ncp`
  std::string country;   // ISO 3166-1 alpha-2
  std::string site;      // the catalogue's `site` (public, gov, fin, sovereign, onprem) or empty
  // The operator sector a sector cloud is built for: `<cc>_public` for a government site and
  // `<cc>_financial` for a financial one (cc: its country, lower case); empty for other sites.
  std::string reserved_for;
  Effect effect = Effect::kAllow;  // kAllow or kAllowWithObligations (kEscalate when asked for)
  std::vector<ObligationRef> obligations;  // what acting there requires, by policy then id
};

struct WhereOptions {
  // Only locations of these providers (`ncp`, `aws`, ...); empty: every provider.
  std::vector<std::string> providers;
  // Only locations in these countries or catalogue groups (`KR`, `EU`); empty: everywhere.
  std::vector<std::string> countries;
  // Also list the locations where the request would escalate (a person must approve).
  bool include_escalate = false;
  // Also list sector clouds (government, financial sites) whose sector the operator is not in.
  // By default they are left out, as from a decision's suggested_locations.
  bool include_reserved = false;
};

// The answer: where, and at what time under which policy set it was computed.
struct Placements {
  std::vector<AllowedLocation> allowed;
  absl::Time now;             // the evaluation time, read once for every location
  std::string policy_digest;  // `sha256:<64 hex>` of the policy set
};

// Every catalogue location where `request`, placed there, would be allowed (by Evaluate, with
// the same options), in the order suggestions take: the placement's own provider and country
// first, then its provider, then its country, then the rest, catalogue order within each. Not
// capped. A non-OK status is what Evaluate returns for the request as given, or
// InvalidArgument for a filter naming an unknown provider or jurisdiction.
absl::StatusOr<Placements> AllowedLocations(const PolicySnapshot& snapshot, const Request& request,
                                            const WhereOptions& where = WhereOptions(),
                                            const EvalOptions& options = EvalOptions());

// `request` with its placement moved to `location` (see above).
Request PlacedAt(Request request, std::string_view location);

// As one line of JSON, keys in a fixed order: {"allowed":[{"location","provider","country",
// "site","reserved_for","effect","obligations":[{"id","policy","text"}]}],"now","policy_digest"}.
std::string PlacementsToJson(const Placements& placements);

// As one self-contained HTML page (no network; `residency where --format html`): the allowed
// locations in a grid by country and provider, coloured by effect, obligations on hover.
// `title` names the request in the heading (a file name; may be empty).
std::string PlacementsToHtml(const Placements& placements, std::string_view title = {});

}  // namespace residency

#endif  // RESIDENCY_WHERE_H_
