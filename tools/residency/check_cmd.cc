// residency check --policies DIR [REQUEST] | --batch FILE.jsonl (README.md; requests:
// docs/requests.md).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli_util.h"
#include "commands.h"
#include "internal/time_util.h"
#include "residency/audit.h"
#include "residency/decision.h"
#include "residency/request.h"

namespace residency::cli {
namespace {

constexpr int kExitEscalate = 3;

int ExitFor(Effect e) {
  switch (e) {
    case Effect::kAllow:
    case Effect::kAllowWithObligations:
      return kExitOk;
    case Effect::kEscalate:
      return kExitEscalate;
    case Effect::kDeny:
      return kExitFindings;
  }
  return kExitFindings;
}

// Reads one line of at most `limit` bytes; a longer line is consumed and reported as too long.
bool ReadLine(std::FILE* in, size_t limit, std::string* line, bool* too_long) {
  line->clear();
  *too_long = false;
  int c;
  bool any = false;
  while ((c = std::fgetc(in)) != EOF) {
    any = true;
    if (c == '\n') return true;
    if (line->size() < limit) {
      line->push_back(static_cast<char>(c));
    } else {
      *too_long = true;
    }
  }
  return any;
}

// Writes the audit record of `d` (for the request bytes `raw`) and fills d.audit. A failure means
// the decision was not recorded: the caller must not report it as decided.
absl::Status Record(AuditLog* log, std::string_view raw, Decision* d) {
  if (log == nullptr) return absl::OkStatus();
  DecisionRecord rec;
  rec.decision = EffectName(d->decision);
  for (const auto& r : d->reasons) rec.rule_ids.emplace_back(r.rule());
  rec.tags = d->tags;
  rec.request_digest = AuditRequestDigest(raw);
  rec.policy_digest = d->policy_digest();
  rec.now = d->now;
  auto index = log->Append(rec);
  if (!index.ok()) return index.status();
  d->audit = AuditRef{log->log_dir(), *index};
  return absl::OkStatus();
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
  app.add_option("--now", now_text, "evaluation time (RFC 3339) when a request has no `now`");
  std::string request_now = "honour";
  app.add_option("--request-now", request_now,
                 "a request's own `now`: honour it (default), refuse the request (exit 2), or "
                 "ignore it and evaluate at --now or the clock")
      ->check(CLI::IsMember({"honour", "refuse", "ignore"}));
  app.add_flag("--no-suggest", no_suggest, "do not compute suggested_locations");
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
  options.request_time = request_now == "refuse"   ? RequestTime::kRefuse
                         : request_now == "ignore" ? RequestTime::kIgnore
                                                   : RequestTime::kHonour;
  if (!now_text.empty()) {
    auto t = internal::ParseTimestamp(now_text);
    if (!t.ok()) {
      std::fprintf(stderr, "residency check: --now: %s\n",
                   std::string(t.status().message()).c_str());
      return kExitCannotRun;
    }
    options.now = *t;
  } else {
    options.now = absl::Now();  // read once, for the whole batch
  }
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
    errno = 0;
    std::FILE* in = batch == "-" ? stdin : std::fopen(batch.c_str(), "rb");
    if (!in) {
      const int err = errno;
      std::fprintf(stderr, "residency check: %s: cannot open: %s\n", batch.c_str(),
                   err != 0 ? std::strerror(err) : "unknown reason");
      return kExitCannotRun;
    }
    RequestLimits limits;
    std::string line;
    bool too_long = false;
    bool any_error = false;
    size_t n = 0;
    while (ReadLine(in, limits.max_bytes, &line, &too_long)) {
      ++n;
      std::string out;
      if (too_long) {
        out = nlohmann::json{{"line", n},
                             {"error", absl::StrCat("line exceeds ", limits.max_bytes, " bytes")}}
                  .dump();
        any_error = true;
      } else if (line.find_first_not_of(" \t\r") == std::string::npos) {
        out = nlohmann::json{{"line", n}, {"error", "empty line"}}.dump();
        any_error = true;
      } else {
        auto req = ParseRequest(line, limits);
        absl::StatusOr<Decision> d =
            req.ok() ? Evaluate(*snapshot, *req, options) : absl::StatusOr<Decision>(req.status());
        if (d.ok()) {
          absl::Status rec = Record(audit.get(), line, &*d);
          if (!rec.ok())
            d = absl::Status(rec.code(), absl::StrCat("audit: ", std::string(rec.message())));
        }
        if (d.ok()) {
          out = DecisionToJson(*d);
        } else {
          out = nlohmann::json{{"line", n}, {"error", std::string(d.status().message())}}.dump(
              -1, ' ', false, nlohmann::json::error_handler_t::replace);
          any_error = true;
        }
      }
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fputc('\n', stdout);
    }
    // A read error ends the loop like the end of the input: the lines after it were not decided.
    const bool read_error = std::ferror(in) != 0;
    const int read_errno = errno;
    if (in != stdin) std::fclose(in);
    if (read_error) {
      std::fprintf(stderr, "residency check: %s: read failed after line %zu: %s\n", batch.c_str(),
                   n, std::strerror(read_errno));
      close_audit();
      return kExitCannotRun;
    }
    if (!close_audit()) return kExitCannotRun;
    return any_error ? kExitCannotRun : kExitOk;
  }

  auto text = ReadInput(request_path, RequestLimits().max_bytes);
  if (!text.ok()) {
    std::fprintf(stderr, "residency check: %s\n", std::string(text.status().message()).c_str());
    return kExitCannotRun;
  }
  auto req = ParseRequest(*text);
  if (!req.ok()) {
    std::string msg(req.status().message());
    bool positioned = !msg.empty() && msg[0] >= '0' && msg[0] <= '9';
    std::fprintf(stderr, "residency check: %s:%s%s\n", request_path.c_str(), positioned ? "" : " ",
                 msg.c_str());
    return kExitCannotRun;
  }
  auto d = Evaluate(*snapshot, *req, options);
  if (!d.ok()) {
    std::fprintf(stderr, "residency check: %s: %s\n", request_path.c_str(),
                 std::string(d.status().message()).c_str());
    return kExitCannotRun;
  }
  absl::Status rec = Record(audit.get(), *text, &*d);
  if (!rec.ok() || !close_audit()) {
    if (!rec.ok()) {
      std::fprintf(stderr, "residency check: audit log: %s (the decision was not recorded)\n",
                   std::string(rec.message()).c_str());
    }
    return kExitCannotRun;
  }
  std::string out = DecisionToJson(*d);
  std::printf("%s\n", out.c_str());
  return ExitFor(d->decision);
}

}  // namespace residency::cli
