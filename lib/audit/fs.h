// The file layer under the audit log, so that crash behaviour can be tested: the POSIX
// implementation, and an in-memory one that simulates power loss (drops bytes not yet fsynced,
// optionally tears the last unsynced write) and injects fsync failures.
// Thread safety: PosixFileSystem is safe from any thread; a WritableFile is used by one thread;
// FaultInjectingFileSystem serialises its operations with a mutex.
#ifndef RESIDENCY_LIB_AUDIT_FS_H_
#define RESIDENCY_LIB_AUDIT_FS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace residency::audit {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  virtual absl::Status Sync() = 0;  // fdatasync; an error is final for this file
  virtual absl::Status Close() = 0;
};

// Read-only bytes of a whole file (memory-mapped where the file layer can).
class FileData {
 public:
  virtual ~FileData() = default;
  virtual std::string_view data() const = 0;
};

// An exclusive lock on a file, held until the object is destroyed or its process dies.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The clock that stamps records (the writer's clock). Default: absl::Now().
  virtual absl::Time Now() { return absl::Now(); }
  // Takes an exclusive lock on `path` (created if absent, never removed). The POSIX layer uses an
  // open-file-description lock (fcntl F_OFD_SETLK): a second open of the file conflicts, in
  // another process or in this one, and the lock dies with the process that holds it, so a
  // crashed holder never blocks the next. kFailedPrecondition when another holder has it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
  // The whole file without copying where possible; the default reads it into memory.
  virtual absl::StatusOr<std::unique_ptr<FileData>> MapFile(const std::string& path,
                                                            uint64_t max_bytes);
  // Opens `path` for appending; creates it when `create` (and fails if it exists).
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> OpenAppend(const std::string& path,
                                                                   bool create) = 0;
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes) = 0;
  // Truncates to `size` and makes that durable.
  virtual absl::Status Truncate(const std::string& path, uint64_t size) = 0;
  // Replaces `path` atomically and durably (temp file, fsync, rename, fsync dir).
  virtual absl::Status WriteFileAtomic(const std::string& path, std::string_view data) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual absl::Status CreateDir(const std::string& path) = 0;  // fails if it exists
  virtual absl::Status SyncDir(const std::string& path) = 0;
  // Renames a directory (no replacing) and makes that durable.
  virtual absl::Status RenameDir(const std::string& from, const std::string& to) = 0;
  virtual bool IsDir(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
};

FileSystem* PosixFileSystem();

class FaultInjectingFileSystem : public FileSystem {
 public:
  explicit FaultInjectingFileSystem(uint64_t seed = 1) : rng_(seed) {}
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenAppend(const std::string& path,
                                                           bool create) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes) override;
  absl::Status Truncate(const std::string& path, uint64_t size) override;
  absl::Status WriteFileAtomic(const std::string& path, std::string_view data) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override;
  absl::Status CreateDir(const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;
  absl::Status RenameDir(const std::string& from, const std::string& to) override;
  bool IsDir(const std::string& path) override;
  bool Exists(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;
  absl::Time Now() override;

  // The clock Now() reads from here on (tests step it back and forth); absl::Now() by default.
  void SetClock(std::function<absl::Time()> clock);

  // Power loss: every later operation fails until Restart (which also drops every lock, as the
  // death of the holding process would).
  void PowerOff();
  // After a power loss: each file keeps its synced bytes; when `tear`, a random prefix of the
  // unsynced bytes of each file survives (a torn last write). Then operations work again.
  void Restart(bool tear);
  // Every Sync after the next `n` fails with EIO.
  void FailSyncAfter(int n);
  // Writes every file to the real directory `root` (same relative paths), for tools.
  absl::Status Materialize(const std::string& root);
  uint64_t synced_bytes(const std::string& path);

 private:
  friend class FaultFile;
  struct File {
    std::string data;
    uint64_t synced = 0;
  };
  absl::Status Check();
  std::string Resolve(const std::string& path);  // follows directory renames (open files)
  friend class FaultLock;
  std::map<uint64_t, std::string> locks_;  // held locks by id (the path as taken)
  uint64_t next_lock_ = 0;
  std::function<absl::Time()> clock_;
  std::map<std::string, std::string> renames_;
  std::mutex mu_;
  std::map<std::string, File> files_;
  std::map<std::string, bool> dirs_;
  bool off_ = false;
  int syncs_left_ = -1;
  std::mt19937_64 rng_;
};

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_FS_H_
