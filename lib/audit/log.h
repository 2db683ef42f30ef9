// Internal entry points of the audit writer (the public API is residency/audit.h).
#ifndef RESIDENCY_LIB_AUDIT_LOG_H_
#define RESIDENCY_LIB_AUDIT_LOG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "audit/fs.h"
#include "audit/note.h"
#include "residency/audit.h"

namespace residency::audit {

// AuditLog::Open over a given file layer (tests pass a FaultInjectingFileSystem).
absl::StatusOr<std::unique_ptr<AuditLog>> OpenAuditLog(const AuditOptions& options, FileSystem* fs);
// Same, with an already-loaded signer (key_file is then ignored).
absl::StatusOr<std::unique_ptr<AuditLog>> OpenAuditLogWithSigner(
    const AuditOptions& options, FileSystem* fs, std::unique_ptr<NoteSigner> signer);

// `options` with a sink that publishes C2SP tiles chained before its own sink, when
// `options.tiles_dir` is set; otherwise `options` unchanged (tiles_sink.cc).
absl::StatusOr<AuditOptions> WithTilesPublication(const AuditOptions& options, FileSystem* fs);

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_LOG_H_
