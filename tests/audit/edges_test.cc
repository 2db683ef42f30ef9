// The audit trail at its boundaries (issue 13): key files are never echoed, record times come
// from the writer's clock and never go backwards, and a log has one writer at a time.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/codec.h"
#include "audit/fs.h"
#include "audit/log.h"
#include "audit/note.h"
#include "audit/verify.h"
#include "internal/openssl_util.h"
#include "internal/time_util.h"
#include "key_leak.h"
#include "nlohmann/json.hpp"
#include "residency/audit.h"
#include "test_util.h"

namespace residency::audit {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

DecisionRecord Rec(uint64_t i, absl::Time now) {
  DecisionRecord d;
  d.decision = "allow";
  d.rule_ids = {"rule.a"};
  d.request_digest = internal::Sha256(absl::StrCat("request ", i));
  d.policy_digest = "sha256:" + std::string(64, 'c');
  d.now = now;
  return d;
}

class AuditEdgesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto v = GenerateAuditKey("ops", dir_.path());
    ASSERT_TRUE(v.ok()) << v.status();
    vkey_ = *v;
    pem_path_ = dir_.path() + "/ops.pem";
    vkey_path_ = dir_.path() + "/ops.vkey";
    pem_ = ReadAll(pem_path_);
    logs_ = dir_.path() + "/logs";
    std::filesystem::create_directory(logs_);
  }
  AuditOptions Options() {
    AuditOptions o;
    o.audit_dir = logs_;
    o.key_file = pem_path_;
    o.checkpoint_interval = absl::Hours(1);
    return o;
  }
  std::vector<nlohmann::json> Records(const std::string& dir) {
    auto text = ShowAuditLog(dir);
    EXPECT_TRUE(text.ok()) << text.status();
    std::vector<nlohmann::json> out;
    if (!text.ok()) return out;
    size_t at = 0;
    while (at < text->size()) {
      size_t nl = text->find('\n', at);
      out.push_back(nlohmann::json::parse(text->substr(at, nl - at)));
      at = nl + 1;
    }
    return out;
  }
  TempDir dir_;
  std::string vkey_, pem_path_, vkey_path_, pem_, logs_;
};

// ---- item 2: a private key where a verifier key goes is named, never quoted ----

TEST_F(AuditEdgesTest, PrivateKeyGivenAsVerifierKeyIsNeverEchoed) {
  const std::string log = [&] {
    auto l = AuditLog::Open(Options());
    EXPECT_TRUE(l.ok()) << l.status();
    EXPECT_TRUE((*l)->Append(Rec(0, absl::Now())).ok());
    EXPECT_TRUE((*l)->Close().ok());
    return (*l)->log_dir();
  }();
  // The PEM text (as a caller that read the file would pass it) and its trimmed form.
  std::string trimmed = pem_;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  for (const std::string& k : {pem_, trimmed}) {
    AuditVerifyOptions o;
    o.vkeys = {vkey_, k};
    auto r = VerifyAuditLogs(log, o);
    ASSERT_FALSE(r.ok());
    EXPECT_FALSE(testing::LeaksKey(r.status().message(), pem_)) << r.status();
    EXPECT_NE(r.status().message().find("private key"), std::string::npos) << r.status();
    auto proof = ProveAuditRecord(log, 1);
    ASSERT_TRUE(proof.ok()) << proof.status();
    auto checked = VerifyAuditProof(*proof, {k});
    ASSERT_FALSE(checked.ok());
    EXPECT_FALSE(testing::LeaksKey(checked.status().message(), pem_)) << checked.status();
  }
}

TEST_F(AuditEdgesTest, VerifierKeyFileReaderNamesTheFileAndWhatIsWrong) {
  auto good = ReadAuditVerifierKey(vkey_path_);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(*good, vkey_);
  EXPECT_EQ(*ReadAuditVerifierKey(vkey_), vkey_);  // a vkey string itself

  auto pem = ReadAuditVerifierKey(pem_path_);
  ASSERT_FALSE(pem.ok());
  EXPECT_EQ(pem.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pem.status().message(),
            absl::StrCat("`", pem_path_, "`: a private key; pass the `.vkey`"));

  // A raw seed (binary): the position of the first bad byte, never the bytes.
  const std::string seed = testing::SeedOf(pem_);
  ASSERT_EQ(seed.size(), 32u);
  const std::string seed_path = dir_.path() + "/seed.bin";
  WriteAll(seed_path, seed);
  auto bin = ReadAuditVerifierKey(seed_path);
  ASSERT_FALSE(bin.ok());
  EXPECT_FALSE(testing::LeaksKey(bin.status().message(), pem_)) << bin.status();
  if (!IsValidUtf8(seed)) {
    EXPECT_NE(bin.status().message().find("not UTF-8 text at byte"), std::string::npos)
        << bin.status();
  }
  // The seed as hex and as base64 text: named, not quoted.
  for (const std::string& text :
       {HexEncode(seed), Base64Encode(seed), "a+b+" + Base64Encode(seed)}) {
    WriteAll(seed_path, text + "\n");
    auto r = ReadAuditVerifierKey(seed_path);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_FALSE(testing::LeaksKey(r.status().message(), pem_)) << r.status();
    EXPECT_EQ(r.status().message().rfind("`" + seed_path + "`: ", 0), 0u) << r.status();
  }
}

