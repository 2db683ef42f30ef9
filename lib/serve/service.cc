#include "residency/serve/service.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "internal/text_util.h"
#include "policy/compiled_set.h"
#include "policy/eval_index.h"

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

std::atomic<uint64_t> g_next_service_id{1};

// Operator profiles a routing table takes at most (each is a column of memoised shapes); a
// request naming a further operator is not routed.
constexpr size_t kMaxRoutedOperators = 1024;

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
      tagger_(std::move(tagger)),
      id_(g_next_service_id.fetch_add(1)),
      models_(std::make_shared<const std::map<std::string, ServedModel>>(options_.models)) {}

DecisionService::~DecisionService() = default;

// The router of one snapshot, with the served models registered, the default candidates and
// the operator profiles seen so far.
struct DecisionService::Routing {
  Routing(std::shared_ptr<const PolicySnapshot> s,
          std::shared_ptr<const std::map<std::string, ServedModel>> m, uint64_t generation,
          const ServiceOptions& o)
      : snapshot(s), served(std::move(m)), models_generation(generation), router(s) {
    for (const auto& [id, entry] : *served) {
      auto profile = router.AddModel(entry.model);
      if (!profile.ok()) continue;
      std::vector<int>& order = deployments[id];
      for (const std::string& loc : entry.deployments) {
        int i = router.LocationIndex(loc);
        if (i >= 0) order.push_back(i);
      }
      models[id] = *profile;
    }
    for (const std::string& loc : o.route_locations) {
      int i = router.LocationIndex(loc);
      if (i >= 0) configured.push_back(i);
    }
  }
  // Candidates for a user of `jurisdiction` when neither the model nor the options name any:
  // every location that is not a sector cloud, the user's country first, then catalogue order.
  std::vector<int> Everywhere(std::string_view jurisdiction) const {
    const auto& locations = snapshot->impl().catalogue.locations;
    const auto& reserved_for = snapshot->index().reserved_for;
    std::vector<int> order;
    order.reserve(locations.size());
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t i = 0; i < locations.size(); ++i) {
        if (!reserved_for[i].empty()) continue;
        if ((locations[i].country_code == jurisdiction) == (pass == 0)) {
          order.push_back(static_cast<int>(i));
        }
      }
    }
    return order;
  }
  // The operator profile of (id, country), registered on first use; -1 past the limit.
  int Operator(const Party& p) {
    std::string key = absl::StrCat(p.id, "\n", p.country);
    std::lock_guard<std::mutex> lock(mu);
    auto it = operators.find(key);
    if (it != operators.end()) return it->second;
    if (operators.size() >= kMaxRoutedOperators) return -1;
    auto profile = router.AddOperator(p);
    if (!profile.ok()) return -1;
    operators.emplace(std::move(key), *profile);
    return *profile;
  }

  std::shared_ptr<const PolicySnapshot> snapshot;
  std::shared_ptr<const std::map<std::string, ServedModel>> served;
  uint64_t models_generation;
  Router router;
  absl::flat_hash_map<std::string, int> models;  // model id -> profile
  absl::flat_hash_map<std::string, std::vector<int>> deployments;
  std::vector<int> configured;  // ServiceOptions::route_locations
  std::mutex mu;
  absl::flat_hash_map<std::string, int> operators;  // guarded by mu
};

DecisionService::Routing& DecisionService::RoutingFor(
    const std::shared_ptr<const PolicySnapshot>& snap) {
  struct Cached {
    uint64_t service = 0;
    std::shared_ptr<Routing> routing;
  };
  thread_local Cached cached;
  const uint64_t generation = models_generation_.load(std::memory_order_acquire);
  if (cached.service == id_ && cached.routing && cached.routing->snapshot == snap &&
      cached.routing->models_generation == generation) {
    return *cached.routing;
  }
  std::lock_guard<std::mutex> lock(routing_mu_);
  const uint64_t current = models_generation_.load(std::memory_order_acquire);
  if (!routing_ || routing_->snapshot != snap || routing_->models_generation != current) {
    routing_ = std::make_shared<Routing>(snap, models_, current, options_);
  }
  cached = Cached{id_, routing_};
  return *routing_;
}

std::shared_ptr<const tagging::TaggerPlan> DecisionService::Tagger() const {
  struct Cached {
    uint64_t service = 0;
    uint64_t generation = 0;
    std::shared_ptr<const tagging::TaggerPlan> plan;
  };
  thread_local Cached cached;
  const uint64_t generation = tagger_generation_.load(std::memory_order_acquire);
  if (cached.service != id_ || cached.generation != generation) {
    std::lock_guard<std::mutex> lock(tagger_mu_);
    cached = Cached{id_, tagger_generation_.load(std::memory_order_acquire), tagger_};
  }
  return cached.plan;
}

