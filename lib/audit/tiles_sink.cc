// Continuous publication of an audit log as C2SP tiles: an AuditSink that feeds a TilesWriter
// with every durable record and publishes every checkpoint, chained before the caller's sink.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/codec.h"
#include "audit/log.h"
#include "audit/tiles.h"
#include "internal/status_macros.h"

namespace residency::audit {
namespace {

static_assert(kLeafSinkSubtreeHeight == kTileHeight, "the log hands over level-0 tile roots");

// The log's writer thread only queues (a copy of the durable records, their leaf hashes and the
// roots of the level-0 tiles they fill, which the log computes anyway, and the notes); a
// publisher thread writes the tiles, makes them durable and replaces the checkpoint, so tile I/O
// never stalls appends and no record is hashed twice. The published tree lags the log by the
// queue; Close waits for it. A publication error fails the log at its next sink call (fail
// closed).
class TilesSink : public LeafHashSink {
 public:
  TilesSink(std::string parent, std::string resume_dir, FileSystem* fs,
            std::shared_ptr<AuditSink> next)
      : parent_(std::move(parent)),
        resume_dir_(std::move(resume_dir)),
        fs_(fs),
        next_(std::move(next)) {}
  // A failure to publish the last tiles is reported by an explicit Stop; a destructor cannot.
  ~TilesSink() override { Stop().IgnoreError(); }

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
    expected_ = writer_->size();
    thread_ = std::thread([this] { Run(); });
    return next_ ? next_->OnOpen(origin, log_id) : absl::OkStatus();
  }

  absl::Status OnRecords(uint64_t first_index, uint64_t count, std::string_view encoded) override {
    return OnLeafRecords(first_index, count, encoded, {}, {});
  }

  // `leaves`: the records' leaf hashes and `tile_roots` the roots of the level-0 tiles they fill,
  // or both empty (the publisher thread hashes them).
  absl::Status OnLeafRecords(uint64_t first_index, uint64_t count, std::string_view encoded,
                             std::vector<Hash> leaves, std::vector<Hash> tile_roots) override {
    if (!writer_) return absl::FailedPreconditionError("tiles publication is not open");
    if (first_index != expected_) {
      return absl::DataLossError(
          absl::StrCat("tiles publication expected record ", expected_, ", got ", first_index));
    }
    const uint64_t filled = ((first_index + count) >> kTileHeight) - (first_index >> kTileHeight);
    if (!leaves.empty() && (leaves.size() != count || tile_roots.size() != filled)) {
      return absl::InternalError("tiles publication: hashes do not match the records");
    }
    expected_ += count;
    RESIDENCY_RETURN_IF_ERROR(
        Push(false, std::string(encoded), count, std::move(leaves), std::move(tile_roots)));
    return next_ ? next_->OnRecords(first_index, count, encoded) : absl::OkStatus();
  }

  absl::Status OnCheckpoint(uint64_t tree_size, std::string_view note) override {
    if (!writer_) return absl::FailedPreconditionError("tiles publication is not open");
    RESIDENCY_RETURN_IF_ERROR(Push(true, std::string(note), 0));
    return next_ ? next_->OnCheckpoint(tree_size, note) : absl::OkStatus();
  }

  absl::Status OnClose() override {
    absl::Status s = Stop();
    absl::Status n = next_ ? next_->OnClose() : absl::OkStatus();
    return s.ok() ? n : s;
  }

 private:
  struct Item {
    bool checkpoint = false;
    std::string data;
    uint64_t count = 0;
    std::vector<Hash> leaves;      // empty, or one per record
    std::vector<Hash> tile_roots;  // with leaves: the roots of the level-0 tiles they fill
  };
  static constexpr size_t kMaxQueuedBytes = 64u << 20;

  absl::Status Push(bool checkpoint, std::string data, uint64_t count,
                    std::vector<Hash> leaves = {}, std::vector<Hash> tile_roots = {}) {
    std::unique_lock<std::mutex> l(mu_);
    space_cv_.wait(l, [&] { return queued_ < kMaxQueuedBytes || !error_.ok() || done_; });
    if (!error_.ok()) return error_;
    queued_ += data.size() + (leaves.size() + tile_roots.size()) * sizeof(Hash);
    queue_.push_back(
        {checkpoint, std::move(data), count, std::move(leaves), std::move(tile_roots)});
    work_cv_.notify_one();
    return absl::OkStatus();
  }

  absl::Status Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
      work_cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> l(mu_);
    return error_;
  }

  absl::Status Apply(const Item& item) {
    if (item.checkpoint) return writer_->Publish(item.data);
    std::string_view rest = item.data;
    size_t roots = 0;
    for (uint64_t i = 0; i < item.count; ++i) {
      if (rest.size() < 4) return absl::InternalError("short sink batch");
      const uint32_t len = LoadU32(rest.data());
      if (rest.size() < 4 + static_cast<size_t>(len)) {
        return absl::InternalError("short sink batch");
      }
      const std::string_view entry = rest.substr(4, len);
      if (item.leaves.empty()) {
        RESIDENCY_RETURN_IF_ERROR(writer_->Add(entry));
      } else {
        // This entry fills its level-0 tile: the log's root of it.
        const bool fills = ((writer_->size() + 1) & (kTileWidth - 1)) == 0;
        if (fills && roots >= item.tile_roots.size()) {
          return absl::InternalError("short sink batch");
        }
        RESIDENCY_RETURN_IF_ERROR(
            writer_->Add(entry, item.leaves[i], fills ? &item.tile_roots[roots++] : nullptr));
      }
      rest.remove_prefix(4 + static_cast<size_t>(len));
    }
    return absl::OkStatus();
  }

  void Run() {
    for (;;) {
      std::deque<Item> batch;
      {
        std::unique_lock<std::mutex> l(mu_);
        work_cv_.wait(l, [&] { return !queue_.empty() || stop_; });
        if (queue_.empty()) break;  // stopping, and everything is published
        batch.swap(queue_);
        queued_ = 0;
        space_cv_.notify_all();
      }
      // Only the last checkpoint of a batch is published: a reader needs the partial tiles of
      // published checkpoints only, and this keeps a slow disk from holding up the log.
      size_t last_cp = batch.size();
      for (size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].checkpoint) last_cp = i;
      }
      absl::Status s;
      for (size_t i = 0; i < batch.size() && s.ok(); ++i) {
        if (batch[i].checkpoint && i != last_cp) continue;
        s = Apply(batch[i]);
      }
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu_);
        error_ = absl::Status(s.code(), absl::StrCat("tiles publication: ", s.message()));
        done_ = true;
        space_cv_.notify_all();
        return;
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    space_cv_.notify_all();
  }

  std::string parent_, resume_dir_;
  FileSystem* fs_;
  std::shared_ptr<AuditSink> next_;
  std::unique_ptr<TileStore> store_;
  std::unique_ptr<TilesWriter> writer_;  // the publisher thread's, once it runs
  uint64_t expected_ = 0;                // the writer thread's
  std::mutex mu_;
  std::condition_variable work_cv_, space_cv_;
  std::deque<Item> queue_;
  size_t queued_ = 0;
  bool stop_ = false, done_ = false;
  absl::Status error_;
  std::thread thread_;
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
