// The audit writer: lock-free hand-off from appending threads to one background writer thread
// that hashes, frames, writes, fsyncs and signs checkpoints.
//
// Hand-off: a ring of slots indexed by record index. Append reserves an index with one
// fetch_add, waits until the slot of that index is free for this lap, copies the encoded record
// in and publishes it (slot.seq = index + 1). The writer consumes slots strictly in index order,
// so the file order is the index order, and frees each slot (slot.seq = index + capacity).
// Records the writer makes itself (log open, heartbeat, recovery, close) reserve an index the
// same way and are filled by the writer when it reaches them.
#include "audit/log.h"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/codec.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/record.h"
#include "audit/segment.h"
#include "internal/openssl_util.h"
#include "internal/status_macros.h"
#include "residency/version.h"

namespace residency::audit {
namespace {

constexpr uint64_t kWriteChunk = 1 << 20;
// Held (fcntl OFD lock) by the one writer of a log, in the log's directory.
constexpr char kWriterLockFile[] = "writer.lock";
constexpr char kCommitDomain[] = "residency-audit-commit-v1";

bool ValidLogId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return internal::DrainOpenSslErrors("random bytes unavailable");
  }
  return out;
}

struct Recovered {
  uint64_t count = 0;
  uint64_t decisions = 0;
  uint64_t last_cp_size = 0;
  uint64_t cut_bytes = 0;
  Hash cut_digest{};
  std::string last_segment;
  uint64_t last_segment_size = 0;
  // The last segment's header is torn (see Recover): the header to write before resuming.
  std::string complete_header;
  CompactRange range;
  std::string origin;
  int64_t last_time_ns = 0;  // of the last record kept
};

