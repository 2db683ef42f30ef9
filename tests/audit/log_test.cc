// The writer, recovery and the verifier end to end: clean logs, the tamper matrix,
// power loss through the fault-injecting file layer, fsync failure, kill -9 of a writer
// process, proofs, show and the file sink.
#include "audit/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "audit/codec.h"
#include "audit/fs.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/record.h"
#include "audit/segment.h"
#include "audit/verify.h"
#include "internal/openssl_util.h"
#include "residency/audit.h"
#include "test_util.h"

namespace residency::audit {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

DecisionRecord Rec(uint64_t i) {
  DecisionRecord d;
  static const char* kDecisions[] = {"allow", "deny", "escalate", "allow_with_obligations"};
  d.decision = kDecisions[i % 4];
  d.rule_ids = {absl::StrCat("rule.", i % 7)};
  d.tags = {"KR:personal", absl::StrCat("X", i % 3, ":internal")};
  d.request_digest = internal::Sha256(absl::StrCat("request ", i));
  d.policy_digest = "sha256:" + std::string(64, 'c');
  d.now = absl::FromUnixSeconds(1782777600 + static_cast<int64_t>(i));
  return d;
}

// True when the log holds decision record `i` as written by Rec(i) at index `i`... or at a
// later index (records may be shifted by writer-made records): we look the digest up.
std::set<std::string> DecisionDigests(FileSystem* fs, const std::string& dir) {
  LogFiles files;
  std::set<std::string> out;
  auto frames = ReadRecords(fs, dir, &files);
  EXPECT_TRUE(frames.ok()) << frames.status();
  if (!frames.ok()) return out;
  RecordView v;
  for (const auto& f : *frames) {
    if (f.type != kFrameRecord) continue;
    EXPECT_TRUE(DecodeRecord(f.payload, &v).ok());
    if (v.type == RecordType::kDecision) out.insert(std::string(AsView(v.request_digest)));
  }
  return out;
}

std::string DigestOf(uint64_t i) {
  auto d = internal::Sha256(absl::StrCat("request ", i));
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto v = GenerateAuditKey("gw1", dir_.path());
    ASSERT_TRUE(v.ok()) << v.status();
    vkey_ = *v;
    key_ = dir_.path() + "/gw1.pem";
    logs_ = dir_.path() + "/logs";
    std::filesystem::create_directory(logs_);
  }

  AuditOptions Options() {
    AuditOptions o;
    o.audit_dir = logs_;
    o.key_file = key_;
    o.checkpoint_every_records = 40;
    o.checkpoint_interval = absl::Hours(1);
    o.segment_bytes = 4096;
    return o;
  }

  // Writes `n` decisions and closes; returns the log directory.
  std::string WriteLog(uint64_t n, bool close = true) {
    auto log = AuditLog::Open(Options());
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return "";
    for (uint64_t i = 0; i < n; ++i) {
      auto idx = (*log)->Append(Rec(i));
      EXPECT_TRUE(idx.ok()) << idx.status();
    }
    std::string dir = (*log)->log_dir();
    if (close) {
      EXPECT_TRUE((*log)->Close().ok());
    } else {
      EXPECT_TRUE((*log)->Flush().ok());
      // Leave it as a crashed writer would: no close record. (Destructor would close.)
      open_logs_.push_back(std::move(*log));
    }
    return dir;
  }

  AuditLogReport VerifyOne(const std::string& path, AuditVerifyOptions o = {}) {
    if (o.vkeys.empty()) o.vkeys = {vkey_};
    auto r = VerifyAuditLogs(path, o);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->logs.empty()) return {};
    return r->logs[0];
  }

  static std::string Describe(const AuditLogReport& r) {
    std::string s = AuditLogStatusName(r.status);
    for (const auto& f : r.findings) absl::StrAppend(&s, " | ", f.kind, ": ", f.message);
    return s;
  }

  static bool HasKind(const AuditLogReport& r, const std::string& kind) {
    for (const auto& f : r.findings) {
      if (f.kind == kind) return true;
    }
    return false;
  }

  TempDir dir_;
  std::string vkey_, key_, logs_;
  std::vector<std::unique_ptr<AuditLog>> open_logs_;
};

