// The audit log published in the C2SP tlog-tiles layout (c2sp.org/tlog-tiles): a `checkpoint`
// file, hash tiles `tile/<L>/<N>[.p/<W>]` and entry bundles `tile/entries/<N>[.p/<W>]`, plain
// static files any web server, bucket or CDN can serve. Each entry is one record's exact bytes
// (the leaf of the RFC 6962 tree), so the tiles and the segment files describe the same tree.
//
// Writing: full tiles and bundles are written once, when they fill (immutable afterwards); a
// partial tile or bundle once per checkpoint that needs it; each appears whole under its name
// (never torn). Every tile a checkpoint needs is made durable (one pass per publication) before
// the checkpoint is replaced atomically and durably, so a reader and a crash only ever see a tree
// that verifies at the published checkpoint.
//
// Thread safety: TilesWriter and TileReader are thread-compatible (one thread at a time);
// TileSource implementations are safe to share between threads unless noted.
#ifndef RESIDENCY_LIB_AUDIT_TILES_H_
#define RESIDENCY_LIB_AUDIT_TILES_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/codec.h"
#include "audit/fs.h"
#include "audit/merkle.h"
#include "audit/note.h"

namespace residency::audit {

inline constexpr uint32_t kTileWidth = 256;  // hashes per full tile (tile height 8)
inline constexpr int kTileHeight = 8;
// Entries carry a big-endian uint16 length prefix in bundles: no entry can be longer.
inline constexpr size_t kMaxTileEntryBytes = 65535;
inline constexpr char kTilesCheckpointFile[] = "checkpoint";

// `x001/x234/067` for 1234067: 3-digit groups, all but the last prefixed with `x`.
std::string TileIndexPath(uint64_t n);
// `tile/<level>/<N>` (width 256) or `tile/<level>/<N>.p/<width>` (1..255).
std::string TilePath(int level, uint64_t n, uint32_t width);
// `tile/entries/<N>` or `tile/entries/<N>.p/<width>`.
std::string EntriesPath(uint64_t n, uint32_t width);
// Width of tile `n` at `level` in a tree of `size` leaves: 256 for a full tile, 1..255 for the
// rightmost partial one, 0 when the tree has no such tile.
uint32_t TileWidth(int level, uint64_t n, uint64_t size);

// Read access to a published tree (a directory, or an HTTP base URL).
class TileSource {
 public:
  virtual ~TileSource() = default;
  // The resource at `path` (relative to the prefix); NotFound when it does not exist.
  virtual absl::StatusOr<std::string> Get(const std::string& path) = 0;
  // For messages: the prefix (directory or URL).
  virtual std::string Describe() const = 0;
};

// Where the writer puts tiles. Put makes a file appear whole (its bytes are fixed by its path)
// but not yet durably; Barrier makes every earlier Put durable; PutDurable replaces atomically
// and durably (the checkpoint).
class TileStore : public TileSource {
 public:
  virtual absl::Status Put(const std::string& path, std::string_view data) = 0;
  virtual absl::Status Barrier() = 0;
  virtual absl::Status PutDurable(const std::string& path, std::string_view data) = 0;
};

// A directory on the local file system (created when missing). Put writes an unnamed file
// (O_TMPFILE) and links it under its name, or a temporary file renamed, with no sync of its own;
// Barrier fdatasyncs those files and fsyncs the directories they went into.
absl::StatusOr<std::unique_ptr<TileStore>> OpenDirTileStore(const std::string& dir);
// A directory or an `http://` / `https://` base URL (libcurl) for reading.
absl::StatusOr<std::unique_ptr<TileSource>> OpenTileSource(const std::string& location);
// True for `http://` and `https://` locations.
bool IsTileUrl(std::string_view location);
// True when `dir` looks like a published tree (a `checkpoint` file and a `tile` directory).
bool IsTilesDir(const std::string& dir);

// Appends leaves and publishes checkpoints into a TileStore.
class TilesWriter {
 public:
  // Resumes from the store's published checkpoint (if any), which must be for `origin`; the
  // right-edge partial tiles and bundle are read back and checked against its root.
  static absl::StatusOr<std::unique_ptr<TilesWriter>> Open(TileStore* store, std::string origin);

