// Signed, tamper-evident audit trail for residency decisions (docs/audit.md), and its offline
// verifier. Self-contained: it does not depend on the decision engine's types.
//
// A log is one directory, `<audit dir>/<log id>/`, holding append-only segment files of
// CRC-framed, canonically encoded records and the C2SP `tlog-checkpoint` notes that sign them.
// Records form an RFC 6962 Merkle tree; the writer signs a checkpoint (Ed25519 through OpenSSL)
// every `checkpoint_every_records` records or `checkpoint_interval`, never over records that are
// not yet on disk. The log's origin line is `<key name>/<log id>`.
//
// Wiring `residency check --audit-log DIR --audit-key KEY.pem` (one log per run):
//
//   residency::AuditOptions opts;
//   opts.audit_dir = dir;                 // --audit-log DIR
//   opts.key_file = key_pem;              // --audit-key KEY.pem (key name = file stem)
//   auto log = residency::AuditLog::Open(opts);          // error: exit 2
//   if (!log.ok()) { ...print (*log).status().message(); return 2; }
//   ...for each decision d of request r (residency/decision.h builds the record):
//   absl::Status s = residency::RecordDecision(**log, request_bytes_as_read, &d);
//   // error: treat as deny, exit 2; else d.audit = {(*log)->log_dir(), index} and the decision
//   // JSON carries "audit": {"log": ..., "index": ...}
//   // (AuditRecordOf(d, request_bytes_as_read) gives the DecisionRecord itself: the effect, the
//   // rule ids of d.reasons in order, d.tags, AuditRequestDigest(request bytes), the policy
//   // digest and d.now.)
//   ...at exit: (*log)->Close();          // writes the close record and final checkpoint
//
// Any non-OK status from Open/Append/Flush/Close means the decision was not recorded: the caller
// must treat it as deny (fail closed).
#ifndef RESIDENCY_AUDIT_H_
#define RESIDENCY_AUDIT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace residency {

// One decision as it goes into the audit log. Plain value; thread-compatible.
struct DecisionRecord {
  // "allow", "allow_with_obligations", "escalate" or "deny"; anything else is rejected.
  std::string decision;
  // Ids of the rules that decided, in the decision's order (each 1..255 bytes, printable).
  std::vector<std::string> rule_ids;
  // The request's tags (`ORIGIN:class`); stored sorted and unique.
  std::vector<std::string> tags;
  // SHA-256 of the request as received (see AuditRequestDigest). Never the request itself.
  std::array<uint8_t, 32> request_digest{};
  // The policy set's digest, `sha256:<64 lowercase hex>`.
  std::string policy_digest;
  // The evaluation's `now`, stored as the record's `evaluated_at`. The record's own time is the
  // writer's clock when it is appended, never this (it never goes backwards within a log).
  absl::Time now = absl::UnixEpoch();
  // Optional identifier of a person (user id, principal). Never stored raw: the record holds a
  // keyed commitment SHA-256("residency-audit-commit-v1" || secret || principal), where the
  // secret is the log's commitment secret (AuditLog::commitment_secret), kept outside the log.
  std::string principal;
};

// Durability of an acknowledged Append.
enum class AuditDurability {
  // Append returns once the record is sequenced in memory; it is written and fsynced within
  // `sync_interval` by the background writer. A host crash may lose the last few ms (never a
  // signed record); a process crash loses nothing written.
  kAsync,
  // Append returns only after an fdatasync covering the record (group commit).
  kSync,
};

// Where records and checkpoints go besides the local segment files (Kafka, object storage, …).
// Called on the writer thread only, in order, and only with durable data: `OnRecords` with the
// frames of records [first_index, first_index + count) once they are fsynced, `OnCheckpoint`
// with every signed checkpoint note. A non-OK status fails the log (fail closed).
// Thread safety: implementations are called from one thread at a time.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Called once before anything else, with the log's origin and id.
  virtual absl::Status OnOpen(const std::string& origin, const std::string& log_id) {
    return absl::OkStatus();
  }
  virtual absl::Status OnRecords(uint64_t first_index, uint64_t count,
                                 std::string_view encoded_records) = 0;
  virtual absl::Status OnCheckpoint(uint64_t tree_size, std::string_view note) = 0;
  virtual absl::Status OnClose() { return absl::OkStatus(); }
};