// Append caches the parsed policy digest per thread: a changed digest must be re-parsed, a bad
// one refused even right after a good one, and each record must carry its own digest.
TEST_F(AuditLogTest, PolicyDigestChangesBetweenAppends) {
  auto log = AuditLog::Open(Options());
  ASSERT_TRUE(log.ok()) << log.status();
  const std::string a = "sha256:" + std::string(64, 'a'), b = "sha256:" + std::string(64, 'b');
  const std::vector<std::string> digests = {a, b, "sha256:" + std::string(64, 'B'), a, "", b};
  std::vector<bool> accepted;
  for (size_t i = 0; i < digests.size(); ++i) {
    DecisionRecord d = Rec(i);
    d.policy_digest = digests[i];
    accepted.push_back((*log)->Append(d).ok());
  }
  EXPECT_EQ(accepted, (std::vector<bool>{true, true, false, true, false, true}));
  std::string dir = (*log)->log_dir();
  ASSERT_TRUE((*log)->Close().ok());
  EXPECT_EQ(VerifyOne(dir).status, AuditLogStatus::kValid);
  LogFiles files;
  auto frames = ReadRecords(PosixFileSystem(), dir, &files);
  ASSERT_TRUE(frames.ok()) << frames.status();
  std::vector<std::string> seen;
  RecordView v;
  for (const auto& f : *frames) {
    if (f.type != kFrameRecord) continue;
    ASSERT_TRUE(DecodeRecord(f.payload, &v).ok());
    if (v.type == RecordType::kDecision) seen.push_back(FormatDigest(v.policy_digest));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{a, b, a, b}));
}

// The encoder's eight-byte printable-ASCII check must agree with the byte-wise rule (and so
// with the decoder) on every position of a control, DEL or non-ASCII byte.
TEST(AuditRecordText, EncoderAcceptsExactlyWhatDecoderAccepts) {
  const std::string bad[] = {std::string(1, '\0'), "\x1f", "\x7f", "\xff", "\xc3"};
  const std::string good[] = {" ", "~", "\xc3\xa9", "\xe2\x82\xac"};
  for (size_t len = 1; len <= 20; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      for (const auto& ins : bad) {
        DecisionRecord d = Rec(1);
        std::string id(len, 'r');
        id.replace(pos, 1, ins);
        d.rule_ids = {id};
        std::string out;
        EXPECT_FALSE(EncodeDecision(d, 0, nullptr, &out).ok()) << len << " " << pos;
      }
      for (const auto& ins : good) {
        DecisionRecord d = Rec(1);
        std::string id(len, 'r');
        id.replace(pos, 1, ins);
        d.rule_ids = {id};
        std::string out;
        ASSERT_TRUE(EncodeDecision(d, 0, nullptr, &out).ok()) << len << " " << pos;
        RecordView v;
        ASSERT_TRUE(DecodeRecord(out, &v).ok()) << len << " " << pos;
        ASSERT_EQ(v.rule_ids.size(), 1u);
        EXPECT_EQ(v.rule_ids[0], id);
      }
    }
  }
}

TEST_F(AuditLogTest, CleanLogVerifies) {
  std::string dir = WriteLog(300);
  auto r = VerifyOne(dir);
  EXPECT_EQ(r.status, AuditLogStatus::kValid) << Describe(r);
  // 300 decisions + log_open + close (+ heartbeats, if any).
  EXPECT_GE(r.records, 302u);
  EXPECT_GE(r.checkpoints, 7u);
  EXPECT_EQ(r.origin.substr(0, 4), "gw1/");
  EXPECT_EQ(DecisionDigests(PosixFileSystem(), dir).size(), 300u);
  // Several segments were written.
  int segs = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    segs += e.path().filename().string().rfind("seg-", 0) == 0;
  }
  EXPECT_GT(segs, 3);
  // The directory of logs verifies too (every log under it).
  AuditVerifyOptions vo;
  vo.vkeys = {vkey_};
  auto all = VerifyAuditLogs(logs_, vo);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->ok());
}

TEST_F(AuditLogTest, AppendReturnsConsecutiveIndicesAndRejectsBadRecords) {
  auto log = AuditLog::Open(Options());
  ASSERT_TRUE(log.ok()) << log.status();
  auto a = (*log)->Append(Rec(0));
  auto b = (*log)->Append(Rec(1));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, 1u);  // index 0 is the log_open record
  EXPECT_EQ(*b, 2u);
  DecisionRecord bad = Rec(2);
  bad.decision = "perhaps";
  EXPECT_FALSE((*log)->Append(bad).ok());
  EXPECT_EQ((*log)->origin(), "gw1/" + (*log)->log_id());
  EXPECT_TRUE((*log)->Close().ok());
  EXPECT_FALSE((*log)->Append(Rec(3)).ok());  // closed
  EXPECT_EQ(VerifyOne((*log)->log_dir()).status, AuditLogStatus::kValid);
}

TEST_F(AuditLogTest, OpenFailsClosedOnBadConfiguration) {
  AuditOptions o = Options();
  o.key_file = dir_.path() + "/absent.pem";
  EXPECT_FALSE(AuditLog::Open(o).ok());
  o = Options();
  o.audit_dir = dir_.path() + "/absent";
  EXPECT_FALSE(AuditLog::Open(o).ok());
  o = Options();
  o.log_id = "../escape";
  EXPECT_FALSE(AuditLog::Open(o).ok());
  o = Options();
  o.log_id = "fixed";
  auto first = AuditLog::Open(o);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(AuditLog::Open(o).ok());  // the log exists already
}

