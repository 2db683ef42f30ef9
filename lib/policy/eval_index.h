// What evaluation reads besides the compiled set: the location sets, slot indexes and dated list
// segments derived from a CompiledSet once (BuildEvalIndex), before it is shared. The compiled
// set holds only what the compiler writes; a PolicySnapshot owns both, so the index's pointers
// into the set stay valid as long as the index.
#ifndef RESIDENCY_LIB_POLICY_EVAL_INDEX_H_
#define RESIDENCY_LIB_POLICY_EVAL_INDEX_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "policy/compiled_set.h"

namespace residency::policy_internal {

// The (request kind, unit artifact) pairs a tag unit can have: a dataset request has dataset
// units, a model request model units, a compute request dataset, model and prompt units.
enum UnitSlot : int {
  kSlotDatasetRequest = 0,
  kSlotModelRequest = 1,
  kSlotComputeDataset = 2,
  kSlotComputeModel = 3,
  kSlotComputePrompt = 4,
};

// What the index knows of one condition node (by Condition::id).
struct ConditionFacts {
  // The value can differ between two catalogue locations (the condition is or contains a
  // location condition or evidence that must name the location's country).
  bool by_location = false;
  // A location condition: the locations that satisfy every part of it that depends on the
  // location alone (in, not_in, certifications, attributes, sites, providers); its dated lists,
  // `outside_origin` (per tag) and `own_premises` (per request) are checked at evaluation.
  // Null for every other kind.
  const LocationBits* fixed = nullptr;
};

struct RuleFacts {
  // The rule has `effective_from` or `effective_until` (Rule::from, until): check them.
  bool dated = false;
  // The rule's result can differ between two locations (its condition, an alternative's, or
  // for a corp rule an exception's that names it).
  bool by_location = true;
  // The location condition among the top-level conditions of `when`, if any (all of them must
  // hold, so where it is false the rule does not apply), and its fixed set (ConditionFacts).
  const LocationCond* top_location = nullptr;
  const LocationBits* top_fixed = nullptr;
};

// A named list's locations by date: the dates at which an entry that names locations starts or
// ends, sorted and unique, and the union of the entries' locations between them:
// `locations_at[k]` holds from `changes[k-1]` (inclusive) to `changes[k]` (exclusive);
// `changes.size() + 1` sets.
struct DatedLocations {
  std::vector<absl::Time> changes;
  std::vector<LocationBits> locations_at;
};

// The index into `list.locations_at` of the segment that holds at `now` (inline: the evaluator
// asks for it at every location condition on a list).
inline size_t ListSegment(const DatedLocations& list, absl::Time now) {
  return std::upper_bound(list.changes.begin(), list.changes.end(), now) - list.changes.begin();
}

struct PolicyIndex {
  // The catalogue locations within the scope's `locations` countries.
  LocationBits scope_locations;
  std::vector<DatedLocations> lists;  // by Policy::lists index
  std::vector<RuleFacts> rules;       // by Policy::rules index
  // Policy::rules_by_class narrowed by the request's kind and the unit's artifact (UnitSlot),
  // using each rule's top-level `kind`, `job` and `artifact` conditions: a rule left out of a
  // slot's list cannot apply to a unit of that slot.
  std::array<std::vector<std::vector<uint32_t>>, 5> rules_by_slot;
  std::array<std::vector<uint32_t>, 3> request_rules_by_kind;  // by Request::Kind
};

struct EvalIndex {
  EvalIndex() = default;
  // Holds pointers into its own vectors: moved, never copied.
  EvalIndex(const EvalIndex&) = delete;
  EvalIndex& operator=(const EvalIndex&) = delete;
  EvalIndex(EvalIndex&&) = default;
  EvalIndex& operator=(EvalIndex&&) = default;

  // The catalogue's locations as sets.
  LocationBits all_locations;
  std::vector<LocationBits> jurisdiction_locations;  // by jurisdiction index
  std::vector<int> provider_of;                      // by location: equal for one provider
  std::vector<LocationBits> provider_locations;      // by provider_of value
  // By location: the operator sector a sector cloud is built for, `<cc>_public` for a `gov`
  // site and `<cc>_financial` for a `fin` site (cc: its country, lower case); empty for every
  // other site.
  std::vector<std::string> reserved_for;
  LocationBits reserved_locations;  // those with a `reserved_for` sector
  absl::flat_hash_map<std::string, LocationBits> controller_locations;  // by controller id
  // Locations in one class have the same country and are alike in every location condition
  // and dated list of the policy set, so every request is decided alike at each of them (at
  // any `now`).
  std::vector<int> location_class;
  int location_class_count = 0;

  std::vector<ConditionFacts> conditions;  // by Condition::id
  std::vector<LocationBits> fixed;         // what ConditionFacts::fixed points to
  std::vector<PolicyIndex> policies;       // by CompiledSet::policies index
};

// Builds the index of a compiled set; the set must outlive it and not change.
EvalIndex BuildEvalIndex(const CompiledSet& set);

}  // namespace residency::policy_internal

#endif  // RESIDENCY_LIB_POLICY_EVAL_INDEX_H_
