#include "audit/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace residency::audit {
namespace {

absl::Status Errno(const std::string& what, const std::string& path, int err) {
  auto code = err == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kInternal;
  if (err == EEXIST) code = absl::StatusCode::kAlreadyExists;
  return absl::Status(code, absl::StrCat(what, " `", path, "`: ", std::strerror(err)));
}

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class StringData : public FileData {
 public:
  explicit StringData(std::string s) : s_(std::move(s)) {}
  std::string_view data() const override { return s_; }

 private:
  std::string s_;
};

class MappedData : public FileData {
 public:
  MappedData(void* p, size_t n) : p_(p), n_(n) {}
  ~MappedData() override {
    if (p_ != nullptr) ::munmap(p_, n_);
  }
  std::string_view data() const override {
    return std::string_view(static_cast<const char*>(p_), n_);
  }

 private:
  void* p_;
  size_t n_;
};

class PosixFile : public WritableFile {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Append(std::string_view data) override {
    if (!error_.ok()) return error_;
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return error_ = Errno("write failed on", path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    if (!error_.ok()) return error_;
    // A failed fsync is never retried: the kernel may have dropped the dirty pages.
    if (::fdatasync(fd_) != 0) return error_ = Errno("fsync failed on", path_, errno);
    return absl::OkStatus();
  }
  absl::Status Close() override {
    int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) return Errno("close failed on", path_, errno);
    return error_;
  }

 private:
  int fd_;
  std::string path_;
  absl::Status error_;
};

class Posix : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<FileData>> MapFile(const std::string& path,
                                                    uint64_t max_bytes) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot read", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return Errno("cannot stat", path, e);
    }
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat("file `", path, "` is too large"));
    }
    if (st.st_size == 0) {
      ::close(fd);
      return std::unique_ptr<FileData>(new StringData(std::string()));
    }
    size_t n = static_cast<size_t>(st.st_size);
    void* p = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    int e = errno;
    ::close(fd);
    if (p == MAP_FAILED) return Errno("cannot map", path, e);
    ::madvise(p, n, MADV_SEQUENTIAL);
    return std::unique_ptr<FileData>(new MappedData(p, n));
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenAppend(const std::string& path,
                                                           bool create) override {
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Errno("cannot open", path, errno);
    return std::unique_ptr<WritableFile>(new PosixFile(fd, path));
  }
  absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot read", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return Errno("cannot stat", path, e);
    }
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat("file `", path, "` is too large"));
    }
    std::string out(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < out.size()) {
      ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    out.resize(got);
    return out;
  }
  absl::Status Truncate(const std::string& path, uint64_t size) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", path, errno);
    absl::Status s;
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      s = Errno("cannot truncate", path, errno);
    } else if (::fsync(fd) != 0) {
      s = Errno("fsync failed on", path, errno);
    }
    ::close(fd);
    return s;
  }
  absl::Status WriteFileAtomic(const std::string& path, std::string_view data) override {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("cannot create", tmp, errno);
    PosixFile f(fd, tmp);
    absl::Status s = f.Append(data);
    if (s.ok()) s = f.Sync();
    absl::Status c = f.Close();
    if (s.ok()) s = c;
    if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = Errno("cannot rename", tmp, errno);
    if (s.ok()) s = SyncDir(Parent(path));
    return s;
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (!d) return Errno("cannot list", path, errno);
    std::vector<std::string> out;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    return out;
  }
  absl::Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0) return Errno("cannot create directory", path, errno);
    return SyncDir(Parent(path));
  }
  absl::Status SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open directory", path, errno);
    absl::Status s;
    if (::fsync(fd) != 0) s = Errno("fsync failed on directory", path, errno);
    ::close(fd);
    return s;
  }
  absl::Status RenameDir(const std::string& from, const std::string& to) override {
    struct stat st;
    if (::stat(to.c_str(), &st) == 0) {
      return absl::AlreadyExistsError(absl::StrCat("`", to, "` exists"));
    }
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno("cannot rename", from, errno);
    return SyncDir(Parent(to));
  }
  bool IsDir(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  bool Exists(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("cannot open lock file", path, errno);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(fd, F_OFD_SETLK, &fl) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EAGAIN || err == EACCES) {
        return absl::FailedPreconditionError(
            absl::StrCat("`", path, "` is locked by another holder"));
      }
      return Errno("cannot lock", path, err);
    }
    return std::unique_ptr<FileLock>(new PosixLock(fd));
  }

 private:
  class PosixLock : public FileLock {
   public:
    explicit PosixLock(int fd) : fd_(fd) {}
    ~PosixLock() override { ::close(fd_); }  // closing the description releases the lock

   private:
    int fd_;
  };
};

}  // namespace

