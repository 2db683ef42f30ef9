// Facts derived once per request before rules run: resolved locations, tags with lineage,
// evidence validity, request-level numbers. Shared by the evaluator and the router.
#ifndef RESIDENCY_LIB_EVAL_FACTS_H_
#define RESIDENCY_LIB_EVAL_FACTS_H_

#include <optional>
#include <string>
#include <vector>

#include "policy/model.h"
#include "residency/decision.h"
#include "residency/request.h"

namespace residency::eval_internal {

using policy_internal::CompiledSet;
using policy_internal::CountryBits;

struct ResolvedEvidence {
  const Evidence* item = nullptr;
  bool valid = false;            // within its window and not withdrawn at now
  int country = -1;              // jurisdiction index, -1 when absent
  bool country_unknown = false;  // given but not a known jurisdiction (never matches)
  int origin = -1;
  bool origin_unknown = false;
};

struct TagFact {
  int cls = -1;            // class id as given
  int effective_cls = -1;  // anonymized without attestation -> pseudonymized
  int origin = -1;         // jurisdiction index
  CountryBits origin_bits;
  std::string text;  // ORIGIN:class as given
  // Sums over the partitions carrying this tag; nullopt when any of them lacks the number.
  std::optional<double> subjects, sensitive_subjects, cumulative_subjects;
  bool has_partition = false;
};

// One partition (lineage included) of an artifact.
struct PartFact {
  int id = 0;
  std::vector<int> effective_classes;
  CountryBits origin_bits;
  std::optional<double> subjects, sensitive_subjects, cumulative_subjects;
};

enum class ArtifactKind : uint8_t { kDataset, kModel, kPrompt };

struct Artifact {
  ArtifactKind kind = ArtifactKind::kDataset;
  const Dataset* dataset = nullptr;
  const Model* model = nullptr;
  std::vector<ResolvedEvidence> evidence;  // the artifact's own
  std::vector<TagFact> tags;
  std::vector<PartFact> parts;
};

struct FailReason {
  std::string rule;  // residency.unknown_location, ...
  std::string message;
  bool primary_location = false;  // the refused placement itself (a suggestion replaces it)
};

struct Facts {
  const Request* request = nullptr;
  absl::Time now;
  std::vector<Artifact> artifacts;
  std::vector<ResolvedEvidence> request_evidence;
  // Checked locations: catalogue indexes (unknown ones are in `fail`). `primary` is the index
  // into `locations` of the placement a suggestion replaces (-1 when it was unknown).
  std::vector<int> locations;
  int primary = -1;
  std::string primary_name;
  std::vector<FailReason> fail;
  std::vector<std::string> all_tags;  // unique, sorted
  // Request-unit numbers.
  std::optional<double> subjects, sensitive_subjects, cumulative_subjects, training_flops;
  int operator_country = -1;  // ISO index
  int recipient_country = -1;
  int user_jurisdiction = -1;      // jurisdiction index
  std::vector<std::string> tiers;  // tiers of every model in the request (top level or input)
};

// Builds the facts. Never fails: problems become fail-closed reasons.
void BuildFacts(const CompiledSet& set, const Request& request, absl::Time now,
                const EvalOptions& options, Facts* facts);

}  // namespace residency::eval_internal

#endif  // RESIDENCY_LIB_EVAL_FACTS_H_
