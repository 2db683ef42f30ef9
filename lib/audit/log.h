// Internal entry points of the audit writer (the public API is residency/audit.h).
#ifndef RESIDENCY_LIB_AUDIT_LOG_H_
#define RESIDENCY_LIB_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/fs.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "residency/audit.h"

namespace residency::audit {

// AuditLog::Open over a given file layer (tests pass a FaultInjectingFileSystem).
absl::StatusOr<std::unique_ptr<AuditLog>> OpenAuditLog(const AuditOptions& options, FileSystem* fs);
// Same, with an already-loaded signer (key_file is then ignored).
absl::StatusOr<std::unique_ptr<AuditLog>> OpenAuditLogWithSigner(
    const AuditOptions& options, FileSystem* fs, std::unique_ptr<NoteSigner> signer);

// A sink that also takes the hashes the log computes anyway (the tiles publisher: so that it
// does not hash every record a second time). The log calls OnLeafRecords in place of OnRecords:
// `leaves` holds the `count` records' leaf hashes, in order; `subtree_roots` the root of each
// perfect subtree of 2^kLeafSinkSubtreeHeight leaves (a full level-0 tile) that these records
// complete, in order.
inline constexpr int kLeafSinkSubtreeHeight = 8;
class LeafHashSink : public AuditSink {
 public:
  virtual absl::Status OnLeafRecords(uint64_t first_index, uint64_t count,
                                     std::string_view encoded_records, std::vector<Hash> leaves,
                                     std::vector<Hash> subtree_roots) = 0;
};

// `options` with a sink that publishes C2SP tiles chained before its own sink, when
// `options.tiles_dir` is set; otherwise `options` unchanged (tiles_sink.cc).
absl::StatusOr<AuditOptions> WithTilesPublication(const AuditOptions& options, FileSystem* fs);

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_LOG_H_