TEST_F(AuditLogTest, PrincipalIsStoredAsCommitmentOnly) {
  auto log = AuditLog::Open(Options());
  ASSERT_TRUE(log.ok());
  DecisionRecord d = Rec(0);
  d.principal = "alice@example.com";
  ASSERT_TRUE((*log)->Append(d).ok());
  std::string secret = (*log)->commitment_secret();
  ASSERT_TRUE((*log)->Close().ok());
  std::string all;
  for (const auto& e : std::filesystem::directory_iterator((*log)->log_dir())) {
    all += ReadAll(e.path().string());
  }
  EXPECT_EQ(all.find("alice"), std::string::npos);
  internal::Sha256Hasher h;
  h.Update("residency-audit-commit-v1");
  h.Update(secret);
  h.Update("alice@example.com");
  auto c = h.Finish();
  auto json = ShowAuditLog((*log)->log_dir());
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"principal_commitment\":\"sha256:" + internal::HexEncode(c)),
            std::string::npos);
}

TEST_F(AuditLogTest, UnclosedLogIsAGapUnlessOpen) {
  std::string dir = WriteLog(50, /*close=*/false);
  auto r = VerifyOne(dir);
  EXPECT_EQ(r.status, AuditLogStatus::kGap) << Describe(r);
  AuditVerifyOptions o;
  o.open = true;
  EXPECT_EQ(VerifyOne(dir, o).status, AuditLogStatus::kValid);
}

TEST_F(AuditLogTest, SyncDurabilityAcknowledgesOnlyDurableRecords) {
  AuditOptions o = Options();
  o.durability = AuditDurability::kSync;
  auto log = AuditLog::Open(o);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 20; ++i) {
    auto idx = (*log)->Append(Rec(i));
    ASSERT_TRUE(idx.ok());
    EXPECT_GT((*log)->durable_size(), *idx);
  }
  EXPECT_TRUE((*log)->Close().ok());
}

TEST_F(AuditLogTest, TimedCheckpointsAndHeartbeatsWhenIdle) {
  AuditOptions o = Options();
  o.checkpoint_every_records = 1u << 20;
  o.checkpoint_interval = absl::Milliseconds(20);
  auto log = AuditLog::Open(o);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Rec(0)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  ASSERT_TRUE((*log)->Close().ok());
  auto cps = ShowAuditCheckpoints((*log)->log_dir());
  ASSERT_TRUE(cps.ok());
  size_t notes = 0;
  for (size_t p = cps->find("\n\n\xE2\x80\x94"); p != std::string::npos;
       p = cps->find("\n\n\xE2\x80\x94", p + 1)) {
    ++notes;
  }
  EXPECT_GE(notes, 3u);  // several timed checkpoints plus the final one
  auto json = ShowAuditLog((*log)->log_dir());
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"type\":\"heartbeat\""), std::string::npos);
  EXPECT_EQ(VerifyOne((*log)->log_dir()).status, AuditLogStatus::kValid);
}

TEST_F(AuditLogTest, ShowRawCheckpointsAndProofs) {
  std::string dir = WriteLog(100);
  auto raw = ShowAuditLogRaw(dir);
  auto json = ShowAuditLog(dir);
  auto cps = ShowAuditCheckpoints(dir);
  ASSERT_TRUE(raw.ok() && json.ok() && cps.ok());
  // One line per record in both views; raw lines are base64 of canonical records.
  size_t raw_lines = std::count(raw->begin(), raw->end(), '\n');
  EXPECT_EQ(raw_lines, static_cast<size_t>(std::count(json->begin(), json->end(), '\n')));
  std::string first_line = raw->substr(0, raw->find('\n'));
  auto first = Base64Decode(first_line);
  ASSERT_TRUE(first.has_value());
  RecordView v;
  ASSERT_TRUE(DecodeRecord(*first, &v).ok());
  EXPECT_EQ(v.type, RecordType::kLogOpen);
  // Each checkpoint note is followed by exactly one blank line.
  EXPECT_EQ(cps->substr(cps->size() - 2), "\n\n");
  // Recompute the last checkpoint's root from the raw leaves, as an outside auditor would.
  std::string last_note = cps->substr(0, cps->size() - 1);
  last_note = last_note.substr(last_note.rfind("gw1/"));
  auto note = ParseNote(last_note);
  ASSERT_TRUE(note.ok()) << note.status();
  auto cp = ParseCheckpointText(note->text);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->size, raw_lines);
  TreeHasher h;
  CompactRange range;
  size_t start = 0;
  while (start < raw->size()) {
    size_t nl = raw->find('\n', start);
    range.Append(h.Leaf(*Base64Decode(raw->substr(start, nl - start))), &h);
    start = nl + 1;
  }
  EXPECT_EQ(range.Root(&h), cp->root);

  for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{57}, uint64_t{raw_lines - 1}}) {
    auto proof = ProveAuditRecord(dir, index);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(proof->rfind("c2sp.org/tlog-proof@v1\nextra ", 0), 0u);
    auto ok = VerifyAuditProof(*proof, {vkey_});
    ASSERT_TRUE(ok.ok()) << ok.status();
    EXPECT_NE(ok->find(absl::StrCat("\"index\":", index)), std::string::npos);
    // A changed proof hash, a changed index and a wrong key all fail.
    std::string bad = *proof;
    size_t at = bad.find("\nindex ");
    size_t hash_line = bad.find('\n', at + 1) + 1;
    if (bad[hash_line] != '\n') {
      bad[hash_line] = bad[hash_line] == 'A' ? 'B' : 'A';
      EXPECT_FALSE(VerifyAuditProof(bad, {vkey_}).ok());
    }
    std::string shifted = *proof;
    shifted.replace(at, 7 + std::to_string(index).size(), absl::StrCat("\nindex ", index + 1));
    EXPECT_FALSE(VerifyAuditProof(shifted, {vkey_}).ok());
    auto other = NoteSigner::Generate("gw1");
    EXPECT_FALSE(VerifyAuditProof(*proof, {(*other)->vkey()}).ok());
  }
  EXPECT_FALSE(ProveAuditRecord(dir, raw_lines).ok());
  EXPECT_FALSE(VerifyAuditProof("not a proof", {vkey_}).ok());
}

