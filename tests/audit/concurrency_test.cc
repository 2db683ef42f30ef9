// Many threads appending to one audit log: unique indices, nothing lost, the log
// verifies. Labelled `concurrency`; must be clean under ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "internal/openssl_util.h"
#include "residency/audit.h"
#include "test_util.h"

namespace residency {
namespace {

DecisionRecord Rec(int thread, int i) {
  DecisionRecord d;
  d.decision = i % 2 ? "deny" : "allow";
  d.rule_ids = {absl::StrCat("t", thread)};
  d.tags = {"KR:personal"};
  d.request_digest = internal::Sha256(absl::StrCat(thread, "/", i));
  d.policy_digest = "sha256:" + std::string(64, 'e');
  d.now = absl::FromUnixSeconds(1782777600);
  if (i % 97 == 0) d.principal = absl::StrCat("user-", thread);
  return d;
}

void RunThreads(AuditDurability durability, int threads, int per_thread) {
  audit::testing::TempDir dir;
  auto vkey = GenerateAuditKey("gw1", dir.path());
  ASSERT_TRUE(vkey.ok());
  std::filesystem::create_directory(dir.path() + "/logs");
  AuditOptions o;
  o.audit_dir = dir.path() + "/logs";
  o.key_file = dir.path() + "/gw1.pem";
  o.durability = durability;
  o.queue_slots = 256;  // small: the ring wraps and appenders wait on a full queue
  o.checkpoint_every_records = 500;
  o.checkpoint_interval = absl::Milliseconds(5);
  o.segment_bytes = 64 * 1024;
  auto log = AuditLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  std::mutex mu;
  std::set<uint64_t> indices;
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<uint64_t> mine;
      for (int i = 0; i < per_thread; ++i) {
        auto idx = (*log)->Append(Rec(t, i));
        if (!idx.ok()) {
          failures.fetch_add(1);
          continue;
        }
        mine.push_back(*idx);
        if (i % 500 == 499 && !(*log)->Flush().ok()) failures.fetch_add(1);
      }
      std::lock_guard<std::mutex> l(mu);
      indices.insert(mine.begin(), mine.end());
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(indices.size(), static_cast<size_t>(threads * per_thread));  // all unique
  ASSERT_TRUE((*log)->Close().ok());
  AuditVerifyOptions vo;
  vo.vkeys = {*vkey};
  auto report = VerifyAuditLogs((*log)->log_dir(), vo);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->logs.size(), 1u);
  EXPECT_EQ(report->logs[0].status, AuditLogStatus::kValid);
  EXPECT_GE(report->logs[0].records, static_cast<uint64_t>(threads * per_thread + 2));
  auto json = ShowAuditLog((*log)->log_dir());
  ASSERT_TRUE(json.ok());
  for (int t = 0; t < threads; ++t) {
    std::string digest =
        internal::HexEncode(internal::Sha256(absl::StrCat(t, "/", per_thread - 1)));
    EXPECT_NE(json->find(digest), std::string::npos) << "thread " << t << "'s last record";
  }
}

TEST(AuditConcurrency, EightThreadsAsync) { RunThreads(AuditDurability::kAsync, 8, 3000); }

TEST(AuditConcurrency, EightThreadsSync) { RunThreads(AuditDurability::kSync, 8, 150); }

}  // namespace
}  // namespace residency
