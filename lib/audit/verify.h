// Internal entry points of the verifier and the display/proof tools, over a file layer.
// Thread safety: functions keep no shared state.
#ifndef RESIDENCY_LIB_AUDIT_VERIFY_H_
#define RESIDENCY_LIB_AUDIT_VERIFY_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/fs.h"
#include "audit/note.h"
#include "audit/segment.h"
#include "residency/audit.h"

namespace residency::audit {

// Records a finding on `report` and raises its status to the finding's when that is more
// severe (valid < gap < missing < truncated < invalid < equivocation). Every verifier (log
// segments, tiles) reports through this one ranking.
void AddFinding(AuditLogReport* report, AuditLogStatus status, std::string kind, std::string msg);

absl::StatusOr<std::vector<std::unique_ptr<NoteVerifier>>> LoadVerifierKeys(
    const std::vector<std::string>& vkeys);

absl::StatusOr<AuditVerifyReport> VerifyAuditLogsOn(FileSystem* fs, const std::string& path,
                                                    const AuditVerifyOptions& options);

struct ReadRecord {
  uint8_t type;              // kFrameRecord or kFrameCheckpoint
  std::string_view payload;  // points into `files`
};
// Every frame of a log in order; fails on a damaged frame.
absl::StatusOr<std::vector<ReadRecord>> ReadRecords(FileSystem* fs, const std::string& dir,
                                                    LogFiles* files);

enum class ShowMode { kJson, kRaw, kCheckpoints };
absl::StatusOr<std::string> ShowOn(FileSystem* fs, const std::string& dir, ShowMode mode);
absl::StatusOr<std::string> ProveOn(FileSystem* fs, const std::string& dir, uint64_t index);
absl::StatusOr<std::string> CheckProof(std::string_view proof,
                                       const std::vector<std::string>& vkeys);

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_VERIFY_H_
