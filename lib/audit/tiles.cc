// C2SP tlog-tiles: paths, the writer, the reader and proofs from tiles.
#include "audit/tiles.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "audit/verify.h"
#include "internal/status_macros.h"

namespace residency::audit {

std::string TileIndexPath(uint64_t n) {
  std::string out = absl::StrFormat("%03d", static_cast<int>(n % 1000));
  for (n /= 1000; n > 0; n /= 1000) {
    out = absl::StrCat(absl::StrFormat("x%03d", static_cast<int>(n % 1000)), "/", out);
  }
  return out;
}

std::string TilePath(int level, uint64_t n, uint32_t width) {
  std::string p = absl::StrCat("tile/", level, "/", TileIndexPath(n));
  if (width < kTileWidth) absl::StrAppend(&p, ".p/", width);
  return p;
}

std::string EntriesPath(uint64_t n, uint32_t width) {
  std::string p = absl::StrCat("tile/entries/", TileIndexPath(n));
  if (width < kTileWidth) absl::StrAppend(&p, ".p/", width);
  return p;
}

uint32_t TileWidth(int level, uint64_t n, uint64_t size) {
  if (level * kTileHeight >= 64) return 0;
  const uint64_t hashes = size >> (kTileHeight * level);  // hashes at this level
  const uint64_t full = hashes >> kTileHeight;
  if (n < full) return kTileWidth;
  if (n == full) return static_cast<uint32_t>(hashes & (kTileWidth - 1));
  return 0;
}

bool IsTileUrl(std::string_view location) {
  return location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0;
}

bool IsTilesDir(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(dir + "/" + kTilesCheckpointFile, ec) &&
         std::filesystem::is_directory(dir + "/tile", ec);
}

// ---------------------------------------------------------------------------------------------
// The directory store.

namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::Status(errno == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kInternal,
                      absl::StrCat(what, " `", path, "`: ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

class DirTileStore : public TileStore {
 public:
  explicit DirTileStore(std::string dir) : dir_(std::move(dir)) {}

  absl::StatusOr<std::string> Get(const std::string& path) override {
    const std::string full = dir_ + "/" + path;
    int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", full);
    std::string out;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        absl::Status s = Errno("cannot read", full);
        ::close(fd);
        return s;
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > (64u << 20)) {
        ::close(fd);
        return absl::OutOfRangeError(absl::StrCat("`", full, "` is larger than 64 MiB"));
      }
    }
    ::close(fd);
    return out;
  }
  std::string Describe() const override { return dir_; }

  // Every file but `checkpoint` holds bytes fixed by its path (a tile's or bundle's position
  // and width in the one tree of this log), and no published checkpoint names a file before it
  // is durable. So Put creates the file under its final name without an fsync of its own:
  // written into an unnamed file (O_TMPFILE) and linked in whole, so the name never shows a torn
  // file, and linking fails when the name exists (exclusive). A name that exists already was
  // left by a run that stopped before publishing the checkpoint that would name it (or it is
  // being brought up to date): its bytes are kept when right and replaced (temporary file,
  // rename) when not, e.g. short after a power loss. Where O_TMPFILE is unsupported, every file
  // is written to a temporary name and renamed. Barrier makes them all durable.
  absl::Status Put(const std::string& path, std::string_view data) override {
    const std::string full = dir_ + "/" + path;
    const size_t slash = full.rfind('/');
    const std::string parent = full.substr(0, slash);
    if (tmpfile_) {
      int fd = ::open(parent.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0 && errno == ENOENT) {
        RESIDENCY_RETURN_IF_ERROR(MakeParents(full));
        fd = ::open(parent.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
      }
      if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        tmpfile_ = false;  // the file system has no O_TMPFILE: temporary names from here on
      } else if (fd < 0) {
        return Errno("cannot create a file in", parent);
      } else {
        absl::Status s = WriteAll(fd, data, full);
        int rc = -1, link_errno = 0;
        if (s.ok()) {
          const std::string self = absl::StrCat("/proc/self/fd/", fd);
          rc = ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, full.c_str(), AT_SYMLINK_FOLLOW);
          link_errno = rc == 0 ? 0 : errno;
        }
        ::close(fd);
        RESIDENCY_RETURN_IF_ERROR(s);
        if (rc == 0) {
          pending_.push_back(full);
          dirty_dirs_.insert(parent);
          return absl::OkStatus();
        }
        if (link_errno == EEXIST) return Existing(path, full, data);
        tmpfile_ = false;  // no /proc, or linking refused: temporary names from here on
      }
    }
    if (::access(full.c_str(), F_OK) == 0) return Existing(path, full, data);
    return Replace(full, data);
  }
  // Each file Put since the last Barrier: its data (fdatasync), then the directories it was
  // linked or renamed into. One pass per checkpoint publication, not one sync per file; the
  // checkpoint that names the files is replaced only after this returns. A file removed since
  // its Put (by someone else, or before a writer that failed gave way to a new one, which Puts
  // again what it needs) has nothing left to sync.
  absl::Status Barrier() override {
    for (const std::string& f : pending_) {
      int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) continue;
      if (fd < 0) return Errno("cannot open", f);
      int rc = ::fdatasync(fd);
      ::close(fd);
      if (rc != 0) return Errno("cannot sync", f);
    }
    pending_.clear();
    for (const std::string& d : dirty_dirs_) {
      int dfd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0) return Errno("cannot open", d);
      int rc = ::fsync(dfd);
      ::close(dfd);
      if (rc != 0) return Errno("cannot sync", d);
    }
    dirty_dirs_.clear();
    return absl::OkStatus();
  }
  // Replaces atomically and durably (the checkpoint): temporary file, fdatasync, rename, fsync of
  // the directory.
  absl::Status PutDurable(const std::string& path, std::string_view data) override {
    const std::string full = dir_ + "/" + path;
    RESIDENCY_RETURN_IF_ERROR(MakeParents(full));
    RESIDENCY_RETURN_IF_ERROR(Replace(full, data, true));
    const std::string parent = full.substr(0, full.rfind('/'));
    int dfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return Errno("cannot open", parent);
    int rc = ::fsync(dfd);
    ::close(dfd);
    if (rc != 0) return Errno("cannot sync", parent);
    return absl::OkStatus();
  }

 private:
  // Creates the missing directories above `full`; their parents are synced at the next Barrier.
  absl::Status MakeParents(const std::string& full) {
    std::string parent = full.substr(0, full.rfind('/'));
    if (made_.count(parent)) return absl::OkStatus();
    std::vector<std::string> created;
    for (std::string d = parent; d.size() > dir_.size() && !std::filesystem::exists(d);
         d = d.substr(0, d.rfind('/'))) {
      created.push_back(d);
    }
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot create directory `", parent, "`: ", ec.message()));
    }
    for (const std::string& d : created) dirty_dirs_.insert(d.substr(0, d.rfind('/')));
    made_.insert(parent);
    return absl::OkStatus();
  }
  // `full` exists: kept when it holds `data` (synced at the next Barrier, as it may not be
  // durable yet), else replaced.
  absl::Status Existing(const std::string& path, const std::string& full, std::string_view data) {
    auto cur = Get(path);
    if (cur.ok() && *cur == data) {
      pending_.push_back(full);
      dirty_dirs_.insert(full.substr(0, full.rfind('/')));
      return absl::OkStatus();
    }
    return Replace(full, data);
  }
  // Writes a temporary file and renames it over `full` (fdatasynced first when `durable`, else
  // at the next Barrier).
  absl::Status Replace(const std::string& full, std::string_view data, bool durable = false) {
    RESIDENCY_RETURN_IF_ERROR(MakeParents(full));
    const size_t slash = full.rfind('/');
    const std::string tmp =
        absl::StrCat(full.substr(0, slash + 1), ".", full.substr(slash + 1), ".tmp");
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("cannot create", tmp);
    absl::Status s = WriteAll(fd, data, tmp);
    if (s.ok() && durable && ::fdatasync(fd) != 0) s = Errno("cannot sync", tmp);
    if (::close(fd) != 0 && s.ok()) s = Errno("cannot close", tmp);
    if (s.ok() && ::rename(tmp.c_str(), full.c_str()) != 0) s = Errno("cannot rename", tmp);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
    if (!durable) {
      pending_.push_back(full);
      dirty_dirs_.insert(full.substr(0, slash));
    }
    return absl::OkStatus();
  }

  std::string dir_;
  bool tmpfile_ = true;  // O_TMPFILE works here (until it fails once)
  std::set<std::string> made_, dirty_dirs_;
  std::vector<std::string> pending_;  // files Put since the last Barrier
};

}  // namespace

