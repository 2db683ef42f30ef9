// AllowedLocations: every catalogue location where a request could be placed, each confirmed by
// running every rule there. The placements denied whatever else holds are set aside first, all
// at once, by the same pass that computes a decision's suggestions; the request's facts are
// built once.
#include "residency/where.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "eval/evaluator.h"
#include "internal/time_util.h"

namespace residency {
namespace {

using eval_internal::Facts;
using policy_internal::Catalogue;
using policy_internal::CompiledSet;
using policy_internal::EvalIndex;
using policy_internal::LocationBits;

std::string_view Placement(const Request& r) {
  switch (r.kind) {
    case Request::Kind::kDataset:
      return !r.destination.empty() || !r.dataset ? r.destination : r.dataset->location;
    case Request::Kind::kModel:
      return !r.destination.empty() || !r.model ? r.destination : r.model->location;
    case Request::Kind::kCompute:
      return r.compute ? std::string_view(r.compute->location) : std::string_view();
  }
  return {};
}

// The filter as a location set; InvalidArgument for a name the catalogue does not know.
absl::Status Filter(const Catalogue& cat, const EvalIndex& ix, const WhereOptions& where,
                    LocationBits* keep) {
  *keep = ix.all_locations;
  if (!where.providers.empty()) {
    LocationBits any;
    for (const auto& name : where.providers) {
      bool found = false;
      for (size_t i = 0; i < cat.locations.size(); ++i) {
        if (cat.locations[i].provider != name) continue;
        any |= ix.provider_locations[ix.provider_of[i]];
        found = true;
        break;
      }
      if (!found) {
        return absl::InvalidArgumentError(
            absl::StrCat("provider `", name, "` has no location in the region catalogue"));
      }
    }
    *keep &= any;
  }
  if (!where.countries.empty()) {
    LocationBits any;
    for (const auto& name : where.countries) {
      auto it = cat.jurisdiction_index.find(name);
      if (it == cat.jurisdiction_index.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "`", name, "` is neither an ISO 3166-1 code nor a group of the region catalogue"));
      }
      any |= ix.jurisdiction_locations[it->second];
    }
    *keep &= any;
  }
  return absl::OkStatus();
}

}  // namespace

Request PlacedAt(Request r, std::string_view location) {
  const std::string from(Placement(r));
  const std::string to(location);
  auto move = [&](std::string* field) {
    if (*field == from) *field = to;
  };
  switch (r.kind) {
    case Request::Kind::kDataset:
      if (r.destination.empty() && r.dataset) {
        r.dataset->location = to;
      } else {
        r.destination = to;
      }
      break;
    case Request::Kind::kModel:
      if (r.destination.empty() && r.model) {
        r.model->location = to;
      } else {
        r.destination = to;
      }
      break;
    case Request::Kind::kCompute:
      if (!r.compute) break;
      // What the job holds where it runs (a served model, a scratch output) moves with it.
      for (auto& in : r.compute->inputs) {
        if (in.dataset) move(&in.dataset->location);
        if (in.model) move(&in.model->location);
      }
      for (auto& out : r.compute->outputs) move(&out.location);
      r.compute->location = to;
      break;
  }
  return r;
}

