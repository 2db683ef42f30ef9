// residency check --policies DIR [REQUEST] | --batch FILE.jsonl (README.md; requests:
// docs/requests.md).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli_util.h"
#include "commands.h"
#include "residency/audit.h"
#include "residency/batch.h"
#include "residency/decision.h"
#include "residency/request.h"

namespace residency::cli {
namespace {

// Writes the audit record of `d` (for the request bytes `raw`) and fills d.audit. A failure means
// the decision was not recorded: the caller must not report it as decided.
absl::Status Record(AuditLog* log, std::string_view raw, Decision* d) {
  if (log == nullptr) return absl::OkStatus();
  return RecordDecision(*log, raw, d);
}

}  // namespace

int RunCheck(int argc, char** argv) {
  CLI::App app{
      "Decide one request (JSON or YAML, a file or - for stdin) or a batch of JSON "
      "lines against a policy set, and print the decision JSON.\n"
      "Exit: 0 allow or allow_with_obligations, 1 deny, 3 escalate, 2 bad input. "
      "With --batch: 0 if every line was decided, 2 if any line was an error.",
      "residency check"};
  std::string policies_arg;
  std::string request_path = "-";
  std::string batch;
  std::string now_text;
  bool no_suggest = false;
  app.add_option("--policies", policies_arg,
                 "policy folder or file with the catalogue; several separated by commas")
      ->required();
  app.add_option("request", request_path, "request file, or - for stdin (default)");
  app.add_option("--batch", batch, "JSON-lines file (or -): one request per line");
  int threads = 1;
  app.add_option("--threads", threads,
                 "with --batch: threads that decide (0: one per hardware thread; default 1); the "
                 "output order is the input's")
      ->check(CLI::Range(0, 1024));
  app.add_option("--now", now_text, "evaluation time (RFC 3339) when a request has no `now`");
  std::string request_now = "honour";
  app.add_option("--request-now", request_now,
                 "a request's own `now`: honour it (default), refuse the request (exit 2), or "
                 "ignore it and evaluate at --now or the clock")
      ->check(CLI::IsMember({"honour", "refuse", "ignore"}));
  app.add_flag("--no-suggest", no_suggest, "do not compute suggested_locations");
  std::string lang;
  AddLangOption(app, &lang);
  std::string audit_dir, audit_key;
  bool audit_sync = false;
  app.add_option("--audit-log", audit_dir,
                 "write a signed audit record of every decision to a new log in DIR/<log id>/");
  app.add_option("--audit-key", audit_key, "Ed25519 key (PKCS#8 PEM) that signs the checkpoints");
  app.add_flag("--audit-sync", audit_sync, "acknowledge each record only once it is fsynced");
  std::string audit_tiles;
  app.add_option("--audit-tiles", audit_tiles,
                 "also publish the audit log as C2SP tlog-tiles in DIR/<log id>/ at every "
                 "checkpoint");
  if (int rc = ParseFlags(app, "residency check", argc, argv); rc >= 0) return rc;

  EvalOptions options;
  options.suggest = !no_suggest;
  options.lang = lang;
  options.request_time = request_now == "refuse"   ? RequestTime::kRefuse
                         : request_now == "ignore" ? RequestTime::kIgnore
                                                   : RequestTime::kHonour;
  if (!SetNow("residency check", now_text, &options)) return kExitCannotRun;
  auto snapshot =
      LoadPolicies("residency check",
                   std::vector<std::string>(absl::StrSplit(policies_arg, ',', absl::SkipEmpty())));
  if (!snapshot) return kExitCannotRun;
  std::unique_ptr<AuditLog> audit;
  if (audit_dir.empty() != audit_key.empty()) {
    std::fprintf(stderr, "residency check: --audit-log and --audit-key go together\n");
    return kExitCannotRun;
  }
  if (!audit_tiles.empty() && audit_dir.empty()) {
    std::fprintf(stderr, "residency check: --audit-tiles needs --audit-log\n");
    return kExitCannotRun;
  }
  if (!audit_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(audit_dir, ec);  // Open reports what still fails
    AuditOptions ao;
    ao.audit_dir = audit_dir;
    ao.key_file = audit_key;
    if (audit_sync) ao.durability = AuditDurability::kSync;
    ao.tiles_dir = audit_tiles;
    auto opened = AuditLog::Open(ao);
    if (!opened.ok()) {
      std::fprintf(stderr, "residency check: audit log: %s\n",
                   std::string(opened.status().message()).c_str());
      return kExitCannotRun;
    }
    audit = *std::move(opened);
    auto loaded = audit->AppendPolicyLoaded(snapshot->digest());
    if (!loaded.ok()) {
      std::fprintf(stderr, "residency check: audit log: %s\n",
                   std::string(loaded.status().message()).c_str());
      return kExitCannotRun;
    }
  }
  // Closes the log (close record, final checkpoint) on every path out.
  auto close_audit = [&]() -> bool {
    if (!audit) return true;
    absl::Status s = audit->Close();
    if (!s.ok()) {
      std::fprintf(stderr, "residency check: audit log: %s\n", std::string(s.message()).c_str());
      return false;
    }
    return true;
  };

  if (!batch.empty()) {
    std::error_code ec;
    if (batch != "-" && std::filesystem::is_directory(batch, ec)) {
      std::fprintf(stderr, "residency check: %s: is a directory, not a file\n", batch.c_str());
      return kExitCannotRun;
    }
    int fd = STDIN_FILENO;
    const bool own_fd = batch != "-";
    if (own_fd) {
      errno = 0;
      fd = ::open(batch.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        const int err = errno;
        std::fprintf(stderr, "residency check: %s: cannot open: %s\n", batch.c_str(),
                     err != 0 ? std::strerror(err) : "unknown reason");
        return kExitCannotRun;
      }
    }
    BatchOptions bo;
    bo.eval = options;
    bo.threads = threads;
    bo.audit = audit.get();
    auto summary = DecideJsonLines(*snapshot, fd, STDOUT_FILENO, bo);
    if (own_fd) ::close(fd);
    if (!summary.ok()) {
      // The lines after it were not decided.
      std::fprintf(stderr, "residency check: %s: %s\n", batch.c_str(),
                   std::string(summary.status().message()).c_str());
      close_audit();
      return kExitCannotRun;
    }
    if (!close_audit()) return kExitCannotRun;
    return summary->errors > 0 ? kExitCannotRun : kExitOk;
  }

  std::string text;
  Request req;
  if (!ReadRequest("residency check", request_path, &text, &req)) return kExitCannotRun;
  auto d = Evaluate(*snapshot, req, options);
  if (!d.ok()) {
    std::fprintf(stderr, "residency check: %s: %s\n", request_path.c_str(),
                 std::string(d.status().message()).c_str());
    return kExitCannotRun;
  }
  absl::Status rec = Record(audit.get(), text, &*d);
  if (!rec.ok() || !close_audit()) {
    if (!rec.ok()) {
      std::fprintf(stderr, "residency check: audit log: %s (the decision was not recorded)\n",
                   std::string(rec.message()).c_str());
    }
    return kExitCannotRun;
  }
  std::string out = DecisionToJson(*d);
  std::printf("%s\n", out.c_str());
  return ExitForEffect(d->decision);
}

}  // namespace residency::cli
