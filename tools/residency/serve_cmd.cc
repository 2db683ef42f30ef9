// residency serve --policies DIR [--http HOST:PORT] [--grpc HOST:PORT] [--config FILE] ...
// The decision service for gateways (docs/gateways.md): Envoy ext_authz v3 over gRPC, nginx
// auth_request and a JSON API over HTTP, on the same engine, tagger and audit log as the CLI.
#include <signal.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli_util.h"
#include "commands.h"
#include "residency/audit.h"
#include "residency/policy.h"
#include "residency/serve/grpc_server.h"
#include "residency/serve/http_server.h"
#include "residency/serve/service.h"
#include "residency/tagging.h"
#include "residency/util.h"

namespace residency::cli {
namespace {

namespace fs = std::filesystem;

// One JSON line on stderr: the service's own log (events, not requests).
void LogEvent(const nlohmann::json& fields) {
  nlohmann::json j = fields;
  j["ts"] = absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone());
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

// What the policy files look like now (names, sizes, modification times): a change means reload.
std::string PolicySignature(const std::vector<std::string>& paths) {
  std::string sig;
  for (const auto& p : paths) {
    std::error_code ec;
    std::vector<fs::path> files;
    if (fs::is_directory(p, ec)) {
      for (const auto& e : fs::recursive_directory_iterator(p, ec)) files.push_back(e.path());
    } else {
      files.push_back(p);
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      struct stat st {};
      if (::stat(f.c_str(), &st) != 0) continue;
      absl::StrAppend(&sig, f.string(), "|", st.st_size, "|", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec, "\n");
    }
  }
  return sig;
}

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  if (path.empty()) return std::string();
  return ReadInput(path, 1u << 20);
}

struct Settings {
  std::string policies;
  std::string http;
  std::string grpc;
  std::string audit_log;
  std::string audit_key;
  bool audit_sync = false;
  std::string tagging;
  std::string models;
  std::string route_locations;
  double deadline = 5;
  std::string request_now = "refuse";
  std::string escalate = "deny";
  bool dry_run = false;
  bool no_suggest = false;
  std::string lang;
  unsigned threads = 2;
  size_t max_body_bytes = 4u << 20;
  size_t max_header_bytes = 16u << 10;
  unsigned max_inflight = 1024;
  unsigned max_connections = 4096;
  unsigned idle_timeout = 10;
  double drain_timeout = 10;
  double watch_interval = 1;
  std::string access_log;
  std::string tls_cert, tls_key, tls_client_ca;
};

// Reads the YAML config; a key given on the command line wins over the file.
absl::Status ApplyConfig(const std::string& file, CLI::App& app, Settings* s) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": cannot read"));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  if (!root.IsMap()) return absl::InvalidArgumentError(absl::StrCat(file, ": not a mapping"));
  auto str = [](std::string* out) {
    return [out](const YAML::Node& n) { *out = n.as<std::string>(); };
  };
  auto flag = [](bool* out) { return [out](const YAML::Node& n) { *out = n.as<bool>(); }; };
  auto uns = [](unsigned* out) { return [out](const YAML::Node& n) { *out = n.as<unsigned>(); }; };
  auto size = [](size_t* out) { return [out](const YAML::Node& n) { *out = n.as<size_t>(); }; };
  auto dbl = [](double* out) { return [out](const YAML::Node& n) { *out = n.as<double>(); }; };
  const std::map<std::string, std::function<void(const YAML::Node&)>> keys = {
      {"policies", str(&s->policies)},
      {"http", str(&s->http)},
      {"grpc", str(&s->grpc)},
      {"audit_log", str(&s->audit_log)},
      {"audit_key", str(&s->audit_key)},
      {"audit_sync", flag(&s->audit_sync)},
      {"tagging", str(&s->tagging)},
      {"models", str(&s->models)},
      {"route_locations", str(&s->route_locations)},
      {"deadline", dbl(&s->deadline)},
      {"request_now", str(&s->request_now)},
      {"escalate", str(&s->escalate)},
      {"dry_run", flag(&s->dry_run)},
      {"no_suggest", flag(&s->no_suggest)},
      {"lang", str(&s->lang)},
      {"threads", uns(&s->threads)},
      {"max_body_bytes", size(&s->max_body_bytes)},
      {"max_header_bytes", size(&s->max_header_bytes)},
      {"max_inflight", uns(&s->max_inflight)},
      {"max_connections", uns(&s->max_connections)},
      {"idle_timeout", uns(&s->idle_timeout)},
      {"drain_timeout", dbl(&s->drain_timeout)},
      {"watch_interval", dbl(&s->watch_interval)},
      {"access_log", str(&s->access_log)},
      {"tls_cert", str(&s->tls_cert)},
      {"tls_key", str(&s->tls_key)},
      {"tls_client_ca", str(&s->tls_client_ca)},
  };
  for (const auto& kv : root) {
    std::string key;
    try {
      key = kv.first.as<std::string>();
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(file, ":", kv.first.Mark().line + 1, ":",
                                                     kv.first.Mark().column + 1, ": bad key"));
    }
    auto it = keys.find(key);
    if (it == keys.end()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ":", kv.first.Mark().line + 1, ":",
                                                     kv.first.Mark().column + 1, ": unknown key `",
                                                     key, "`"));
    }
    std::string flag_name = "--" + key;
    for (char& c : flag_name) c = c == '_' ? '-' : c;
    if (app.count(flag_name) > 0) continue;  // the command line wins
    try {
      it->second(kv.second);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(file, ":", kv.second.Mark().line + 1, ":",
                                                     kv.second.Mark().column + 1, ": `", key,
                                                     "`: wrong type"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int RunServe(int argc, char** argv) {
  CLI::App app{
      "Serve decisions to gateways: Envoy ext_authz v3 over gRPC, nginx auth_request and a JSON "
      "API over HTTP (docs/gateways.md). Runs until SIGTERM or SIGINT (drains, seals the audit "
      "log); SIGHUP or a change to the policy files reloads them.",
      "residency serve"};
  Settings s;
  std::string config;
  app.add_option("--config", config, "YAML file with any of the settings below (flags win)");
  app.add_option("--policies", s.policies, "policy folder or file; several separated by commas");
  app.add_option("--http", s.http, "HTTP listener HOST:PORT (port 0: any free port)");
  app.add_option("--grpc", s.grpc, "gRPC (Envoy ext_authz v3) listener HOST:PORT");
  app.add_option("--audit-log", s.audit_log, "write every decision to a new audit log in DIR");
  app.add_option("--audit-key", s.audit_key, "Ed25519 key (PKCS#8 PEM) for the audit log");
  app.add_flag("--audit-sync", s.audit_sync,
               "answer only once the decision's record is fsynced (survives kill -9)");
  app.add_option("--tagging", s.tagging,
                 "tagging configuration (default: tagging.yaml in the first policy folder)");
  app.add_option("--models", s.models,
                 "served models (YAML: `models:` with lineage and deployments); reloaded with "
                 "the policies");
  app.add_option("--route-locations", s.route_locations,
                 "where a request without a destination may be routed, preferred first "
                 "(comma-separated; default: the user's country first, then the catalogue)");
  app.add_option("--deadline", s.deadline,
                 "seconds from a request's headers to its answer (408 or deny past it; 0: none)");
  app.add_option("--request-now", s.request_now,
                 "a request's own `now`: refuse (default), ignore or honour");
  app.add_option("--escalate", s.escalate, "gateway answer for escalate: deny (default) or allow");
  app.add_flag("--dry-run", s.dry_run, "always allow gateways; record what would have happened");
  app.add_flag("--no-suggest", s.no_suggest, "do not compute suggested_locations");
  AddLangOption(app, &s.lang);  // a request's x-residency-lang header wins
  app.add_option("--threads", s.threads, "HTTP worker threads (default 2)");
  app.add_option("--max-body-bytes", s.max_body_bytes, "largest request body (413 past it)");
  app.add_option("--max-header-bytes", s.max_header_bytes,
                 "largest request line and headers (431 past it)");
  app.add_option("--max-inflight", s.max_inflight, "requests decided at once (503 past it)");
  app.add_option("--max-connections", s.max_connections, "open HTTP connections at once");
  app.add_option("--idle-timeout", s.idle_timeout,
                 "seconds before an idle or too slow HTTP client is disconnected");
  app.add_option("--drain-timeout", s.drain_timeout, "seconds to drain on shutdown");
  app.add_option("--watch-interval", s.watch_interval,
                 "seconds between checks of the policy files for changes (0: SIGHUP only)");
  app.add_option("--access-log", s.access_log, "JSON access log file, or - for stdout");
  app.add_option("--tls-cert", s.tls_cert, "serve TLS with this certificate (PEM)");
  app.add_option("--tls-key", s.tls_key, "private key of --tls-cert (PEM)");
  app.add_option("--tls-client-ca", s.tls_client_ca, "require client certificates from this CA");
  if (int rc = ParseFlags(app, "residency serve", argc, argv); rc >= 0) return rc;
  auto fail = [](const std::string& msg) {
    std::fprintf(stderr, "residency serve: %s\n", msg.c_str());
    return kExitCannotRun;
  };
  if (!config.empty()) {
    absl::Status st = ApplyConfig(config, app, &s);
    if (!st.ok()) return fail(std::string(st.message()));
  }
  if (s.policies.empty()) return fail("--policies is required (flag or config)");
  if (s.http.empty() && s.grpc.empty()) return fail("give --http, --grpc or both");
  if (s.audit_log.empty() != s.audit_key.empty())
    return fail("--audit-log and --audit-key go together");
  if (s.escalate != "deny" && s.escalate != "allow")
    return fail(absl::StrCat("--escalate: `", s.escalate, "` is not deny or allow"));
  if (s.tls_cert.empty() != s.tls_key.empty()) return fail("--tls-cert and --tls-key go together");
  auto request_now = serve::ParseRequestNow(s.request_now);
  if (!request_now.ok()) return fail(std::string(request_now.status().message()));
  if (!(s.deadline >= 0) || s.deadline > 3600)
    return fail(absl::StrCat("--deadline: ", s.deadline, " is not between 0 and 3600 seconds"));

  // Signals are taken by this thread only (sigtimedwait below); block them before any thread
  // starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const std::vector<std::string> paths = absl::StrSplit(s.policies, ',', absl::SkipEmpty());
  auto snapshot = LoadPolicies("residency serve", paths);
  if (!snapshot) return kExitCannotRun;

  std::shared_ptr<const tagging::TaggerPlan> tagger;
  std::string tagging_file = s.tagging;
  if (tagging_file.empty() && fs::is_directory(paths[0]) &&
      fs::exists(fs::path(paths[0]) / "tagging.yaml")) {
    tagging_file = (fs::path(paths[0]) / "tagging.yaml").string();
  }
  if (!tagging_file.empty()) {
    auto plan = tagging::TaggerPlan::Load(tagging_file);
    if (!plan.ok()) return fail(std::string(plan.status().message()));
    tagger = std::make_shared<const tagging::TaggerPlan>(*std::move(plan));
  }

  std::shared_ptr<AuditLog> audit;
  if (!s.audit_log.empty()) {
    std::error_code ec;
    fs::create_directories(s.audit_log, ec);
    AuditOptions ao;
    ao.audit_dir = s.audit_log;
    ao.key_file = s.audit_key;
    if (s.audit_sync) ao.durability = AuditDurability::kSync;
    auto opened = AuditLog::Open(ao);
    if (!opened.ok()) return fail(absl::StrCat("audit log: ", opened.status().message()));
    audit = std::shared_ptr<AuditLog>(std::move(*opened));
    auto loaded = audit->AppendPolicyLoaded(snapshot->digest());
    if (!loaded.ok()) return fail(absl::StrCat("audit log: ", loaded.status().message()));
  }

  std::map<std::string, serve::ServedModel> models;
  if (!s.models.empty()) {
    auto loaded = serve::LoadModels(s.models);
    if (!loaded.ok()) return fail(std::string(loaded.status().message()));
    models = *std::move(loaded);
  }

  serve::ServiceOptions so;
  so.models = std::move(models);
  so.route_locations = absl::StrSplit(s.route_locations, ',', absl::SkipEmpty());
  so.deadline = absl::Seconds(s.deadline);
  so.request_now = *request_now;
  so.suggest = !s.no_suggest;
  if (!s.lang.empty() && !IsLanguageCode(s.lang)) {
    return fail(absl::StrCat("lang: `", s.lang,
                             "` is not a language code (two or three lower-case letters)"));
  }
  so.lang = s.lang;
  so.request_limits.max_bytes = s.max_body_bytes;
  so.authz.allow_escalate = s.escalate == "allow";
  so.authz.dry_run = s.dry_run;
  serve::DecisionService service(snapshot, so, audit, tagger);

  std::FILE* access_log = nullptr;
  if (s.access_log == "-") {
    access_log = stdout;
  } else if (!s.access_log.empty()) {
    access_log = std::fopen(s.access_log.c_str(), "ab");
    if (access_log == nullptr) return fail(absl::StrCat("cannot open `", s.access_log, "`"));
  }
  auto tls_cert = ReadPem(s.tls_cert), tls_key = ReadPem(s.tls_key),
       tls_ca = ReadPem(s.tls_client_ca);
  for (const auto* r : {&tls_cert, &tls_key, &tls_ca}) {
    if (!r->ok()) return fail(std::string(r->status().message()));
  }

  std::unique_ptr<serve::HttpServer> http;
  if (!s.http.empty()) {
    serve::HttpOptions ho;
    size_t colon = s.http.rfind(':');
    int port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(s.http.substr(colon + 1), &port) ||
        port < 0 || port > 65535) {
      return fail(absl::StrCat("--http: `", s.http, "` is not HOST:PORT"));
    }
    ho.host = s.http.substr(0, colon);
    ho.port = port;
    ho.threads = s.threads == 0 ? 1 : s.threads;
    ho.max_body_bytes = s.max_body_bytes;
    ho.max_header_bytes = s.max_header_bytes;
    ho.max_inflight = s.max_inflight;
    ho.max_connections = s.max_connections;
    ho.idle_timeout_seconds = s.idle_timeout;
    ho.deadline = absl::Seconds(s.deadline);
    ho.access_log = access_log;
    ho.tls_cert = *tls_cert;
    ho.tls_key = *tls_key;
    ho.tls_client_ca = *tls_ca;
    http = std::make_unique<serve::HttpServer>(&service, ho);
    absl::Status st = http->Start();
    if (!st.ok()) return fail(std::string(st.message()));
    LogEvent(
        {{"event", "listening"}, {"proto", "http"}, {"host", ho.host}, {"port", http->port()}});
  }
  std::unique_ptr<serve::GrpcServer> grpc;
  if (!s.grpc.empty()) {
    serve::GrpcOptions go;
    go.address = s.grpc;
    go.max_message_bytes = s.max_body_bytes + (64u << 10);
    go.tls_cert = *tls_cert;
    go.tls_key = *tls_key;
    go.tls_client_ca = *tls_ca;
    grpc = std::make_unique<serve::GrpcServer>(&service, go);
    absl::Status st = grpc->Start();
    if (!st.ok()) return fail(std::string(st.message()));
    LogEvent({{"event", "listening"}, {"proto", "grpc"}, {"port", grpc->port()}});
  }
  LogEvent({{"event", "ready"},
            {"policy_digest", snapshot->digest()},
            {"audit_log", audit ? audit->log_dir() : ""}});

  // What is watched: the policies, and the tagging and models files (each reloaded on its own:
  // a broken tagging file keeps the previous tagger, and likewise for each).
  std::vector<std::string> watched = paths;
  if (!tagging_file.empty()) watched.push_back(tagging_file);
  if (!s.models.empty()) watched.push_back(s.models);
  std::string signature = PolicySignature(watched);
  absl::Time next_watch = absl::Now() + absl::Seconds(s.watch_interval);
  auto reload = [&](const char* why) {
    absl::Status st = service.Reload(paths);
    auto snap = service.store().Get();
    LogEvent({{"event", "reload"},
              {"trigger", why},
              {"ok", st.ok()},
              {"error", st.ok() ? "" : std::string(st.message())},
              {"policy_digest", snap ? snap->digest() : ""},
              {"generation", service.store().generation()}});
    auto log_other = [&](const char* what, const std::string& file, const absl::Status& result) {
      LogEvent({{"event", "reload"},
                {"trigger", why},
                {"what", what},
                {"file", file},
                {"ok", result.ok()},
                {"error", result.ok() ? "" : std::string(result.message())}});
    };
    if (!tagging_file.empty()) {
      log_other("tagging", tagging_file, service.ReloadTagger(tagging_file));
    }
    if (!s.models.empty()) log_other("models", s.models, service.ReloadModels(s.models));
  };
  while (true) {
    timespec wait{0, 200 * 1000 * 1000};
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) {
      signature = PolicySignature(watched);
      reload("sighup");
      continue;
    }
    if (s.watch_interval > 0 && absl::Now() >= next_watch) {
      next_watch = absl::Now() + absl::Seconds(s.watch_interval);
      std::string now_sig = PolicySignature(watched);
      if (now_sig != signature) {
        signature = now_sig;
        reload("file change");
      }
    }
  }

  // Graceful shutdown: not ready, stop accepting, drain what is in flight, seal the log.
  LogEvent({{"event", "draining"}});
  service.set_draining();
  const absl::Duration drain = absl::Seconds(s.drain_timeout);
  if (http) http->Quiesce();
  if (grpc) grpc->Stop(drain);
  if (http) http->Stop(drain);
  int rc = kExitOk;
  if (audit) {
    absl::Status st = audit->Close();
    if (!st.ok()) {
      std::fprintf(stderr, "residency serve: audit log: %s\n", std::string(st.message()).c_str());
      rc = kExitCannotRun;
    }
  }
  if (access_log != nullptr && access_log != stdout) std::fclose(access_log);
  LogEvent({{"event", "stopped"}});
  return rc;
}

}  // namespace residency::cli