  // Adds the next leaf (the record's bytes). Fails for entries longer than 65535 bytes.
  absl::Status Add(std::string_view entry);
  absl::Status Add(std::string_view entry, const Hash& leaf_hash);
  // Same; when this entry fills its level-0 tile, `tile_root` (if not null) is that tile's root
  // as the caller computed it (the log's compact range has), so it is not hashed again. Publish
  // checks every such root, as part of the tree, against the checkpoint's.
  absl::Status Add(std::string_view entry, const Hash& leaf_hash, const Hash* tile_root);
  // Publishes the signed checkpoint `note`, whose tree size must be size(): writes the partial
  // tiles and bundle, makes every tile durable, then replaces `checkpoint`.
  absl::Status Publish(std::string_view note);

  uint64_t size() const { return size_; }
  uint64_t published_size() const { return published_; }
  const std::string& origin() const { return origin_; }

 private:
  TilesWriter(TileStore* store, std::string origin) : store_(store), origin_(std::move(origin)) {}
  absl::Status PushHash(int level, const Hash& h, const Hash* root = nullptr);
  Hash RightEdgeRoot();

  TileStore* store_;
  std::string origin_;
  uint64_t size_ = 0, published_ = 0;
  std::vector<std::vector<Hash>> levels_;  // the hashes of each level's unfinished tile
  std::string bundle_;                     // the unfinished entry bundle
  std::vector<uint32_t> published_width_;  // per level: width of the last partial written
  uint32_t published_bundle_width_ = 0;
  TreeHasher hasher_;
};

// Reads hashes and entries of a tree of a given size (from a verified checkpoint) from a source,
// and computes roots and RFC 6962 proofs from tiles alone. Caches the tiles it fetched.
class TileReader {
 public:
  TileReader(TileSource* source, uint64_t tree_size) : source_(source), size_(tree_size) {}
  uint64_t tree_size() const { return size_; }
  // The tile's hashes (width from tree_size). A missing partial tile falls back to the full one.
  absl::StatusOr<const std::vector<Hash>*> Tile(int level, uint64_t n);
  // The entries of bundle `n` (split on their length prefixes; exactly the expected count).
  absl::StatusOr<std::vector<std::string_view>> Entries(uint64_t n, std::string* storage);
  // MTH of the perfect subtree of height `height` at `index`.
  absl::StatusOr<Hash> NodeHash(int height, uint64_t index);
  // MTH(D[lo:hi]) for the ranges RFC 6962 proofs use.
  absl::StatusOr<Hash> RangeHash(uint64_t lo, uint64_t hi);
  absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size);
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t size1, uint64_t size2);
  // Drops a cached tile (a verifier streaming through level 0 keeps memory flat).
  void Forget(int level, uint64_t n) { cache_.erase({level, n}); }
  // Number of tiles fetched so far (tests: "reads only what it needs").
  uint64_t fetches() const { return fetches_; }

 private:
  absl::Status SubProof(uint64_t m, uint64_t lo, uint64_t hi, bool whole, std::vector<Hash>* out);
  absl::Status Path(uint64_t m, uint64_t lo, uint64_t hi, std::vector<Hash>* out);
  TileSource* source_;
  uint64_t size_;
  std::map<std::pair<int, uint64_t>, std::vector<Hash>> cache_;
  uint64_t fetches_ = 0;
  TreeHasher hasher_;
};

// A checkpoint as fetched: the note, its parsed form and its body.
struct FetchedCheckpoint {
  std::string note;
  Note parsed;
  Checkpoint cp;
};
// Parses and checks the log signature of a checkpoint note against `keys`.
absl::StatusOr<FetchedCheckpoint> ParseSignedCheckpoint(
    std::string_view note, const std::vector<const NoteVerifier*>& keys);

// "`<origin>` size N root <base64>" for messages that name a checkpoint.
std::string DescribeCheckpoint(const Checkpoint& cp);

// Checks that `newer` (size n, from the tiles in `reader`) is consistent with `older`: fails
// with FailedPrecondition "rollback: ..." when it is smaller, "fork: ..." when it is not an
// extension (same size, other root; or a consistency proof from the tiles does not hold).
absl::Status CheckConsistent(TileReader* reader, const Checkpoint& older, const Checkpoint& newer);

// Brings the tiles tree in `store` up to date with the log in `log_dir` (published at the log's
// latest checkpoint). With `pending`, the leaves after that checkpoint are added (not published)
// so that a resumed writer can go on. Returns the writer.
absl::StatusOr<std::unique_ptr<TilesWriter>> CatchUpTiles(FileSystem* fs,
                                                          const std::string& log_dir,
                                                          TileStore* store, bool pending);

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_TILES_H_