TEST_F(AuditLogTest, FileSinkReceivesDurableRecordsAndCheckpoints) {
  std::string sink_dir = dir_.path() + "/sink";
  std::filesystem::create_directory(sink_dir);
  AuditOptions o = Options();
  o.sink = std::shared_ptr<AuditSink>(NewFileSink(sink_dir));
  auto log = AuditLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 120; ++i) ASSERT_TRUE((*log)->Append(Rec(i)).ok());
  ASSERT_TRUE((*log)->Close().ok());
  std::string shipped = ReadAll(sink_dir + "/" + (*log)->log_id() + ".records");
  auto raw = ShowAuditLogRaw((*log)->log_dir());
  ASSERT_TRUE(raw.ok());
  std::string expect;
  size_t start = 0;
  while (start < raw->size()) {
    size_t nl = raw->find('\n', start);
    std::string rec = *Base64Decode(raw->substr(start, nl - start));
    PutU32(&expect, static_cast<uint32_t>(rec.size()));
    expect += rec;
    start = nl + 1;
  }
  EXPECT_EQ(shipped, expect);
  auto cps = ShowAuditCheckpoints((*log)->log_dir());
  EXPECT_EQ(ReadAll(sink_dir + "/" + (*log)->log_id() + ".checkpoints"), *cps);
}

// ---- the tamper matrix: flipped bytes, rewritten, deleted, inserted, swapped or duplicated
// records, truncated tails, removed or reordered segments, replayed or re-signed checkpoints,
// rollback and wrong keys are each found by the verifier ----

struct Frame {
  uint8_t type;
  std::string payload;
};
struct Segment {
  std::string path, header;
  std::vector<Frame> frames;
};

std::vector<Segment> LoadSegments(const std::string& dir) {
  auto files = ReadLogFiles(PosixFileSystem(), dir);
  EXPECT_TRUE(files.ok());
  std::vector<Segment> out(files->segments.size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].path = dir + "/" + files->segments[i].name;
    out[i].header = std::string(files->contents[i].substr(0, files->segments[i].header_end));
  }
  for (const auto& f : files->frames) {
    out[f.segment].frames.push_back({f.type, std::string(f.payload)});
  }
  return out;
}

void Save(const Segment& s) {
  std::string data = s.header;
  for (const auto& f : s.frames) AppendFrame(f.type, f.payload, &data);
  WriteAll(s.path, data);
}

int FirstRecord(const Segment& s, int from = 0) {
  for (int i = from; i < static_cast<int>(s.frames.size()); ++i) {
    if (s.frames[i].type == kFrameRecord) return i;
  }
  return -1;
}

class TamperTest : public AuditLogTest {
 protected:
  void SetUp() override {
    AuditLogTest::SetUp();
    dir_log_ = WriteLog(400);
    segs_ = LoadSegments(dir_log_);
    ASSERT_GE(segs_.size(), 4u);
  }
  void Expect(AuditLogStatus status, const std::string& kind, AuditVerifyOptions o = {}) {
    auto r = VerifyOne(dir_log_, o);
    EXPECT_EQ(r.status, status) << Describe(r);
    EXPECT_TRUE(HasKind(r, kind)) << "want `" << kind << "`: " << Describe(r);
  }
  std::string dir_log_;
  std::vector<Segment> segs_;
};

TEST_F(TamperTest, BaselineIsValid) {
  EXPECT_EQ(VerifyOne(dir_log_).status, AuditLogStatus::kValid);
}

TEST_F(TamperTest, FlippedByteIsABitFlip) {
  std::string data = ReadAll(segs_[1].path);
  data[segs_[1].header.size() + 30] ^= 0x10;
  WriteAll(segs_[1].path, data);
  Expect(AuditLogStatus::kInvalid, "bit flip");
}

