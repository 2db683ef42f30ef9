// Internals of `residency diff` shared by its translation units: the canonical text of compiled
// parts and what changed (changes.cc), request profiles and their witnesses (witnesses.cc), and
// the generated space of requests (space.cc). The exploration is in diff.cc.
#ifndef RESIDENCY_LIB_DIFF_DIFF_INTERNAL_H_
#define RESIDENCY_LIB_DIFF_DIFF_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "policy/compiled_set.h"
#include "policy/condition_walk.h"
#include "residency/request.h"

namespace residency::diff_internal {

using policy_internal::ClassBits;
using policy_internal::CompiledSet;
using policy_internal::Condition;
using policy_internal::CountryBits;
using policy_internal::LocationBits;
using policy_internal::NumberBounds;
using policy_internal::Policy;
using policy_internal::Rule;

// ---------------------------------------------------------------------------------------------
// Request profiles (witnesses.cc): what a request carries besides its shape, location, class
// and origin.

struct Profile {
  std::vector<std::string> evidence;  // types, sorted, unique
  bool has_operator = false;
  std::string operator_id, operator_country;  // country empty: the origin's country
  std::vector<std::string> sectors;
  AttributeMap operator_attributes;
  bool has_recipient = false;
  std::string recipient_id, recipient_country, role;  // country empty: the location's country
  AttributeMap recipient_attributes;
  std::string transfer_type, transfer_pattern, transaction;
  std::string purpose, use_case, tier, job, provenance;
  std::optional<double> subjects, sensitive_subjects, cumulative_subjects, training_flops,
      retention_hours;

  std::string Key() const {
    auto attrs = [](const AttributeMap& m) {
      std::string out;
      for (const auto& [k, v] : m) absl::StrAppend(&out, k, "=", v, ",");
      return out;
    };
    auto opt = [](const std::optional<double>& v) {
      return v ? policy_internal::CanonNumber(*v) : std::string("-");
    };
    return absl::StrCat(policy_internal::CanonStrings(evidence), "|", has_operator, operator_id,
                        "/", operator_country, "/", policy_internal::CanonStrings(sectors), "/",
                        attrs(operator_attributes), "|", has_recipient, recipient_id, "/",
                        recipient_country, "/", role, "/", attrs(recipient_attributes), "|",
                        transfer_type, "/", transfer_pattern, "/", transaction, "|", purpose, "/",
                        use_case, "/", tier, "/", job, "/", provenance, "|", opt(subjects), "/",
                        opt(sensitive_subjects), "/", opt(cumulative_subjects), "/",
                        opt(training_flops), "/", opt(retention_hours));
  }
};

// Profiles that make the rule apply, and each of its alternatives and exceptions hold.
std::vector<Profile> RuleWitnesses(const Policy& p, int rule_index);

// The first country of `b` in ISO order; empty when none.
std::string FirstCountry(const CountryBits& b);

// ---------------------------------------------------------------------------------------------
// Features: what part of a request a rule looks at, and what part a profile sets. A profile is
// combined only with the classes and origins of the rules that look at something it sets.

using Features = std::set<std::string>;

// What a condition (a leaf) looks at, added to *f.
void AddLeafFeatures(const Condition& c, Features* f);
// What a profile sets.
Features ProfileFeatures(const Profile& pr);
// True when `a` and `b` have a feature in common.
bool Intersect(const Features& a, const Features& b);

// ---------------------------------------------------------------------------------------------
// What changed between the two sets (changes.cc).

struct RuleRef {
  int set;  // 0 old, 1 new
  int policy;
  int rule;
};

struct Changes {
  std::vector<std::string> lines;
  bool global = false;              // something changed that no part below names
  std::set<std::string> locations;  // catalogue locations added, removed or changed
  std::set<std::string> classes;    // data classes added, removed or re-parented
  std::set<std::string> groups;     // catalogue groups added, removed or changed
  std::vector<RuleRef> rules;       // rules to explore first (both versions)
};

// Compares the two sets part by part.
Changes FindChanges(const CompiledSet& a, const CompiledSet& b);

// ---------------------------------------------------------------------------------------------
// The generated space.

enum class Shape : uint8_t { kDatasetStore, kDatasetTransfer, kModelDeploy, kTraining, kInference };
constexpr int kShapes = 5;

enum NumberField { kSubjects, kSensitive, kCumulative, kFlops, kRetention, kNumberFields };

struct Atom {
  std::vector<std::string> members;  // members[0] is the representative
};

struct Origin {
  std::string name;     // as written in requests: a country code or a group
  std::string country;  // a country within it (the operator's country in sector profiles)
  std::string home;     // a catalogue location within it, or empty
  bool known[2] = {false, false};
  CountryBits bits[2];
};

struct SetInfo {
  const CompiledSet* set = nullptr;
  std::vector<LocationBits> location_sets;  // every location set a condition or list tests
  std::vector<ClassBits> class_sets;        // every class set a tag pattern, lift or ignore tests
  std::set<std::string> certifications;     // location certifications a condition requires
  std::set<std::string> attributes;         // location attribute keys a condition tests
  std::set<std::string> sites, providers;   // location sites / providers a condition names
};

class Space {
 public:
  Space(const CompiledSet& a, const CompiledSet& b);

