// verify_audit_log: write a signed audit trail of decisions, then check it as an auditor would.
//
//   1. make an Ed25519 audit key (`residency audit keygen` does the same),
//   2. decide a few requests and append one record per decision to a fresh log,
//   3. close the log (close record and final signed checkpoint),
//   4. verify the log offline with only the public verifier key: valid,
//   5. flip one byte of the log on disk and verify again: the tampering is reported.
//
//   verify_audit_log [POLICY_DIR]     (default: the policies/ folder of the source tree)
//
// The log goes to a fresh temporary directory, removed at the end. Exit status: 0 the intact log
// verified and the tampered one did not, 1 otherwise, 2 the policies could not be loaded.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "residency/audit.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

#ifndef RESIDENCY_EXAMPLES_POLICIES
#define RESIDENCY_EXAMPLES_POLICIES "policies"
#endif

namespace fs = std::filesystem;

namespace {

// Requests as a gateway or pipeline receives them (JSON; YAML works too).
const char* const kRequests[] = {
    R"({"kind": "dataset", "action": "store", "now": "2026-06-30T00:00:00Z",
        "destination": "ncp:FKR", "operator": {"id": "kr-bank", "country": "KR",
        "sectors": ["kr_financial"]},
        "dataset": {"id": "kr-credit-ledger", "location": "ncp:FKR",
          "partitions": [{"classes": ["personal.credit"], "origin": "KR", "subjects": 2400000}]}})",
    R"({"kind": "compute", "now": "2026-06-30T00:00:00Z",
        "operator": {"id": "acme-chat", "country": "KR"},
        "compute": {"job": "inference", "location": "aws:ap-northeast-1",
          "inputs": [{"model": {"id": "chat-large", "artifact": "weights",
                                "location": "aws:ap-northeast-1", "trained_on": []}}],
          "user": {"jurisdiction": "KR", "provenance": "verified"},
          "prompt": {"classes": ["personal"]}}})",
    R"({"kind": "dataset", "action": "store", "now": "2026-06-30T00:00:00Z",
        "destination": "aws:eu-central-1", "operator": {"id": "acme-eu-gmbh", "country": "DE"},
        "dataset": {"id": "eu-web-logs", "location": "aws:eu-central-1",
          "partitions": [{"classes": ["personal"], "origin": "DE", "subjects": 50000}]}})",
};

// Prints a verification report, one line per log; returns whether every log is valid.
bool Report(const char* when, const absl::StatusOr<residency::AuditVerifyReport>& report) {
  if (!report.ok()) {
    std::printf("%s: cannot verify: %s\n", when, std::string(report.status().message()).c_str());
    return false;
  }
  for (const residency::AuditLogReport& log : report->logs) {
    std::printf("%s: %s: %s (%llu records, %llu checkpoints)\n", when, log.origin.c_str(),
                residency::AuditLogStatusName(log.status),
                static_cast<unsigned long long>(log.records),
                static_cast<unsigned long long>(log.checkpoints));
    for (const residency::AuditFinding& f : log.findings) {
      std::printf("    %s: %s: %s\n", residency::AuditLogStatusName(f.status), f.kind.c_str(),
                  f.message.c_str());
    }
  }
  return report->ok() && !report->logs.empty();
}

int Run(const std::string& policy_dir, const fs::path& work) {
  absl::StatusOr<std::shared_ptr<const residency::PolicySnapshot>> policies =
      residency::CompilePolicy({policy_dir});
  if (!policies.ok()) {
    std::fprintf(stderr, "%s\n", std::string(policies.status().message()).c_str());
    return 2;
  }

  // 1. The writer's key: keys/gw1.pem (private, stays on the host), keys/gw1.vkey (public).
  fs::create_directories(work / "keys");
  fs::create_directories(work / "audit");
  absl::StatusOr<std::string> vkey = residency::GenerateAuditKey("gw1", (work / "keys").string());
  if (!vkey.ok()) {
    std::fprintf(stderr, "keygen: %s\n", std::string(vkey.status().message()).c_str());
    return 1;
  }
  std::printf("verifier key %s\n", vkey->c_str());

  // 2. A fresh log under audit/; sync durability: Append returns once the record is on disk.
  residency::AuditOptions options;
  options.audit_dir = (work / "audit").string();
  options.key_file = (work / "keys" / "gw1.pem").string();
  options.durability = residency::AuditDurability::kSync;
  absl::StatusOr<std::unique_ptr<residency::AuditLog>> log = residency::AuditLog::Open(options);
  if (!log.ok()) {
    std::fprintf(stderr, "audit: %s\n", std::string(log.status().message()).c_str());
    return 1;
  }
  (void)(*log)->AppendPolicyLoaded((*policies)->digest());

  for (const char* text : kRequests) {
    absl::StatusOr<residency::Request> req = residency::ParseRequest(text);
    absl::StatusOr<residency::Decision> d = req.ok()
                                                ? residency::Evaluate(**policies, *req)
                                                : absl::StatusOr<residency::Decision>(req.status());
    if (!d.ok()) {  // fail closed: an undecidable request is refused (and not recorded here)
      std::printf("request refused: %s\n", std::string(d.status().message()).c_str());
      continue;
    }
    // The audit record of the decision, for the request bytes as received.
    absl::Status recorded = residency::RecordDecision(**log, text, &*d);
    if (!recorded.ok()) {  // not recorded: the decision does not stand
      std::printf("audit append failed, refusing: %s\n", std::string(recorded.message()).c_str());
      return 1;
    }
    std::printf("record %llu: %s %s\n", static_cast<unsigned long long>(d->audit->index),
                residency::EffectName(d->decision),
                d->reasons.empty() ? "" : std::string(d->reasons.front().rule()).c_str());
  }

  // 3. Close: the close record and the final checkpoint make the log complete.
  const std::string log_dir = (*log)->log_dir();
  if (absl::Status st = (*log)->Close(); !st.ok()) {
    std::fprintf(stderr, "close: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  log->reset();

  // 4. The auditor's side: only the vkey and the files.
  residency::AuditVerifyOptions verify;
  verify.vkeys = {*vkey};
  const bool intact_ok = Report("intact", residency::VerifyAuditLogs(options.audit_dir, verify));

  // 5. Flip one byte in the middle of the first segment and verify again.
  fs::path segment;
  for (const fs::directory_entry& e : fs::directory_iterator(log_dir)) {
    if (e.path().filename().string().rfind("seg-", 0) == 0 &&
        (segment.empty() || e.path() < segment)) {
      segment = e.path();
    }
  }
  if (segment.empty()) {
    std::printf("no segment file in %s\n", log_dir.c_str());
    return 1;
  }
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    const std::streamoff middle = static_cast<std::streamoff>(fs::file_size(segment) / 2);
    f.seekg(middle);
    char c = 0;
    f.get(c);
    f.seekp(middle);
    f.put(static_cast<char>(c ^ 0x01));
  }
  std::printf("flipped one bit in %s\n", segment.filename().string().c_str());
  const bool tampered_ok =
      Report("tampered", residency::VerifyAuditLogs(options.audit_dir, verify));

  const bool as_expected = intact_ok && !tampered_ok;
  std::printf("%s\n", as_expected ? "tampering detected" : "UNEXPECTED verification result");
  return as_expected ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string policy_dir = argc > 1 ? argv[1] : RESIDENCY_EXAMPLES_POLICIES;
  const fs::path work =
      fs::temp_directory_path() /
      ("residency-audit-example-" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::create_directories(work);
  const int rc = Run(policy_dir, work);
  std::error_code ec;
  fs::remove_all(work, ec);
  return rc;
}
