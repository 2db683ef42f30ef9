// The decision service behind `residency serve`, independent of the transport: the HTTP and gRPC
// front ends turn their requests into calls on DecisionService and its answers into their
// protocol. Every decision goes through one path: parse or map the request, refuse what the
// service does not trust (a request's own `now`), take the current snapshot (no lock), evaluate,
// write the audit record (a required log that cannot take it turns the answer into a deny),
// count it.
//
// Thread safety: every method may be called concurrently, except Reload (one caller at a time,
// concurrently with the rest).
#ifndef RESIDENCY_LIB_SERVE_SERVICE_H_
#define RESIDENCY_LIB_SERVE_SERVICE_H_

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
#include "residency/tagging.h"
#include "serve/metrics.h"

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
  std::string destination_header = "x-residency-destination";
  std::string destination_context_key = "destination";  // where the route sends the request
  std::string kind_context_key = "kind";                // only `inference` is mapped
  // Escalate answers: deny (default) or allow.
  bool allow_escalate = false;
  // Always allow, but record and report what would have happened.
  bool dry_run = false;
};

struct ServiceOptions {
  RequestTime request_now = RequestTime::kRefuse;
  bool suggest = true;  // suggested_locations in decisions
  RequestLimits request_limits;
  AuthzMapping authz;
  // Models the gateway serves, by id: their lineage (request-format models). A request naming a
  // model not listed here is mapped without lineage, which fails closed.
  std::map<std::string, Model> models;
  // Clock for evaluations; tests pin it. Default absl::Now.
  absl::Time (*clock)() = nullptr;
};

// One gateway request as the front ends see it.
struct AuthzInput {
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercase
  std::map<std::string, std::string> context;                // context_extensions
  std::optional<std::string> body;                           // when the gateway sends it
  std::string peer;                                          // textual IP, may be empty
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

  CheckAnswer Check(std::string_view body);
  // JSON lines in, JSON lines out (one answer line per input line, as `residency check --batch`).
  CheckAnswer CheckBatch(std::string_view body);
  AuthzAnswer Authz(const AuthzInput& in);
  // `residency tag` input line (JSON) → its result line.
  CheckAnswer Tag(std::string_view body);

  // Compiles `paths`; on success swaps the snapshot in (and records a policy-loaded audit
  // record); on any error keeps the current one. Counted in metrics either way.
  absl::Status Reload(const std::vector<std::string>& paths);

  bool ready() const { return store_.Get() != nullptr && !draining_.load(); }
  void set_draining() { draining_.store(true); }
  const PolicyStore& store() const { return store_; }
  Metrics& metrics() { return metrics_; }
  std::string RenderMetrics();

 private:
  absl::Time Now() const { return options_.clock ? options_.clock() : absl::Now(); }
  // Records `d` for the request bytes `raw`; fills d->audit. Non-OK: not recorded.
  absl::Status Record(std::string_view raw, Decision* d);
  absl::StatusOr<Request> MapAuthz(const AuthzInput& in, std::string* canonical);
  void Count(const Decision& d, absl::Duration took);

  ServiceOptions options_;
  PolicyStore store_;
  std::shared_ptr<AuditLog> audit_;
  std::shared_ptr<const tagging::TaggerPlan> tagger_;
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> audit_appended_{0};
  Metrics metrics_;
};

}  // namespace residency::serve

#endif  // RESIDENCY_LIB_SERVE_SERVICE_H_