absl::StatusOr<std::unique_ptr<TileStore>> OpenDirTileStore(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create tiles directory `", dir, "`"));
  }
  return std::unique_ptr<TileStore>(new DirTileStore(dir));
}

// Defined in http_source.cc (libcurl).
absl::StatusOr<std::unique_ptr<TileSource>> OpenHttpTileSource(const std::string& url);

absl::StatusOr<std::unique_ptr<TileSource>> OpenTileSource(const std::string& location) {
  if (IsTileUrl(location)) return OpenHttpTileSource(location);
  std::error_code ec;
  if (!std::filesystem::is_directory(location, ec)) {
    return absl::NotFoundError(absl::StrCat("tiles directory `", location, "` does not exist"));
  }
  return std::unique_ptr<TileSource>(new DirTileStore(location));
}

// ---------------------------------------------------------------------------------------------
// Checkpoints.

std::string DescribeCheckpoint(const Checkpoint& cp) {
  return absl::StrCat("`", cp.origin, "` size ", cp.size, " root ", Base64Encode(AsView(cp.root)));
}

absl::StatusOr<FetchedCheckpoint> ParseSignedCheckpoint(
    std::string_view note, const std::vector<const NoteVerifier*>& keys) {
  FetchedCheckpoint out;
  out.note = std::string(note);
  RESIDENCY_ASSIGN_OR_RETURN(out.parsed, ParseNote(note));
  RESIDENCY_ASSIGN_OR_RETURN(out.cp, ParseCheckpointText(out.parsed.text));
  switch (VerifyNote(out.parsed, keys)) {
    case NoteVerdict::kValid:
      break;
    case NoteVerdict::kBadSignature:
      return absl::PermissionDeniedError(
          absl::StrCat("bad signature on checkpoint ", DescribeCheckpoint(out.cp)));
    case NoteVerdict::kUnknownKey:
      return absl::PermissionDeniedError(
          absl::StrCat("checkpoint ", DescribeCheckpoint(out.cp), " is not signed by a given key"));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The writer.

namespace {

std::string HashBytes(const std::vector<Hash>& hashes) {
  std::string out;
  out.reserve(hashes.size() * 32);
  for (const Hash& h : hashes) out.append(reinterpret_cast<const char*>(h.data()), 32);
  return out;
}

absl::Status ParseHashes(std::string_view data, uint32_t width, const std::string& what,
                         std::vector<Hash>* out) {
  if (data.size() != static_cast<size_t>(width) * 32) {
    return absl::DataLossError(
        absl::StrCat("tile `", what, "` has ", data.size(), " bytes, expected ", width * 32));
  }
  out->resize(width);
  for (uint32_t i = 0; i < width; ++i) std::memcpy((*out)[i].data(), data.data() + 32 * i, 32);
  return absl::OkStatus();
}

// Root of a tree whose right edge is `levels` (the unfinished tile of each level).
Hash EdgeRoot(const std::vector<std::vector<Hash>>& levels, TreeHasher* h) {
  std::vector<Hash> parts;  // perfect subtrees, left to right
  for (size_t l = levels.size(); l-- > 0;) {
    const auto& v = levels[l];
    uint64_t off = 0;
    for (int bit = 7; bit >= 0; --bit) {
      const uint64_t n = uint64_t{1} << bit;
      if (v.size() & n) {
        parts.push_back(SubtreeRoot(v, off, off + n, h));
        off += n;
      }
    }
  }
  if (parts.empty()) return TreeHasher::Empty();
  Hash r = parts.back();
  for (size_t i = parts.size() - 1; i-- > 0;) r = h->Node(parts[i], r);
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TilesWriter>> TilesWriter::Open(TileStore* store,
                                                               std::string origin) {
  std::unique_ptr<TilesWriter> w(new TilesWriter(store, std::move(origin)));
  auto note = store->Get(kTilesCheckpointFile);
  if (!note.ok()) {
    if (absl::IsNotFound(note.status())) return w;
    return note.status();
  }
  auto parsed = ParseNote(*note);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat("tiles checkpoint in `", store->Describe(),
                                            "`: ", std::string(parsed.status().message())));
  }
  RESIDENCY_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpointText(parsed->text));
  if (cp.origin != w->origin_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tiles in `", store->Describe(), "` are of log `", cp.origin, "`, not `", w->origin_, "`"));
  }
  const uint64_t s = cp.size;
  for (int l = 0; l * kTileHeight < 64 && (s >> (kTileHeight * l)) > 0; ++l) {
    w->levels_.emplace_back();
    w->published_width_.push_back(0);
    const uint32_t width = static_cast<uint32_t>((s >> (kTileHeight * l)) & (kTileWidth - 1));
    if (width == 0) continue;
    const uint64_t n = s >> (kTileHeight * (l + 1));
    const std::string path = TilePath(l, n, width);
    RESIDENCY_ASSIGN_OR_RETURN(std::string data, store->Get(path));
    RESIDENCY_RETURN_IF_ERROR(ParseHashes(data, width, path, &w->levels_[l]));
    w->published_width_[l] = width;
  }
  if (EdgeRoot(w->levels_, &w->hasher_) != cp.root) {
    return absl::DataLossError(absl::StrCat("tiles in `", store->Describe(),
                                            "` do not match their checkpoint ",
                                            DescribeCheckpoint(cp)));
  }
  const uint32_t bw = static_cast<uint32_t>(s & (kTileWidth - 1));
  if (bw > 0) {
    const std::string path = EntriesPath(s >> kTileHeight, bw);
    RESIDENCY_ASSIGN_OR_RETURN(w->bundle_, store->Get(path));
    // Every entry must hash to the partial level-0 tile.
    size_t pos = 0;
    for (uint32_t i = 0; i < bw; ++i) {
      if (pos + 2 > w->bundle_.size())
        return absl::DataLossError(absl::StrCat("`", path, "` is short"));
      size_t len =
          (static_cast<uint8_t>(w->bundle_[pos]) << 8) | static_cast<uint8_t>(w->bundle_[pos + 1]);
      if (pos + 2 + len > w->bundle_.size()) {
        return absl::DataLossError(absl::StrCat("`", path, "` is short"));
      }
      if (w->hasher_.Leaf(std::string_view(w->bundle_).substr(pos + 2, len)) != w->levels_[0][i]) {
        return absl::DataLossError(
            absl::StrCat("entry ", i, " of `", path, "` does not match its tile"));
      }
      pos += 2 + len;
    }
    if (pos != w->bundle_.size()) return absl::DataLossError(absl::StrCat("`", path, "` is long"));
    w->published_bundle_width_ = bw;
  }
  w->size_ = w->published_ = s;
  return w;
}

absl::Status TilesWriter::PushHash(int level, const Hash& h, const Hash* root) {
  if (static_cast<size_t>(level) >= levels_.size()) {
    levels_.resize(level + 1);
    published_width_.resize(level + 1, 0);
  }
  auto& v = levels_[level];
  v.push_back(h);
  if (v.size() < kTileWidth) return absl::OkStatus();
  // The tile is full: write it once, and push its root one level up.
  const uint64_t n = (size_ >> (kTileHeight * (level + 1))) - 1;
  RESIDENCY_RETURN_IF_ERROR(store_->Put(TilePath(level, n, kTileWidth), HashBytes(v)));
  const Hash tile_root = root != nullptr ? *root : SubtreeRoot(v, 0, kTileWidth, &hasher_);
  v.clear();
  published_width_[level] = 0;
  return PushHash(level + 1, tile_root);
}

absl::Status TilesWriter::Add(std::string_view entry) { return Add(entry, hasher_.Leaf(entry)); }

absl::Status TilesWriter::Add(std::string_view entry, const Hash& leaf_hash) {
  return Add(entry, leaf_hash, nullptr);
}

absl::Status TilesWriter::Add(std::string_view entry, const Hash& leaf_hash,
                              const Hash* tile_root) {
  if (entry.size() > kMaxTileEntryBytes) {
    return absl::InvalidArgumentError(absl::StrCat("record ", size_, " is ", entry.size(),
                                                   " bytes, more than a tile entry can hold (",
                                                   kMaxTileEntryBytes, ")"));
  }
  PutU16(&bundle_, static_cast<uint16_t>(entry.size()));
  bundle_.append(entry.data(), entry.size());
  ++size_;
  if ((size_ & (kTileWidth - 1)) == 0) {
    RESIDENCY_RETURN_IF_ERROR(
        store_->Put(EntriesPath((size_ >> kTileHeight) - 1, kTileWidth), bundle_));
    bundle_.clear();
    published_bundle_width_ = 0;
  }
  return PushHash(0, leaf_hash, tile_root);
}

Hash TilesWriter::RightEdgeRoot() { return EdgeRoot(levels_, &hasher_); }

absl::Status TilesWriter::Publish(std::string_view note) {
  RESIDENCY_ASSIGN_OR_RETURN(Note parsed, ParseNote(note));
  RESIDENCY_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpointText(parsed.text));
  if (cp.origin != origin_) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint of `", cp.origin, "` published to the tiles of `", origin_, "`"));
  }
  if (cp.size != size_) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoint size ", cp.size, " but the tiles hold ", size_, " entries"));
  }
  if (cp.size < published_) {
    return absl::FailedPreconditionError("checkpoint older than the published one");
  }
  if (RightEdgeRoot() != cp.root) {
    return absl::DataLossError(
        absl::StrCat("checkpoint ", DescribeCheckpoint(cp), " does not match the tiles' root"));
  }
  for (size_t l = 0; l < levels_.size(); ++l) {
    const uint32_t w = static_cast<uint32_t>(levels_[l].size());
    if (w == 0 || w == published_width_[l]) continue;
    const uint64_t n = size_ >> (kTileHeight * (l + 1));
    RESIDENCY_RETURN_IF_ERROR(
        store_->Put(TilePath(static_cast<int>(l), n, w), HashBytes(levels_[l])));
    published_width_[l] = w;
  }
  const uint32_t bw = static_cast<uint32_t>(size_ & (kTileWidth - 1));
  if (bw > 0 && bw != published_bundle_width_) {
    RESIDENCY_RETURN_IF_ERROR(store_->Put(EntriesPath(size_ >> kTileHeight, bw), bundle_));
    published_bundle_width_ = bw;
  }
  RESIDENCY_RETURN_IF_ERROR(store_->Barrier());
  RESIDENCY_RETURN_IF_ERROR(store_->PutDurable(kTilesCheckpointFile, note));
  published_ = size_;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// The reader.

