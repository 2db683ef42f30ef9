// The request: what the caller asks about (docs/requests.md). Plain value types, filled by the
// caller or parsed from JSON/YAML by ParseRequest().
//
// Thread safety: plain values; ParseRequest is safe to call from any thread.
#ifndef RESIDENCY_REQUEST_H_
#define RESIDENCY_REQUEST_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace residency {

// A legal basis or attestation held for an operation. Valid at `now` when
// not_before <= now < not_after (absent bounds are open) and not withdrawn_at <= now. An absent
// country, recipient or origin matches any, unless the rule asking for the evidence requires it.
struct Evidence {
  std::string type;                      // e.g. `consent.cross_border`, `scc_2021_914`
  std::optional<std::string> country;    // a country code or catalogue group
  std::optional<std::string> recipient;  // recipient id
  std::optional<std::string> origin;     // whose data it covers (country or group)
  std::optional<absl::Time> not_before;
  std::optional<absl::Time> not_after;
  std::optional<absl::Time> withdrawn_at;
  // What it authorises: `processing`, `transfer`, `sensitive`, `unique_id`, ... A rule that asks
  // for one of these accepts only an item that lists it.
  std::vector<std::string> covers;
};

// Open attribute map; values are scalars kept as text (`true`, `false`, `3`, `kr_entity`).
using AttributeMap = std::map<std::string, std::string>;

// The operator (who runs the operation) or the recipient (who receives the data).
struct Party {
  std::string id;
  std::string country;               // ISO 3166-1 alpha-2
  std::vector<std::string> sectors;  // operator: kr_financial, kr_public, kr_medical, in_payment
  std::string role;                  // recipient: processor | third_party | affiliate
  AttributeMap attributes;           // ciio, sdf, csap_tier, dpf_certified, covered_person, ...
};

struct Partition {
  std::vector<std::string> classes;  // data classes, e.g. personal.credit
  std::string origin;                // jurisdiction of the data subjects: KR, DE, EU, ...
  std::optional<double> subjects;
  std::optional<double> sensitive_subjects;
  std::optional<double> cumulative_subjects;  // exported this calendar year incl. this one
};

struct Dataset {
  std::string id;
  std::string uri;
  std::string location;  // optional when the dataset appears only as lineage
  std::vector<Partition> partitions;
  std::vector<Evidence> evidence;
  std::vector<Dataset> derived_from;  // lineage of derived or synthetic data
};

struct Model {
  std::string id;
  std::string artifact;  // weights | checkpoint | adapter
  std::string tier;      // e.g. sovereign-kr
  std::string location;  // optional when the model appears only as lineage
  // Every dataset used to train, fine-tune or distil. Absent (nullopt) is missing lineage and
  // fails closed; an explicit empty list is a claim the caller makes.
  std::optional<std::vector<Dataset>> trained_on;
  std::vector<Model> base_models;
  std::optional<double> training_flops;
  std::vector<Evidence> evidence;
};

struct ComputeInput {
  std::optional<Dataset> dataset;  // exactly one of dataset, model
  std::optional<Model> model;
};

struct ComputeOutput {
  std::string location;
  std::string artifact;  // checkpoint | weights | adapter | dataset | log | ...
};

struct User {
  std::string jurisdiction;            // country or group; empty when unknown
  std::string provenance = "claimed";  // verified | claimed | inferred
};

struct Compute {
  std::string job;       // training | fine_tune | batch | evaluate | inference
  std::string location;  // where it runs
  std::vector<ComputeInput> inputs;
  std::vector<ComputeOutput> outputs;
  std::optional<User> user;                                // inference: whose request it is
  std::optional<std::vector<std::string>> prompt_classes;  // inference: what the prompt carries
  // Inference: the subjects whose data the stream of prompts to this counterparty carried over
  // the period a law counts (e.g. 12 months), this prompt included. Absent: unknown, so a
  // threshold on an aggregate cannot be ruled out (a prompt is one person; a stream is not).
  std::optional<double> prompt_cumulative_subjects;
};

struct Transfer {
  std::string type;         // entrustment | storage | provision
  std::string pattern;      // occasional | systematic
  std::string transaction;  // data_brokerage | vendor | employment | investment
  std::optional<double> retention_hours;
};

struct Request {
  enum class Kind { kDataset, kModel, kCompute };
  Kind kind = Kind::kDataset;
  std::string action;             // store | transfer | deploy | serve | train | ...
  std::optional<absl::Time> now;  // default: the clock, read once
  std::string destination;        // dataset/model: where it goes (default: its location)
  std::optional<Party> operator_party;
  std::optional<Party> recipient;
  Transfer transfer;
  std::string purpose;
  std::string use_case;
  std::vector<Evidence> evidence;  // request-level: covers the whole operation
  std::optional<Dataset> dataset;  // kind dataset
  std::optional<Model> model;      // kind model
  std::optional<Compute> compute;  // kind compute
};

// Bounds on request input; past them the parse fails with InvalidArgument.
struct RequestLimits {
  size_t max_bytes = 4u << 20;  // one request document (default 4 MiB)
  int max_depth = 64;           // nesting of JSON/YAML and of lineage
  size_t max_items = 100000;    // partitions + evidence + lineage nodes
};

// Parses one request from JSON (text starting with `{`) or YAML. Unknown keys, duplicate keys,
// wrong types and invalid values are InvalidArgument naming the field path (`dataset.partitions[0]
// .origin`) and, where known, `line:col`. Semantic checks that belong to policy (unknown
// location, class, origin) are not done here: they become a deny in Evaluate().
absl::StatusOr<Request> ParseRequest(std::string_view text,
                                     const RequestLimits& limits = RequestLimits());

// Where an error of ParseRequest points: the field path (`dataset.partitions[0].origin`; empty
// when the error is not about one field) and the 1-based line and column in the text (0 when it
// gives none: a field of a JSON request, or the request as a whole).
struct RequestErrorLocation {
  std::string path;
  int line = 0;
  int column = 0;
};
RequestErrorLocation LocateRequestError(const absl::Status& status);

std::string_view KindName(Request::Kind kind);

// A request as one line of JSON that ParseRequest (and `residency check`) accepts; keys in a
// fixed order, empty fields left out.
std::string RequestToJson(const Request& request);

}  // namespace residency

#endif  // RESIDENCY_REQUEST_H_