// Recovers the log in `dir`: everything must be intact except a torn tail of the last segment.
absl::StatusOr<Recovered> Recover(FileSystem* fs, const std::string& dir,
                                  const NoteSigner& signer) {
  RESIDENCY_ASSIGN_OR_RETURN(LogFiles files, ReadLogFiles(fs, dir));
  auto corrupt = [&dir](const std::string& why) {
    return absl::DataLossError(absl::StrCat("cannot recover audit log `", dir, "`: ", why));
  };
  if (files.segments.empty()) return corrupt("no segment files");
  const size_t last = files.segments.size() - 1;
  uint64_t cut_offset = files.contents[last].size();
  // A rotation killed after creating the next segment but before its header was written leaves
  // a last segment whose bytes are a proper prefix of that header (usually none). It holds no
  // record: recovery cuts those bytes and writes the header whole.
  std::string torn_header = TornLastSegmentHeader(files);
  if (!torn_header.empty()) cut_offset = 0;
  for (size_t i = 0; i < files.segments.size(); ++i) {
    const SegmentScan& s = files.segments[i];
    if (i == last && !torn_header.empty()) continue;
    if (!s.header_ok) return corrupt(absl::StrCat("segment `", s.name, "` has a bad header"));
    if (s.first_index != s.name_first_index) {
      return corrupt(absl::StrCat("segment `", s.name, "` is misnamed"));
    }
    if (s.torn && (i != last || s.resynced_after_tear)) {
      return corrupt(absl::StrCat("segment `", s.name, "` is damaged at offset ", s.torn_offset,
                                  " and valid frames follow (not a torn tail)"));
    }
    if (s.torn) cut_offset = s.torn_offset;
  }
  // A frame with a bad checksum is only acceptable as the tail of the last segment.
  bool bad_seen = false;
  for (const FrameRef& f : files.frames) {
    if (f.type == 0) {
      if (f.segment != last) {
        return corrupt(absl::StrCat("checksum mismatch in segment `",
                                    files.segments[f.segment].name, "` at offset ", f.offset));
      }
      if (!bad_seen) cut_offset = std::min<uint64_t>(cut_offset, f.offset);
      bad_seen = true;
    } else if (bad_seen) {
      return corrupt("checksum mismatch followed by valid frames (not a torn tail)");
    }
  }
  Recovered r;
  TreeHasher hasher;
  RecordView rec;
  std::vector<std::pair<uint64_t, Hash>> roots;  // checkpoint sizes seen in the stream
  for (const FrameRef& f : files.frames) {
    if (f.type == 0) break;
    if (f.segment == last && f.offset >= cut_offset) break;
    if (f.type == kFrameRecord) {
      if (absl::Status s = DecodeRecord(f.payload, &rec); !s.ok()) {
        return corrupt(absl::StrCat("record ", r.count, ": ", s.message()));
      }
      if (rec.index != r.count) {
        return corrupt(absl::StrCat("record at position ", r.count, " has index ", rec.index));
      }
      if (r.count == 0) {
        if (rec.type != RecordType::kLogOpen) return corrupt("first record is not log_open");
        r.origin = std::string(rec.origin);
        if (rec.key_name != signer.name() || rec.vkey != signer.vkey()) {
          return corrupt(absl::StrCat("log was opened with key `", Excerpt(rec.vkey, 200),
                                      "`, not `", signer.vkey(), "`"));
        }
      }
      if (rec.type == RecordType::kClose) {
        return absl::FailedPreconditionError(
            absl::StrCat("audit log `", dir, "` was closed cleanly; nothing to recover"));
      }
      if (rec.type == RecordType::kDecision) ++r.decisions;
      r.last_time_ns = std::max(r.last_time_ns, rec.time_ns);
      r.range.Append(hasher.Leaf(f.payload), &hasher);
      ++r.count;
    } else {
      auto note = ParseNote(f.payload);
      if (!note.ok()) return corrupt(std::string(note.status().message()));
      auto cp = ParseCheckpointText(note->text);
      if (!cp.ok()) return corrupt(std::string(cp.status().message()));
      if (cp->size != r.count || cp->root != r.range.Root(&hasher)) {
        return corrupt(
            absl::StrCat("checkpoint of size ", cp->size, " does not match the records"));
      }
      r.last_cp_size = cp->size;
      roots.emplace_back(cp->size, cp->root);
    }
  }
  if (r.count == 0) return corrupt("no log_open record survived");
  if (!torn_header.empty() && files.segments[last].name_first_index != r.count) {
    return corrupt(absl::StrCat("segment `", files.segments[last].name,
                                "` has a bad header and does not follow the records before it"));
  }
  if (files.has_latest) {
    auto note = ParseNote(files.latest_checkpoint);
    auto cp = note.ok() ? ParseCheckpointText(note->text) : note.status();
    if (!cp.ok()) return corrupt("the latest checkpoint file is malformed");
    bool matched = false;
    for (const auto& [size, root] : roots) matched |= size == cp->size && root == cp->root;
    if (!matched) {
      return corrupt(absl::StrCat("the latest checkpoint (size ", cp->size,
                                  ") does not match the recovered records"));
    }
  }
  std::string_view tail = files.contents[last];
  r.cut_bytes = tail.size() - cut_offset;
  r.cut_digest = internal::Sha256(tail.substr(cut_offset));
  r.last_segment = dir + "/" + files.segments[last].name;
  r.last_segment_size = cut_offset;
  r.complete_header = std::move(torn_header);
  return r;
}

class Log final : public AuditLog {
 public:
  Log(const AuditOptions& o, FileSystem* fs, std::unique_ptr<NoteSigner> signer)
      : opts_(o), fs_(fs), signer_(std::move(signer)) {}

  ~Log() override { Close().IgnoreError(); }

  absl::Status Start();

  absl::StatusOr<uint64_t> Append(const DecisionRecord& d) override {
    thread_local std::string buf;
    buf.assign(kFrameHeader, '\0');  // the frame header, filled in by Publish
    Hash commitment;
    const Hash* principal = nullptr;
    if (!d.principal.empty()) {
      internal::Sha256Hasher h;
      h.Update(kCommitDomain);
      h.Update(secret_);
      h.Update(d.principal);
      commitment = h.Finish();
      principal = &commitment;
    }
    // The policy digest changes only when the policy set does: parse it once per thread.
    thread_local std::string policy_text;  // parsed into `policy` when `policy_valid`
    thread_local Hash policy;
    thread_local bool policy_valid = false;
    // The request's `now` goes to evaluated_at; the record's time is stamped in Publish.
    if (!policy_valid || d.policy_digest != policy_text) {
      policy_valid = ParsePolicyDigest(d.policy_digest, &policy);
      if (!policy_valid) {
        // The parsing overload reports the first bad field, in its usual order.
        absl::Status bad = EncodeDecision(d, 0, principal, &buf);
        return bad.ok() ? absl::InternalError("policy digest rejected") : bad;
      }
      policy_text = d.policy_digest;
    }
    RESIDENCY_RETURN_IF_ERROR(EncodeDecision(d, policy, 0, principal, &buf));
    return Publish(buf);
  }