absl::StatusOr<const std::vector<Hash>*> TileReader::Tile(int level, uint64_t n) {
  auto key = std::make_pair(level, n);
  auto it = cache_.find(key);
  if (it != cache_.end()) return &it->second;
  const uint32_t width = TileWidth(level, n, size_);
  if (width == 0) {
    return absl::OutOfRangeError(
        absl::StrCat("tile ", level, "/", n, " is outside a tree of size ", size_));
  }
  const std::string path = TilePath(level, n, width);
  ++fetches_;
  auto data = source_->Get(path);
  std::vector<Hash> hashes;
  if (!data.ok() && absl::IsNotFound(data.status()) && width < kTileWidth) {
    // The partial tile may be gone once the full one exists: take its prefix.
    auto full = source_->Get(TilePath(level, n, kTileWidth));
    if (full.ok() && full->size() == kTileWidth * 32) {
      full->resize(width * 32);
      data = std::move(full);
    }
  }
  if (!data.ok()) {
    return absl::Status(data.status().code(),
                        absl::StrCat("tile `", path, "` of `", source_->Describe(),
                                     "`: ", std::string(data.status().message())));
  }
  RESIDENCY_RETURN_IF_ERROR(ParseHashes(*data, width, path, &hashes));
  return &(cache_[key] = std::move(hashes));
}