namespace {

// The scratch a thread uses with `plan`, made on first use; kept with a reference to the plan
// so that a reloaded plan at a reused address never meets the old plan's scratch.
tagging::TagScratch& ScratchFor(const std::shared_ptr<const tagging::TaggerPlan>& plan) {
  thread_local std::shared_ptr<const tagging::TaggerPlan> owner;
  thread_local std::unique_ptr<tagging::TagScratch> scratch;
  if (owner != plan || !scratch) {
    scratch = std::make_unique<tagging::TagScratch>(*plan);
    owner = plan;
  }
  return *scratch;
}

}  // namespace

absl::Status DecisionService::Route(Routing& routing, Request* r, absl::Time now, bool* found) {
  Compute& c = *r->compute;
  Router::Query q;
  q.user_jurisdiction = c.user ? std::string_view(c.user->jurisdiction) : std::string_view();
  if (c.user && !c.user->provenance.empty()) q.provenance = c.user->provenance;
  absl::InlinedVector<std::string_view, 8> classes;
  if (c.prompt_classes) {
    for (const std::string& cl : *c.prompt_classes) classes.push_back(cl);
  }
  q.prompt_classes = classes;
  const std::vector<int>* order = nullptr;
  std::vector<int> everywhere;
  if (!c.inputs.empty() && c.inputs[0].model) {
    const std::string& model = c.inputs[0].model->id;
    auto it = routing.models.find(model);
    if (it == routing.models.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model `", model,
          "` is not among the served models (--models): a request for it needs a destination"));
    }
    q.model = it->second;
    auto dep = routing.deployments.find(model);
    if (dep != routing.deployments.end() && !dep->second.empty()) order = &dep->second;
  }
  if (r->operator_party) {
    q.operator_profile = routing.Operator(*r->operator_party);
    if (q.operator_profile < 0) {
      return absl::ResourceExhaustedError(
          "too many distinct operators to route: give a destination");
    }
  }
  if (order == nullptr && !routing.configured.empty()) order = &routing.configured;
  if (order == nullptr) {
    everywhere = routing.Everywhere(q.user_jurisdiction);
    order = &everywhere;
  }
  Router::Result res = routing.router.Route(q, now);
  if (!res.status.ok()) return res.status;
  if (order->empty()) return absl::NotFoundError("no location to route to");
  const auto& locations = routing.snapshot->impl().catalogue.locations;
  int chosen = order->front();  // when allowed nowhere: its decision says why
  *found = false;
  for (int i : *order) {
    if (res.Allowed(i)) {
      chosen = i;
      *found = true;
      break;
    }
  }
  c.location = locations[chosen].id;
  for (ComputeInput& in : c.inputs) {
    if (in.model) in.model->location = c.location;
  }
  return absl::OkStatus();
}

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

absl::StatusOr<EvalOptions> DecisionService::OptionsFor(std::string_view lang) const {
  EvalOptions o;
  o.now = Now();
  o.request_time = options_.request_now;
  o.suggest = options_.suggest;
  if (lang.empty()) {
    o.lang = options_.lang;
  } else if (IsLanguageCode(lang)) {
    o.lang = std::string(lang);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(options_.authz.lang_header, ": `", internal::Excerpt(lang),
                     "` is not a language code (two or three lower-case letters, e.g. ko)"));
  }
  return o;
}