TEST_F(AuditEdgesTest, VerifierKeyGivenAsAuditKeyIsNamed) {
  AuditOptions o = Options();
  o.key_file = vkey_path_;
  auto log = AuditLog::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().message(),
            absl::StrCat("`", vkey_path_, "`: a verifier key (public); pass the private `.pem`"));
  // And a private key file that is not PEM at all (a raw seed): no byte of it is echoed.
  const std::string seed_path = dir_.path() + "/raw.pem";
  WriteAll(seed_path, testing::SeedOf(pem_));
  o.key_file = seed_path;
  log = AuditLog::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_FALSE(testing::LeaksKey(log.status().message(), pem_)) << log.status();
}

TEST_F(AuditEdgesTest, EchoedInputIsBoundedAndEscaped) {
  auto log = AuditLog::Open(Options());
  ASSERT_TRUE(log.ok()) << log.status();
  DecisionRecord d = Rec(0, absl::Now());
  d.policy_digest = "sha256:\x1b[31m" + std::string(5000, 'x') + "\xff";
  auto r = (*log)->Append(d);
  ASSERT_FALSE(r.ok());
  const std::string msg(r.status().message());
  EXPECT_LT(msg.size(), 300u) << msg;
  EXPECT_EQ(msg.find('\x1b'), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\xff'), std::string::npos) << msg;
  ASSERT_TRUE((*log)->Close().ok());
}

// ---- item 3: record time is the writer's clock; the request's `now` is its own field ----

TEST_F(AuditEdgesTest, RecordTimeIsTheWritersClockAndNowIsItsOwnField) {
  const absl::Time before = absl::Now();
  auto log = AuditLog::Open(Options());
  ASSERT_TRUE(log.ok()) << log.status();
  const absl::Time old_now = absl::FromUnixSeconds(1767225600);  // 2026-01-01, months before
  ASSERT_TRUE((*log)->Append(Rec(0, absl::Now())).ok());
  ASSERT_TRUE((*log)->Append(Rec(1, old_now)).ok());
  ASSERT_TRUE((*log)->Close().ok());
  auto recs = Records((*log)->log_dir());
  ASSERT_GE(recs.size(), 4u);
  std::string prev;
  int decisions = 0;
  for (const auto& r : recs) {
    const std::string t = r.at("time").get<std::string>();
    EXPECT_GE(t, prev) << "record time went backwards: " << r.dump();
    prev = t;
    absl::Time parsed;
    std::string err;
    ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, t, &parsed, &err)) << t;
    EXPECT_GE(parsed, absl::FromUnixSeconds(absl::ToUnixSeconds(before))) << r.dump();
    if (r.at("type") == "decision") {
      ++decisions;
      ASSERT_TRUE(r.contains("evaluated_at")) << r.dump();
    }
  }
  EXPECT_EQ(decisions, 2);
  EXPECT_EQ(recs[2].at("evaluated_at"), "2026-01-01T00:00:00Z") << recs[2].dump();
}

