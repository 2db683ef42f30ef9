// What the evaluator derives from a compiled policy set once, before it is shared: location
// sets (a location condition becomes bit operations, at one location or at every catalogue
// location at once), evidence type ids, dated list segments, rule flags.
#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "policy/compiled_set.h"
#include "policy/condition_walk.h"

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

int TypeId(CompiledSet* set, const std::string& type) {
  return set->evidence_types.emplace(type, static_cast<int>(set->evidence_types.size()))
      .first->second;
}

std::vector<int> TypeIds(CompiledSet* set, const std::vector<std::string>& types) {
  std::vector<int> ids;
  for (const auto& t : types) ids.push_back(TypeId(set, t));
  return ids;
}

// Distinct location sets (their words), for the location classes.
using LocationSplits = std::set<decltype(LocationBits::w)>;

// Fills the condition's derived fields; returns whether its value depends on the location. Adds
// to *splits the location set of each location condition.
bool Finish(CompiledSet* set, Condition* c, LocationSplits* splits) {
  const Catalogue& cat = set->catalogue;
  if (c->kind == Condition::Kind::kLocation && c->location) {
    auto l = std::make_shared<LocationCond>(*c->location);
    l->fixed = LocationBits();
    for (size_t i = 0; i < cat.locations.size(); ++i)
      if (FixedMatch(*l, cat.locations[i], i)) l->fixed.Set(i);
    splits->insert(l->fixed.w);
    // Own premises depend on who controls each location: every controller's sites apart.
    if (l->own_premises) {
      for (const auto& [controller, bits] : cat.controller_locations) splits->insert(bits.w);
    }
    c->location = std::move(l);
  }
  if (c->kind == Condition::Kind::kEvidence && c->evidence) {
    auto e = std::make_shared<EvidenceCond>(*c->evidence);
    e->type_ids = TypeIds(set, e->types);
    c->evidence = std::move(e);
  }
  bool by_location = DependsOnLocation(*c);
  for (auto& ch : c->children) by_location |= Finish(set, &ch, splits);
  c->by_location = by_location;
  return by_location;
}

// What a rule's top-level `kind`, `job` and `artifact` conditions admit (all of a rule's
// top-level conditions must hold): bits by request kind (dataset, model, compute) and by unit
// artifact (dataset, model, prompt). Only exact exclusions: a model's artifact is one of the
// model artifact types, never `dataset` or `prompt` (Evaluate checks it).
void Admits(const Rule& r, uint8_t* kinds, uint8_t* artifacts) {
  *kinds = 0b111;
  *artifacts = 0b111;
  for (const Condition& cond : TopLevelConditions(r.when)) {
    const Condition* c = &cond;
    if (c->kind != Condition::Kind::kValues) continue;
    if (c->field == Field::kKind) {
      uint8_t mask = 0;
      if (Has(c->values, "dataset")) mask |= 1;
      if (Has(c->values, "model")) mask |= 2;
      if (Has(c->values, "compute")) mask |= 4;
      *kinds &= mask;
    } else if (c->field == Field::kJob) {
      *kinds &= 4;  // only a compute request has a job
    } else if (c->field == Field::kArtifact) {
      uint8_t mask = 0;
      for (const auto& v : c->values) mask |= v == "dataset" ? 1 : v == "prompt" ? 4 : 2;
      *artifacts &= mask;
    }
  }
}

