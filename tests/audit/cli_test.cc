// `residency audit ...` end to end: exit statuses 0 / 1 / 2 and the output formats.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "internal/openssl_util.h"
#include "residency/audit.h"
#include "test_util.h"

namespace residency {
namespace {

struct CliRun {
  int status;
  std::string out;
};

CliRun Cli(const std::string& args) {
  std::string cmd = std::string(RESIDENCY_CLI_PATH) + " audit " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class AuditCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(RESIDENCY_CLI_PATH)) {
      GTEST_SKIP() << "residency CLI not built at " << RESIDENCY_CLI_PATH;
    }
    const std::string d = dir_.path();
    ASSERT_EQ(Cli("keygen --name gw1 --out " + d).status, 0);
    std::filesystem::create_directory(d + "/logs");
    AuditOptions o;
    o.audit_dir = d + "/logs";
    o.key_file = d + "/gw1.pem";
    o.checkpoint_every_records = 16;
    auto log = AuditLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 50; ++i) {
      DecisionRecord r;
      r.decision = "allow";
      r.policy_digest = "sha256:" + std::string(64, '0');
      r.request_digest = internal::Sha256(std::to_string(i));
      ASSERT_TRUE((*log)->Append(r).ok());
    }
    ASSERT_TRUE((*log)->Close().ok());
    log_ = (*log)->log_dir();
  }
  audit::testing::TempDir dir_;
  std::string log_;
};

TEST_F(AuditCliTest, VerifyShowProve) {
  const std::string d = dir_.path();
  CliRun ok = Cli("verify --key " + d + "/gw1.vkey " + d + "/logs");
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_NE(ok.out.find(": valid ("), std::string::npos) << ok.out;

  CliRun raw = Cli("show --raw " + log_);
  EXPECT_EQ(raw.status, 0);
  EXPECT_EQ(std::count(raw.out.begin(), raw.out.end(), '\n'), 52);  // open + 50 + close
  CliRun json = Cli("show " + log_);
  EXPECT_EQ(json.out.rfind("{\"index\":0,\"type\":\"log_open\"", 0), 0u) << json.out;
  CliRun cps = Cli("show --checkpoints " + log_);
  EXPECT_EQ(cps.status, 0);
  EXPECT_EQ(cps.out.substr(cps.out.size() - 2), "\n\n");

  CliRun proof = Cli("prove --index 7 " + log_);
  ASSERT_EQ(proof.status, 0);
  audit::testing::WriteAll(d + "/p.tlog-proof", proof.out);
  CliRun checked = Cli("verify --key " + d + "/gw1.vkey --proof " + d + "/p.tlog-proof");
  EXPECT_EQ(checked.status, 0);
  EXPECT_NE(checked.out.find("\"index\":7"), std::string::npos);
  std::string bad = proof.out;
  bad.replace(bad.find("index 7"), 7, "index 8");
  audit::testing::WriteAll(d + "/bad.tlog-proof", bad);
  EXPECT_EQ(Cli("verify --key " + d + "/gw1.vkey --proof " + d + "/bad.tlog-proof").status, 1);
}

TEST_F(AuditCliTest, ExitStatuses) {
  const std::string d = dir_.path();
  // Findings: tamper with a record byte.
  std::string seg = log_ + "/seg-00000000000000000000.log";
  std::string data = audit::testing::ReadAll(seg);
  data[data.size() / 2] ^= 1;
  audit::testing::WriteAll(seg, data);
  CliRun bad = Cli("verify --key " + d + "/gw1.vkey " + d + "/logs");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find(": invalid: "), std::string::npos) << bad.out;
  CliRun json = Cli("verify --format json --key " + d + "/gw1.vkey " + d + "/logs");
  EXPECT_EQ(json.status, 1);
  EXPECT_NE(json.out.find("\"ok\":false"), std::string::npos) << json.out;
  // Could not run: no key, unreadable key, absent path, unknown subcommand.
  EXPECT_EQ(Cli("verify " + d + "/logs").status, 2);
  EXPECT_EQ(Cli("verify --key " + d + "/absent.vkey " + d + "/logs").status, 2);
  EXPECT_EQ(Cli("verify --key " + d + "/gw1.vkey " + d + "/absent").status, 2);
  EXPECT_EQ(Cli("frobnicate").status, 2);
  EXPECT_EQ(Cli("prove --index 999 " + log_).status, 2);
  EXPECT_EQ(Cli("keygen --name gw1 --out " + d).status, 2);  // refuses to overwrite
  EXPECT_EQ(Cli("verify --help").status, 0);
}

}  // namespace
}  // namespace residency
