// gateway_route: an inference gateway's per-request path: tag -> decide -> audit.
//
// For every incoming chat request the gateway
//   1. tags it (residency::tagging, no allocation): who the user is and with what provenance
//      (authenticated tenant, socket peer, claimed header), what personal data the prompt holds;
//   2. routes it: the memoised routing table (residency::Router) says where a request of this
//      shape may be served, and the first of the model's deployments it allows serves it; the
//      decision at that region is then evaluated in full for the audit record;
//   3. appends the decision it acted on to a signed audit log (the tenant id only as a salted
//      commitment), and refuses the request when no region is allowed (fail closed).
// At the end the audit log is closed and verified offline.
//
//   gateway_route [POLICY_DIR]        (default: the policies/ folder of the source tree;
//                                      the tagger reads POLICY_DIR/tagging.yaml)
//
// Exit status: 0 every request was routed or refused and the audit log verified, 1 otherwise,
// 2 the policies or the tagger configuration could not be loaded.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "residency/audit.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"
#include "residency/route.h"
#include "residency/tagging.h"

#ifndef RESIDENCY_EXAMPLES_POLICIES
#define RESIDENCY_EXAMPLES_POLICIES "policies"
#endif

namespace fs = std::filesystem;
namespace tg = residency::tagging;

namespace {

// An incoming request as the gateway sees it.
struct Incoming {
  const char* name;
  std::vector<tg::Header> headers;
  const char* peer;    // socket peer address
  const char* tenant;  // authenticated tenant id ("" when anonymous)
  std::string_view body;
};

// Where the serving model is deployed, most preferred first (Tokyo has the spare GPUs).
const std::vector<std::string> kDeployments = {"aws:ap-northeast-1", "aws:eu-central-1", "ncp:KR"};

// The inference request for serving at `location`, from what the tagger found.
residency::Request InferenceAt(const tg::InferenceFacts& facts, const std::string& location) {
  residency::Request req;
  req.kind = residency::Request::Kind::kCompute;
  req.operator_party = residency::Party{"acme-chat", "KR", {}, "", {}};
  residency::Compute c;
  c.job = "inference";
  c.location = location;
  residency::Model model;  // the serving model, deployed at that location
  model.id = "chat-large";
  model.artifact = "weights";
  model.location = location;
  model.trained_on = std::vector<residency::Dataset>{};  // trained on no tagged data
  c.inputs.push_back({std::nullopt, model});
  if (facts.user_jurisdiction) {
    c.user = residency::User{*facts.user_jurisdiction, tg::ProvenanceName(facts.user_provenance)};
  }
  c.prompt_classes = facts.classes;
  req.compute = std::move(c);
  return req;
}

int Run(const std::string& policy_dir, const fs::path& work) {
  // Start-up: policies, tagger plan, audit key and log. All shared by the serving threads.
  absl::StatusOr<std::shared_ptr<const residency::PolicySnapshot>> policies =
      residency::CompilePolicy({policy_dir});
  if (!policies.ok()) {
    std::fprintf(stderr, "%s\n", std::string(policies.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<tg::TaggerPlan> plan = tg::TaggerPlan::Load(policy_dir + "/tagging.yaml");
  if (!plan.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plan.status().message()).c_str());
    return 2;
  }
  fs::create_directories(work / "keys");
  fs::create_directories(work / "audit");
  absl::StatusOr<std::string> vkey = residency::GenerateAuditKey("gw1", (work / "keys").string());
  if (!vkey.ok()) {
    std::fprintf(stderr, "keygen: %s\n", std::string(vkey.status().message()).c_str());
    return 1;
  }
  residency::AuditOptions audit_options;
  audit_options.audit_dir = (work / "audit").string();
  audit_options.key_file = (work / "keys" / "gw1.pem").string();
  absl::StatusOr<std::unique_ptr<residency::AuditLog>> log =
      residency::AuditLog::Open(audit_options);
  if (!log.ok()) {
    std::fprintf(stderr, "audit: %s\n", std::string(log.status().message()).c_str());
    return 1;
  }
  std::printf("tagger kernel %s, policies %s\n", plan->kernel_name(),
              (*policies)->digest().c_str());

  tg::TagScratch scratch(*plan);        // one per serving thread
  residency::Router router(*policies);  // shared; memoises one table per request shape
  residency::Model served;              // the serving model; checked at each serving location
  served.id = "chat-large";
  served.artifact = "weights";
  served.trained_on = std::vector<residency::Dataset>{};  // trained on no tagged data
  const int model = *router.AddModel(served);
  residency::EvalOptions eval;
  eval.now = absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone());  // reproducible
  eval.suggest = false;  // the gateway tries its own deployments

  const std::vector<Incoming> requests = {
      {"kr-tenant-phone",
       {},
       "192.0.2.10",
       "acme-kr",
       "제 전화번호는 010-1234-5678 입니다. 배송 조회 부탁드려요."},
      {"de-office-email", {}, "198.51.100.7", "", "Please reply to anna.schmidt@example.de today."},
      {"kr-claim-no-pii", {{"x-user-country", "KR"}}, "", "", "Summarise this article in Korean."},
      {"anonymous-card", {}, "", "", "charge card 4111 1111 1111 1111 for the order"},
  };

  int refused = 0;
  for (const Incoming& in : requests) {
    // 1. Tag: metadata lookups and the payload scan; no allocation here.
    tg::RequestView view;
    view.headers = absl::MakeConstSpan(in.headers);
    if (in.peer[0] != '\0') tg::IpAddress::Parse(in.peer, &view.peer);
    view.tenant = in.tenant;
    const std::string_view chunks[] = {in.body};
    view.payload = absl::MakeConstSpan(chunks);
    const tg::TagResult tags = tg::TagRequest(*plan, view, scratch);
    const tg::InferenceFacts facts = tg::ToInferenceFacts(tags);

    std::printf("%s: user %s (%s), tags [", in.name,
                facts.user_jurisdiction ? facts.user_jurisdiction->c_str() : "unknown",
                tg::ProvenanceName(facts.user_provenance));
    for (size_t i = 0; i < facts.tags.size(); ++i) {
      std::printf("%s%s", i ? " " : "", facts.tags[i].c_str());
    }
    std::printf("], scan %s\n", tg::ScanStatusName(tags.status));

    // 2. Route: a table lookup per shape (user jurisdiction, provenance, prompt classes,
    //    model); the first deployment the table allows serves the request.
    std::vector<std::string_view> classes(facts.classes.begin(), facts.classes.end());
    residency::Router::Query query;
    query.user_jurisdiction =  // a view of the facts' string, never of a temporary
        facts.user_jurisdiction ? std::string_view(*facts.user_jurisdiction) : std::string_view();
    query.provenance =
        facts.user_jurisdiction ? tg::ProvenanceName(facts.user_provenance) : "claimed";
    query.prompt_classes = classes;
    query.model = model;
    const absl::Time now = *eval.now;
    std::string route;
    for (const std::string& where : kDeployments) {
      const int at = router.LocationIndex(where);
      residency::Router::Result r = router.Route(query, now, at);
      if (r.status.ok()) {
        std::printf("    %-20s %s\n", where.c_str(), residency::EffectName(r.preferred));
      } else {  // an unknown class or jurisdiction: the request cannot be routed
        std::printf("    %-20s deny (%s)\n", where.c_str(),
                    std::string(r.status.message()).c_str());
      }
      if (r.status.ok() && r.Allowed(at)) {
        route = where;
        break;
      }
    }
    // The full decision where it is served (or at the first choice when refused), with the
    // rules behind it, for the audit record.
    absl::StatusOr<residency::Decision> acted = residency::Evaluate(
        **policies, InferenceAt(facts, route.empty() ? kDeployments[0] : route), eval);
    if (acted.ok() && !route.empty() && acted->decision != residency::Effect::kAllow &&
        acted->decision != residency::Effect::kAllowWithObligations) {
      route.clear();  // the table and the full check disagree: fail closed
    }

    // 3. Audit the decision acted on. An unrecorded decision does not stand: refuse.
    if (acted.ok()) {
      // The principal is stored as a keyed commitment, never raw.
      if (!residency::RecordDecision(**log, in.body, &*acted, in.tenant).ok()) route.clear();
    } else {
      route.clear();
    }
    if (route.empty()) {
      ++refused;
      std::printf("  -> refused (451): no region may serve it\n");
    } else {
      std::printf("  -> served at %s\n", route.c_str());
    }
  }

  // Shut down: close the log, then verify it as an auditor would, with the public key only.
  const std::string log_dir = (*log)->log_dir();
  if (absl::Status st = (*log)->Close(); !st.ok()) {
    std::fprintf(stderr, "close: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  residency::AuditVerifyOptions verify;
  verify.vkeys = {*vkey};
  absl::StatusOr<residency::AuditVerifyReport> report = residency::VerifyAuditLogs(log_dir, verify);
  const bool valid = report.ok() && report->ok() && report->logs.size() == 1;
  std::printf("%zu served, %d refused; audit log %s%s\n", requests.size() - refused, refused,
              valid ? "valid, records " : "NOT valid",
              valid ? std::to_string(report->logs[0].records).c_str() : "");
  return valid ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string policy_dir = argc > 1 ? argv[1] : RESIDENCY_EXAMPLES_POLICIES;
  const fs::path work =
      fs::temp_directory_path() /
      ("residency-gateway-example-" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::create_directories(work);
  const int rc = Run(policy_dir, work);
  std::error_code ec;
  fs::remove_all(work, ec);
  return rc;
}