  absl::StatusOr<uint64_t> AppendPolicyLoaded(const std::string& policy_digest) override {
    RecordView v;
    v.type = RecordType::kPolicyLoaded;  // time: stamped in Publish
    if (!ParsePolicyDigest(policy_digest, &v.policy_digest)) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy digest `", Excerpt(policy_digest), "` is not `sha256:<64 hex>`"));
    }
    std::string buf(kFrameHeader, '\0');
    RESIDENCY_RETURN_IF_ERROR(EncodeRecord(v, &buf));
    return Publish(buf);
  }

  absl::Status Flush() override {
    if (absl::Status s = Health(); !s.ok()) return s;
    uint64_t target = next_index_.load();
    flush_requested_.store(true);
    WakeWriter();
    std::unique_lock<std::mutex> l(mu_);
    ack_cv_.wait(l, [&] { return checkpointed_.load() >= target || failed_ || stopped_; });
    if (failed_) return failure_;
    if (checkpointed_.load() < target) return absl::FailedPreconditionError("audit log is closed");
    return absl::OkStatus();
  }

  absl::Status Close() override {
    std::lock_guard<std::mutex> once(close_mu_);
    if (closed_) return close_status_;
    closed_ = true;
    closing_.store(true);
    WakeWriter();
    if (writer_.joinable()) writer_.join();
    {
      std::lock_guard<std::mutex> l(mu_);
      close_status_ = failure_;
    }
    writer_lock_.reset();  // the log is closed (or failed): another writer may open it now
    return close_status_;
  }

  const std::string& log_id() const override { return log_id_; }
  std::string log_dir() const override { return dir_; }
  const std::string& origin() const override { return origin_; }
  const std::string& commitment_secret() const override { return secret_; }
  uint64_t durable_size() const override { return durable_.load(); }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> seq{0};
    std::string frame;  // frame header, then the record
    Hash leaf{};        // computed by the appending thread, so hashing scales with the callers
  };

  absl::Status Health() {
    if (failed_.load()) {
      std::lock_guard<std::mutex> l(mu_);
      return failure_;
    }
    if (closing_.load() || stopped_.load()) {
      return absl::FailedPreconditionError("audit log is closed");
    }
    return absl::OkStatus();
  }

  void WakeWriter() {
    std::lock_guard<std::mutex> l(mu_);
    work_cv_.notify_one();
  }

  // Hands a record to the writer. `buf` is kFrameHeader bytes of room for the frame header and
  // then the encoded record with its index and time fields still 0. The calling thread sets the
  // index and the time (the writer's clock, read after the index is taken), hashes the leaf and
  // builds the frame (CRC included), so that work scales with the callers and the writer only
  // copies the frame out (Process clamps a time that would go backwards).
  absl::StatusOr<uint64_t> Publish(std::string& buf) {
    if (absl::Status s = Health(); !s.ok()) return s;
    const uint64_t idx = next_index_.fetch_add(1, std::memory_order_relaxed);
    char* rec = buf.data() + kFrameHeader;
    for (int i = 0; i < 8; ++i) {
      rec[kRecordIndexOffset + i] = static_cast<char>(idx >> (56 - 8 * i));
    }
    SetRecordTime(absl::ToUnixNanos(fs_->Now()), rec);
    const std::string_view record(rec, buf.size() - kFrameHeader);
    FrameHeader(kFrameRecord, record, buf.data());
    Slot& s = slots_[idx & mask_];
    if (s.seq.load(std::memory_order_acquire) != idx) WaitForSlot(s, idx);
    if (s.seq.load(std::memory_order_acquire) != idx) return Health();
    s.frame.assign(buf);
    s.leaf = LeafHasher().Leaf(record);
    s.seq.store(idx + 1, std::memory_order_release);
    if (opts_.durability == AuditDurability::kSync) {
      sync_waiters_.fetch_add(1);
      std::unique_lock<std::mutex> l(mu_);
      work_cv_.notify_one();
      ack_cv_.wait(l, [&] { return durable_.load() > idx || failed_ || stopped_; });
      sync_waiters_.fetch_sub(1);
      if (durable_.load() <= idx) {
        return failed_ ? failure_ : absl::FailedPreconditionError("audit log is closed");
      }
    }
    return idx;
  }

  // The ring is full: the writer has not freed this slot for this lap yet. Spins briefly, then
  // sleeps until the writer frees slots (it is behind, e.g. in an fsync), so that a waiting
  // caller does not burn the core the writer needs. Returns early when the log fails or stops.
  void WaitForSlot(Slot& s, uint64_t idx) {
    for (int spins = 0; spins < 64; ++spins) {
      if (s.seq.load(std::memory_order_acquire) == idx) return;
    }
    space_waiters_.fetch_add(1);
    {
      std::unique_lock<std::mutex> l(mu_);
      // Timed: a belt against a missed wake-up; the writer notifies after each batch.
      while (s.seq.load(std::memory_order_acquire) != idx && !failed_.load() && !stopped_.load()) {
        space_cv_.wait_for(l, std::chrono::milliseconds(1));
      }
    }
    space_waiters_.fetch_sub(1);
  }

  // ---- writer thread ----
  void Run();
  absl::Status Step(bool* idle);
  size_t ConsumeReady(size_t max, absl::Status* status);
  absl::Status ConsumeThrough(uint64_t index);
  // `frame` is the record's complete frame when the caller built it, else empty.
  absl::Status Process(std::string_view bytes, const Hash* leaf, std::string_view frame);
  static TreeHasher& LeafHasher() {
    thread_local TreeHasher h;
    return h;
  }
  absl::Status WriteOut();
  absl::Status SyncOut();
  absl::Status Checkpoint(bool heartbeat);
  absl::Status Rotate();
  uint64_t ReserveOwn(RecordView v);
  // Takes the writer lock of the log in `dir`; kFailedPrecondition naming it when held.
  absl::Status LockLog(const std::string& dir);
  void Fail(absl::Status s) {
    std::lock_guard<std::mutex> l(mu_);
    if (failure_.ok()) failure_ = std::move(s);
    failed_.store(true);
    ack_cv_.notify_all();
    space_cv_.notify_all();
  }

  AuditOptions opts_;
  FileSystem* fs_;
  std::unique_ptr<NoteSigner> signer_;
  std::string log_id_, dir_, origin_, secret_, staging_dir_;
  std::unique_ptr<FileLock> writer_lock_;  // held from Start to Close: one writer per log

  std::unique_ptr<Slot[]> slots_;
  uint64_t cap_ = 0, mask_ = 0;
  alignas(64) std::atomic<uint64_t> next_index_{0};
  alignas(64) std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> checkpointed_{0};
  std::atomic<bool> failed_{false}, closing_{false}, stopped_{false}, flush_requested_{false};
  std::atomic<int> sync_waiters_{0}, space_waiters_{0};
  std::mutex mu_;
  std::condition_variable work_cv_, ack_cv_, space_cv_;
  absl::Status failure_;  // guarded by mu_
  std::mutex close_mu_;
  bool closed_ = false;
  absl::Status close_status_;
  std::thread writer_;

  // Writer-thread state.
  TreeHasher hasher_;
  CompactRange range_;
  uint64_t consumed_ = 0, written_ = 0;
  std::deque<std::pair<uint64_t, std::string>> own_;
  std::unique_ptr<WritableFile> seg_;
  uint64_t seg_bytes_ = 0;
  std::string wbuf_, sink_buf_;
  LeafHashSink* leaf_sink_ = nullptr;  // opts_.sink when it takes leaf hashes too
  std::vector<Hash> sink_leaves_;      // for leaf_sink_: the leaf hashes of sink_buf_
  std::vector<Hash> sink_subtrees_;    // and the roots of the subtrees they complete
  uint64_t sink_first_ = 0, sink_count_ = 0;
  uint64_t decisions_ = 0, last_cp_size_ = 0;
  int64_t last_time_ns_ = INT64_MIN;  // time of the last record processed
  absl::Time last_cp_time_, last_write_, last_sync_;
};

