// Continuous publication of an audit log as C2SP tiles: an AuditSink that feeds a TilesWriter
// with every durable record and publishes every checkpoint, chained before the caller's sink.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "audit/codec.h"
#include "audit/log.h"
#include "audit/tiles.h"
#include "internal/status_macros.h"

namespace residency::audit {
namespace {

class TilesSink : public AuditSink {
 public:
  TilesSink(std::string parent, std::string resume_dir, FileSystem* fs,
            std::shared_ptr<AuditSink> next)
      : parent_(std::move(parent)),
        resume_dir_(std::move(resume_dir)),
        fs_(fs),
        next_(std::move(next)) {}

  absl::Status OnOpen(const std::string& origin, const std::string& log_id) override {
    RESIDENCY_ASSIGN_OR_RETURN(store_, OpenDirTileStore(parent_ + "/" + log_id));
    if (!resume_dir_.empty()) {
      // The recovered log is on disk: publish up to its last checkpoint, keep the rest pending.
      RESIDENCY_ASSIGN_OR_RETURN(writer_, CatchUpTiles(fs_, resume_dir_, store_.get(), true));
    } else {
      RESIDENCY_ASSIGN_OR_RETURN(writer_, TilesWriter::Open(store_.get(), origin));
    }
    if (writer_->origin() != origin) {
      return absl::FailedPreconditionError(
          absl::StrCat("tiles of `", writer_->origin(), "` cannot take log `", origin, "`"));
    }
    return next_ ? next_->OnOpen(origin, log_id) : absl::OkStatus();
  }

  absl::Status OnRecords(uint64_t first_index, uint64_t count, std::string_view encoded) override {
    if (!writer_) return absl::FailedPreconditionError("tiles publication is not open");
    if (first_index != writer_->size()) {
      return absl::DataLossError(absl::StrCat("tiles publication expected record ", writer_->size(),
                                              ", got ", first_index));
    }
    std::string_view rest = encoded;
    for (uint64_t i = 0; i < count; ++i) {
      if (rest.size() < 4) return absl::InternalError("short sink batch");
      const uint32_t len = LoadU32(rest.data());
      if (rest.size() < 4 + static_cast<size_t>(len))
        return absl::InternalError("short sink batch");
      RESIDENCY_RETURN_IF_ERROR(writer_->Add(rest.substr(4, len)));
      rest.remove_prefix(4 + static_cast<size_t>(len));
    }
    return next_ ? next_->OnRecords(first_index, count, encoded) : absl::OkStatus();
  }

  absl::Status OnCheckpoint(uint64_t tree_size, std::string_view note) override {
    if (!writer_) return absl::FailedPreconditionError("tiles publication is not open");
    RESIDENCY_RETURN_IF_ERROR(writer_->Publish(note));
    return next_ ? next_->OnCheckpoint(tree_size, note) : absl::OkStatus();
  }

  absl::Status OnClose() override { return next_ ? next_->OnClose() : absl::OkStatus(); }

 private:
  std::string parent_, resume_dir_;
  FileSystem* fs_;
  std::shared_ptr<AuditSink> next_;
  std::unique_ptr<TileStore> store_;
  std::unique_ptr<TilesWriter> writer_;
};

}  // namespace

absl::StatusOr<AuditOptions> WithTilesPublication(const AuditOptions& options, FileSystem* fs) {
  if (options.tiles_dir.empty()) return options;
  AuditOptions out = options;
  out.sink =
      std::make_shared<TilesSink>(options.tiles_dir, options.resume_log_dir, fs, options.sink);
  return out;
}

}  // namespace residency::audit
