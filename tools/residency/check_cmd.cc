// residency check --policies DIR [REQUEST] | --batch FILE.jsonl (README.md; requests:
// docs/requests.md).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli_util.h"
#include "commands.h"
#include "residency/audit.h"
#include "residency/decision.h"
#include "residency/request.h"

namespace residency::cli {
namespace {

constexpr size_t kOutBlock = 256 << 10;

// The lines of a file descriptor, read in large blocks. A line longer than `limit` bytes is
// consumed whole and reported as too long; a last line without a newline is a line.
class LineReader {
 public:
  // `before_wait` runs before every read that may block (the CLI flushes its output there, so
  // that a caller feeding one line at a time through a pipe gets its answer).
  LineReader(int fd, size_t limit, std::function<void()> before_wait)
      : fd_(fd), limit_(limit), before_wait_(std::move(before_wait)) {
    buf_.resize(std::min<size_t>(kBlock, limit_ + 1) + kBlock);
  }

  // The next line (without its newline) in *line, valid until the next call; *too_long instead
  // when it exceeded the limit. False at the end of the input or on a read error (errno_value()).
  bool Next(std::string_view* line, bool* too_long) {
    *too_long = false;
    size_t scanned = pos_;
    for (;;) {
      if (const char* nl =
              static_cast<const char*>(std::memchr(buf_.data() + scanned, '\n', end_ - scanned))) {
        const size_t len = nl - (buf_.data() + pos_);
        *too_long = skipping_ || len > limit_;
        skipping_ = false;
        *line = std::string_view(buf_.data() + pos_, *too_long ? 0 : len);
        pos_ = nl - buf_.data() + 1;
        return true;
      }
      if (end_ - pos_ > limit_) {  // too long already: keep nothing of it
        skipping_ = true;
        pos_ = end_;
      }
      if (eof_) {
        if (pos_ == end_ && !skipping_) return false;
        *too_long = skipping_;
        skipping_ = false;
        *line = std::string_view(buf_.data() + pos_, *too_long ? 0 : end_ - pos_);
        pos_ = end_;
        return true;
      }
      // Move the partial line to the front, grow when it fills the buffer, read more.
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
      scanned = end_;
      if (buf_.size() - end_ < kBlock / 2) buf_.resize(buf_.size() * 2);
      if (before_wait_) before_wait_();
      ssize_t n;
      do {
        n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) {
        eof_ = true;
        if (n < 0) errno_ = errno;
      } else {
        end_ += static_cast<size_t>(n);
      }
    }
  }
  int errno_value() const { return errno_; }

 private:
  static constexpr size_t kBlock = 1 << 20;
  int fd_;
  size_t limit_;
  std::function<void()> before_wait_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool skipping_ = false;  // inside a line that is already too long
  bool eof_ = false;
  int errno_ = 0;
};

// Writes the audit record of `d` (for the request bytes `raw`) and fills d.audit. A failure means
// the decision was not recorded: the caller must not report it as decided.
absl::Status Record(AuditLog* log, std::string_view raw, Decision* d) {
  if (log == nullptr) return absl::OkStatus();
  return RecordDecision(*log, raw, d);
}

void ErrorLine(size_t n, const std::string& message, std::string* out) {
  out->append(nlohmann::json{{"line", n}, {"error", message}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace));
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
    RequestLimits limits;
    // Decisions go out through one buffer, written when it is large or before the input may
    // block.
    std::string out;
    out.reserve(kOutBlock + (64 << 10));
    auto flush = [&] {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
      std::fflush(stdout);
    };
    LineReader reader(fd, limits.max_bytes, flush);
    std::string_view line;
    bool too_long = false;
    bool any_error = false;
    size_t n = 0;
    while (reader.Next(&line, &too_long)) {
      ++n;
      if (too_long) {
        ErrorLine(n, absl::StrCat("line exceeds ", limits.max_bytes, " bytes"), &out);
        any_error = true;
      } else if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
        ErrorLine(n, "empty line", &out);
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
          AppendDecisionJson(*d, &out);
        } else {
          ErrorLine(n, std::string(d.status().message()), &out);
          any_error = true;
        }
      }
      out.push_back('\n');
      if (out.size() >= kOutBlock) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        out.clear();
      }
    }
    flush();
    // A read error ends the loop like the end of the input: the lines after it were not decided.
    const int read_errno = reader.errno_value();
    if (own_fd) ::close(fd);
    if (read_errno != 0) {
      std::fprintf(stderr, "residency check: %s: read failed after line %zu: %s\n", batch.c_str(),
                   n, std::strerror(read_errno));
      close_audit();
      return kExitCannotRun;
    }
    if (!close_audit()) return kExitCannotRun;
    return any_error ? kExitCannotRun : kExitOk;
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