uint64_t Log::ReserveOwn(RecordView v) {
  v.index = next_index_.fetch_add(1);
  v.time_ns = absl::ToUnixNanos(fs_->Now());
  std::string bytes;
  EncodeRecord(v, &bytes).IgnoreError();  // writer-made records are always encodable
  own_.emplace_back(v.index, std::move(bytes));
  return v.index;
}

absl::Status Log::Start() {
  cap_ = 1;
  while (cap_ < std::max<uint32_t>(opts_.queue_slots, 64)) cap_ <<= 1;
  mask_ = cap_ - 1;
  if (opts_.checkpoint_every_records == 0 || opts_.segment_bytes < 4096 ||
      opts_.checkpoint_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("audit options out of range");
  }
  if (opts_.commitment_secret.empty()) {
    RESIDENCY_ASSIGN_OR_RETURN(secret_, RandomBytes(32));
  } else {
    secret_ = opts_.commitment_secret;
  }
  uint64_t first = 0;
  if (!opts_.resume_log_dir.empty()) {
    dir_ = opts_.resume_log_dir;
    while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
    size_t slash = dir_.find_last_of('/');
    log_id_ = slash == std::string::npos ? dir_ : dir_.substr(slash + 1);
    if (!fs_->IsDir(dir_)) {
      return absl::NotFoundError(absl::StrCat("audit log `", dir_, "` does not exist"));
    }
    RESIDENCY_RETURN_IF_ERROR(LockLog(dir_));
    RESIDENCY_ASSIGN_OR_RETURN(Recovered r, Recover(fs_, dir_, *signer_));
    last_time_ns_ = r.last_time_ns;
    origin_ = r.origin;
    if (r.cut_bytes > 0)
      RESIDENCY_RETURN_IF_ERROR(fs_->Truncate(r.last_segment, r.last_segment_size));
    RESIDENCY_ASSIGN_OR_RETURN(seg_, fs_->OpenAppend(r.last_segment, false));
    seg_bytes_ = r.last_segment_size;
    if (!r.complete_header.empty()) {
      RESIDENCY_RETURN_IF_ERROR(seg_->Append(r.complete_header));
      RESIDENCY_RETURN_IF_ERROR(seg_->Sync());
      seg_bytes_ = r.complete_header.size();
    }
    range_ = r.range;
    consumed_ = written_ = r.count;
    decisions_ = r.decisions;
    last_cp_size_ = r.last_cp_size;
    durable_.store(r.count);
    checkpointed_.store(r.last_cp_size);
    first = r.count;
    next_index_.store(r.count);
    RecordView rv;
    rv.type = RecordType::kRecovery;
    rv.count = r.count;
    rv.cut_bytes = r.cut_bytes;
    rv.cut_digest = r.cut_digest;
    rv.prev_size = r.last_cp_size;
    slots_.reset(new Slot[cap_]);
    for (uint64_t i = 0; i < cap_; ++i) {
      uint64_t lap_index = (first & ~mask_) + i;
      if (lap_index < first) lap_index += cap_;
      slots_[i].seq.store(lap_index);
    }
    ReserveOwn(rv);
  } else {
    if (opts_.audit_dir.empty()) return absl::InvalidArgumentError("no audit directory given");
    if (opts_.log_id.empty()) {
      RESIDENCY_ASSIGN_OR_RETURN(std::string rnd, RandomBytes(4));
      log_id_ = absl::StrCat(absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()),
                             "-", HexEncode(rnd));
    } else {
      log_id_ = opts_.log_id;
    }
    if (!ValidLogId(log_id_)) {
      return absl::InvalidArgumentError(
          absl::StrCat("log id `", Excerpt(log_id_), "` is not valid"));
    }
    std::string parent = opts_.audit_dir;
    while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
    if (!fs_->IsDir(parent)) {
      return absl::NotFoundError(absl::StrCat("audit directory `", parent, "` does not exist"));
    }
    dir_ = parent + "/" + log_id_;
    origin_ = signer_->name() + "/" + log_id_;
    if (fs_->Exists(dir_)) {
      return absl::AlreadyExistsError(absl::StrCat("audit log `", dir_, "` exists already"));
    }
    // Built under a hidden name and renamed once its log_open record is durable, so a crash
    // during Open never leaves a log without one.
    staging_dir_ = parent + "/." + log_id_ + ".opening";
    RESIDENCY_RETURN_IF_ERROR(fs_->CreateDir(staging_dir_));
    // The lock file moves with the directory; its lock stays with this writer.
    RESIDENCY_RETURN_IF_ERROR(LockLog(staging_dir_));
    RESIDENCY_ASSIGN_OR_RETURN(seg_, fs_->OpenAppend(staging_dir_ + "/" + SegmentName(0), true));
    std::string header = SegmentHeader(0, origin_);
    RESIDENCY_RETURN_IF_ERROR(seg_->Append(header));
    RESIDENCY_RETURN_IF_ERROR(seg_->Sync());
    RESIDENCY_RETURN_IF_ERROR(fs_->SyncDir(staging_dir_));
    seg_bytes_ = header.size();
    slots_.reset(new Slot[cap_]);
    for (uint64_t i = 0; i < cap_; ++i) slots_[i].seq.store(i);
    RecordView open;
    open.type = RecordType::kLogOpen;
    open.origin = origin_;
    open.key_name = signer_->name();
    open.vkey = signer_->vkey();
    std::string software = absl::StrCat("residency ", kVersionString);
    open.software = software;
    ReserveOwn(open);
  }
  leaf_sink_ = dynamic_cast<LeafHashSink*>(opts_.sink.get());
  if (opts_.sink) RESIDENCY_RETURN_IF_ERROR(opts_.sink->OnOpen(origin_, log_id_));
  sink_first_ = consumed_;
  // The log_open (or recovery) record is durable before Open returns.
  RESIDENCY_RETURN_IF_ERROR(ConsumeThrough(own_.front().first));
  RESIDENCY_RETURN_IF_ERROR(SyncOut());
  if (!staging_dir_.empty()) RESIDENCY_RETURN_IF_ERROR(fs_->RenameDir(staging_dir_, dir_));
  writer_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

