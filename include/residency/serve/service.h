// The decision service behind `residency serve`, independent of the transport: the HTTP and gRPC
// front ends turn their requests into calls on DecisionService and its answers into their
// protocol. Every decision goes through one path: parse or map the request, refuse what the
// service does not trust (a request's own `now`), take the current snapshot (no lock), evaluate,
// write the audit record (a required log that cannot take it turns the answer into a deny),
// count it.
//
// Thread safety: every method may be called concurrently, except Reload (one caller at a time,
// concurrently with the rest).
#ifndef RESIDENCY_SERVE_SERVICE_H_
#define RESIDENCY_SERVE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "residency/audit.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"
#include "residency/route.h"
#include "residency/serve/metrics.h"
#include "residency/tagging.h"

namespace residency::serve {

// What the service does with a request's own `now` field (`EvalOptions::request_time`): refuse |
// ignore | honour (or honor). The service keeps a trusted clock: by default a request that names
// its own evaluation time is refused (a client must not be able to move the evaluation to a date
// when its evidence was valid).
absl::StatusOr<RequestTime> ParseRequestNow(std::string_view text);

// How gateway requests (/v1/authz, ext_authz Check) become inference requests. Header names are
// lowercase; context keys are the Envoy route's `context_extensions` (and, for /v1/authz, headers
// named `x-residency-context-<key>` set by the gateway's configuration).
struct AuthzMapping {
  std::string user_jurisdiction_header = "x-residency-user-jurisdiction";
  std::string user_provenance_header = "x-residency-user-provenance";
  std::string model_header = "x-residency-model";
  std::string operator_header = "x-residency-operator";
  std::string operator_country_header = "x-residency-operator-country";
  // Comma-separated data classes of the prompt, used when no body is sent.
  std::string prompt_classes_header = "x-residency-prompt-classes";
  // The stream's aggregate (compute.prompt.cumulative_subjects), when the gateway counts it.
  std::string prompt_cumulative_header = "x-residency-prompt-cumulative-subjects";
  std::string destination_header = "x-residency-destination";
  // The language of the decision's texts (messages, citations, obligations) where the policies
  // give them: a code such as `ko` (ServiceOptions::lang when absent; anything else is bad input).
  std::string lang_header = "x-residency-lang";
  std::string destination_context_key = "destination";  // where the route sends the request
  std::string kind_context_key = "kind";                // only `inference` is mapped
  // Escalate answers: deny (default) or allow.
  bool allow_escalate = false;
  // Always allow, but record and report what would have happened.
  bool dry_run = false;
};

// A model the gateway serves: its lineage (request format) and where it is deployed, most
// preferred first. A gateway request that names no destination is routed to the first
// deployment at which it may be served.
struct ServedModel {
  Model model;
  std::vector<std::string> deployments;  // catalogue location ids
};

// Reads a models file (YAML): `models:` a list of request-format models, each with an optional
// `deployments:` list of catalogue locations. Errors name the file, line and column.
absl::StatusOr<std::map<std::string, ServedModel>> LoadModels(const std::string& path);

struct ServiceOptions {
  RequestTime request_now = RequestTime::kRefuse;
  bool suggest = true;  // suggested_locations in decisions
  // The language of decisions' texts when a request names none (`x-residency-lang`); "" English.
  std::string lang;
  RequestLimits request_limits;
  AuthzMapping authz;
  // Models the gateway serves, by id: their lineage (request-format models). A request naming a
  // model not listed here is mapped without lineage, which fails closed (and is not routed).
  std::map<std::string, ServedModel> models;
  // Where a request without a destination may be routed when its model lists no deployments,
  // most preferred first. Empty: every catalogue location that is not a sector cloud, those in
  // the user's country first, then catalogue order.
  std::vector<std::string> route_locations;
  // Longest a request may take, from its headers to its answer (a body still arriving, a batch
  // still being decided); past it the answer is 408 (a body too slow) or a deny (deciding).
  // Zero: no deadline.
  absl::Duration deadline = absl::Seconds(5);
  // Clock for evaluations; tests pin it. Default absl::Now.
  absl::Time (*clock)() = nullptr;
};

// One gateway request as the front ends see it.
struct AuthzInput {
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercase
  // When the request arrived (its headers): the deadline counts from here. Default: on entry.
  absl::Time start = absl::InfinitePast();
  std::map<std::string, std::string> context;  // context_extensions
  std::optional<std::string> body;             // when the gateway sends it
  std::string peer;                            // textual IP, may be empty
};

struct AuthzAnswer {
  bool allow = false;
  int http_status = 403;  // 200 allow; 403 deny; 400 bad input (also a deny)
  std::vector<std::pair<std::string, std::string>> headers;  // x-residency-*
  std::string body;                                          // JSON (deny) or empty
  Effect effect = Effect::kDeny;                             // the decision (dry-run: real one)
};

// The answer to POST /v1/check: status 200 with the decision JSON and a newline (byte-identical
// to `residency check`), or 4xx/5xx with a one-line JSON error.
struct CheckAnswer {
  int http_status = 200;
  std::string body;
};

class DecisionService {
 public:
  // `audit` may be null (no log). When set, every decision is recorded and a failed record is a
  // deny. `tagger` may be null (bodies are then not scanned: their classes are `unscanned`).
  DecisionService(std::shared_ptr<const PolicySnapshot> initial, ServiceOptions options,
                  std::shared_ptr<AuditLog> audit,
                  std::shared_ptr<const tagging::TaggerPlan> tagger);
  ~DecisionService();
  DecisionService(const DecisionService&) = delete;
  DecisionService& operator=(const DecisionService&) = delete;

