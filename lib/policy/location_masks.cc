// Location sets derived from a compiled policy set, so that the evaluator tests a location
// condition with bit operations, at one location or at every catalogue location at once.
#include <algorithm>
#include <map>
#include <memory>

#include "policy/model.h"

namespace residency::policy_internal {
namespace {

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool FixedMatch(const LocationCond& lc, const Location& loc, size_t index) {
  if (lc.has_in && !lc.in.Test(index)) return false;
  if (lc.has_not_in && lc.not_in.Test(index)) return false;
  for (const auto& c : lc.certifications)
    if (!Has(loc.certifications, c)) return false;
  for (const auto& [k, v] : lc.attributes) {
    auto it = loc.attributes.find(k);
    if (it == loc.attributes.end() || it->second != v) return false;
  }
  if (!lc.sites.empty() && !Has(lc.sites, loc.site)) return false;
  if (!lc.providers.empty() && !Has(lc.providers, loc.provider)) return false;
  return true;
}

// Fills the condition's derived fields; returns whether its value depends on the location.
bool Finish(const Catalogue& cat, Condition* c) {
  bool by_location = false;
  if (c->kind == Condition::Kind::kLocation && c->location) {
    auto l = std::make_shared<LocationCond>(*c->location);
    l->fixed = LocationBits();
    for (size_t i = 0; i < cat.locations.size(); ++i)
      if (FixedMatch(*l, cat.locations[i], i)) l->fixed.Set(i);
    c->location = std::move(l);
    by_location = true;
  }
  // Evidence naming a country holds only at the locations in that country.
  if (c->kind == Condition::Kind::kEvidence && c->evidence && c->evidence->match_country) {
    by_location = true;
  }
  for (auto& ch : c->children) by_location |= Finish(cat, &ch);
  c->by_location = by_location;
  return by_location;
}

}  // namespace

void FinishLocationMasks(CompiledSet* set) {
  Catalogue& cat = set->catalogue;
  cat.all_locations = LocationBits();
  std::map<std::string, int> providers;
  for (size_t i = 0; i < cat.locations.size(); ++i) {
    cat.all_locations.Set(i);
    Location& loc = cat.locations[i];
    loc.provider_id =
        providers.emplace(loc.provider, static_cast<int>(providers.size())).first->second;
  }
  cat.jurisdiction_locations.assign(cat.jurisdiction_members.size(), LocationBits());
  for (size_t j = 0; j < cat.jurisdiction_members.size(); ++j) {
    for (size_t i = 0; i < cat.locations.size(); ++i) {
      int country = cat.locations[i].country;
      if (country >= 0 && cat.jurisdiction_members[j].Test(country)) {
        cat.jurisdiction_locations[j].Set(i);
      }
    }
  }
  for (auto& p : set->policies) {
    for (auto& r : p.rules) {
      Finish(cat, &r.when);
      for (auto& a : r.alternatives) Finish(cat, &a.when);
    }
    for (auto& x : p.exceptions) Finish(cat, &x.when);
  }
}

}  // namespace residency::policy_internal