absl::Status Log::LockLog(const std::string& dir) {
  auto lock = fs_->LockFile(dir + "/" + kWriterLockFile);
  if (lock.status().code() == absl::StatusCode::kFailedPrecondition) {
    return absl::FailedPreconditionError(absl::StrCat(
        "audit log `", dir, "` is open in another writer (this process or another); a log has ",
        "one writer at a time"));
  }
  if (!lock.ok()) return lock.status();
  writer_lock_ = *std::move(lock);
  return absl::OkStatus();
}

absl::Status Log::Process(std::string_view bytes, const Hash* leaf, std::string_view frame) {
  // Record times never go backwards in a log: a record stamped before the one preceding it (its
  // appender read the clock a moment earlier, or the clock stepped back) takes that record's
  // time. Rare, so the leaf and the frame are then recomputed here.
  std::string clamped;
  if (const int64_t t = RecordTime(bytes); t < last_time_ns_) {
    clamped.assign(bytes.data(), bytes.size());
    SetRecordTime(last_time_ns_, clamped.data());
    bytes = clamped;
    leaf = nullptr;
    frame = {};
  } else {
    last_time_ns_ = t;
  }
  if (seg_bytes_ + wbuf_.size() >= opts_.segment_bytes) RESIDENCY_RETURN_IF_ERROR(Rotate());
  const Hash leaf_hash = leaf ? *leaf : hasher_.Leaf(bytes);
  if (leaf_sink_ != nullptr) {
    Hash subtree;
    range_.Append(leaf_hash, &hasher_, kLeafSinkSubtreeHeight, &subtree);
    if ((range_.size() & ((uint64_t{1} << kLeafSinkSubtreeHeight) - 1)) == 0) {
      sink_subtrees_.push_back(subtree);
    }
  } else {
    range_.Append(leaf_hash, &hasher_);
  }
  if (frame.empty()) {
    AppendFrame(kFrameRecord, bytes, &wbuf_);
  } else {
    wbuf_.append(frame.data(), frame.size());
  }
  if (opts_.sink) {
    PutU32(&sink_buf_, static_cast<uint32_t>(bytes.size()));
    sink_buf_.append(bytes.data(), bytes.size());
    if (leaf_sink_ != nullptr) sink_leaves_.push_back(leaf_hash);
    ++sink_count_;
  }
  if (static_cast<uint8_t>(bytes[1]) == static_cast<uint8_t>(RecordType::kDecision)) ++decisions_;
  ++consumed_;
  if (wbuf_.size() >= kWriteChunk) return WriteOut();
  return absl::OkStatus();
}