  // `lang`: the language of the decision's texts (the `x-residency-lang` header); empty: the
  // service's (ServiceOptions::lang). Not a language code: 400.
  CheckAnswer Check(std::string_view body, std::string_view lang = {});
  // JSON lines in, JSON lines out (one answer line per input line, as `residency check --batch`).
  // Lines not decided by the deadline (counted from `start`) are answered with an error line.
  CheckAnswer CheckBatch(std::string_view body, absl::Time start = absl::InfinitePast(),
                         std::string_view lang = {});
  AuthzAnswer Authz(const AuthzInput& in);
  // `residency tag` input line (JSON) → its result line.
  CheckAnswer Tag(std::string_view body);

  // Compiles `paths`; on success swaps the snapshot in (and records a policy-loaded audit
  // record); on any error keeps the current one. Counted in metrics either way.
  absl::Status Reload(const std::vector<std::string>& paths);
  // Loads a tagging configuration and swaps it in for the next requests; on any error keeps the
  // current one. Counted in metrics either way.
  absl::Status ReloadTagger(const std::string& path);
  // Loads a models file (LoadModels) and swaps it in likewise.
  absl::Status ReloadModels(const std::string& path);

  bool ready() const { return store_.Get() != nullptr && !draining_.load(); }
  void set_draining() { draining_.store(true); }
  const PolicyStore& store() const { return store_; }
  const ServiceOptions& options() const { return options_; }
  Metrics& metrics() { return metrics_; }
  std::string RenderMetrics();

 private:
  absl::Time Now() const { return options_.clock ? options_.clock() : absl::Now(); }
  // The evaluation options for one request in language `lang` (empty: the service's); non-OK when
  // `lang` is not a language code.
  absl::StatusOr<EvalOptions> OptionsFor(std::string_view lang) const;
  // Records `d` for the request bytes `raw`; fills d->audit. Non-OK: not recorded.
  absl::Status Record(std::string_view raw, Decision* d);
  struct Routing;
  absl::StatusOr<Request> MapAuthz(const AuthzInput& in, const Routing& routing,
                                   std::string* canonical);
  void Count(const Decision& d, absl::Duration took);
  // The served models and routing table for `snap` (made on first use per snapshot and models
  // file; taken without a lock when this thread saw the same ones last).
  Routing& RoutingFor(const std::shared_ptr<const PolicySnapshot>& snap);
  // Picks where `r` (no destination yet) is served and sets it: the first candidate at which the
  // routing table allows it (*found), else the first candidate (its decision says why not).
  // Non-OK when the request cannot be routed at all (the caller denies).
  absl::Status Route(Routing& routing, Request* r, absl::Time now, bool* found);
  std::shared_ptr<const tagging::TaggerPlan> Tagger() const;

  ServiceOptions options_;
  PolicyStore store_;
  std::shared_ptr<AuditLog> audit_;
  // Replaced by ReloadTagger; read through Tagger() (a per-thread copy, no lock when unchanged).
  mutable std::mutex tagger_mu_;
  std::shared_ptr<const tagging::TaggerPlan> tagger_;  // guarded by tagger_mu_
  std::atomic<uint64_t> tagger_generation_{0};
  const uint64_t id_;  // unique per service for the process's life (per-thread caches)
  std::mutex routing_mu_;
  std::shared_ptr<Routing> routing_;  // guarded by routing_mu_; for the latest snapshot seen
  std::shared_ptr<const std::map<std::string, ServedModel>> models_;  // guarded by routing_mu_
  std::atomic<uint64_t> models_generation_{0};
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> audit_appended_{0};
  Metrics metrics_;
};

}  // namespace residency::serve

#endif  // RESIDENCY_SERVE_SERVICE_H_
