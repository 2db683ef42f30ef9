// Deciding many requests: a list in memory, or a stream of JSON lines (one request per line) into
// a stream of decision lines, on several threads. What `residency check --batch` and the Python
// binding's check_many and check_jsonl run.
//
//   residency::BatchOptions o;
//   o.threads = 4;
//   auto summary = residency::DecideJsonLines(*snapshot, in_fd, out_fd, o);
//
// Output lines are in input order: the decision JSON (DecisionToJson) of each line, or
// {"error":"...","line":N} for a line that cannot be decided (1-based N; an empty line, a line
// over the size limit, a request ParseRequest or Evaluate refuses, a decision the audit log did
// not take). Treat an error line as a deny.
//
// Thread safety: each call uses its own threads; calls may run concurrently on one snapshot.
#ifndef RESIDENCY_BATCH_H_
#define RESIDENCY_BATCH_H_

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "residency/audit.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace residency {

struct BatchOptions {
  EvalOptions eval;
  RequestLimits limits;
  // Threads that parse and decide; 0: one per hardware thread. Output order does not depend on it.
  int threads = 1;
  // When set, every decision is recorded (RecordDecision, the line's bytes as the request), in
  // input order; a decision that was not recorded becomes an error line.
  AuditLog* audit = nullptr;
  // Called on the calling thread after each block of lines is written, with the number of lines
  // done so far. Never called concurrently.
  std::function<void(size_t lines_done)> progress;
  // Called on the calling thread before a read that may block, after pending output is written
  // (an interactive caller feeding one line at a time gets its answer).
  std::function<void()> before_wait;
};

struct BatchSummary {
  size_t lines = 0;                   // lines read (the last one without a newline counts)
  size_t decided = 0;                 // lines that got a decision
  size_t errors = 0;                  // error lines
  std::array<size_t, 4> by_effect{};  // decided lines by Effect (index: static_cast<int>)
  // Enforced reasons by rule id, and by the location their trigger names (Reason::location();
  // a reason whose rule decides alike everywhere counts under ""): what a report groups by.
  std::map<std::string, size_t> by_rule, by_location;
};

// Parses and decides each of `texts` (JSON or YAML, one request each) on `threads` threads
// (0: one per hardware thread); the results in the same order.
std::vector<absl::StatusOr<Decision>> DecideMany(const PolicySnapshot& snapshot,
                                                 const std::vector<std::string_view>& texts,
                                                 const EvalOptions& options = EvalOptions(),
                                                 int threads = 1,
                                                 const RequestLimits& limits = RequestLimits());

// Reads JSON lines from `in_fd` until its end and writes a line for each to `out_fd` (above).
// A non-OK status: reading or writing failed (errno's message, and the line it happened after);
// the lines before it were written.
absl::StatusOr<BatchSummary> DecideJsonLines(const PolicySnapshot& snapshot, int in_fd, int out_fd,
                                             const BatchOptions& options);

}  // namespace residency

#endif  // RESIDENCY_BATCH_H_
