// Facts derived once per request before rules run: resolved locations, tags with lineage,
// evidence validity, request-level numbers. Shared by the evaluator and the router.
#ifndef RESIDENCY_LIB_EVAL_FACTS_H_
#define RESIDENCY_LIB_EVAL_FACTS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "policy/compiled_set.h"
#include "policy/eval_index.h"
#include "residency/decision.h"
#include "residency/request.h"

namespace residency::eval_internal {

using policy_internal::CompiledSet;
using policy_internal::CountryBits;

struct ResolvedEvidence {
  const Evidence* item = nullptr;
  int type = -1;       // evidence type id (CompiledSet::evidence_types), -1: none names it
  bool valid = false;  // within its window and not withdrawn at now
  // The registry's judgement: a field the type requires and the item lacks (then not valid);
  // the window's end, clipped to the type's longest validity when `clipped`.
  const char* lacks = nullptr;
  std::optional<absl::Time> not_after;
  bool clipped = false;
  int country = -1;              // jurisdiction index, -1 when absent
  bool country_unknown = false;  // given but not a known jurisdiction (never matches)
  int origin = -1;
  bool origin_unknown = false;
};

// The structs below have a constructor of their own (`{}`, not `= default`): value-initializing
// one (`emplace_back()`) then only runs the member initializers, instead of zero-filling the
// whole object first (for an Artifact, over a kilobyte of inline storage, on every request).
struct TagFact {
  TagFact() {}             // NOLINT(modernize-use-equals-default): see above
  int cls = -1;            // class id as given
  int effective_cls = -1;  // anonymized without attestation -> pseudonymized
  int origin = -1;         // jurisdiction index
  CountryBits origin_bits;
  // ORIGIN:class as given (the request's strings; the text is built only for output).
  const std::string* origin_name = nullptr;
  const std::string* class_name = nullptr;
  // The id of the lineage dataset the tag was first found in (`derived_from`, `trained_on`);
  // null when the artifact itself carries it.
  const std::string* via = nullptr;
  // Sums over the partitions carrying this tag; nullopt when any of them lacks the number.
  std::optional<double> subjects, sensitive_subjects, cumulative_subjects;
  bool has_partition = false;
};

// One partition (lineage included) of an artifact.
struct PartFact {
  PartFact() {}  // NOLINT(modernize-use-equals-default): see TagFact
  int id = 0;
  absl::InlinedVector<int, 4> effective_classes;
  CountryBits origin_bits;
  std::optional<double> subjects, sensitive_subjects, cumulative_subjects;
};

enum class ArtifactKind : uint8_t { kDataset, kModel, kPrompt };

struct Artifact {
  Artifact() {}  // NOLINT(modernize-use-equals-default): see TagFact
  ArtifactKind kind = ArtifactKind::kDataset;
  const Dataset* dataset = nullptr;
  const Model* model = nullptr;
  absl::InlinedVector<ResolvedEvidence, 4> evidence;  // the artifact's own
  absl::InlinedVector<TagFact, 4> tags;
  absl::InlinedVector<PartFact, 2> parts;
};

// ORIGIN:class.
std::string TagText(const TagFact& t);

struct FailReason {
  const char* rule;  // residency.unknown_location, ... (a literal)
  std::string message;
  bool primary_location = false;  // the refused placement itself (a suggestion replaces it)
};

// The empty location set, shared.
inline const policy_internal::LocationBits& NoLocations() {
  static const policy_internal::LocationBits kNone;
  return kNone;
}

// Sized so that a typical request builds its facts without touching the heap.
struct Facts {
  const Request* request = nullptr;
  std::string_view lang;  // EvalOptions::lang (the options outlive the facts)
  absl::Time now;
  absl::InlinedVector<Artifact, 2> artifacts;
  absl::InlinedVector<ResolvedEvidence, 4> request_evidence;
  // Checked locations: catalogue indexes (unknown ones are in `fail`). `primary` is the index
  // into `locations` of the placement a suggestion replaces (-1 when it was unknown).
  absl::InlinedVector<int, 4> locations;
  int primary = -1;
  std::string_view primary_name;  // as the request names it
  std::vector<FailReason> fail;
  std::vector<std::string> all_tags;  // ORIGIN:class of every tag as given; unique, sorted
  CountryBits tag_origins;            // the union of every known tag's origin
  // Request-unit numbers.
  std::optional<double> subjects, sensitive_subjects, cumulative_subjects, training_flops;
  int operator_country = -1;  // ISO index
  // The catalogue locations the operator controls (`controller`): the catalogue's own set, or
  // the empty one (a pointer, so that a request does not clear and copy a 128-byte set).
  const policy_internal::LocationBits* own_locations = &NoLocations();
  int recipient_country = -1;
  int user_jurisdiction = -1;  // jurisdiction index
  // Tiers of every model in the request (top level or input).
  absl::InlinedVector<const std::string*, 2> tiers;
};

// Builds the facts. Never fails: problems become fail-closed reasons.
void BuildFacts(const CompiledSet& set, const policy_internal::EvalIndex& ix,
                const Request& request, absl::Time now, const EvalOptions& options, Facts* facts);

}  // namespace residency::eval_internal

#endif  // RESIDENCY_LIB_EVAL_FACTS_H_