TEST_F(TamperTest, RewrittenRecordWithFixedChecksumIsARootMismatch) {
  Segment& s = segs_[1];
  int i = FirstRecord(s, 2);
  RecordView v;
  ASSERT_TRUE(DecodeRecord(s.frames[i].payload, &v).ok());
  ASSERT_EQ(v.type, RecordType::kDecision);
  v.decision = v.decision == 1 ? 4 : 1;  // allow <-> deny, same index, valid framing
  std::string forged;
  ASSERT_TRUE(EncodeRecord(v, &forged).ok());
  s.frames[i].payload = forged;
  Save(s);
  Expect(AuditLogStatus::kInvalid, "root mismatch");
}

TEST_F(TamperTest, DeletedRecord) {
  Segment& s = segs_[1];
  s.frames.erase(s.frames.begin() + FirstRecord(s, 1));
  Save(s);
  Expect(AuditLogStatus::kInvalid, "deleted");
}

TEST_F(TamperTest, InsertedRecord) {
  Segment& s = segs_[1];
  int i = FirstRecord(s, 1);
  RecordView v;
  ASSERT_TRUE(DecodeRecord(s.frames[i].payload, &v).ok());
  DecisionRecord d = Rec(9999);
  std::string forged;
  ASSERT_TRUE(EncodeDecision(d, v.index, nullptr, &forged).ok());
  s.frames.insert(s.frames.begin() + i, Frame{kFrameRecord, forged});
  Save(s);
  Expect(AuditLogStatus::kInvalid, "inserted");
}

TEST_F(TamperTest, SwappedRecords) {
  Segment& s = segs_[1];
  int i = FirstRecord(s, 1), j = FirstRecord(s, i + 1);
  std::swap(s.frames[i], s.frames[j]);
  Save(s);
  Expect(AuditLogStatus::kInvalid, "reordered");
}

TEST_F(TamperTest, DuplicatedRecord) {
  Segment& s = segs_[1];
  int i = FirstRecord(s, 1);
  s.frames.insert(s.frames.begin() + i + 1, s.frames[i]);
  Save(s);
  Expect(AuditLogStatus::kInvalid, "duplicated");
}

TEST_F(TamperTest, TruncatedTailInsideAFrame) {
  std::string data = ReadAll(segs_.back().path);
  WriteAll(segs_.back().path, data.substr(0, data.size() - 20));
  Expect(AuditLogStatus::kTruncated, "torn tail");
}

TEST_F(TamperTest, TruncatedTailAtAFrameBoundary) {
  // Drop the close record and the final checkpoint; the latest checkpoint file still names them.
  Segment& s = segs_.back();
  ASSERT_GE(s.frames.size(), 2u);
  s.frames.resize(s.frames.size() - 2);
  Save(s);
  Expect(AuditLogStatus::kTruncated, "truncated");
}

TEST_F(TamperTest, RemovedSegment) {
  std::filesystem::remove(segs_[2].path);
  Expect(AuditLogStatus::kInvalid, "segment missing");
}

TEST_F(TamperTest, ReorderedSegments) {
  std::string a = ReadAll(segs_[1].path), b = ReadAll(segs_[2].path);
  WriteAll(segs_[1].path, b);
  WriteAll(segs_[2].path, a);
  Expect(AuditLogStatus::kInvalid, "segment reordered");
}

TEST_F(TamperTest, ReplayedOldCheckpoint) {
  // An old checkpoint copied to the end of the log.
  std::string old;
  for (const auto& seg : segs_) {
    for (const auto& f : seg.frames) {
      if (f.type == kFrameCheckpoint && old.empty()) old = f.payload;
    }
  }
  ASSERT_FALSE(old.empty());
  segs_.back().frames.push_back({kFrameCheckpoint, old});
  Save(segs_.back());
  Expect(AuditLogStatus::kInvalid, "replayed checkpoint");
}

TEST_F(TamperTest, RollbackToAnOlderPrefixIsCaughtByATrustedCheckpoint) {
  std::string final_cp = ReadAll(dir_log_ + "/checkpoint");
  // Cut the log back to its first checkpoint and present that one as the latest.
  size_t seg = 0;
  int cp = -1;
  for (; seg < segs_.size() && cp < 0; ++seg) {
    for (int i = 0; i < static_cast<int>(segs_[seg].frames.size()) && cp < 0; ++i) {
      if (segs_[seg].frames[i].type == kFrameCheckpoint) cp = i;
    }
  }
  ASSERT_GE(cp, 0);
  Segment& s0 = segs_[--seg];
  s0.frames.resize(cp + 1);
  Save(s0);
  for (size_t i = seg + 1; i < segs_.size(); ++i) std::filesystem::remove(segs_[i].path);
  WriteAll(dir_log_ + "/checkpoint", s0.frames[cp].payload);
  // Without outside knowledge this looks like an unclean end.
  EXPECT_EQ(VerifyOne(dir_log_).status, AuditLogStatus::kGap);
  AuditVerifyOptions o;
  o.trusted_checkpoints = {final_cp};
  Expect(AuditLogStatus::kTruncated, "rollback", o);
}