// A sink that appends every durable record (u32 big-endian length + record bytes) to
// `<dir>/<log id>.records` and every checkpoint note to `<dir>/<log id>.checkpoints`, fsyncing
// both before returning (stands in for a Kafka topic or an object-store upload).
// Thread safety: like every AuditSink, called by one writer thread at a time.
std::unique_ptr<AuditSink> NewFileSink(std::string dir);

// Configuration of one log. Plain value; thread-compatible.
struct AuditOptions {
  // Parent directory: each Open creates a fresh log in `audit_dir/<log id>/`. Required unless
  // `resume_log_dir` is set.
  std::string audit_dir;
  // Reopen an existing log directory instead: recover it (cut a torn tail, record a recovery
  // record) and continue appending to it.
  std::string resume_log_dir;
  // (A log has one writer at a time: an open log holds an fcntl lock on `writer.lock` in its
  // directory until Close; Open of a log another writer holds, in any process, fails with
  // kFailedPrecondition naming it. The lock dies with its process, so a crashed writer never
  // blocks recovery.)
  // PKCS#8 PEM Ed25519 private key (from `residency audit keygen`). The key name is the file's
  // stem (`keys/gw1.pem` → `gw1`). Required. Errors name the file and never quote it (a `.vkey`
  // given here is named as one).
  std::string key_file;
  // Log id; empty (the default) makes a time-ordered random one (`20260630T000000Z-1a2b3c4d`).
  std::string log_id;
  AuditDurability durability = AuditDurability::kAsync;
  // Background writer: write() at least every `flush_interval`, fdatasync at least every
  // `sync_interval` (defaults 1 ms and 5 ms; docs/audit.md, "Using it from
  // C++").
  absl::Duration flush_interval = absl::Milliseconds(1);
  absl::Duration sync_interval = absl::Milliseconds(5);
  // Checkpoint cadence: after this many records or this much time, whichever comes first
  // (defaults 65,536 and 1 s). An idle log still writes a heartbeat and checkpoint each interval.
  uint64_t checkpoint_every_records = 65536;
  absl::Duration checkpoint_interval = absl::Seconds(1);
  // Segment files rotate after this many bytes (default 64 MiB).
  uint64_t segment_bytes = 64ull << 20;
  // In-memory queue between Append and the writer (slots; rounded up to a power of two).
  // A full queue makes Append wait: records are never dropped.
  uint32_t queue_slots = 1u << 16;
  // Secret for principal commitments (32 bytes); empty: a random one per log.
  std::string commitment_secret;
  // Optional extra destination of durable records and checkpoints. May be null.
  std::shared_ptr<AuditSink> sink;
  // Publish the log continuously in the C2SP tlog-tiles layout (static files: `checkpoint`,
  // `tile/...`; see docs/audit.md) under `tiles_dir/<log id>/`, at every checkpoint. Empty: no
  // publication. A resumed log first brings its tiles up to date. A failed publication fails the
  // log (fail closed), like a failed sink.
  std::string tiles_dir;
};

// An open audit log. Thread safety: Append, Flush and the accessors may be called from any
// number of threads at once (Append takes no global lock); Close must be called once, after all
// Appends have returned. The destructor closes the log if Close was not called.
class AuditLog {
 public:
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const AuditOptions& options);
  virtual ~AuditLog() = default;

  // Appends one decision record; returns its index in the log. With kSync it returns after the
  // record is durable. A non-OK status (bad record, failed write or fsync) means not recorded.
  virtual absl::StatusOr<uint64_t> Append(const DecisionRecord& record) = 0;
  // Records that a policy set with `policy_digest` (`sha256:…`) was loaded.
  virtual absl::StatusOr<uint64_t> AppendPolicyLoaded(const std::string& policy_digest) = 0;
  // Waits until every record appended before the call is durable and covered by a signed
  // checkpoint.
  virtual absl::Status Flush() = 0;
  // Writes the close record and the final checkpoint, then stops the writer. Idempotent.
  virtual absl::Status Close() = 0;

  virtual const std::string& log_id() const = 0;
  virtual std::string log_dir() const = 0;
  virtual const std::string& origin() const = 0;
  // The secret behind principal commitments; keep it outside the log (it reveals them).
  virtual const std::string& commitment_secret() const = 0;
  // Number of records acknowledged as durable so far.
  virtual uint64_t durable_size() const = 0;
};

