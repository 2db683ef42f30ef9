// The file sink: a stand-in for shipping to Kafka or object storage.
#include "absl/strings/str_cat.h"
#include "audit/codec.h"
#include "audit/fs.h"
#include "internal/status_macros.h"
#include "residency/audit.h"

namespace residency {
namespace {

class FileSink : public AuditSink {
 public:
  explicit FileSink(std::string dir) : dir_(std::move(dir)) {}

  absl::Status OnOpen(const std::string& origin, const std::string& log_id) override {
    audit::FileSystem* fs = audit::PosixFileSystem();
    RESIDENCY_ASSIGN_OR_RETURN(records_,
                               fs->OpenAppend(dir_ + "/" + log_id + ".records",
                                              !fs->Exists(dir_ + "/" + log_id + ".records")));
    RESIDENCY_ASSIGN_OR_RETURN(checkpoints_,
                               fs->OpenAppend(dir_ + "/" + log_id + ".checkpoints",
                                              !fs->Exists(dir_ + "/" + log_id + ".checkpoints")));
    return fs->SyncDir(dir_);
  }
  absl::Status OnRecords(uint64_t first_index, uint64_t count, std::string_view encoded) override {
    if (!records_) return absl::FailedPreconditionError("file sink is not open");
    RESIDENCY_RETURN_IF_ERROR(records_->Append(encoded));
    return records_->Sync();
  }
  absl::Status OnCheckpoint(uint64_t tree_size, std::string_view note) override {
    if (!checkpoints_) return absl::FailedPreconditionError("file sink is not open");
    RESIDENCY_RETURN_IF_ERROR(checkpoints_->Append(absl::StrCat(std::string(note), "\n")));
    return checkpoints_->Sync();
  }
  absl::Status OnClose() override {
    absl::Status a = records_ ? records_->Close() : absl::OkStatus();
    absl::Status b = checkpoints_ ? checkpoints_->Close() : absl::OkStatus();
    return a.ok() ? b : a;
  }

 private:
  std::string dir_;
  std::unique_ptr<audit::WritableFile> records_, checkpoints_;
};

}  // namespace

std::unique_ptr<AuditSink> NewFileSink(std::string dir) {
  return std::make_unique<FileSink>(std::move(dir));
}

}  // namespace residency