absl::StatusOr<std::vector<std::string_view>> TileReader::Entries(uint64_t n,
                                                                  std::string* storage) {
  const uint32_t width = TileWidth(0, n, size_);
  if (width == 0)
    return absl::OutOfRangeError(absl::StrCat("entry bundle ", n, " is outside the tree"));
  const std::string path = EntriesPath(n, width);
  auto data = source_->Get(path);
  bool used_full = false;
  if (!data.ok() && absl::IsNotFound(data.status()) && width < kTileWidth) {
    auto full = source_->Get(EntriesPath(n, kTileWidth));  // only its first `width` count
    if (full.ok()) {
      data = std::move(full);
      used_full = true;
    }
  }
  if (!data.ok()) {
    return absl::Status(data.status().code(),
                        absl::StrCat("entry bundle `", path, "` of `", source_->Describe(),
                                     "`: ", std::string(data.status().message())));
  }
  *storage = *std::move(data);
  std::vector<std::string_view> out;
  out.reserve(width);
  std::string_view rest(*storage);
  while (out.size() < width && rest.size() >= 2) {
    size_t len = (static_cast<uint8_t>(rest[0]) << 8) | static_cast<uint8_t>(rest[1]);
    if (rest.size() < 2 + len) break;
    out.push_back(rest.substr(2, len));
    rest.remove_prefix(2 + len);
  }
  // A full bundle read in place of a missing partial one may go on; anything else may not.
  const bool from_full = width < kTileWidth && used_full;
  if (out.size() != width || (!rest.empty() && !from_full)) {
    return absl::DataLossError(absl::StrCat("entry bundle `", path, "` is malformed (expected ",
                                            width, " length-prefixed entries and nothing else)"));
  }
  return out;
}