// A clock that steps back (an NTP correction, a VM restored from a snapshot): record times stay
// non-decreasing, within a run and across a crash and recovery.
TEST_F(AuditEdgesTest, RecordTimesNeverGoBackwardsWhenTheClockStepsBack) {
  FaultInjectingFileSystem fs;
  ASSERT_TRUE(fs.CreateDir("mem").ok());
  const int64_t t0 = 1800000000;
  std::atomic<int64_t> clock_s{t0};
  fs.SetClock([&clock_s] { return absl::FromUnixSeconds(clock_s.load()); });
  AuditOptions o = Options();
  o.audit_dir = "mem";
  o.durability = AuditDurability::kSync;
  auto signer = NoteSigner::FromPem(pem_, "ops");
  ASSERT_TRUE(signer.ok());
  auto log = OpenAuditLogWithSigner(o, &fs, std::move(*signer));
  ASSERT_TRUE(log.ok()) << log.status();
  const std::string dir = (*log)->log_dir();
  ASSERT_TRUE((*log)->Append(Rec(0, absl::FromUnixSeconds(t0))).ok());
  clock_s = t0 - 90 * 86400;  // three months back
  ASSERT_TRUE((*log)->Append(Rec(1, absl::FromUnixSeconds(t0 - 90 * 86400))).ok());
  clock_s = t0 + 100;
  ASSERT_TRUE((*log)->Append(Rec(2, absl::FromUnixSeconds(t0 + 100))).ok());
  fs.PowerOff();  // a crash; the next writer's clock is behind again
  log->reset();
  fs.Restart(/*tear=*/false);
  clock_s = t0 - 1000;
  auto rsigner = NoteSigner::FromPem(pem_, "ops");
  AuditOptions ro = o;
  ro.resume_log_dir = dir;
  auto recovered = OpenAuditLogWithSigner(ro, &fs, std::move(*rsigner));
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_TRUE((*recovered)->Append(Rec(3, absl::FromUnixSeconds(t0 - 1000))).ok());
  ASSERT_TRUE((*recovered)->Close().ok());

  auto text = ShowOn(&fs, dir, ShowMode::kJson);
  ASSERT_TRUE(text.ok()) << text.status();
  std::vector<std::string> decision_times, all_times;
  size_t at = 0;
  while (at < text->size()) {
    size_t nl = text->find('\n', at);
    auto j = nlohmann::json::parse(text->substr(at, nl - at));
    at = nl + 1;
    all_times.push_back(j.at("time"));
    if (j.at("type") == "decision") decision_times.push_back(j.at("time"));
  }
  for (size_t i = 1; i < all_times.size(); ++i) {
    EXPECT_GE(all_times[i], all_times[i - 1]) << "record " << i << " went back:\n" << *text;
  }
  auto at_s = [](int64_t s) { return internal::FormatTimestamp(absl::FromUnixSeconds(s)); };
  EXPECT_EQ(decision_times,
            (std::vector<std::string>{at_s(t0), at_s(t0), at_s(t0 + 100), at_s(t0 + 100)}))
      << *text;
  AuditVerifyOptions vo;
  vo.vkeys = {vkey_};
  auto report = VerifyAuditLogsOn(&fs, dir, vo);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
}

// ---- item 4: one writer per log ----

TEST_F(AuditEdgesTest, SecondWriterInTheSameProcessIsRefused) {
  auto first = AuditLog::Open(Options());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->Append(Rec(0, absl::Now())).ok());
  ASSERT_TRUE((*first)->Flush().ok());
  AuditOptions o = Options();
  o.resume_log_dir = (*first)->log_dir();
  auto second = AuditLog::Open(o);
  ASSERT_FALSE(second.ok()) << "two writers on one log";
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find((*first)->log_dir()), std::string::npos)
      << second.status();
  EXPECT_NE(second.status().message().find("another writer"), std::string::npos) << second.status();
  ASSERT_TRUE((*first)->Append(Rec(1, absl::Now())).ok());
  ASSERT_TRUE((*first)->Close().ok());
  AuditVerifyOptions vo;
  vo.vkeys = {vkey_};
  auto report = VerifyAuditLogs((*first)->log_dir(), vo);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->logs[0].findings.size();
}

// Another process holds the log: refused while it lives; after kill -9 a new writer opens it and
// recovers (the lock died with the process).
TEST_F(AuditEdgesTest, SecondWriterInAnotherProcessIsRefusedUntilTheHolderDies) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string log_id = "held";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    AuditOptions o = Options();
    o.log_id = log_id;
    o.durability = AuditDurability::kSync;
    auto log = AuditLog::Open(o);
    if (!log.ok()) ::_exit(3);
    for (int i = 0; i < 5; ++i) {
      if (!(*log)->Append(Rec(i, absl::Now())).ok()) ::_exit(4);
    }
    char ready = 'r';
    if (::write(fds[1], &ready, 1) != 1) ::_exit(5);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char ready = 0;
  ASSERT_EQ(::read(fds[0], &ready, 1), 1);
  ::close(fds[0]);
  const std::string dir = logs_ + "/" + log_id;
  AuditOptions o = Options();
  o.resume_log_dir = dir;
  auto refused = AuditLog::Open(o);
  EXPECT_FALSE(refused.ok()) << "opened a log another process is writing";
  if (!refused.ok()) {
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
    EXPECT_NE(refused.status().message().find(dir), std::string::npos) << refused.status();
  }
  refused = absl::InternalError("dropped");  // a wrongly opened second writer closes here
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto recovered = AuditLog::Open(o);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_TRUE((*recovered)->Append(Rec(5, absl::Now())).ok());
  ASSERT_TRUE((*recovered)->Close().ok());
  AuditVerifyOptions vo;
  vo.vkeys = {vkey_};
  auto report = VerifyAuditLogs(dir, vo);
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->logs.size(), 1u);
  EXPECT_EQ(report->logs[0].status, AuditLogStatus::kValid);
  int decisions = 0;
  for (const auto& r : Records(dir)) decisions += r.at("type") == "decision";
  EXPECT_EQ(decisions, 6);
}

}  // namespace
}  // namespace residency::audit
