// Suggested locations for a denied request: where its primary placement could go instead. The
// order and the sector-cloud rule are shared with AllowedLocations (where.cc).
#include <algorithm>
#include <array>

#include "eval/evaluator.h"

namespace residency::eval_internal {

void RemoveReservedSites(const EvalIndex& ix, const std::optional<Party>& op,
                         LocationBits* candidates) {
  LocationBits closed = ix.reserved_locations;
  if (op && !op->sectors.empty()) {
    for (size_t i = 0; i < closed.w.size(); ++i) {
      for (uint64_t w = closed.w[i]; w; w &= w - 1) {
        const size_t k = i * 64 + __builtin_ctzll(w);
        const std::string& sector = ix.reserved_for[k];
        if (std::find(op->sectors.begin(), op->sectors.end(), sector) != op->sectors.end()) {
          closed.w[i] &= ~(uint64_t{1} << (k % 64));
        }
      }
    }
  }
  candidates->Remove(closed);
}

LocationOrder SuggestionOrder(const Catalogue& cat, const EvalIndex& ix, int placement,
                              std::string_view name, const LocationBits& candidates, size_t max) {
  // The placement's provider and country (an unknown location: its provider prefix).
  int provider = -1, country = -1;
  if (placement >= 0) {
    provider = ix.provider_of[placement];
    country = cat.locations[placement].country;
  } else if (size_t colon = name.find(':'); colon != std::string_view::npos) {
    for (size_t i = 0; i < cat.locations.size(); ++i) {
      if (cat.locations[i].provider == name.substr(0, colon)) {
        provider = ix.provider_of[i];
        break;
      }
    }
  }
  LocationBits same_p, same_c;
  if (provider >= 0) same_p = ix.provider_locations[provider];
  if (country >= 0) same_c = ix.jurisdiction_locations[country];
  std::array<LocationBits, 4> ranked;
  const size_t words = (cat.locations.size() + 63) / 64;
  for (size_t i = 0; i < words; ++i) {
    uint64_t c = candidates.w[i], p = same_p.w[i], k = same_c.w[i];
    ranked[0].w[i] = c & p & k;
    ranked[1].w[i] = c & p & ~k;
    ranked[2].w[i] = c & ~p & k;
    ranked[3].w[i] = c & ~p & ~k;
  }
  LocationOrder out;
  for (const auto& bits : ranked) {
    for (size_t i = 0; i < words && out.size() < max; ++i) {
      for (uint64_t w = bits.w[i]; w && out.size() < max; w &= w - 1)
        out.push_back(static_cast<int>(i * 64 + __builtin_ctzll(w)));
    }
  }
  return out;
}

std::vector<std::string_view> Suggest(const PolicySnapshot& s, const Facts& facts) {
  const CompiledSet& set = s.impl();
  // A fail-closed reason other than the placement's own stays wherever it goes.
  for (const auto& fr : facts.fail)
    if (!fr.primary_location) return {};
  const auto& locs = set.catalogue.locations;
  const int current = facts.primary >= 0 ? facts.locations[facts.primary] : -1;
  LocationBits candidates = s.index().all_locations;
  if (current >= 0) {
    LocationBits here;
    here.Set(current);
    candidates.Remove(here);
  }
  RemoveReservedSites(s.index(), facts.request->operator_party, &candidates);
  LocationBits denied;
  if (!DeniedCandidates(s, facts, candidates, &denied)) return {};
  candidates.Remove(denied);
  constexpr size_t kMax = 8;
  LocationOrder chosen =
      SuggestionOrder(set.catalogue, s.index(), current, facts.primary_name, candidates, kMax);
  std::vector<std::string_view> out(chosen.size());
  for (size_t k = 0; k < chosen.size(); ++k) out[k] = locs[chosen[k]].id;
  return out;
}

}  // namespace residency::eval_internal
