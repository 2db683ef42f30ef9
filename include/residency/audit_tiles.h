// The audit log as a fleet publishes it: C2SP tlog-tiles (static files any bucket or CDN can
// serve), verification from tiles (a directory or an http(s):// base URL), witness cosignatures
// (C2SP tlog-cosignature, cosignature/v1 over Ed25519) and a monitor across many logs.
// See docs/audit.md. Thread safety: the free functions keep no shared state.
#ifndef RESIDENCY_AUDIT_TILES_H_
#define RESIDENCY_AUDIT_TILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "residency/audit.h"

namespace residency {

// Builds, or brings up to date, the tiles of the log in `log_dir` under `out_dir` (published at
// the log's latest checkpoint). Returns the published tree size.
absl::StatusOr<uint64_t> PublishAuditTiles(const std::string& log_dir, const std::string& out_dir);

// What a tiles verification trusts and checks. Plain value; thread-compatible.
struct AuditTilesVerifyOptions {
  std::vector<std::string> vkeys;          // the log's verifier keys (signed-note vkeys)
  std::vector<std::string> witness_vkeys;  // cosigner vkeys (type 0x04), by name
  // Valid cosignatures needed from `witness_vkeys`; -1: all of them.
  int witnesses_needed = -1;
  // Earlier checkpoints (kept elsewhere): the tiles' checkpoint must be consistent with each.
  std::vector<std::string> trusted_checkpoints;
  // Check this checkpoint note (e.g. one carrying cosignatures) instead of the published one.
  std::string checkpoint;
  // Check every entry against the tiles (false: only the checkpoint, cosignatures and
  // consistency, from the few tiles those need).
  bool entries = true;
};

// Verifies a published tree at `location` (a directory or an http(s):// base URL). Findings go
// in the report (status "valid" when none); an error only when it cannot run (no keys, bad key,
// unreachable checkpoint is a finding "missing").
absl::StatusOr<AuditLogReport> VerifyAuditTiles(const std::string& location,
                                                const AuditTilesVerifyOptions& options);

// A c2sp.org/tlog-proof for record `index` from the tiles at `location` (checkpoint checked
// against `vkeys`).
absl::StatusOr<std::string> ProveAuditRecordFromTiles(const std::string& location, uint64_t index,
                                                      const std::vector<std::string>& vkeys);

// Generates a cosigner key: `<name>.pem` (PKCS#8 Ed25519, 0600) and `<name>.vkey`, a vkey of
// type 0x04 (cosignature/v1). Returns the vkey.
absl::StatusOr<std::string> GenerateWitnessKey(const std::string& name, const std::string& out_dir);

// A witness. Plain value; thread-compatible.
struct AuditWitnessOptions {
  std::string key_file;                // the cosigner's PEM key (name = file stem)
  std::vector<std::string> log_vkeys;  // logs it witnesses
  std::string state_dir;               // one small file per origin: the last cosigned checkpoint
};

// Fetches the checkpoint at `location`, checks the log's signature and that it is consistent
// with the last checkpoint this witness cosigned for the origin (a consistency proof from the
// tiles), records it and returns the note with this witness's cosignature line added (time
// `now`). A rollback or a fork fails with FailedPrecondition naming both checkpoints.
absl::StatusOr<std::string> WitnessAuditCheckpoint(const std::string& location,
                                                   const AuditWitnessOptions& options,
                                                   absl::Time now);

// A monitor of many logs. Plain value; thread-compatible.
struct AuditMonitorOptions {
  std::vector<std::string> vkeys;  // log keys
  std::string state_file;          // per origin: last verified checkpoint, counters
};
// One pass over `locations`: for each, verifies the new checkpoint against the remembered one
// (consistency from tiles) and every new entry; appends JSON lines (findings, then one summary
// per origin) to `*out`. Returns the number of findings.
absl::StatusOr<int> MonitorAuditLogs(const std::vector<std::string>& locations,
                                     const AuditMonitorOptions& options, std::string* out);

}  // namespace residency

#endif  // RESIDENCY_AUDIT_TILES_H_