TEST_F(TamperTest, VerifiedWithTheWrongKey) {
  auto other = NoteSigner::Generate("gw1");
  AuditVerifyOptions o;
  o.vkeys = {(*other)->vkey()};
  Expect(AuditLogStatus::kInvalid, "wrong key", o);
  // Rotation: both keys given, the log verifies.
  o.vkeys = {(*other)->vkey(), vkey_};
  EXPECT_EQ(VerifyOne(dir_log_, o).status, AuditLogStatus::kValid);
}

TEST_F(TamperTest, CheckpointResignedWithAnotherKey) {
  auto other = NoteSigner::Generate("gw1");
  Segment& s = segs_[1];
  bool done = false;
  for (auto& f : s.frames) {
    if (f.type != kFrameCheckpoint) continue;
    auto note = ParseNote(f.payload);
    f.payload = *(*other)->Sign(note->text);
    done = true;
    break;
  }
  ASSERT_TRUE(done);
  Save(s);
  Expect(AuditLogStatus::kInvalid, "wrong key");
}

TEST_F(TamperTest, BadSignature) {
  Segment& s = segs_[1];
  bool done = false;
  for (auto& f : s.frames) {
    if (f.type != kFrameCheckpoint || done) continue;
    // Change the tree size in the text but keep the signature.
    auto note = ParseNote(f.payload);
    auto cp = ParseCheckpointText(note->text);
    std::string text = FormatCheckpointText(cp->origin, cp->size + 1, cp->root);
    f.payload = text + f.payload.substr(note->text.size());
    done = true;
  }
  ASSERT_TRUE(done);
  Save(s);
  Expect(AuditLogStatus::kInvalid, "bad signature");
}

TEST_F(TamperTest, ConflictingCheckpointsAreEquivocation) {
  auto signer = NoteSigner::FromPemFile(key_);
  ASSERT_TRUE(signer.ok());
  auto note = ParseNote(ReadAll(dir_log_ + "/checkpoint"));
  auto cp = ParseCheckpointText(note->text);
  Hash other = cp->root;
  other[0] ^= 1;
  WriteAll(dir_log_ + "/checkpoint",
           *(*signer)->Sign(FormatCheckpointText(cp->origin, cp->size, other)));
  Expect(AuditLogStatus::kEquivocation, "equivocation");
}

TEST_F(TamperTest, MissingLogNamedByATrustedCheckpoint) {
  std::string cp = ReadAll(dir_log_ + "/checkpoint");
  std::filesystem::remove_all(dir_log_);
  AuditVerifyOptions o;
  o.vkeys = {vkey_};
  o.trusted_checkpoints = {cp};
  auto r = VerifyAuditLogs(logs_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->logs.back().status, AuditLogStatus::kMissing);
}

// ---- crash safety ----

TEST_F(AuditLogTest, PowerLossKeepsEveryDurableRecordAndRecovers) {
  auto signer_pem = ReadAll(key_);
  std::mt19937_64 rng(20260630);
  for (int trial = 0; trial < 40; ++trial) {
    FaultInjectingFileSystem fs(rng());
    ASSERT_TRUE(fs.CreateDir("mem").ok());
    AuditOptions o = Options();
    o.audit_dir = "mem";
    o.durability = trial % 2 ? AuditDurability::kSync : AuditDurability::kAsync;
    o.segment_bytes = 4096 + rng() % 4096;
    o.checkpoint_every_records = 5 + rng() % 60;
    auto signer = NoteSigner::FromPem(signer_pem, "gw1");
    ASSERT_TRUE(signer.ok());
    auto log = OpenAuditLogWithSigner(o, &fs, std::move(*signer));
    ASSERT_TRUE(log.ok()) << log.status();
    std::string dir = (*log)->log_dir();
    std::vector<uint64_t> acked;  // decision numbers acknowledged as durable
    std::vector<uint64_t> pending;
    uint64_t n = 1 + rng() % 300;
    for (uint64_t i = 0; i < n; ++i) {
      auto idx = (*log)->Append(Rec(i));
      ASSERT_TRUE(idx.ok()) << idx.status();
      if (o.durability == AuditDurability::kSync) {
        acked.push_back(i);
      } else {
        pending.push_back(i);
        if (rng() % 40 == 0) {
          ASSERT_TRUE((*log)->Flush().ok());
          acked.insert(acked.end(), pending.begin(), pending.end());
          pending.clear();
        }
      }
    }
    fs.PowerOff();
    log->reset();  // the writer fails on the dead file layer
    fs.Restart(/*tear=*/true);
    // Recover: cut the torn tail, record the recovery, then close cleanly.
    AuditOptions ro = o;
    ro.resume_log_dir = dir;
    auto rsigner = NoteSigner::FromPem(signer_pem, "gw1");
    auto recovered = OpenAuditLogWithSigner(ro, &fs, std::move(*rsigner));
    ASSERT_TRUE(recovered.ok()) << "trial " << trial << ": " << recovered.status();
    ASSERT_TRUE((*recovered)->Append(Rec(100000)).ok());
    ASSERT_TRUE((*recovered)->Close().ok());
    AuditVerifyOptions vo;
    vo.vkeys = {vkey_};
    auto report = VerifyAuditLogsOn(&fs, dir, vo);
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->logs.size(), 1u);
    EXPECT_EQ(report->logs[0].status, AuditLogStatus::kValid)
        << "trial " << trial << ": " << Describe(report->logs[0]);
    auto digests = DecisionDigests(&fs, dir);
    for (uint64_t i : acked) {
      ASSERT_TRUE(digests.count(DigestOf(i)))
          << "trial " << trial << ": durable record " << i << " lost";
    }
    auto json = ShowOn(&fs, dir, ShowMode::kJson);
    ASSERT_TRUE(json.ok());
    EXPECT_NE(json->find("\"type\":\"recovery\""), std::string::npos);
  }
}

