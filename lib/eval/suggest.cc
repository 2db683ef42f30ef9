// Suggested locations for a denied request: where its primary placement could go instead.
#include <array>

#include "eval/evaluator.h"

namespace residency::eval_internal {

std::vector<std::string_view> Suggest(const CompiledSet& set, const Facts& facts) {
  // A fail-closed reason other than the placement's own stays wherever it goes.
  for (const auto& fr : facts.fail)
    if (!fr.primary_location) return {};
  const auto& locs = set.catalogue.locations;
  const int current = facts.primary >= 0 ? facts.locations[facts.primary] : -1;
  // The refused placement's provider and country (an unknown location: its provider prefix).
  int provider = -1, country = -1;
  if (current >= 0) {
    provider = locs[current].provider_id;
    country = locs[current].country;
  } else {
    std::string_view name = facts.primary_name;
    size_t colon = name.find(':');
    for (const auto& l : locs) {
      if (colon != std::string_view::npos && l.provider == name.substr(0, colon)) {
        provider = l.provider_id;
        break;
      }
    }
  }
  const LocSets sets(set.catalogue.all_locations, locs.size());
  LocationBits candidates = set.catalogue.all_locations;
  if (current >= 0) {
    LocationBits here;
    here.Set(current);
    sets.Remove(here, &candidates);
  }
  LocationBits denied;
  if (!DeniedCandidates(set, facts, candidates, &denied)) return {};
  sets.Remove(denied, &candidates);
  // In the order they are suggested: same provider and country, same provider, same country,
  // the rest; catalogue order within each; at most 8.
  LocationBits same_p, same_c;
  if (provider >= 0) same_p = set.catalogue.provider_locations[provider];
  if (country >= 0) same_c = set.catalogue.jurisdiction_locations[country];
  std::array<LocationBits, 4> ranked;
  for (size_t i = 0; i < sets.words(); ++i) {
    uint64_t c = candidates.w[i], p = same_p.w[i], k = same_c.w[i];
    ranked[0].w[i] = c & p & k;
    ranked[1].w[i] = c & p & ~k;
    ranked[2].w[i] = c & ~p & k;
    ranked[3].w[i] = c & ~p & ~k;
  }
  constexpr size_t kMax = 8;
  std::array<int, kMax> chosen;
  size_t n = 0;
  for (const auto& bits : ranked) {
    for (size_t i = 0; i < sets.words() && n < kMax; ++i)
      for (uint64_t w = bits.w[i]; w && n < kMax; w &= w - 1)
        chosen[n++] = static_cast<int>(i * 64 + __builtin_ctzll(w));
  }
  std::vector<std::string_view> out(n);
  for (size_t k = 0; k < n; ++k) out[k] = locs[chosen[k]].id;
  return out;
}

}  // namespace residency::eval_internal
