// Audit segment scan and crash recovery: the input is written as the only segment of a crashed
// log (`mem/fuzzlog/seg-0…0.log` in the fault-injecting in-memory file layer), then
//   - ReadLogFiles frames it: every frame lies inside the file;
//   - the verifier runs on it (open log): it may report anything but must run;
//   - AuditLog recovery (resume_log_dir) either refuses it, leaving the file untouched, or
//     recovers it: the recovered segment keeps the input up to the recovery record's frame, that
//     record counts the cut bytes, and after Close the log verifies as valid.
// Any violation aborts. The key is fixed (an Ed25519 seed), so seeds from real logs recover.
//
// Seeds (fuzz/corpus/segment/): segments of small logs written with that key. Regenerate with
//   RESIDENCY_SEGMENT_SEEDS=fuzz/corpus/segment BUILD/fuzz/segment_fuzzer
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/fs.h"
#include "audit/log.h"
#include "audit/note.h"
#include "audit/record.h"
#include "audit/segment.h"
#include "audit/verify.h"
#include "residency/audit.h"

namespace {

using residency::AuditOptions;
using residency::audit::FaultInjectingFileSystem;
using residency::audit::NoteSigner;

constexpr char kKeySeed[] = "residency segment_fuzzer key 01!";  // 32 bytes
constexpr char kParent[] = "mem";
constexpr char kLogId[] = "fuzzlog";
constexpr char kLogDir[] = "mem/fuzzlog";

void Fail(const std::string& why) {
  std::fprintf(stderr, "segment_fuzzer: %s\n", why.c_str());
  std::abort();
}

std::unique_ptr<NoteSigner> Signer() {
  auto s = NoteSigner::FromSeed(std::string_view(kKeySeed, 32), "fuzz");
  if (!s.ok()) Fail(s.status().ToString());
  return std::move(*s);
}

AuditOptions Options() {
  AuditOptions o;
  o.audit_dir = kParent;
  o.log_id = kLogId;
  o.commitment_secret = std::string(32, 's');
  o.checkpoint_every_records = 3;
  o.checkpoint_interval = absl::Hours(1);
  o.queue_slots = 64;  // one Open per input: keep its setup small
  return o;
}

std::string SegmentPath() { return absl::StrCat(kLogDir, "/", residency::audit::SegmentName(0)); }

residency::DecisionRecord Rec(int i) {
  residency::DecisionRecord d;
  static const char* kDecisions[] = {"allow", "deny", "escalate", "allow_with_obligations"};
  d.decision = kDecisions[i % 4];
  d.rule_ids = {absl::StrCat("rule.", i % 5)};
  d.tags = {"KR:personal"};
  d.request_digest[0] = static_cast<uint8_t>(i);
  d.policy_digest = "sha256:" + std::string(64, 'c');
  d.now = absl::FromUnixSeconds(1782777600 + i);
  if (i % 3 == 0) d.principal = "user-7";
  return d;
}

// ---- seed writer ----

enum class End { kClosed, kCrashed, kTorn };

// Writes a log of `n` decisions on a fresh in-memory file layer; `recover_then` more decisions
// after a crash and a recovery. Returns the segment bytes.
std::string WriteSeed(int n, End end, int recover_then) {
  FaultInjectingFileSystem fs(static_cast<uint64_t>(n) * 7 + static_cast<int>(end));
  if (!fs.CreateDir(kParent).ok()) Fail("mkdir");
  auto log = residency::audit::OpenAuditLogWithSigner(Options(), &fs, Signer());
  if (!log.ok()) Fail(log.status().ToString());
  for (int i = 0; i < n; ++i) {
    if (!(*log)->Append(Rec(i)).ok()) Fail("append");
  }
  if (end == End::kClosed) {
    if (!(*log)->Close().ok()) Fail("close");
  } else {
    if (!(*log)->Flush().ok()) Fail("flush");
    fs.PowerOff();
    log->reset();
    fs.Restart(/*tear=*/false);
    if (end == End::kTorn) {  // the last write torn: 7 bytes short
      auto size = fs.ReadFile(SegmentPath(), 1 << 20);
      if (!size.ok() || !fs.Truncate(SegmentPath(), size->size() - 7).ok()) Fail("tear");
    }
  }
  if (recover_then > 0) {
    AuditOptions o = Options();
    o.resume_log_dir = kLogDir;
    auto again = residency::audit::OpenAuditLogWithSigner(o, &fs, Signer());
    if (!again.ok()) Fail(again.status().ToString());
    for (int i = 0; i < recover_then; ++i) {
      if (!(*again)->Append(Rec(n + i)).ok()) Fail("append");
    }
    if (!(*again)->Flush().ok()) Fail("flush");
    fs.PowerOff();
    again->reset();
    fs.Restart(/*tear=*/false);
  }
  auto bytes = fs.ReadFile(SegmentPath(), 1 << 20);
  if (!bytes.ok()) Fail(bytes.status().ToString());
  return *bytes;
}

// RESIDENCY_SEGMENT_SEEDS=DIR: write the seed segments to DIR and exit.
const bool kSeedsWritten = [] {
  const char* dir = std::getenv("RESIDENCY_SEGMENT_SEEDS");
  if (dir == nullptr) return false;
  struct Seed {
    const char* name;
    int n;
    End end;
    int recover_then;
  } seeds[] = {{"crashed-1", 1, End::kCrashed, 0},   {"crashed-7", 7, End::kCrashed, 0},
               {"torn-12", 12, End::kTorn, 0},       {"closed-4", 4, End::kClosed, 0},
               {"recovered-5", 5, End::kCrashed, 2}, {"open-only", 0, End::kCrashed, 0}};
  for (const Seed& s : seeds) {
    std::ofstream(absl::StrCat(dir, "/", s.name, ".seg"), std::ios::binary)
        << WriteSeed(s.n, s.end, s.recover_then);
  }
  std::exit(0);
}();

// ---- the checks ----

std::string Describe(const residency::AuditLogReport& r) {
  std::string s = residency::AuditLogStatusName(r.status);
  for (const auto& f : r.findings) absl::StrAppend(&s, " | ", f.kind, ": ", f.message);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace residency::audit;
  const std::string input(reinterpret_cast<const char*>(data), size);
  FaultInjectingFileSystem fs;
  if (!fs.CreateDir(kParent).ok() || !fs.CreateDir(kLogDir).ok()) Fail("mkdir");
  {
    auto f = fs.OpenAppend(SegmentPath(), /*create=*/true);
    if (!f.ok() || !(*f)->Append(input).ok() || !(*f)->Sync().ok() || !(*f)->Close().ok()) {
      Fail("cannot write the segment");
    }
  }

  // Framing: every frame's payload lies inside its segment.
  auto files = ReadLogFiles(&fs, kLogDir);
  if (!files.ok()) Fail(absl::StrCat("ReadLogFiles: ", files.status().ToString()));
  for (const FrameRef& f : files->frames) {
    std::string_view seg = files->contents.at(f.segment);
    if (f.payload.data() < seg.data() ||
        f.payload.data() + f.payload.size() > seg.data() + seg.size() || f.offset >= seg.size()) {
      Fail("a frame lies outside its segment");
    }
  }
  for (const SegmentScan& s : files->segments) {
    if (s.good_end > input.size() || (s.torn && s.torn_offset > input.size())) {
      Fail("scan offsets past the end of the segment");
    }
  }

  std::unique_ptr<NoteSigner> signer = Signer();
  residency::AuditVerifyOptions vo;
  vo.vkeys = {signer->vkey()};
  vo.open = true;
  if (auto r = VerifyAuditLogsOn(&fs, kLogDir, vo); !r.ok()) {
    Fail(absl::StrCat("the verifier did not run: ", r.status().ToString()));
  }

  // Recovery.
  AuditOptions o = Options();
  o.resume_log_dir = kLogDir;
  auto log = OpenAuditLogWithSigner(o, &fs, std::move(signer));
  if (!log.ok()) {
    auto after = fs.ReadFile(SegmentPath(), 1 << 30);
    if (!after.ok() || *after != input) Fail("a refused recovery changed the segment");
    return 0;
  }
  if (absl::Status s = (*log)->Close(); !s.ok()) Fail(absl::StrCat("close: ", s.ToString()));
  log->reset();

  auto after = fs.ReadFile(SegmentPath(), 1 << 30);
  if (!after.ok()) Fail("the recovered segment is gone");
  auto again = ReadLogFiles(&fs, kLogDir);
  if (!again.ok()) Fail(again.status().ToString());
  // The recovery record this run wrote is the last one in the log.
  const FrameRef* recovery = nullptr;
  RecordView rec, last_recovery;
  for (const FrameRef& f : again->frames) {
    if (f.type != kFrameRecord || f.segment != 0) continue;
    if (DecodeRecord(f.payload, &rec).ok() && rec.type == RecordType::kRecovery) {
      recovery = &f;
      last_recovery = rec;
    }
  }
  if (recovery == nullptr) Fail("no recovery record after recovery");
  const uint64_t kept = recovery->offset;
  if (kept > input.size() || after->compare(0, kept, input, 0, kept) != 0) {
    Fail("recovery did not keep a prefix of the segment");
  }
  if (last_recovery.cut_bytes != input.size() - kept) {
    Fail(absl::StrCat("the recovery record says ", last_recovery.cut_bytes, " bytes were cut, not ",
                      input.size() - kept));
  }

  residency::AuditVerifyOptions closed;
  closed.vkeys = vo.vkeys;
  auto report = VerifyAuditLogsOn(&fs, kLogDir, closed);
  if (!report.ok() || report->logs.size() != 1)
    Fail("the verifier did not run on the recovered log");
  if (report->logs[0].status != residency::AuditLogStatus::kValid) {
    Fail(absl::StrCat("the recovered log does not verify: ", Describe(report->logs[0])));
  }
  return 0;
}