size_t Log::ConsumeReady(size_t max, absl::Status* status) {
  size_t n = 0;
  while (n < max) {
    const uint64_t idx = consumed_;
    Slot& s = slots_[idx & mask_];
    if (!own_.empty() && own_.front().first == idx) {
      std::string bytes = std::move(own_.front().second);
      own_.pop_front();
      *status = Process(bytes, nullptr, {});
      s.seq.store(idx + cap_, std::memory_order_release);
    } else {
      if (s.seq.load(std::memory_order_acquire) != idx + 1) break;
      const std::string_view frame = s.frame;
      *status = Process(frame.substr(kFrameHeader), &s.leaf, frame);
      s.seq.store(idx + cap_, std::memory_order_release);
    }
    ++n;
    if (!status->ok()) break;
  }
  // Callers waiting for a free slot (seq_cst: pairs with their increment before they check).
  if (n > 0 && space_waiters_.load() > 0) {
    std::lock_guard<std::mutex> l(mu_);
    space_cv_.notify_all();
  }
  return n;
}

absl::Status Log::ConsumeThrough(uint64_t index) {
  absl::Status s;
  for (uint32_t spins = 0; consumed_ <= index; ++spins) {
    if (ConsumeReady(4096, &s) == 0 && spins > 64) std::this_thread::yield();
    RESIDENCY_RETURN_IF_ERROR(s);
  }
  return absl::OkStatus();
}