void BuildSlotIndex(Policy* p) {
  // Request kind and unit artifact bit of each slot.
  static constexpr uint8_t kSlotKind[5] = {1, 2, 4, 4, 4};
  static constexpr uint8_t kSlotArtifact[5] = {1, 2, 1, 2, 4};
  std::vector<uint8_t> kinds(p->rules.size()), artifacts(p->rules.size());
  for (size_t i = 0; i < p->rules.size(); ++i) Admits(p->rules[i], &kinds[i], &artifacts[i]);
  for (int slot = 0; slot < 5; ++slot) {
    auto& by_class = p->rules_by_slot[slot];
    by_class.assign(p->rules_by_class.size(), {});
    for (size_t c = 0; c < p->rules_by_class.size(); ++c) {
      for (uint32_t ri : p->rules_by_class[c]) {
        if ((kinds[ri] & kSlotKind[slot]) && (artifacts[ri] & kSlotArtifact[slot])) {
          by_class[c].push_back(ri);
        }
      }
      by_class[c].shrink_to_fit();
    }
  }
  for (int k = 0; k < 3; ++k) {
    p->request_rules_by_kind[k].clear();
    for (uint32_t ri : p->request_rules)
      if (kinds[ri] & (1 << k)) p->request_rules_by_kind[k].push_back(ri);
  }
}

// The list's location set between each two dates at which an entry that names locations starts
// or ends: a sweep over those dates with a count of active entries per location, so that the
// cost is linear in the entries (plus one set per date), however many dates they have.
void FinishList(NamedList* l) {
  struct Event {
    absl::Time at;
    int delta;  // +1: the entry starts; -1: it ends
    const ListEntry* entry;
  };
  std::vector<Event> events;
  LocationBits undated;  // entries active at every date
  for (const auto& e : l->entries) {
    if (!e.locations.Any()) continue;
    if (e.from && e.until && *e.until <= *e.from) continue;  // never active
    if (!e.from && !e.until) {
      undated |= e.locations;
      continue;
    }
    // An entry with no start is active from the first segment on.
    events.push_back({e.from ? *e.from : absl::InfinitePast(), +1, &e});
    if (e.until) events.push_back({*e.until, -1, &e});
  }
  std::sort(events.begin(), events.end(),
            [](const Event& a, const Event& b) { return a.at < b.at; });
  l->changes.clear();
  l->locations_at.clear();
  std::vector<uint32_t> active(LocationBits::kCapacity, 0);
  LocationBits current;  // locations with an active dated entry
  auto apply = [&](const Event& ev) {
    const LocationBits& bits = ev.entry->locations;
    for (size_t w = 0; w < bits.w.size(); ++w) {
      for (uint64_t x = bits.w[w]; x; x &= x - 1) {
        size_t i = w * 64 + __builtin_ctzll(x);
        if (ev.delta > 0 ? active[i]++ == 0 : --active[i] == 0) {
          current.w[w] ^= uint64_t{1} << (i & 63);
        }
      }
    }
  };
  size_t k = 0;
  // Segment 0 (before every date): the undated entries and those without a start.
  while (k < events.size() && events[k].at == absl::InfinitePast()) apply(events[k++]);
  l->locations_at.push_back(current);
  l->locations_at.back() |= undated;
  while (k < events.size()) {
    const absl::Time at = events[k].at;
    while (k < events.size() && events[k].at == at) apply(events[k++]);
    l->changes.push_back(at);
    l->locations_at.push_back(current);
    l->locations_at.back() |= undated;
  }
}

}  // namespace

