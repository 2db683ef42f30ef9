// The evaluation index of a compiled set (eval_index.h): location sets (a location condition
// becomes bit operations, at one location or at every catalogue location at once), dated list
// segments, the rules by request kind and unit artifact, rule flags, location classes.
#include "policy/eval_index.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
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

// Distinct location sets (their words), for the location classes.
using LocationSplits = std::set<decltype(LocationBits::w)>;

class Builder {
 public:
  Builder(const CompiledSet& set, EvalIndex* ix) : set_(set), cat_(set.catalogue), ix_(*ix) {}

  void Run();

 private:
  void IndexCatalogue();
  void Fixed(const Condition& c);
  bool Finish(const Condition& c);
  void IndexPolicy(const Policy& p, PolicyIndex* pi);
  void LocationClasses();

  const CompiledSet& set_;
  const Catalogue& cat_;
  EvalIndex& ix_;
  std::vector<int> fixed_of_;  // by condition id: index into ix_.fixed, or -1
  LocationSplits splits_;      // every location set a condition or list tells apart, once
};

void Builder::IndexCatalogue() {
  const size_t n = cat_.locations.size();
  std::map<std::string, int> providers;
  ix_.provider_of.assign(n, -1);
  ix_.reserved_for.assign(n, std::string());
  for (size_t i = 0; i < n; ++i) {
    ix_.all_locations.Set(i);
    const Location& loc = cat_.locations[i];
    ix_.provider_of[i] =
        providers.emplace(loc.provider, static_cast<int>(providers.size())).first->second;
    if (loc.site == "gov" || loc.site == "fin") {
      ix_.reserved_for[i] = absl::AsciiStrToLower(loc.country_code);
      ix_.reserved_for[i] += loc.site == "gov" ? "_public" : "_financial";
      ix_.reserved_locations.Set(i);
    }
    if (!loc.controller.empty()) ix_.controller_locations[loc.controller].Set(i);
  }
  ix_.provider_locations.assign(providers.size(), LocationBits());
  for (size_t i = 0; i < n; ++i) ix_.provider_locations[ix_.provider_of[i]].Set(i);
  ix_.jurisdiction_locations.assign(cat_.jurisdiction_members.size(), LocationBits());
  for (size_t j = 0; j < cat_.jurisdiction_members.size(); ++j) {
    for (size_t i = 0; i < n; ++i) {
      const int country = cat_.locations[i].country;
      if (country >= 0 && cat_.jurisdiction_members[j].Test(country)) {
        ix_.jurisdiction_locations[j].Set(i);
      }
    }
  }
}

// The fixed set of each location condition under `c`; every controller's sites apart when one
// asks for the operator's own premises (they depend on who controls each location).
void Builder::Fixed(const Condition& c) {
  ForEachCondition(c, [&](const Condition& n, int) {
    if (n.kind != Condition::Kind::kLocation || !n.location) return;
    LocationBits fixed;
    for (size_t i = 0; i < cat_.locations.size(); ++i)
      if (FixedMatch(*n.location, cat_.locations[i], i)) fixed.Set(i);
    splits_.insert(fixed.w);
    if (n.location->own_premises) {
      for (const auto& [controller, bits] : ix_.controller_locations) splits_.insert(bits.w);
    }
    fixed_of_[n.id] = static_cast<int>(ix_.fixed.size());
    ix_.fixed.push_back(fixed);
  });
}

// Fills ConditionFacts::by_location under `c`; returns `c`'s.
bool Builder::Finish(const Condition& c) {
  bool by_location = DependsOnLocation(c);
  for (const auto& ch : c.children) by_location |= Finish(ch);
  ix_.conditions[c.id].by_location = by_location;
  return by_location;
}

// What a rule's top-level `kind`, `job` and `artifact` conditions admit (all of a rule's
// top-level conditions must hold): bits by request kind (dataset, model, compute) and by unit
// artifact (dataset, model, prompt). Only exact exclusions: a model's artifact is one of the
// model artifact types, never `dataset` or `prompt` (Evaluate checks it).
void Admits(const Rule& r, uint8_t* kinds, uint8_t* artifacts) {
  *kinds = 0b111;
  *artifacts = 0b111;
  for (const Condition& c : TopLevelConditions(r.when)) {
    if (c.kind != Condition::Kind::kValues) continue;
    if (c.field == Field::kKind) {
      uint8_t mask = 0;
      if (Has(c.values, "dataset")) mask |= 1;
      if (Has(c.values, "model")) mask |= 2;
      if (Has(c.values, "compute")) mask |= 4;
      *kinds &= mask;
    } else if (c.field == Field::kJob) {
      *kinds &= 4;  // only a compute request has a job
    } else if (c.field == Field::kArtifact) {
      uint8_t mask = 0;
      for (const auto& v : c.values) mask |= v == "dataset" ? 1 : v == "prompt" ? 4 : 2;
      *artifacts &= mask;
    }
  }
}