// SHA-256 of the request bytes, for DecisionRecord::request_digest.
std::array<uint8_t, 32> AuditRequestDigest(std::string_view request_bytes);

// Reads a verifier key: `file_or_vkey` names a `.vkey` file, or (when no such file exists and it
// holds a `+`) is a vkey string itself (`name+hash+base64`). Returns the vkey string. Errors
// name the file and say what is wrong with it (`keys/ops.pem`: a private key; pass the `.vkey`;
// not UTF-8 text at byte N; ...) and never quote the file's content.
absl::StatusOr<std::string> ReadAuditVerifierKey(const std::string& file_or_vkey);

// Generates an Ed25519 key named `name` in `out_dir`: `<name>.pem` (PKCS#8, mode 0600; refuses
// to overwrite) and `<name>.vkey` (C2SP signed-note verifier key and a newline). Returns the vkey.
absl::StatusOr<std::string> GenerateAuditKey(const std::string& name, const std::string& out_dir);

// What the verifier found about one log.
enum class AuditLogStatus { kValid, kInvalid, kMissing, kTruncated, kGap, kEquivocation };
// "valid", "invalid", "missing", "truncated", "gap", "equivocation".
const char* AuditLogStatusName(AuditLogStatus s);

// One finding of the verifier. Plain value; thread-compatible.
struct AuditFinding {
  AuditLogStatus status = AuditLogStatus::kInvalid;
  // For kInvalid: "bit flip", "deleted", "inserted", "duplicated", "reordered", "bad signature",
  // "wrong key", "replayed checkpoint", "root mismatch", "segment missing", "segment reordered",
  // "malformed"; for other statuses a short kind such as "unclean end" or "rollback".
  std::string kind;
  std::string message;  // one line, lowercase
};

// The verifier's verdict on one log. Plain value; thread-compatible.
struct AuditLogReport {
  std::string path;                                // the log directory
  std::string origin;                              // from the log-open record, when readable
  AuditLogStatus status = AuditLogStatus::kValid;  // the most serious finding
  std::vector<AuditFinding> findings;
  uint64_t records = 0;
  uint64_t checkpoints = 0;  // valid checkpoints checked
};

// The verifier's verdict on every log under a path. Plain value; thread-compatible.
struct AuditVerifyReport {
  std::vector<AuditLogReport> logs;
  bool ok() const;  // every log valid
};

// What the verifier trusts. Plain value; thread-compatible.
struct AuditVerifyOptions {
  // Verifier keys: C2SP vkey strings (`name+hash+base64`). Several for rotation.
  std::vector<std::string> vkeys;
  // The logs may still be written: a missing close record is not a gap.
  bool open = false;
  // Checkpoint notes kept elsewhere; each must be consistent with the log of its origin.
  std::vector<std::string> trusted_checkpoints;
};

// Thread safety: the free functions below keep no shared state and may run concurrently.
// Verifies every log under `path` (a log directory, or a directory of log directories).
// Returns an error only when it cannot run at all (unreadable path, no keys, bad vkey).
absl::StatusOr<AuditVerifyReport> VerifyAuditLogs(const std::string& path,
                                                  const AuditVerifyOptions& options);

// A C2SP tlog-proof (`c2sp.org/tlog-proof@v1`) for record `index` of the log in `log_dir`,
// against the log's latest checkpoint; `extra` carries the record bytes.
absl::StatusOr<std::string> ProveAuditRecord(const std::string& log_dir, uint64_t index);

// Checks a tlog-proof offline against `vkeys`; on success returns the record as a JSON line.
absl::StatusOr<std::string> VerifyAuditProof(std::string_view proof,
                                             const std::vector<std::string>& vkeys);

// Display helpers for `residency audit show`: every record as one JSON line; every leaf's bytes
// base64, one per line; every checkpoint note followed by one blank line.
absl::StatusOr<std::string> ShowAuditLog(const std::string& log_dir);
absl::StatusOr<std::string> ShowAuditLogRaw(const std::string& log_dir);
absl::StatusOr<std::string> ShowAuditCheckpoints(const std::string& log_dir);

}  // namespace residency

#endif  // RESIDENCY_AUDIT_H_
