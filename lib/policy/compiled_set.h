// The compiled, immutable form of a policy set: catalogue, class vocabulary, policies with their
// rules compiled to bitsets and indexes. Written by the compiler only; what evaluation derives
// from it (location sets, slot indexes, dated list segments) is its EvalIndex (eval_index.h).
#ifndef RESIDENCY_LIB_POLICY_COMPILED_SET_H_
#define RESIDENCY_LIB_POLICY_COMPILED_SET_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "re2/re2.h"
#include "residency/decision.h"
#include "residency/policy.h"

namespace residency::policy_internal {

// Fixed-size bitset with the operations the evaluator needs.
template <size_t W>
struct Bits {
  std::array<uint64_t, W> w{};
  static constexpr size_t kCapacity = W * 64;
  void Set(size_t i) { w[i >> 6] |= uint64_t{1} << (i & 63); }
  bool Test(size_t i) const { return (w[i >> 6] >> (i & 63)) & 1; }
  bool Any() const {
    for (uint64_t x : w)
      if (x) return true;
    return false;
  }
  bool Intersects(const Bits& o) const {
    for (size_t i = 0; i < W; ++i)
      if (w[i] & o.w[i]) return true;
    return false;
  }
  bool SubsetOf(const Bits& o) const {
    for (size_t i = 0; i < W; ++i)
      if (w[i] & ~o.w[i]) return false;
    return true;
  }
  Bits& operator|=(const Bits& o) {
    for (size_t i = 0; i < W; ++i) w[i] |= o.w[i];
    return *this;
  }
  Bits& operator&=(const Bits& o) {
    for (size_t i = 0; i < W; ++i) w[i] &= o.w[i];
    return *this;
  }
  // Clears every bit set in `o`.
  Bits& Remove(const Bits& o) {
    for (size_t i = 0; i < W; ++i) w[i] &= ~o.w[i];
    return *this;
  }
  bool operator==(const Bits& o) const { return w == o.w; }
};

using CountryBits = Bits<4>;    // indexes into the ISO 3166-1 table (249 codes)
using ClassBits = Bits<4>;      // up to 256 data classes
using LocationBits = Bits<16>;  // up to 1024 catalogue locations

using Effect = ::residency::Effect;

struct Location {
  std::string id;  // provider:region
  std::string provider;
  int country = -1;  // ISO index
  std::string country_code;
  std::string city, site, partition, status;
  std::string controller;  // who controls the site (an operator id); empty: not recorded
  std::vector<std::string> certifications;
  std::map<std::string, std::string> attributes;
};

struct Catalogue {
  std::vector<Location> locations;
  absl::flat_hash_map<std::string, int> location_index;
  // Jurisdictions: ISO countries first (index = ISO index), then groups.
  std::vector<std::string> jurisdiction_names;
  std::vector<CountryBits> jurisdiction_members;
  absl::flat_hash_map<std::string, int> jurisdiction_index;
  std::map<std::string, std::string> provider_hq;  // provider -> hq country code
};

// One data class of the set's vocabulary (distinct from the tagger's residency::tagging::DataClass,
// the closed set of classes the payload scan detects).
struct CompiledClass {
  std::string id;
  ClassBits ancestors;  // itself and every class it is a kind of
};

// A `values` condition on a string field of the request.
enum class Field : uint8_t {
  kKind,
  kAction,
  kJob,
  kArtifact,  // the artifact the tag comes from: dataset | model | prompt; model artifact type
  kPurpose,
  kUseCase,
  kTier,
  kTransferType,
  kTransferPattern,
  kTransaction,
  kUserProvenance,
  kDatasetId,
  kUri,
  kSubjects,
  kSensitiveSubjects,
  kCumulativeSubjects,
  kTrainingFlops,
  kRetentionHours,
};

struct TagPattern {
  bool any_class = true;
  ClassBits classes;
  bool any_origin = true;
  CountryBits origins;
};

struct LocationCond {
  bool has_in = false, has_not_in = false;
  LocationBits in, not_in;
  int in_list = -1, not_in_list = -1;
  std::vector<std::string> certifications;                      // all required
  std::vector<std::pair<std::string, std::string>> attributes;  // all required
  std::vector<std::string> sites;
  std::vector<std::string> providers;
  bool outside_origin = false;  // the location's country is not within the tag's origin
  // The location is (true) or is not (false) the operator's own premises: its `controller` is
  // the request's operator id. Checked at evaluation (it depends on the request).
  std::optional<bool> own_premises;
};

struct PartyCond {
  std::optional<bool> present;
  std::vector<std::string> ids;
  std::shared_ptr<const RE2> id_regex;
  bool has_countries = false;
  CountryBits countries;
  std::vector<std::string> sectors;                             // any of
  std::vector<std::string> roles;                               // any of
  std::vector<std::pair<std::string, std::string>> attributes;  // all required
  int in_list = -1;
  int not_in_list = -1;
};

struct EvidenceCond {
  std::vector<std::string> types;  // any of
  std::vector<int> type_ids;       // `types` as evidence type ids (CompiledSet::evidence_types)
  bool match_country = true;       // evidence.country, when present, must contain the location
  bool match_recipient = true;     // evidence.recipient, when present, must equal recipient.id
  bool match_origin = true;        // evidence.origin, when present, must contain the tag origin
  bool require_country = false;
  bool require_recipient = false;
  bool require_origin = false;
  // What the item must say it authorises (all of these); an item without `covers` never
  // satisfies a condition that asks for some.
  std::vector<std::string> covers;
};

// Bounds of a `kNumber` condition.
struct NumberBounds {
  std::optional<double> gte, gt, lte, lt;
};

// A `kUser` condition.
struct UserCond {
  bool has_jurisdictions = false;
  CountryBits jurisdictions;
  std::vector<std::string> provenance;  // any of
};

// One node of a compiled condition tree. Kind-specific payloads live out of line (shared and
// immutable once compiled), so that the common nodes (all/any/not, tags, values) stay small:
// a payload pointer is set exactly for its kind.
struct Condition {
  enum class Kind : uint8_t {
    kTrue,
    kAll,
    kAny,
    kNot,
    kTags,
    kValues,  // string field in a set
    kNumber,  // numeric field within bounds
    kRegex,   // string field matches
    kLocation,
    kOperator,
    kRecipient,
    kUser,
    kEvidence,
  };
  Kind kind = Kind::kTrue;
  Field field = Field::kKind;  // kValues, kNumber, kRegex
  // This node's number, unique in its set and below CompiledSet::condition_count: what the
  // EvalIndex knows of it is at this index. (Beside `kind`: read with it.)
  int32_t id = -1;
  std::vector<Condition> children;             // kAll, kAny, kNot
  std::vector<std::string> values;             // kValues
  std::vector<TagPattern> tags;                // kTags
  std::shared_ptr<const RE2> regex;            // kRegex
  std::shared_ptr<const NumberBounds> bounds;  // kNumber
  // kNumber on a subject count: the tag conditions beside it (siblings in its map or `all`),
  // which narrow the partitions it counts beyond the rule's own tag filters; null when none.
  std::shared_ptr<const std::vector<std::vector<TagPattern>>> beside;
  std::shared_ptr<const LocationCond> location;  // kLocation
  std::shared_ptr<const PartyCond> party;        // kOperator, kRecipient
  std::shared_ptr<const UserCond> user;          // kUser
  std::shared_ptr<const EvidenceCond> evidence;  // kEvidence
  // Where the policy writes it (Policy::condition_sources), for explanations; -1 if unknown.
  int32_t source = -1;
};

// A condition as its policy writes it: `key: <canonical JSON>` (`location: {"not_in":["KR"]}`),
// `all`, `any`, `not`, `all of` (the keys of one map) or `always`; 1-based position in the file.
struct ConditionSource {
  std::string text;
  int line = 0, column = 0;
};

struct ListEntry {
  std::string value;
  LocationBits locations;  // when the value names a location or jurisdiction
  std::optional<absl::Time> from, until;
};

struct NamedList {
  std::string name;
  std::vector<ListEntry> entries;
};

// A text in another language than English (`i18n`, `obligations_i18n`): language code, text.
using Translations = std::vector<std::pair<std::string, std::string>>;

// The translation for `lang`, or null (then the English text stands).
inline const std::string* Translated(const Translations& t, std::string_view lang) {
  if (lang.empty()) return nullptr;
  for (const auto& [l, text] : t)
    if (l == lang) return &text;
  return nullptr;
}

struct Obligation {
  std::string id;
  std::string message;
  Translations i18n;
};

struct Alternative {
  std::string name;
  Condition when;
  Effect effect = Effect::kAllow;
  std::vector<int> obligations;
  std::string message;  // the reason's message when this alternative decides; empty: the rule's
  Translations message_i18n;
};

// A rule's texts in one language other than English (`i18n: {ko: {...}}`); an empty text
// falls back to the English one.
struct RuleTexts {
  std::string lang, message, citation;
  std::array<std::string, 4> messages;  // by Effect, as Rule::messages
};

struct Rule {
  std::string id, basis, citation, message;
  // The message of each outcome (by Effect) where the policy words it apart from `message`;
  // empty: `message`.
  std::array<std::string, 4> messages;
  std::vector<RuleTexts> i18n;
  bool dry_run = false;
  std::optional<absl::Time> from, until;
  // Before this time the rule is evaluated as a dry run (a provision enacted with a later
  // commencement date): reported under `dry_run`, never deciding; enforced from it.
  std::optional<absl::Time> enforce_from;
  bool DryRunAt(absl::Time now) const { return dry_run || (enforce_from && now < *enforce_from); }
  Condition when;
  bool tag_scoped = false;  // evaluated per (artifact, tag, location)
  // The top-level tag conditions of `when` (each a list of patterns, all must match): numbers
  // of a tag unit are summed over the partitions they match.
  std::vector<std::vector<TagPattern>> tag_filters;
  bool has_alternatives = false;
  std::vector<Alternative> alternatives;
  Effect effect = Effect::kDeny;  // the rule's effect, or `otherwise` when it has alternatives
  std::vector<int> obligations;
  bool suggest = true;
  int line = 0, column = 0;
  bool corp = false;  // basis is `corp` (exceptions may lift it)
};

struct Exception {
  std::string id, owner, ticket;
  std::vector<int> rules;  // indexes into Policy::rules
  Condition when;
  std::optional<absl::Time> not_before, not_after;
  std::vector<int> obligations;
};

// An entry of the evidence registry (`evidence_types` in a policy file): what an item of the type
// must carry to count at all, and how long it can count.
struct EvidenceSpec {
  std::string type;
  bool require_country = false, require_recipient = false, require_origin = false;
  bool require_covers = false, require_not_before = false, require_not_after = false;
  std::optional<absl::Duration> max_validity;  // counted from not_before (then required)
};

struct Lift {
  std::vector<std::string> evidence_types;
  std::vector<std::string> artifacts;  // dataset | model
  ClassBits classes;
  bool match_origin = true;
  std::vector<int> evidence_type_ids;     // `evidence_types` as evidence type ids
  bool datasets = false, models = false;  // `artifacts` holds dataset, model
};

struct IgnoreEvidence {
  std::vector<std::string> types;
  ClassBits classes;
  std::vector<int> type_ids;  // `types` as evidence type ids
};

struct Scope {
  bool always = false;
  bool has_origins = false;
  CountryBits origins;
  bool has_operator_countries = false;
  CountryBits operator_countries;
  std::vector<std::string> operator_sectors;
  bool has_user_jurisdictions = false;
  CountryBits user_jurisdictions;
  // Where processing happens: some checked location's country is within these.
  bool has_locations = false;
  CountryBits locations;
};

struct Policy {
  std::string id, basis, file;
  bool dry_run = false;
  Scope scope;
  std::vector<Rule> rules;
  std::vector<Exception> exceptions;
  std::vector<Lift> lifts;
  std::vector<IgnoreEvidence> ignores;
  std::vector<EvidenceSpec> evidence_specs;  // this file's registry entries (set-wide)
  std::vector<NamedList> lists;
  std::vector<Obligation> obligations;
  std::vector<ConditionSource> condition_sources;  // Condition::source
  // Index: for each class id, the tag-scoped rules that can match a tag of that class, in rule
  // order. Request-scoped rules are listed in `request_rules`.
  std::vector<std::vector<uint32_t>> rules_by_class;
  std::vector<uint32_t> request_rules;
  // Obligation indexes in id order (ties by index), and the rank of each obligation in that
  // order.
  std::vector<int> obligation_order, obligation_rank;
};

struct CompiledSet {
  Catalogue catalogue;
  std::vector<CompiledClass> classes;
  absl::flat_hash_map<std::string, int> class_index;
  std::vector<Policy> policies;  // sorted by id
  std::string digest;            // sha256:<hex>
  size_t rule_count = 0;
  std::vector<PolicySource> sources;  // with CompileOptions::keep_sources only
  size_t condition_count = 0;         // Condition::id is below it
  // An id for every evidence type a policy names (conditions, lifts, ignores, the registry) and
  // the built-in `anonymization_attestation`; request evidence of any other type gets -1 and
  // matches nothing. The built-in classes the evaluator treats specially (-1 when the
  // vocabulary lacks them).
  absl::flat_hash_map<std::string, int> evidence_types;
  // By evidence type id (may be shorter than the ids): the type's registry entry, if any.
  std::vector<std::optional<EvidenceSpec>> evidence_spec_by_type;
  int attestation_type = -1;
  int anonymized_class = -1, pseudonymized_class = -1;
};

// ISO 3166-1 alpha-2 table: index of `code`, or -1.
int IsoCountryIndex(std::string_view code);
size_t IsoCountryCount();
const char* IsoCountryCode(size_t index);

}  // namespace residency::policy_internal

#endif  // RESIDENCY_LIB_POLICY_COMPILED_SET_H_