CheckAnswer DecisionService::Check(std::string_view body, std::string_view lang) {
  const absl::Time start = absl::Now();
  auto opts = OptionsFor(lang);
  if (!opts.ok()) {
    metrics_.CountBadRequest();
    return {400, ErrorJson(opts.status().message())};
  }
  auto req = ParseRequest(body, options_.request_limits);
  if (!req.ok()) {
    metrics_.CountBadRequest();
    return {400, ErrorJson(req.status().message())};
  }
  auto snap = store_.Get();
  if (!snap) return {503, ErrorJson("no policy snapshot loaded")};
  auto d = Evaluate(*snap, *req, *opts);
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

CheckAnswer DecisionService::CheckBatch(std::string_view body, absl::Time start,
                                        std::string_view lang) {
  if (start == absl::InfinitePast()) start = absl::Now();
  auto opts = OptionsFor(lang);  // `now` read once for the batch, as `residency check --batch`
  if (!opts.ok()) {
    metrics_.CountBadRequest();
    return {400, ErrorJson(opts.status().message())};
  }
  const EvalOptions& o = *opts;
  auto snap = store_.Get();
  if (!snap) return {503, ErrorJson("no policy snapshot loaded")};
  std::string out;
  size_t n = 0;
  for (absl::string_view piece :
       absl::StrSplit(absl::string_view(body.data(), body.size()), '\n')) {
    std::string_view line(piece.data(), piece.size());
    if (line.empty() && n > 0 && line.data() == body.data() + body.size()) break;  // final \n
    ++n;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const absl::Time line_start = absl::Now();
    if (options_.deadline > absl::ZeroDuration() && line_start - start > options_.deadline) {
      out += nlohmann::json{{"line", n}, {"error", "deadline exceeded: not decided"}}.dump() + "\n";
      continue;
    }
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
      Count(*d, absl::Now() - line_start);
      out += DecisionToJson(*d);
    } else {
      out += nlohmann::json{{"line", n}, {"error", std::string(d.status().message())}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    out += "\n";
  }
  return {200, std::move(out)};
}

absl::StatusOr<Request> DecisionService::MapAuthz(const AuthzInput& in, const Routing& routing,
                                                  std::string* canonical) {
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
  // No destination: the service routes the request (Route) before deciding it.
  const std::string* destination = context(m.destination_context_key);
  if (destination == nullptr) destination = FindHeader(in, m.destination_header);
  static const std::string kNone;
  if (destination == nullptr) destination = &kNone;
  Request r;
  r.kind = Request::Kind::kCompute;
  r.action = "serve";
  Compute c;
  c.job = "inference";
  c.location = *destination;
  User user;
  std::optional<std::vector<std::string>> classes;
  if (std::shared_ptr<const tagging::TaggerPlan> tagger = Tagger()) {
    std::vector<tagging::Header> headers;
    headers.reserve(in.headers.size());
    for (const auto& [k, v] : in.headers) headers.push_back({k, v});
    std::string_view chunk = in.body ? std::string_view(*in.body) : std::string_view();
    tagging::RequestView view;
    view.headers = headers;
    if (!in.peer.empty()) tagging::IpAddress::Parse(in.peer, &view.peer);
    if (in.body) view.payload = absl::MakeConstSpan(&chunk, 1);
    tagging::TagResult tr = tagging::TagRequest(*tagger, view, ScratchFor(tagger));
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
  std::string cumulative;
  if (const std::string* n = FindHeader(in, m.prompt_cumulative_header)) {
    double v = 0;
    if (!absl::SimpleAtod(*n, &v) || !(v >= 0) || v > 1e15) {
      return absl::InvalidArgumentError(
          absl::StrCat(m.prompt_cumulative_header, ": `", *n, "` is not a count of subjects"));
    }
    c.prompt_cumulative_subjects = v;
    cumulative = *n;
  }
  std::string model_id;
  if (const std::string* mid = FindHeader(in, m.model_header)) {
    model_id = *mid;
    ComputeInput input;
    auto it = routing.served->find(*mid);
    if (it != routing.served->end()) {
      input.model = it->second.model;
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
  *canonical =
      absl::StrCat("residency-authz-v2\ndestination=", *destination, "\nuser=", user.jurisdiction,
                   "\nprovenance=", user.provenance, "\nclasses=", absl::StrJoin(*classes, ","),
                   "\ncumulative_subjects=", cumulative, "\nmodel=", model_id,
                   "\noperator=", r.operator_party ? r.operator_party->id : "", "\n");
  return r;
}

AuthzAnswer DecisionService::Authz(const AuthzInput& in) {
  const absl::Time start = in.start == absl::InfinitePast() ? absl::Now() : in.start;
  AuthzAnswer a;
  auto refuse = [&](int status, absl::string_view message) {
    a.http_status = status;
    a.headers.push_back({"x-residency-decision", "deny"});
    a.body = DenyJson(message);
    return a;
  };
  auto snap = store_.Get();
  if (!snap) return refuse(503, "no policy snapshot loaded");
  Routing& routing = RoutingFor(snap);
  std::string canonical;
  auto req = MapAuthz(in, routing, &canonical);
  if (!req.ok()) {
    metrics_.CountBadRequest();
    return refuse(400, req.status().message());
  }
  const std::string* lang = FindHeader(in, options_.authz.lang_header);
  auto opts = OptionsFor(lang ? std::string_view(*lang) : std::string_view());
  if (!opts.ok()) {
    metrics_.CountBadRequest();
    return refuse(400, opts.status().message());
  }
  EvalOptions& o = *opts;
  const bool routed = req->compute->location.empty();
  bool found = false;
  if (routed) {
    absl::Status st = Route(routing, &*req, *o.now, &found);
    if (!st.ok()) {
      if (st.code() == absl::StatusCode::kInvalidArgument) metrics_.CountBadRequest();
      return refuse(403, absl::StrCat("cannot route: ", std::string(st.message())));
    }
    absl::StrAppend(&canonical, "routed_to=", req->compute->location, "\n");
  }
  auto d = Evaluate(*snap, *req, o);
  if (!d.ok()) {
    metrics_.CountBadRequest();
    return refuse(403, d.status().message());
  }
  if (options_.deadline > absl::ZeroDuration() && absl::Now() - start > options_.deadline) {
    return refuse(503, "deadline exceeded before the decision was made (not recorded)");
  }
  absl::Status rec = Record(canonical, &*d);
  if (!rec.ok()) {
    return refuse(403, absl::StrCat("audit log cannot take the record: ",
                                    std::string(rec.message()), " (denied, not recorded)"));
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
  if (routed) a.headers.push_back({"x-residency-routed", found ? "true" : "nowhere"});
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
  std::shared_ptr<const tagging::TaggerPlan> tagger = Tagger();
  if (tagger == nullptr) return {404, ErrorJson("no tagging configuration loaded")};
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  tagging::OwnedRequest req;
  std::string err = tagging::ParseRequestLine(body, &req);
  if (!err.empty()) {
    metrics_.CountBadRequest();
    return {400, ErrorJson(err)};
  }
  tagging::TagResult r = tagging::TagRequest(*tagger, req.view(), ScratchFor(tagger));
  return {200, tagging::RenderResultLine(r) + "\n"};
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

absl::Status DecisionService::ReloadTagger(const std::string& path) {
  auto plan = tagging::TaggerPlan::Load(path);
  if (!plan.ok()) {
    metrics_.CountReload(false);
    return plan.status();
  }
  {
    std::lock_guard<std::mutex> lock(tagger_mu_);
    tagger_ = std::make_shared<const tagging::TaggerPlan>(*std::move(plan));
    tagger_generation_.fetch_add(1, std::memory_order_release);
  }
  metrics_.CountReload(true);
  return absl::OkStatus();
}

absl::Status DecisionService::ReloadModels(const std::string& path) {
  auto models = LoadModels(path);
  if (!models.ok()) {
    metrics_.CountReload(false);
    return models.status();
  }
  {
    std::lock_guard<std::mutex> lock(routing_mu_);
    models_ = std::make_shared<const std::map<std::string, ServedModel>>(*std::move(models));
    models_generation_.fetch_add(1, std::memory_order_release);
  }
  metrics_.CountReload(true);
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, ServedModel>> LoadModels(const std::string& path) {
  YAML::Node root;
  auto at = [&](const YAML::Mark& m, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", m.line + 1, ":", m.column + 1, ": ", what));
  };
  try {
    std::vector<YAML::Node> docs = YAML::LoadAllFromFile(path);
    if (docs.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": expected one YAML document, found ", docs.size()));
    }
    root = docs[0];
  } catch (const YAML::BadFile&) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read"));
  } catch (const YAML::Exception& e) {
    return at(e.mark, e.msg);
  }
  if (!root.IsMap() || !root["models"] || !root["models"].IsSequence() || root.size() != 1) {
    return at(root.Mark(), "expected a mapping with one key, `models`: a list of models");
  }
  std::map<std::string, ServedModel> out;
  size_t i = 0;
  for (const YAML::Node& entry : root["models"]) {
    const std::string where = absl::StrCat("models[", i++, "]");
    if (!entry.IsMap()) return at(entry.Mark(), absl::StrCat(where, ": must be a mapping"));
    ServedModel served;
    YAML::Node model(YAML::NodeType::Map);
    for (const auto& kv : entry) {
      const std::string key = kv.first.Scalar();
      if (key != "deployments") {
        model[key] = kv.second;
        continue;
      }
      if (!kv.second.IsSequence()) {
        return at(kv.second.Mark(), absl::StrCat(where, ".deployments: must be a list"));
      }
      for (const YAML::Node& d : kv.second) {
        if (!d.IsScalar() || d.Scalar().empty()) {
          return at(d.Mark(), absl::StrCat(where, ".deployments: a location id each"));
        }
        served.deployments.push_back(d.Scalar());
      }
    }
    // The model is read by the request parser, as the `model` of a model request.
    YAML::Node request(YAML::NodeType::Map);
    request["kind"] = "model";
    request["action"] = "serve";
    request["model"] = model;
    YAML::Emitter emitter;
    emitter << YAML::Flow << request;
    // A document marker: a flow mapping is YAML here, not JSON (numbers stay numbers).
    auto parsed = ParseRequest(std::string("---\n") + emitter.c_str());
    if (!parsed.ok()) {
      return at(entry.Mark(), absl::StrCat(where, ": ", std::string(parsed.status().message())));
    }
    served.model = *parsed->model;
    if (served.model.id.empty()) return at(entry.Mark(), absl::StrCat(where, ": needs an `id`"));
    const std::string id = served.model.id;
    if (!out.emplace(id, std::move(served)).second) {
      return at(entry.Mark(), absl::StrCat(where, ": model `", id, "` listed twice"));
    }
  }
  return out;
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