void FinishDerived(CompiledSet* set) {
  Catalogue& cat = set->catalogue;
  cat.all_locations = LocationBits();
  cat.reserved_locations = LocationBits();
  std::map<std::string, int> providers;
  for (size_t i = 0; i < cat.locations.size(); ++i) {
    cat.all_locations.Set(i);
    Location& loc = cat.locations[i];
    loc.provider_id =
        providers.emplace(loc.provider, static_cast<int>(providers.size())).first->second;
    loc.reserved_for.clear();
    if (loc.site == "gov" || loc.site == "fin") {
      loc.reserved_for = absl::AsciiStrToLower(loc.country_code);
      loc.reserved_for += loc.site == "gov" ? "_public" : "_financial";
      cat.reserved_locations.Set(i);
    }
  }
  cat.provider_locations.assign(providers.size(), LocationBits());
  for (size_t i = 0; i < cat.locations.size(); ++i)
    cat.provider_locations[cat.locations[i].provider_id].Set(i);
  cat.controller_locations.clear();
  for (size_t i = 0; i < cat.locations.size(); ++i) {
    if (!cat.locations[i].controller.empty()) {
      cat.controller_locations[cat.locations[i].controller].Set(i);
    }
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
  LocationSplits splits;  // every location set a condition or list tells apart, once
  set->evidence_types.clear();
  set->evidence_spec_by_type.clear();
  set->attestation_type = TypeId(set, "anonymization_attestation");
  auto class_id = [&](const char* name) {
    auto it = set->class_index.find(name);
    return it == set->class_index.end() ? -1 : it->second;
  };
  set->anonymized_class = class_id("anonymized");
  set->pseudonymized_class = class_id("pseudonymized");
  for (auto& p : set->policies) {
    p.scope.location_mask = LocationBits();
    for (size_t i = 0; p.scope.has_locations && i < cat.locations.size(); ++i) {
      const int country = cat.locations[i].country;
      if (country >= 0 && p.scope.locations.Test(country)) p.scope.location_mask.Set(i);
    }
    for (auto& l : p.lifts) {
      l.evidence_type_ids = TypeIds(set, l.evidence_types);
      l.datasets = Has(l.artifacts, "dataset");
      l.models = Has(l.artifacts, "model");
    }
    for (auto& ig : p.ignores) ig.type_ids = TypeIds(set, ig.types);
    for (const auto& spec : p.evidence_specs) {
      const int id = TypeId(set, spec.type);
      if (set->evidence_spec_by_type.size() <= static_cast<size_t>(id)) {
        set->evidence_spec_by_type.resize(id + 1);
      }
      set->evidence_spec_by_type[id] = spec;
    }
    for (auto& l : p.lists) FinishList(&l);
    BuildSlotIndex(&p);
    auto& order = p.obligation_order;
    order.resize(p.obligations.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return p.obligations[a].id < p.obligations[b].id; });
    p.obligation_rank.assign(order.size(), 0);
    for (size_t k = 0; k < order.size(); ++k) p.obligation_rank[order[k]] = static_cast<int>(k);
    for (auto& x : p.exceptions) Finish(set, &x.when, &splits);
    for (size_t ri = 0; ri < p.rules.size(); ++ri) {
      Rule& r = p.rules[ri];
      r.corp = r.basis == "corp";
      r.by_location = Finish(set, &r.when, &splits);
      r.top_location = nullptr;
      for (const Condition& c : TopLevelConditions(r.when)) {
        if (c.kind == Condition::Kind::kLocation) {
          r.top_location = c.location.get();
          break;
        }
      }
      for (auto& a : r.alternatives) r.by_location |= Finish(set, &a.when, &splits);
      if (r.corp) {
        for (const auto& x : p.exceptions) {
          if (x.when.by_location && ExceptionNames(x, static_cast<int>(ri))) {
            r.by_location = true;
          }
        }
      }
    }
    for (const auto& l : p.lists)
      for (const auto& at : l.locations_at) splits.insert(at.w);
  }
  // Location classes: the rules read a location only through its country and through these sets
  // (a condition's fixed part, a list at some date), so two locations alike in all of them are
  // decided alike for every request and every `now`.
  std::map<std::pair<int, std::vector<bool>>, int> classes;
  cat.location_class.assign(cat.locations.size(), 0);
  for (size_t i = 0; i < cat.locations.size(); ++i) {
    std::vector<bool> in;
    in.reserve(splits.size());
    for (const auto& w : splits) in.push_back((w[i / 64] >> (i % 64)) & 1);
    auto key = std::make_pair(cat.locations[i].country, std::move(in));
    cat.location_class[i] =
        classes.emplace(std::move(key), static_cast<int>(classes.size())).first->second;
  }
  cat.location_class_count = static_cast<int>(classes.size());
}

}  // namespace residency::policy_internal