TEST_F(AuditLogTest, FailedFsyncIsNeverIgnored) {
  FaultInjectingFileSystem fs;
  ASSERT_TRUE(fs.CreateDir("mem").ok());
  AuditOptions o = Options();
  o.audit_dir = "mem";
  o.durability = AuditDurability::kSync;
  auto signer = NoteSigner::FromPemFile(key_);
  ASSERT_TRUE(signer.ok());
  auto log = OpenAuditLogWithSigner(o, &fs, std::move(*signer));
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Append(Rec(i)).ok());
  fs.FailSyncAfter(0);
  auto r = (*log)->Append(Rec(5));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("fsync"), std::string::npos) << r.status();
  uint64_t durable = (*log)->durable_size();
  fs.FailSyncAfter(-1);  // even if the disk "recovers", the log stays failed
  EXPECT_FALSE((*log)->Append(Rec(6)).ok());
  EXPECT_FALSE((*log)->Flush().ok());
  EXPECT_FALSE((*log)->Close().ok());
  EXPECT_EQ((*log)->durable_size(), durable);
}

TEST_F(AuditLogTest, MidLogCorruptionIsNotRecoveredSilently) {
  std::string dir = WriteLog(200, /*close=*/false);
  open_logs_.clear();  // closes it; reopen a copy without the close: use a crashed image
  // Build a crashed image: drop everything after the first segment's frames, then damage an
  // early frame while later frames stay valid.
  auto segs = LoadSegments(dir);
  std::string data = ReadAll(segs[0].path);
  data[segs[0].header.size() + 12] ^= 1;
  WriteAll(segs[0].path, data);
  AuditOptions o = Options();
  o.resume_log_dir = dir;
  auto r = AuditLog::Open(o);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
}

// kill -9 of a writer process at random points: the recovered log verifies and holds every
// record acknowledged as durable.
TEST_F(AuditLogTest, KillNineAtRandomPoints) {
  std::mt19937_64 rng(7);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  int trials = 0;
  size_t total_acked = 0;
  // At least 5 trials, then as many as fit in the time budget (bounded by 25).
  for (; trials < 25 && (trials < 5 || std::chrono::steady_clock::now() < deadline); ++trials) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::string log_id = absl::StrCat("crash-", trials);
    bool sync = trials % 2 == 0;
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      AuditOptions o = Options();
      o.log_id = log_id;
      o.durability = sync ? AuditDurability::kSync : AuditDurability::kAsync;
      auto log = AuditLog::Open(o);
      if (!log.ok()) ::_exit(3);
      const uint64_t ready = UINT64_MAX;
      if (::write(fds[1], &ready, sizeof(ready)) != sizeof(ready)) ::_exit(6);
      // Sync: four appending threads share each fsync (group commit), each acknowledging its
      // records as Append returns. Async: one thread, acknowledging after each Flush.
      auto work = [&](uint64_t first, uint64_t step) {
        std::vector<uint64_t> pending;
        for (uint64_t i = first;; i += step) {
          if (!(*log)->Append(Rec(i)).ok()) ::_exit(4);
          pending.push_back(i);
          if (sync || pending.size() == 16) {
            if (!sync && !(*log)->Flush().ok()) ::_exit(5);
            for (uint64_t p : pending) {
              if (::write(fds[1], &p, sizeof(p)) != sizeof(p)) ::_exit(6);
            }
            pending.clear();
          }
        }
      };
      if (sync) {
        for (uint64_t t = 1; t < 4; ++t) std::thread(work, t, 4).detach();
        work(0, 4);
      }
      work(0, 1);
    }
    ::close(fds[1]);
    uint64_t ready = 0;
    ASSERT_EQ(::read(fds[0], &ready, sizeof(ready)), static_cast<ssize_t>(sizeof(ready)));
    ASSERT_EQ(ready, UINT64_MAX);  // the log is open; kill it somewhere in the next 60 ms
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited with " << WEXITSTATUS(status);
    std::vector<uint64_t> acked;
    uint64_t v;
    while (::read(fds[0], &v, sizeof(v)) == sizeof(v)) acked.push_back(v);
    ::close(fds[0]);
    total_acked += acked.size();
    std::string dir = logs_ + "/" + log_id;
    AuditOptions o = Options();
    o.resume_log_dir = dir;
    auto recovered = AuditLog::Open(o);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    ASSERT_TRUE((*recovered)->Close().ok());
    auto r = VerifyOne(dir);
    EXPECT_EQ(r.status, AuditLogStatus::kValid) << Describe(r);
    auto digests = DecisionDigests(PosixFileSystem(), dir);
    for (uint64_t i : acked) {
      ASSERT_TRUE(digests.count(DigestOf(i))) << "acknowledged record " << i << " lost";
    }
  }
  RecordProperty("trials", trials);
  RecordProperty("acknowledged", static_cast<int>(total_acked));
  std::printf("kill -9: %d trials, %zu acknowledged records checked\n", trials, total_acked);
  // The kills landed while records were being acknowledged (fsync here costs a few ms).
  EXPECT_GT(total_acked, 20u);
}