  const CompiledSet& set(int i) const { return *info_[i].set; }
  const std::vector<std::string>& locations() const { return locations_; }
  const std::vector<Atom>& location_atoms() const { return loc_atoms_; }
  const std::vector<Atom>& class_atoms() const { return class_atoms_; }
  const std::vector<Origin>& origins() const { return origins_; }
  const std::vector<Profile>& profiles() const { return profiles_; }
  int location_atom_of(const std::string& id) const {
    auto it = loc_atom_of_.find(id);
    return it == loc_atom_of_.end() ? -1 : it->second;
  }

  // Index of each profile a focus rule calls for: its witnesses, the evidence types and sectors
  // it tests (and its policy's scope sectors), always with the empty profile first.
  std::vector<size_t> FocusProfiles(const std::vector<RuleRef>& rules) const;

  // The (class atom, origin) pairs explored with profile p: all for the empty profile, else
  // those of the rules that look at something the profile sets.
  const std::vector<bool>& profile_pairs(size_t p) const { return profile_pairs_[p]; }

  // relevant[c * origins + o]: some focus rule's `when` can hold for a tag of class atom c and
  // origin o (tags decide it only in part; the rest is left open).
  std::vector<bool> FocusPairs(const std::vector<RuleRef>& rules) const;

  // The (class atom, origin) pairs for which `cond` of set `si` can hold as far as tags decide.
  std::vector<bool> CondPairs(int si, const Condition& cond) const;

  Request Build(size_t l, size_t c, size_t o, int shape, size_t p, absl::Time now) const;

 private:
  using Tri = policy_internal::Tri;

  static Tri Partial(const Condition& c, const ClassBits& anc, const CountryBits& origin);

  static Profile EvidenceProfile(const std::string& type);
  static Profile SectorProfile(const std::string& sector);

  void BuildLocations();
  void BuildClasses();

  // Splits a country set into the catalogue groups (of two or more countries) it covers, largest
  // first, and the remaining countries.
  std::vector<std::string> Decompose(const CompiledSet& s, const CountryBits& bits) const;

  std::string CountryOfLocation(const std::string& id) const;

  void BuildOrigins();

  // The first country in catalogue order within group `name` (else its first member).
  std::string GroupCountry(const std::string& name) const;

  void BuildProfiles();

  // Each rule contributes units: its `when` (with its policy's scope and lifts), and its `when`
  // with each alternative and each exception naming it. A profile is combined with the pairs of
  // the units that look at something it sets.
  void BuildProfilePairs();

  SetInfo info_[2];
  std::vector<std::vector<bool>> profile_pairs_;
  std::vector<std::string> locations_;
  std::vector<Atom> loc_atoms_;
  absl::flat_hash_map<std::string, int> loc_atom_of_;
  std::vector<Atom> class_atoms_;
  std::vector<Origin> origins_;
  std::vector<Profile> profiles_;
  std::map<std::string, size_t> profile_index_;
  bool numbers_[kNumberFields] = {false, false, false, false, false};
  // Every `covers` value a condition asks for: a witness's evidence says it authorises them all.
  std::vector<std::string> covers_;
};

}  // namespace residency::diff_internal

#endif  // RESIDENCY_LIB_DIFF_DIFF_INTERNAL_H_