absl::StatusOr<Hash> TileReader::NodeHash(int height, uint64_t index) {
  const int level = height / kTileHeight;
  const int r = height % kTileHeight;
  const uint64_t start = index << r;  // first hash of the tile level it spans
  RESIDENCY_ASSIGN_OR_RETURN(const std::vector<Hash>* tile, Tile(level, start >> kTileHeight));
  const uint64_t off = start & (kTileWidth - 1);
  const uint64_t n = uint64_t{1} << r;
  if (off + n > tile->size()) {
    return absl::OutOfRangeError(absl::StrCat("node ", height, "/", index, " is not in the tree"));
  }
  if (n == 1) return (*tile)[off];
  return SubtreeRoot(*tile, off, off + n, &hasher_);
}

namespace {
uint64_t LargestPow2Below(uint64_t n) {  // n >= 2
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}
int Log2(uint64_t n) {
  int l = 0;
  while ((uint64_t{1} << l) < n) ++l;
  return l;
}
}  // namespace

absl::StatusOr<Hash> TileReader::RangeHash(uint64_t lo, uint64_t hi) {
  if (hi <= lo || hi > size_) return absl::OutOfRangeError("empty or out-of-tree range");
  const uint64_t n = hi - lo;
  if ((n & (n - 1)) == 0 && lo % n == 0) return NodeHash(Log2(n), lo / n);
  const uint64_t k = LargestPow2Below(n);
  RESIDENCY_ASSIGN_OR_RETURN(Hash left, RangeHash(lo, lo + k));
  RESIDENCY_ASSIGN_OR_RETURN(Hash right, RangeHash(lo + k, hi));
  return hasher_.Node(left, right);
}