absl::StatusOr<Placements> AllowedLocations(const PolicySnapshot& snapshot, const Request& request,
                                            const WhereOptions& where, const EvalOptions& options) {
  const CompiledSet& set = snapshot.impl();
  const Catalogue& cat = set.catalogue;
  const EvalIndex& ix = snapshot.index();
  LocationBits keep;
  if (absl::Status s = Filter(cat, ix, where, &keep); !s.ok()) return s;
  // The request as given: its errors are this call's, and its time is every placement's.
  EvalOptions one = options;
  one.suggest = false;
  absl::StatusOr<Decision> here = Evaluate(snapshot, request, one);
  if (!here.ok()) return here.status();
  Placements out;
  out.now = here->now;
  out.policy_digest = std::string(here->policy_digest());
  one.now = here->now;

  Facts facts;
  eval_internal::BuildFacts(set, ix, request, here->now, one, &facts);
  // A fail-closed reason other than the placement's own holds wherever it goes.
  for (const auto& fr : facts.fail)
    if (!fr.primary_location) return out;
  LocationBits candidates = keep;
  if (!where.include_reserved) {
    eval_internal::RemoveReservedSites(ix, request.operator_party, &candidates);
  }
  LocationBits denied;
  if (!eval_internal::DeniedCandidates(snapshot, facts, candidates, &denied)) return out;
  candidates.Remove(denied);

  const eval_internal::LocationOrder order = eval_internal::SuggestionOrder(
      cat, ix, facts.primary >= 0 ? facts.locations[facts.primary] : -1, facts.primary_name,
      candidates, SIZE_MAX);
  // Each remaining location is decided on the request's facts with the placement swapped: what
  // the request holds at its placement (deduplicated into one checked location when the facts
  // were built) moves with it, as in PlacedAt; nothing else in the facts depends on it.
  if (facts.primary < 0) {
    // An unknown placement: its fail-closed reasons go with it.
    facts.fail.erase(std::remove_if(facts.fail.begin(), facts.fail.end(),
                                    [](const auto& fr) { return fr.primary_location; }),
                     facts.fail.end());
    facts.primary = static_cast<int>(facts.locations.size());
    facts.locations.push_back(-1);
  }
  std::vector<ObligationRef> obligations;
  out.allowed.reserve(order.size());
  // Locations of one class are decided alike: each class is decided once. `seen[c]` is the
  // index in out.allowed of the class's first location, kNotListed, or kNotSeen.
  constexpr int kNotSeen = -1, kNotListed = -2;
  const bool by_class = ix.location_class.size() == cat.locations.size();
  std::vector<int> seen(by_class ? ix.location_class_count : 0, kNotSeen);
  for (int i : order) {
    const int c = by_class ? ix.location_class[i] : -1;
    if (c >= 0 && seen[c] == kNotListed) continue;
    Effect e;
    if (c >= 0 && seen[c] >= 0) {
      e = out.allowed[seen[c]].effect;
      obligations = out.allowed[seen[c]].obligations;
    } else {
      facts.locations[facts.primary] = i;
      e = eval_internal::DecideAt(snapshot, facts, &obligations);
    }
    const bool allowed = e == Effect::kAllow || e == Effect::kAllowWithObligations;
    if (!allowed && !(where.include_escalate && e == Effect::kEscalate)) {
      if (c >= 0) seen[c] = kNotListed;
      continue;
    }
    if (c >= 0 && seen[c] == kNotSeen) seen[c] = static_cast<int>(out.allowed.size());
    const auto& loc = cat.locations[i];
    AllowedLocation a;
    a.location = loc.id;
    a.provider = loc.provider;
    a.country = loc.country_code;
    a.site = loc.site;
    a.reserved_for = ix.reserved_for[i];
    a.effect = e;
    a.obligations = std::move(obligations);  // refilled before its next use
    out.allowed.push_back(std::move(a));
  }
  return out;
}

std::string PlacementsToJson(const Placements& p) {
  nlohmann::ordered_json j;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& a : p.allowed) {
    nlohmann::ordered_json o;
    o["location"] = a.location;
    o["provider"] = a.provider;
    o["country"] = a.country;
    o["site"] = a.site;
    o["reserved_for"] = a.reserved_for;
    o["effect"] = EffectName(a.effect);
    nlohmann::ordered_json obs = nlohmann::ordered_json::array();
    for (const auto& ob : a.obligations) {
      obs.push_back({{"id", std::string(ob.id())},
                     {"policy", std::string(ob.policy())},
                     {"text", std::string(ob.text())}});
    }
    o["obligations"] = std::move(obs);
    list.push_back(std::move(o));
  }
  j["allowed"] = std::move(list);
  j["now"] = internal::FormatTimestamp(p.now);
  j["policy_digest"] = p.policy_digest;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace residency