absl::Status Log::WriteOut() {
  if (!wbuf_.empty()) {
    RESIDENCY_RETURN_IF_ERROR(seg_->Append(wbuf_));
    seg_bytes_ += wbuf_.size();
    wbuf_.clear();
  }
  written_ = consumed_;
  last_write_ = absl::Now();
  return absl::OkStatus();
}

absl::Status Log::SyncOut() {
  RESIDENCY_RETURN_IF_ERROR(WriteOut());
  last_sync_ = absl::Now();
  if (written_ == durable_.load()) return absl::OkStatus();
  RESIDENCY_RETURN_IF_ERROR(seg_->Sync());
  if (opts_.sink && sink_count_ > 0) {
    if (leaf_sink_ != nullptr) {
      RESIDENCY_RETURN_IF_ERROR(leaf_sink_->OnLeafRecords(
          sink_first_, sink_count_, sink_buf_, std::move(sink_leaves_), std::move(sink_subtrees_)));
      sink_leaves_.clear();
      sink_subtrees_.clear();
    } else {
      RESIDENCY_RETURN_IF_ERROR(opts_.sink->OnRecords(sink_first_, sink_count_, sink_buf_));
    }
    sink_buf_.clear();
    sink_first_ += sink_count_;
    sink_count_ = 0;
  }
  durable_.store(written_);
  if (sync_waiters_.load() > 0) {
    std::lock_guard<std::mutex> l(mu_);
    ack_cv_.notify_all();
  }
  return absl::OkStatus();
}

absl::Status Log::Rotate() {
  RESIDENCY_RETURN_IF_ERROR(SyncOut());
  RESIDENCY_RETURN_IF_ERROR(seg_->Close());
  RESIDENCY_ASSIGN_OR_RETURN(seg_, fs_->OpenAppend(dir_ + "/" + SegmentName(consumed_), true));
  std::string header = SegmentHeader(consumed_, origin_);
  RESIDENCY_RETURN_IF_ERROR(seg_->Append(header));
  RESIDENCY_RETURN_IF_ERROR(seg_->Sync());
  RESIDENCY_RETURN_IF_ERROR(fs_->SyncDir(dir_));
  seg_bytes_ = header.size();
  return absl::OkStatus();
}

absl::Status Log::Checkpoint(bool heartbeat) {
  if (heartbeat) {
    RecordView hb;
    hb.type = RecordType::kHeartbeat;
    hb.count = decisions_;
    hb.prev_size = last_cp_size_;
    RESIDENCY_RETURN_IF_ERROR(ConsumeThrough(ReserveOwn(hb)));
  }
  // Never sign over records that are not durable.
  RESIDENCY_RETURN_IF_ERROR(SyncOut());
  const uint64_t size = consumed_;
  RESIDENCY_ASSIGN_OR_RETURN(
      std::string note, signer_->Sign(FormatCheckpointText(origin_, size, range_.Root(&hasher_))));
  AppendFrame(kFrameCheckpoint, note, &wbuf_);
  RESIDENCY_RETURN_IF_ERROR(WriteOut());
  RESIDENCY_RETURN_IF_ERROR(seg_->Sync());
  RESIDENCY_RETURN_IF_ERROR(fs_->WriteFileAtomic(dir_ + "/" + kLatestCheckpointFile, note));
  if (opts_.sink) RESIDENCY_RETURN_IF_ERROR(opts_.sink->OnCheckpoint(size, note));
  last_cp_size_ = size;
  last_cp_time_ = absl::Now();
  checkpointed_.store(size);
  std::lock_guard<std::mutex> l(mu_);
  ack_cv_.notify_all();
  return absl::OkStatus();
}

