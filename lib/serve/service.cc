#include "serve/service.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tagging/request_json.h"

namespace residency::serve {
namespace {

std::string ErrorJson(absl::string_view message) {
  return nlohmann::json{{"error", std::string(message)}}.dump(
             -1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

// A deny answer for gateways, with a reason and no decision of the engine behind it.
std::string DenyJson(absl::string_view message) {
  return nlohmann::json{{"decision", "deny"}, {"error", std::string(message)}}.dump(
             -1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

const std::string* FindHeader(const AuthzInput& in, const std::string& name) {
  for (const auto& [k, v] : in.headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

// The scratch a thread uses with `plan` (made on first use; the plan lives as long as the
// service).
tagging::TagScratch& ScratchFor(const tagging::TaggerPlan& plan) {
  thread_local const tagging::TaggerPlan* owner = nullptr;
  thread_local std::unique_ptr<tagging::TagScratch> scratch;
  if (owner != &plan || !scratch) {
    scratch = std::make_unique<tagging::TagScratch>(plan);
    owner = &plan;
  }
  return *scratch;
}

}  // namespace

absl::StatusOr<RequestTime> ParseRequestNow(std::string_view text) {
  if (text == "refuse") return RequestTime::kRefuse;
  if (text == "ignore") return RequestTime::kIgnore;
  if (text == "honour" || text == "honor") return RequestTime::kHonour;
  return absl::InvalidArgumentError(
      absl::StrCat("request-now: `", std::string(text), "` is not refuse, ignore or honour"));
}

DecisionService::DecisionService(std::shared_ptr<const PolicySnapshot> initial,
                                 ServiceOptions options, std::shared_ptr<AuditLog> audit,
                                 std::shared_ptr<const tagging::TaggerPlan> tagger)
    : options_(std::move(options)),
      store_(std::move(initial)),
      audit_(std::move(audit)),
      tagger_(std::move(tagger)) {}

absl::Status DecisionService::Record(std::string_view raw, Decision* d) {
  if (audit_ == nullptr) return absl::OkStatus();
  auto index = audit_->Append(AuditRecordOf(*d, raw));
  if (!index.ok()) {
    metrics_.CountAuditFailure();
    return index.status();
  }
  uint64_t seen = audit_appended_.load(std::memory_order_relaxed);
  while (seen < *index + 1 &&
         !audit_appended_.compare_exchange_weak(seen, *index + 1, std::memory_order_relaxed)) {
  }
  d->audit = AuditRef{audit_->log_dir(), *index};
  return absl::OkStatus();
}

void DecisionService::Count(const Decision& d, absl::Duration took) {
  std::vector<std::string_view> policies;
  policies.reserve(d.reasons.size());
  for (const auto& r : d.reasons) {
    if (std::find(policies.begin(), policies.end(), r.policy()) == policies.end())
      policies.push_back(r.policy());
  }
  metrics_.CountDecision(static_cast<int>(d.decision), policies, absl::ToDoubleSeconds(took));
}

CheckAnswer DecisionService::Check(std::string_view body) {
  const absl::Time start = absl::Now();
  auto req = ParseRequest(body, options_.request_limits);
  if (!req.ok()) {
    metrics_.CountBadRequest();
    return {400, ErrorJson(req.status().message())};
  }
  auto snap = store_.Get();
  if (!snap) return {503, ErrorJson("no policy snapshot loaded")};
  EvalOptions o;
  o.now = Now();
  o.request_time = options_.request_now;
  o.suggest = options_.suggest;
  auto d = Evaluate(*snap, *req, o);
  if (!d.ok()) {
    metrics_.CountBadRequest();
    return {400, ErrorJson(d.status().message())};
  }
  absl::Status rec = Record(body, &*d);
  if (!rec.ok()) {
    return {503,
            DenyJson(absl::StrCat("audit log cannot take the record: ", std::string(rec.message()),
                                  " (the decision was not recorded)"))};
  }
  Count(*d, absl::Now() - start);
  return {200, DecisionToJson(*d) + "\n"};
}

CheckAnswer DecisionService::CheckBatch(std::string_view body) {
  auto snap = store_.Get();
  if (!snap) return {503, ErrorJson("no policy snapshot loaded")};
  EvalOptions o;
  o.now = Now();  // read once for the batch, as `residency check --batch`
  o.request_time = options_.request_now;
  o.suggest = options_.suggest;
  std::string out;
  size_t n = 0;
  for (absl::string_view piece :
       absl::StrSplit(absl::string_view(body.data(), body.size()), '\n')) {
    std::string_view line(piece.data(), piece.size());
    if (line.empty() && n > 0 && line.data() == body.data() + body.size()) break;  // final \n
    ++n;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const absl::Time start = absl::Now();
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      out += nlohmann::json{{"line", n}, {"error", "empty line"}}.dump() + "\n";
      continue;
    }
    auto req = ParseRequest(line, options_.request_limits);
    absl::StatusOr<Decision> d =
        req.ok() ? Evaluate(*snap, *req, o) : absl::StatusOr<Decision>(req.status());
    if (d.ok()) {
      absl::Status rec = Record(line, &*d);
      if (!rec.ok())
        d = absl::Status(rec.code(), absl::StrCat("audit: ", std::string(rec.message())));
    } else {
      metrics_.CountBadRequest();
    }
    if (d.ok()) {
      Count(*d, absl::Now() - start);
      out += DecisionToJson(*d);
    } else {
      out += nlohmann::json{{"line", n}, {"error", std::string(d.status().message())}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    out += "\n";
  }
  return {200, std::move(out)};
}

absl::StatusOr<Request> DecisionService::MapAuthz(const AuthzInput& in, std::string* canonical) {
  const AuthzMapping& m = options_.authz;
  auto context = [&](const std::string& key) -> const std::string* {
    auto it = in.context.find(key);
    if (it != in.context.end()) return &it->second;
    return FindHeader(in, "x-residency-context-" + key);
  };
  const std::string* kind = context(m.kind_context_key);
  if (kind != nullptr && *kind != "inference") {
    return absl::InvalidArgumentError(absl::StrCat(
        m.kind_context_key, ": `", *kind, "` is not a request kind the gateway maps (inference)"));
  }
  const std::string* destination = context(m.destination_context_key);
  if (destination == nullptr) destination = FindHeader(in, m.destination_header);
  if (destination == nullptr || destination->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no destination: set the route's `",
                                                   m.destination_context_key, "` or the `",
                                                   m.destination_header, "` header"));
  }
  Request r;
  r.kind = Request::Kind::kCompute;
  r.action = "serve";
  Compute c;
  c.job = "inference";
  c.location = *destination;
  User user;
  std::optional<std::vector<std::string>> classes;
  if (tagger_ != nullptr) {
    std::vector<tagging::Header> headers;
    headers.reserve(in.headers.size());
    for (const auto& [k, v] : in.headers) headers.push_back({k, v});
    std::string_view chunk = in.body ? std::string_view(*in.body) : std::string_view();
    tagging::RequestView view;
    view.headers = headers;
    if (!in.peer.empty()) tagging::IpAddress::Parse(in.peer, &view.peer);
    if (in.body) view.payload = absl::MakeConstSpan(&chunk, 1);
    tagging::TagResult tr = tagging::TagRequest(*tagger_, view, ScratchFor(*tagger_));
    tagging::InferenceFacts facts = tagging::ToInferenceFacts(tr);
    if (facts.user_jurisdiction) {
      user.jurisdiction = *facts.user_jurisdiction;
      user.provenance = tagging::ProvenanceName(facts.user_provenance);
    }
    if (in.body) classes = facts.classes;
  } else if (in.body) {
    classes = std::vector<std::string>{"unscanned"};
  }
  if (const std::string* j = FindHeader(in, m.user_jurisdiction_header)) {
    user.jurisdiction = *j;
    user.provenance = "claimed";
  }
  if (const std::string* p = FindHeader(in, m.user_provenance_header)) user.provenance = *p;
  if (!classes) {
    if (const std::string* pc = FindHeader(in, m.prompt_classes_header)) {
      classes.emplace();
      for (absl::string_view part : absl::StrSplit(*pc, ',', absl::SkipWhitespace())) {
        classes->emplace_back(absl::StripAsciiWhitespace(part));
      }
    } else {
      classes = std::vector<std::string>{"unscanned"};  // nothing seen: not "no personal data"
    }
  }
  if (!user.jurisdiction.empty()) c.user = user;
  c.prompt_classes = classes;
  std::string model_id;
  if (const std::string* mid = FindHeader(in, m.model_header)) {
    model_id = *mid;
    ComputeInput input;
    auto it = options_.models.find(*mid);
    if (it != options_.models.end()) {
      input.model = it->second;
    } else {
      Model unknown;  // no lineage: fails closed in the engine
      unknown.id = *mid;
      unknown.artifact = "weights";
      input.model = unknown;
    }
    input.model->location = *destination;
    c.inputs.push_back(std::move(input));
  }
  r.compute = std::move(c);
  if (const std::string* op = FindHeader(in, m.operator_header)) {
    Party p;
    p.id = *op;
    if (const std::string* oc = FindHeader(in, m.operator_country_header)) p.country = *oc;
    r.operator_party = p;
  }
  // What the audit record's request digest covers: every mapped field, in a fixed order.
  *canonical = absl::StrCat("residency-authz-v1\ndestination=", *destination,
                            "\nuser=", user.jurisdiction, "\nprovenance=", user.provenance,
                            "\nclasses=", absl::StrJoin(*classes, ","), "\nmodel=", model_id,
                            "\noperator=", r.operator_party ? r.operator_party->id : "", "\n");
  return r;
}

AuthzAnswer DecisionService::Authz(const AuthzInput& in) {
  const absl::Time start = absl::Now();
  AuthzAnswer a;
  std::string canonical;
  auto req = MapAuthz(in, &canonical);
  if (!req.ok()) {
    metrics_.CountBadRequest();
    a.http_status = 400;
    a.headers.push_back({"x-residency-decision", "deny"});
    a.body = DenyJson(req.status().message());
    return a;
  }
  auto snap = store_.Get();
  if (!snap) {
    a.http_status = 503;
    a.headers.push_back({"x-residency-decision", "deny"});
    a.body = DenyJson("no policy snapshot loaded");
    return a;
  }
  EvalOptions o;
  o.now = Now();
  o.request_time = options_.request_now;
  o.suggest = options_.suggest;
  auto d = Evaluate(*snap, *req, o);
  if (!d.ok()) {
    metrics_.CountBadRequest();
    a.http_status = 403;
    a.headers.push_back({"x-residency-decision", "deny"});
    a.body = DenyJson(d.status().message());
    return a;
  }
  absl::Status rec = Record(canonical, &*d);
  if (!rec.ok()) {
    a.http_status = 403;
    a.headers.push_back({"x-residency-decision", "deny"});
    a.body = DenyJson(absl::StrCat("audit log cannot take the record: ", std::string(rec.message()),
                                   " (denied, not recorded)"));
    return a;
  }
  Count(*d, absl::Now() - start);
  a.effect = d->decision;
  bool allow = d->decision == Effect::kAllow || d->decision == Effect::kAllowWithObligations ||
               (d->decision == Effect::kEscalate && options_.authz.allow_escalate);
  a.headers.push_back({"x-residency-decision", EffectName(d->decision)});
  if (allow) {
    a.headers.push_back({"x-residency-location", req->compute->location});
  } else if (!d->suggested_locations().empty()) {
    a.headers.push_back({"x-residency-location", std::string(d->suggested_locations()[0])});
  }
  if (d->audit) {
    a.headers.push_back(
        {"x-residency-audit", absl::StrCat(audit_->log_id(), "/", d->audit->index)});
  }
  if (options_.authz.dry_run) {
    a.headers.push_back({"x-residency-dry-run", "true"});
    allow = true;
  }
  a.allow = allow;
  a.http_status = allow ? 200 : 403;
  if (!allow) a.body = DecisionToJson(*d) + "\n";
  return a;
}

CheckAnswer DecisionService::Tag(std::string_view body) {
  if (tagger_ == nullptr) return {404, ErrorJson("no tagging configuration loaded")};
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  tagging::internal::OwnedRequest req;
  std::string err = tagging::internal::ParseRequestLine(body, &req);
  if (!err.empty()) {
    metrics_.CountBadRequest();
    return {400, ErrorJson(err)};
  }
  tagging::TagResult r = tagging::TagRequest(*tagger_, req.view(), ScratchFor(*tagger_));
  return {200, tagging::internal::RenderResultLine(r) + "\n"};
}

absl::Status DecisionService::Reload(const std::vector<std::string>& paths) {
  auto snap = CompilePolicy(paths);
  if (!snap.ok()) {
    metrics_.CountReload(false);
    return snap.status();
  }
  auto current = store_.Get();
  if (current && current->digest() == (*snap)->digest()) {
    metrics_.CountReload(true);
    return absl::OkStatus();  // nothing that decides changed
  }
  if (audit_ != nullptr) {
    auto loaded = audit_->AppendPolicyLoaded((*snap)->digest());
    if (!loaded.ok()) {
      metrics_.CountReload(false);
      return absl::Status(loaded.status().code(),
                          absl::StrCat("audit: ", std::string(loaded.status().message())));
    }
  }
  store_.Swap(*std::move(snap));
  metrics_.CountReload(true);
  return absl::OkStatus();
}

std::string DecisionService::RenderMetrics() {
  std::string extra;
  absl::StrAppend(&extra,
                  "# HELP residency_ready 1 when the service has a policy snapshot and is not "
                  "draining.\n# TYPE residency_ready gauge\nresidency_ready ",
                  ready() ? 1 : 0,
                  "\n# HELP residency_policy_generation Snapshots swapped in since start.\n"
                  "# TYPE residency_policy_generation gauge\nresidency_policy_generation ",
                  store_.generation(), "\n");
  if (audit_ != nullptr) {
    uint64_t appended = audit_appended_.load(std::memory_order_relaxed);
    uint64_t durable = audit_->durable_size();
    absl::StrAppend(&extra,
                    "# HELP residency_audit_lag_records Decision records acknowledged but not yet "
                    "durable.\n# TYPE residency_audit_lag_records gauge\n"
                    "residency_audit_lag_records ",
                    appended > durable ? appended - durable : 0,
                    "\n# HELP residency_audit_durable_records Records durable in the log.\n"
                    "# TYPE residency_audit_durable_records gauge\n"
                    "residency_audit_durable_records ",
                    durable, "\n");
  }
  return metrics_.Render(extra);
}

}  // namespace residency::serve
