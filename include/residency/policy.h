// Compiling policies: YAML files (policies, the region catalogue) -> an immutable, indexed
// PolicySnapshot that the evaluator reads. Prepare once, evaluate many.
//
//   residency::CompileResult r = residency::CompilePolicies({"policies"});
//   for (const auto& d : r.diagnostics) std::cerr << residency::FormatDiagnostic(d) << "\n";
//   if (!r.snapshot) return;                       // errors: no snapshot
//   residency::PolicyStore store(r.snapshot);      // hot reload: store.Swap(new_snapshot)
//
// Thread safety: a PolicySnapshot is immutable and safe to share across threads. PolicyStore is
// safe for concurrent use. The compile functions may be called from any thread.
#ifndef RESIDENCY_POLICY_H_
#define RESIDENCY_POLICY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace residency {

namespace policy_internal {
struct CompiledSet;
struct EvalIndex;
}  // namespace policy_internal

// One finding about a policy file. `line` and `column` are 1-based; 0 when the finding has no
// position (an unreadable file, a cross-file problem). `code` is a stable id such as
// `unknown-key`, `duplicate-id`, `dangling-reference`, `invalid-regex`, `shadowed-rule`.
struct Diagnostic {
  enum class Severity { kError, kWarning };
  std::string file;
  int line = 0;
  int column = 0;
  Severity severity = Severity::kError;
  std::string code;
  std::string message;
};

// `FILE:LINE:COL: error: message [code]` (positions omitted when 0).
std::string FormatDiagnostic(const Diagnostic& d);

// Bounds on what a compile accepts; past each the compile fails with a `limit` diagnostic.
struct CompileOptions {
  size_t max_file_bytes = 8u << 20;    // one YAML file (default 8 MiB)
  size_t max_total_bytes = 64u << 20;  // all files of one compile (default 64 MiB)
  size_t max_files = 1000;             // files of one compile
  size_t max_rules = 100000;           // rules across all policies
  size_t max_locations = 1024;         // catalogue locations
  size_t max_classes = 256;            // data classes, built-in and added
  int max_nesting = 64;                // YAML nesting depth, and condition depth
  size_t max_pattern_bytes = 1024;     // one RE2 pattern
  int64_t max_regex_memory = 1 << 20;  // RE2 max_mem for one pattern (bytes)
  size_t max_list_entries = 100000;    // entries across all named lists
  // Keep the sources in the snapshot (PolicySnapshot::sources()), e.g. to compile the same set
  // in another process and check that it has the same digest. Off: they cost their size.
  bool keep_sources = false;
};

// A file's name (used in diagnostics) and its text.
struct PolicySource {
  std::string name;
  std::string text;
};

class PolicySnapshot {
 public:
  explicit PolicySnapshot(std::unique_ptr<const policy_internal::CompiledSet> set);
  ~PolicySnapshot();
  PolicySnapshot(const PolicySnapshot&) = delete;
  PolicySnapshot& operator=(const PolicySnapshot&) = delete;

  // `sha256:<64 hex>` of the canonical form of everything that can change a decision or its
  // output (rules, their order, messages, obligations, the catalogue); comments, formatting and
  // key order do not change it.
  const std::string& digest() const;
  // Policy ids in evaluation order (bytewise).
  std::vector<std::string> policy_ids() const;
  size_t rule_count() const;
  // The sources it was compiled from (names and texts, in compile order) when
  // CompileOptions::keep_sources was set; empty otherwise.
  const std::vector<PolicySource>& sources() const;
  // Catalogue location ids in catalogue order.
  std::vector<std::string> locations() const;

  const policy_internal::CompiledSet& impl() const { return *set_; }
  // What evaluation derives from impl() once: location sets, slot indexes, dated lists.
  const policy_internal::EvalIndex& index() const { return *index_; }
  // Shared by every Decision made with this snapshot and by each part of one (Reason, ...).
  const std::shared_ptr<const policy_internal::CompiledSet>& shared_impl() const { return set_; }

 private:
  std::shared_ptr<const policy_internal::CompiledSet> set_;
  std::unique_ptr<const policy_internal::EvalIndex> index_;  // into *set_
};

struct CompileResult {
  std::shared_ptr<const PolicySnapshot> snapshot;  // null when any error was found
  std::vector<Diagnostic> diagnostics;             // errors and warnings, in file order
  bool ok() const { return snapshot != nullptr; }
};

// Compiles every YAML file named (folders are read whole, `*.yaml`/`*.yml`, sorted by name,
// not recursive except that `tests/` and `schema/` subfolders are skipped). Files declare what
// they are with a top-level `kind:`; `tests` and `tagging` files are checked for that key only.
// Exactly one `catalogue` is required.
CompileResult CompilePolicies(const std::vector<std::string>& paths,
                              const CompileOptions& options = CompileOptions());
CompileResult CompilePolicySources(const std::vector<PolicySource>& sources,
                                   const CompileOptions& options = CompileOptions());

// As CompilePolicies, but returns InvalidArgument carrying the first error
// (`FILE:LINE:COL: message`) instead of diagnostics.
absl::StatusOr<std::shared_ptr<const PolicySnapshot>> CompilePolicy(
    const std::vector<std::string>& paths, const CompileOptions& options = CompileOptions());

// Holds the current snapshot for hot reload. A request takes one snapshot with Get() and uses it
// from start to end; Swap() never disturbs a request already running.
//
// Get() takes no lock and touches no cache line that other threads write, except one atomic
// generation counter that only Swap() writes: each thread keeps its own reference to the
// current snapshot (refreshed, under a lock, only after a Swap) and hands out pointers that
// share that thread's own reference count. So readers on several cores do not serialise. A
// thread that has not called Get() since a Swap() keeps the previous snapshot alive until its
// next Get() on this store (or its exit, or until it has used several other stores).
// Thread safety: all methods are safe to call concurrently.
class PolicyStore {
 public:
  explicit PolicyStore(std::shared_ptr<const PolicySnapshot> initial);
  ~PolicyStore();
  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;

  std::shared_ptr<const PolicySnapshot> Get() const;
  void Swap(std::shared_ptr<const PolicySnapshot> next);
  // Compiles `paths` and swaps the result in; on any error the current snapshot stays.
  absl::Status Reload(const std::vector<std::string>& paths,
                      const CompileOptions& options = CompileOptions());
  // Counts the swaps so far (0 for the initial snapshot).
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<const PolicySnapshot> GetSlow() const;

  const uint64_t id_;  // unique for the life of the process, never reused
  mutable std::mutex mu_;
  std::shared_ptr<const PolicySnapshot> current_;  // guarded by mu_
  std::atomic<uint64_t> generation_{0};            // written under mu_, after current_
};

}  // namespace residency

#endif  // RESIDENCY_POLICY_H_