absl::Status Log::Step(bool* idle) {
  absl::Status s;
  // Never run past the record-count cadence inside one batch.
  uint64_t since_cp = consumed_ - last_cp_size_;
  uint64_t budget = since_cp >= opts_.checkpoint_every_records
                        ? 1
                        : std::min<uint64_t>(4096, opts_.checkpoint_every_records - since_cp);
  size_t n = ConsumeReady(budget, &s);
  RESIDENCY_RETURN_IF_ERROR(s);
  *idle = n == 0;
  absl::Time now = absl::Now();
  if (!wbuf_.empty() && (*idle || now - last_write_ >= opts_.flush_interval)) {
    RESIDENCY_RETURN_IF_ERROR(WriteOut());
  }
  if (written_ > durable_.load() &&
      (now - last_sync_ >= opts_.sync_interval || (sync_waiters_.load() > 0 && *idle))) {
    RESIDENCY_RETURN_IF_ERROR(SyncOut());
  }
  if (consumed_ - last_cp_size_ >= opts_.checkpoint_every_records) {
    RESIDENCY_RETURN_IF_ERROR(Checkpoint(false));  // exactly every N records
  }
  if (now - last_cp_time_ >= opts_.checkpoint_interval || flush_requested_.exchange(false)) {
    RESIDENCY_RETURN_IF_ERROR(Checkpoint(true));  // heartbeat: time and counters in the tree
  }
  return absl::OkStatus();
}

void Log::Run() {
  last_cp_time_ = last_write_ = last_sync_ = absl::Now();
  absl::Status s;
  while (s.ok()) {
    bool idle = false;
    s = Step(&idle);
    if (!s.ok()) break;
    if (closing_.load() && idle && consumed_ == next_index_.load() && own_.empty()) {
      RecordView close;
      close.type = RecordType::kClose;
      close.count = decisions_;
      s = ConsumeThrough(ReserveOwn(close));
      if (s.ok()) s = Checkpoint(false);
      if (s.ok() && opts_.sink) s = opts_.sink->OnClose();
      if (s.ok()) s = seg_->Close();
      break;
    }
    if (idle) {
      std::unique_lock<std::mutex> l(mu_);
      if (closing_.load() || flush_requested_.load()) continue;
      if (sync_waiters_.load() > 0 && written_ > durable_.load()) continue;
      Slot& next = slots_[consumed_ & mask_];
      if (next.seq.load() == consumed_ + 1) continue;
      absl::Duration wait = opts_.flush_interval;
      work_cv_.wait_for(l, absl::ToChronoNanoseconds(wait));
    }
  }
  if (!s.ok()) Fail(s);
  stopped_.store(true);
  std::lock_guard<std::mutex> l(mu_);
  ack_cv_.notify_all();
  space_cv_.notify_all();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> OpenAuditLogWithSigner(
    const AuditOptions& options, FileSystem* fs, std::unique_ptr<NoteSigner> signer) {
  // Tiles publication (issue 19) rides on the sink interface: see tiles_sink.cc.
  RESIDENCY_ASSIGN_OR_RETURN(AuditOptions with_tiles, WithTilesPublication(options, fs));
  auto log = std::make_unique<Log>(with_tiles, fs, std::move(signer));
  RESIDENCY_RETURN_IF_ERROR(log->Start());
  return std::unique_ptr<AuditLog>(std::move(log));
}

absl::StatusOr<std::unique_ptr<AuditLog>> OpenAuditLog(const AuditOptions& options,
                                                       FileSystem* fs) {
  if (options.key_file.empty()) return absl::InvalidArgumentError("no audit key given");
  RESIDENCY_ASSIGN_OR_RETURN(auto signer, NoteSigner::FromPemFile(options.key_file));
  return OpenAuditLogWithSigner(options, fs, std::move(signer));
}

}  // namespace residency::audit

namespace residency {

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const AuditOptions& options) {
  return audit::OpenAuditLog(options, audit::PosixFileSystem());
}

std::array<uint8_t, 32> AuditRequestDigest(std::string_view request_bytes) {
  return internal::Sha256(request_bytes);
}

}  // namespace residency