// kill -9 inside a rotation, after the next segment was created and before its header was
// written: the last segment is empty or holds a prefix of its header. Recovery completes the
// header and loses nothing; any other bad header is still refused.
TEST_F(AuditLogTest, RecoveryCompletesATornSegmentHeader) {
  std::string dir = WriteLog(50, /*close=*/false);
  auto files = ReadLogFiles(PosixFileSystem(), dir);
  ASSERT_TRUE(files.ok());
  uint64_t records = 0;
  for (const auto& f : files->frames) records += f.type == kFrameRecord ? 1 : 0;
  const std::string header = SegmentHeader(records, files->segments[0].origin);
  const std::string next = SegmentName(records);
  auto copy = [&](const std::string& name, const std::string& torn) {
    std::string to = logs_ + "/" + name;
    std::filesystem::copy(dir, to, std::filesystem::copy_options::recursive);
    WriteAll(to + "/" + next, torn);
    return to;
  };
  for (size_t cut : {size_t{0}, size_t{5}, header.size() - 1}) {
    std::string torn_dir = copy(absl::StrCat("torn-", cut), header.substr(0, cut));
    // An auditor reading the crashed log sees a torn tail, not damage.
    auto seen = VerifyOne(torn_dir);
    EXPECT_EQ(seen.status, AuditLogStatus::kTruncated) << "cut " << cut << ": " << Describe(seen);
    EXPECT_NE(Describe(seen).find("ends inside its header"), std::string::npos) << Describe(seen);
    AuditOptions o = Options();
    o.resume_log_dir = torn_dir;
    auto log = AuditLog::Open(o);
    ASSERT_TRUE(log.ok()) << "cut " << cut << ": " << log.status();
    ASSERT_TRUE((*log)->Append(Rec(1000)).ok());
    ASSERT_TRUE((*log)->Close().ok());
    auto r = VerifyOne(torn_dir);
    EXPECT_EQ(r.status, AuditLogStatus::kValid) << "cut " << cut << ": " << Describe(r);
    auto digests = DecisionDigests(PosixFileSystem(), torn_dir);
    for (uint64_t i = 0; i < 50; ++i) EXPECT_TRUE(digests.count(DigestOf(i))) << i;
    EXPECT_TRUE(digests.count(DigestOf(1000)));
  }
  // Not a prefix of the header it should have: refused, as is a torn header named for another
  // index than the records before it.
  std::string bad = header.substr(0, 12);
  bad[9] ^= 1;
  for (const auto& [name, path_and_bytes] :
       std::vector<std::pair<std::string, std::pair<std::string, std::string>>>{
           {"bad-prefix", {next, bad}},
           {"bad-index", {SegmentName(records + 7), header.substr(0, 4)}}}) {
    std::string to = logs_ + "/" + name;
    std::filesystem::copy(dir, to, std::filesystem::copy_options::recursive);
    WriteAll(to + "/" + path_and_bytes.first, path_and_bytes.second);
    AuditOptions o = Options();
    o.resume_log_dir = to;
    auto log = AuditLog::Open(o);
    ASSERT_FALSE(log.ok()) << name;
    EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss) << name << ": " << log.status();
  }
}

TEST_F(AuditLogTest, RecoveryRefusesAnotherKey) {
  // A copy of a log left unclosed, as a crashed writer leaves it (the original is still open
  // here, and its writer lock keeps a second writer out).
  std::string dir = logs_ + "/crashed-copy";
  std::filesystem::copy(WriteLog(30, /*close=*/false), dir,
                        std::filesystem::copy_options::recursive);
  TempDir elsewhere;
  auto v = GenerateAuditKey("gw1", elsewhere.path());
  ASSERT_TRUE(v.ok());
  AuditOptions o = Options();
  o.resume_log_dir = dir;
  o.key_file = elsewhere.path() + "/gw1.pem";
  auto r = AuditLog::Open(o);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("was opened with key"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace residency::audit