void BuildSlotIndex(const Policy& p, PolicyIndex* pi) {
  // Request kind and unit artifact bit of each slot.
  static constexpr uint8_t kSlotKind[5] = {1, 2, 4, 4, 4};
  static constexpr uint8_t kSlotArtifact[5] = {1, 2, 1, 2, 4};
  std::vector<uint8_t> kinds(p.rules.size()), artifacts(p.rules.size());
  for (size_t i = 0; i < p.rules.size(); ++i) Admits(p.rules[i], &kinds[i], &artifacts[i]);
  for (int slot = 0; slot < 5; ++slot) {
    auto& by_class = pi->rules_by_slot[slot];
    by_class.assign(p.rules_by_class.size(), {});
    for (size_t c = 0; c < p.rules_by_class.size(); ++c) {
      for (uint32_t ri : p.rules_by_class[c]) {
        if ((kinds[ri] & kSlotKind[slot]) && (artifacts[ri] & kSlotArtifact[slot])) {
          by_class[c].push_back(ri);
        }
      }
      by_class[c].shrink_to_fit();
    }
  }
  for (int k = 0; k < 3; ++k) {
    for (uint32_t ri : p.request_rules)
      if (kinds[ri] & (1 << k)) pi->request_rules_by_kind[k].push_back(ri);
  }
}

// The list's location set between each two dates at which an entry that names locations starts
// or ends: a sweep over those dates with a count of active entries per location, so that the
// cost is linear in the entries (plus one set per date), however many dates they have.
DatedLocations DateList(const NamedList& l) {
  struct Event {
    absl::Time at;
    int delta;  // +1: the entry starts; -1: it ends
    const ListEntry* entry;
  };
  std::vector<Event> events;
  LocationBits undated;  // entries active at every date
  for (const auto& e : l.entries) {
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
  DatedLocations out;
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
  out.locations_at.push_back(current);
  out.locations_at.back() |= undated;
  while (k < events.size()) {
    const absl::Time at = events[k].at;
    while (k < events.size() && events[k].at == at) apply(events[k++]);
    out.changes.push_back(at);
    out.locations_at.push_back(current);
    out.locations_at.back() |= undated;
  }
  return out;
}

void Builder::IndexPolicy(const Policy& p, PolicyIndex* pi) {
  for (size_t i = 0; p.scope.has_locations && i < cat_.locations.size(); ++i) {
    const int country = cat_.locations[i].country;
    if (country >= 0 && p.scope.locations.Test(country)) pi->scope_locations.Set(i);
  }
  pi->lists.reserve(p.lists.size());
  for (const auto& l : p.lists) pi->lists.push_back(DateList(l));
  BuildSlotIndex(p, pi);
  for (const auto& x : p.exceptions) Finish(x.when);
  pi->rules.resize(p.rules.size());
  for (size_t ri = 0; ri < p.rules.size(); ++ri) {
    const Rule& r = p.rules[ri];
    RuleFacts& rf = pi->rules[ri];
    rf.dated = r.from.has_value() || r.until.has_value();
    rf.by_location = Finish(r.when);
    for (const Condition& c : TopLevelConditions(r.when)) {
      if (c.kind == Condition::Kind::kLocation) {
        rf.top_location = c.location.get();
        rf.top_fixed = ix_.conditions[c.id].fixed;
        break;
      }
    }
    for (const auto& a : r.alternatives) rf.by_location |= Finish(a.when);
    if (r.corp) {
      for (const auto& x : p.exceptions) {
        if (ix_.conditions[x.when.id].by_location && ExceptionNames(x, static_cast<int>(ri))) {
          rf.by_location = true;
        }
      }
    }
  }
  for (const auto& l : pi->lists)
    for (const auto& at : l.locations_at) splits_.insert(at.w);
}

// The rules read a location only through its country and through the sets told apart (a
// condition's fixed part, a list at some date), so two locations alike in all of them are
// decided alike for every request and every `now`.
void Builder::LocationClasses() {
  std::map<std::pair<int, std::vector<bool>>, int> classes;
  ix_.location_class.assign(cat_.locations.size(), 0);
  for (size_t i = 0; i < cat_.locations.size(); ++i) {
    std::vector<bool> in;
    in.reserve(splits_.size());
    for (const auto& w : splits_) in.push_back((w[i / 64] >> (i % 64)) & 1);
    auto key = std::make_pair(cat_.locations[i].country, std::move(in));
    ix_.location_class[i] =
        classes.emplace(std::move(key), static_cast<int>(classes.size())).first->second;
  }
  ix_.location_class_count = static_cast<int>(classes.size());
}

void Builder::Run() {
  IndexCatalogue();
  ix_.conditions.assign(set_.condition_count, ConditionFacts());
  fixed_of_.assign(set_.condition_count, -1);
  auto each_when = [&](auto f) {
    for (const auto& p : set_.policies) {
      for (const auto& x : p.exceptions) f(x.when);
      for (const auto& r : p.rules) {
        f(r.when);
        for (const auto& a : r.alternatives) f(a.when);
      }
    }
  };
  each_when([&](const Condition& when) { Fixed(when); });
  // ix_.fixed is complete: its elements stay where they are from here on.
  for (size_t id = 0; id < fixed_of_.size(); ++id) {
    if (fixed_of_[id] >= 0) ix_.conditions[id].fixed = &ix_.fixed[fixed_of_[id]];
  }
  ix_.policies.resize(set_.policies.size());
  for (size_t i = 0; i < set_.policies.size(); ++i) IndexPolicy(set_.policies[i], &ix_.policies[i]);
  LocationClasses();
}

}  // namespace

EvalIndex BuildEvalIndex(const CompiledSet& set) {
  EvalIndex ix;
  Builder(set, &ix).Run();
  return ix;
}

}  // namespace residency::policy_internal