absl::StatusOr<std::unique_ptr<FileData>> FileSystem::MapFile(const std::string& path,
                                                              uint64_t max_bytes) {
  auto data = ReadFile(path, max_bytes);
  if (!data.ok()) return data.status();
  return std::unique_ptr<FileData>(new StringData(std::move(*data)));
}

FileSystem* PosixFileSystem() {
  static Posix* fs = new Posix();
  return fs;
}

// ---- fault injection ----

class FaultFile : public WritableFile {
 public:
  FaultFile(FaultInjectingFileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  absl::Status Append(std::string_view data) override {
    std::lock_guard<std::mutex> l(fs_->mu_);
    if (absl::Status s = fs_->Check(); !s.ok()) return s;
    fs_->files_[fs_->Resolve(path_)].data.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    std::lock_guard<std::mutex> l(fs_->mu_);
    if (absl::Status s = fs_->Check(); !s.ok()) return s;
    if (fs_->syncs_left_ == 0) {
      return absl::InternalError(absl::StrCat("fsync failed on `", path_, "`: injected eio"));
    }
    if (fs_->syncs_left_ > 0) --fs_->syncs_left_;
    auto& f = fs_->files_[fs_->Resolve(path_)];
    f.synced = f.data.size();
    return absl::OkStatus();
  }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  FaultInjectingFileSystem* fs_;
  std::string path_;
};

absl::Status FaultInjectingFileSystem::Check() {
  if (off_) return absl::UnavailableError("power is off");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectingFileSystem::OpenAppend(
    const std::string& path, bool create) {
  std::lock_guard<std::mutex> l(mu_);
  if (absl::Status s = Check(); !s.ok()) return s;
  bool exists = files_.count(path) > 0;
  if (create && exists) return absl::AlreadyExistsError(absl::StrCat("`", path, "` exists"));
  if (!create && !exists) return absl::NotFoundError(absl::StrCat("`", path, "` not found"));
  if (create) files_[path] = File{};  // file creation is durable (directory synced by caller)
  return std::unique_ptr<WritableFile>(new FaultFile(this, path));
}

absl::StatusOr<std::string> FaultInjectingFileSystem::ReadFile(const std::string& path,
                                                               uint64_t max_bytes) {
  std::lock_guard<std::mutex> l(mu_);
  if (absl::Status s = Check(); !s.ok()) return s;
  auto it = files_.find(path);
  if (it == files_.end()) return absl::NotFoundError(absl::StrCat("cannot read `", path, "`"));
  if (it->second.data.size() > max_bytes) return absl::InvalidArgumentError("file too large");
  return it->second.data;
}

absl::Status FaultInjectingFileSystem::Truncate(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  if (absl::Status s = Check(); !s.ok()) return s;
  auto it = files_.find(path);
  if (it == files_.end()) return absl::NotFoundError(absl::StrCat("`", path, "` not found"));
  if (size < it->second.data.size()) it->second.data.resize(size);
  it->second.synced = it->second.data.size();
  return absl::OkStatus();
}

absl::Status FaultInjectingFileSystem::WriteFileAtomic(const std::string& path,
                                                       std::string_view data) {
  std::lock_guard<std::mutex> l(mu_);
  if (absl::Status s = Check(); !s.ok()) return s;
  if (syncs_left_ == 0) return absl::InternalError("fsync failed: injected eio");
  File f;
  f.data = std::string(data);
  f.synced = f.data.size();
  files_[path] = std::move(f);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FaultInjectingFileSystem::ListDir(
    const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (absl::Status s = Check(); !s.ok()) return s;
  if (!dirs_.count(path)) return absl::NotFoundError(absl::StrCat("cannot list `", path, "`"));
  std::vector<std::string> out;
  std::string prefix = path + "/";
  for (const auto& [p, f] : files_) {
    if (p.compare(0, prefix.size(), prefix) == 0 && p.find('/', prefix.size()) == std::string::npos)
      out.push_back(p.substr(prefix.size()));
  }
  for (const auto& [p, unused] : dirs_) {
    if (p.compare(0, prefix.size(), prefix) == 0 && p.find('/', prefix.size()) == std::string::npos)
      out.push_back(p.substr(prefix.size()));
  }
  return out;
}

absl::Status FaultInjectingFileSystem::CreateDir(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (absl::Status s = Check(); !s.ok()) return s;
  if (dirs_.count(path)) return absl::AlreadyExistsError(absl::StrCat("`", path, "` exists"));
  dirs_[path] = true;
  return absl::OkStatus();
}

absl::Status FaultInjectingFileSystem::SyncDir(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  return Check();
}

absl::Status FaultInjectingFileSystem::RenameDir(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  if (absl::Status s = Check(); !s.ok()) return s;
  if (!dirs_.count(from)) return absl::NotFoundError(absl::StrCat("`", from, "` not found"));
  if (dirs_.count(to) || files_.count(to)) {
    return absl::AlreadyExistsError(absl::StrCat("`", to, "` exists"));
  }
  dirs_.erase(from);
  dirs_[to] = true;
  std::string prefix = from + "/";
  std::map<std::string, File> moved;
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->first.compare(0, prefix.size(), prefix) == 0) {
      moved[to + "/" + it->first.substr(prefix.size())] = std::move(it->second);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [p, f] : moved) files_[p] = std::move(f);
  renames_[from] = to;
  return absl::OkStatus();
}

class FaultLock : public FileLock {
 public:
  FaultLock(FaultInjectingFileSystem* fs, uint64_t id) : fs_(fs), id_(id) {}
  ~FaultLock() override {
    std::lock_guard<std::mutex> l(fs_->mu_);
    fs_->locks_.erase(id_);
  }

 private:
  FaultInjectingFileSystem* fs_;
  uint64_t id_;
};

absl::StatusOr<std::unique_ptr<FileLock>> FaultInjectingFileSystem::LockFile(
    const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (absl::Status s = Check(); !s.ok()) return s;
  const std::string where = Resolve(path);
  for (const auto& [id, held] : locks_) {
    if (Resolve(held) == where) {
      return absl::FailedPreconditionError(
          absl::StrCat("`", path, "` is locked by another holder"));
    }
  }
  if (!files_.count(where)) files_[where] = File();
  const uint64_t id = next_lock_++;
  locks_[id] = where;
  return std::unique_ptr<FileLock>(new FaultLock(this, id));
}

absl::Time FaultInjectingFileSystem::Now() {
  std::function<absl::Time()> clock;
  {
    std::lock_guard<std::mutex> l(mu_);
    clock = clock_;
  }
  return clock ? clock() : absl::Now();
}

void FaultInjectingFileSystem::SetClock(std::function<absl::Time()> clock) {
  std::lock_guard<std::mutex> l(mu_);
  clock_ = std::move(clock);
}

std::string FaultInjectingFileSystem::Resolve(const std::string& path) {
  for (const auto& [from, to] : renames_) {
    if (path.compare(0, from.size() + 1, from + "/") == 0) return to + path.substr(from.size());
  }
  return path;
}

bool FaultInjectingFileSystem::IsDir(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  return dirs_.count(path) > 0;
}

bool FaultInjectingFileSystem::Exists(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  return dirs_.count(path) > 0 || files_.count(path) > 0;
}

void FaultInjectingFileSystem::PowerOff() {
  std::lock_guard<std::mutex> l(mu_);
  off_ = true;
}

void FaultInjectingFileSystem::Restart(bool tear) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [p, f] : files_) {
    uint64_t keep = f.synced;
    if (tear && f.data.size() > f.synced) {
      keep += rng_() % (f.data.size() - f.synced + 1);
    }
    f.data.resize(keep);
    f.synced = keep;
  }
  locks_.clear();  // the holders died with the power
  off_ = false;
}

void FaultInjectingFileSystem::FailSyncAfter(int n) {
  std::lock_guard<std::mutex> l(mu_);
  syncs_left_ = n;
}

uint64_t FaultInjectingFileSystem::synced_bytes(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second.synced;
}

absl::Status FaultInjectingFileSystem::Materialize(const std::string& root) {
  std::lock_guard<std::mutex> l(mu_);
  FileSystem* posix = PosixFileSystem();
  for (const auto& [p, unused] : dirs_) {
    std::string d = root + "/" + p;
    if (!posix->IsDir(d) && ::mkdir(d.c_str(), 0755) != 0) {
      return absl::InternalError(absl::StrCat("cannot create `", d, "`"));
    }
  }
  for (const auto& [p, f] : files_) {
    if (absl::Status s = posix->WriteFileAtomic(root + "/" + p, f.data); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace residency::audit