absl::Status TileReader::SubProof(uint64_t m, uint64_t lo, uint64_t hi, bool whole,
                                  std::vector<Hash>* out) {
  const uint64_t n = hi - lo;
  if (m == n) {
    if (!whole) {
      RESIDENCY_ASSIGN_OR_RETURN(Hash h, RangeHash(lo, hi));
      out->push_back(h);
    }
    return absl::OkStatus();
  }
  const uint64_t k = LargestPow2Below(n);
  if (m <= k) {
    RESIDENCY_RETURN_IF_ERROR(SubProof(m, lo, lo + k, whole, out));
    RESIDENCY_ASSIGN_OR_RETURN(Hash h, RangeHash(lo + k, hi));
    out->push_back(h);
  } else {
    RESIDENCY_RETURN_IF_ERROR(SubProof(m - k, lo + k, hi, false, out));
    RESIDENCY_ASSIGN_OR_RETURN(Hash h, RangeHash(lo, lo + k));
    out->push_back(h);
  }
  return absl::OkStatus();
}

absl::Status TileReader::Path(uint64_t m, uint64_t lo, uint64_t hi, std::vector<Hash>* out) {
  const uint64_t n = hi - lo;
  if (n == 1) return absl::OkStatus();
  const uint64_t k = LargestPow2Below(n);
  if (m < k) {
    RESIDENCY_RETURN_IF_ERROR(Path(m, lo, lo + k, out));
    RESIDENCY_ASSIGN_OR_RETURN(Hash h, RangeHash(lo + k, hi));
    out->push_back(h);
  } else {
    RESIDENCY_RETURN_IF_ERROR(Path(m - k, lo + k, hi, out));
    RESIDENCY_ASSIGN_OR_RETURN(Hash h, RangeHash(lo, lo + k));
    out->push_back(h);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Hash>> TileReader::InclusionProof(uint64_t index, uint64_t size) {
  if (size > size_ || index >= size) return absl::OutOfRangeError("index outside the tree");
  std::vector<Hash> out;
  RESIDENCY_RETURN_IF_ERROR(Path(index, 0, size, &out));
  return out;
}

absl::StatusOr<std::vector<Hash>> TileReader::ConsistencyProof(uint64_t size1, uint64_t size2) {
  if (size2 > size_ || size1 > size2) return absl::OutOfRangeError("sizes outside the tree");
  std::vector<Hash> out;
  if (size1 == 0 || size1 == size2) return out;
  RESIDENCY_RETURN_IF_ERROR(SubProof(size1, 0, size2, true, &out));
  return out;
}

absl::Status CheckConsistent(TileReader* reader, const Checkpoint& older, const Checkpoint& newer) {
  const std::string both = absl::StrCat("checkpoint ", DescribeCheckpoint(newer),
                                        " and earlier checkpoint ", DescribeCheckpoint(older));
  if (older.origin != newer.origin) {
    return absl::InvalidArgumentError(absl::StrCat("different logs: ", both));
  }
  if (newer.size < older.size) {
    return absl::FailedPreconditionError(absl::StrCat("rollback: ", both));
  }
  if (newer.size == older.size) {
    if (newer.root != older.root)
      return absl::FailedPreconditionError(absl::StrCat("fork: ", both));
    return absl::OkStatus();
  }
  if (older.size == 0) return absl::OkStatus();
  auto proof = reader->ConsistencyProof(older.size, newer.size);
  if (!proof.ok()) {
    return absl::Status(proof.status().code(), absl::StrCat("no consistency proof for ", both, ": ",
                                                            std::string(proof.status().message())));
  }
  std::vector<std::string> p;
  for (const Hash& h : *proof) p.emplace_back(AsView(h));
  absl::Status s =
      VerifyConsistency(older.size, newer.size, p, AsView(older.root), AsView(newer.root));
  if (!s.ok())
    return absl::FailedPreconditionError(absl::StrCat("fork: ", both, " are not consistent"));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// From a segment log.

absl::StatusOr<std::unique_ptr<TilesWriter>> CatchUpTiles(FileSystem* fs,
                                                          const std::string& log_dir,
                                                          TileStore* store, bool pending) {
  LogFiles files;
  RESIDENCY_ASSIGN_OR_RETURN(std::vector<ReadRecord> frames, ReadRecords(fs, log_dir, &files));
  std::vector<std::string_view> leaves;
  std::map<uint64_t, std::string_view> notes;  // by tree size
  std::string origin;
  for (const ReadRecord& r : frames) {
    if (r.type == kFrameRecord) {
      leaves.push_back(r.payload);
    } else if (r.type == kFrameCheckpoint) {
      auto n = ParseNote(r.payload);
      if (!n.ok()) continue;
      auto cp = ParseCheckpointText(n->text);
      if (!cp.ok()) continue;
      if (cp->size <= leaves.size()) notes[cp->size] = r.payload;
      origin = cp->origin;
    }
  }
  if (notes.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("log `", log_dir, "` has no checkpoint yet"));
  }
  RESIDENCY_ASSIGN_OR_RETURN(auto writer, TilesWriter::Open(store, origin));
  const uint64_t p = writer->size();
  if (p > leaves.size()) {
    return absl::FailedPreconditionError(absl::StrCat("tiles in `", store->Describe(), "` hold ", p,
                                                      " entries, the log only ", leaves.size()));
  }
  if (p > 0) {
    auto it = notes.find(p);
    // The published tree must be one the log signed (same root).
    if (it == notes.end()) {
      return absl::FailedPreconditionError(absl::StrCat("tiles in `", store->Describe(),
                                                        "` are at size ", p,
                                                        ", which no checkpoint of the log has"));
    }
    auto cur = store->Get(kTilesCheckpointFile);
    RESIDENCY_RETURN_IF_ERROR(cur.status());
    auto a = ParseCheckpointText(ParseNote(*cur)->text);
    auto b = ParseCheckpointText(ParseNote(it->second)->text);
    if (!a.ok() || !b.ok() || a->root != b->root) {
      return absl::FailedPreconditionError(
          absl::StrCat("tiles in `", store->Describe(), "` do not match the log `", log_dir, "`"));
    }
  }
  const auto last = std::prev(notes.end());
  if (last->first > p) {
    for (uint64_t i = p; i < last->first; ++i) RESIDENCY_RETURN_IF_ERROR(writer->Add(leaves[i]));
    RESIDENCY_RETURN_IF_ERROR(writer->Publish(last->second));
  }
  if (pending) {
    for (uint64_t i = writer->size(); i < leaves.size(); ++i) {
      RESIDENCY_RETURN_IF_ERROR(writer->Add(leaves[i]));
    }
  }
  return writer;
}

}  // namespace residency::audit
