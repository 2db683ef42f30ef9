// The CLI at the audit trail's boundaries (issue 13): no command prints key material when given
// the wrong kind of key, binary input never reaches the terminal, `residency check
// --request-now`, and two writers on one log.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "key_leak.h"
#include "nlohmann/json.hpp"
#include "test_util.h"

namespace residency::audit {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

struct CliResult {
  int status = -1;
  std::string out, err;
};

class AuditEdgesCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(RESIDENCY_CLI_PATH)) {
      GTEST_SKIP() << "residency CLI not built at " << RESIDENCY_CLI_PATH;
    }
    d_ = dir_.path();
    ASSERT_EQ(Cli("audit keygen --name ops --out " + d_ + "/keys").status, 0);
    pem_path_ = d_ + "/keys/ops.pem";
    vkey_path_ = d_ + "/keys/ops.vkey";
    pem_ = ReadAll(pem_path_);
    ASSERT_EQ(testing::SeedOf(pem_).size(), 32u);
    WriteAll(d_ + "/req.json", kRequest);
    CliResult check = Cli("check --policies " + Policies() + " --audit-log " + d_ +
                          "/logs --audit-key " + pem_path_ + " " + d_ + "/req.json");
    ASSERT_NE(check.status, 2) << check.err;
    for (const auto& e : std::filesystem::directory_iterator(d_ + "/logs")) log_ = e.path();
    ASSERT_FALSE(log_.empty());
  }

  static std::string Policies() { return std::string(RESIDENCY_SOURCE_DIR) + "/policies"; }

  CliResult Cli(const std::string& args) {
    const std::string out = d_ + "/out.txt", err = d_ + "/err.txt";
    std::string cmd =
        std::string(RESIDENCY_CLI_PATH) + " " + args + " </dev/null >" + out + " 2>" + err;
    int raw = std::system(cmd.c_str());
    CliResult r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = ReadAll(out);
    r.err = ReadAll(err);
    return r;
  }

  static constexpr char kRequest[] =
      R"({"kind":"dataset","action":"store","now":"2026-06-30T00:00:00Z","destination":"ncp:KR",)"
      R"("dataset":{"id":"d","partitions":[{"classes":["personal"],"origin":"KR","subjects":10}]}})";

  TempDir dir_;
  std::string d_, pem_path_, vkey_path_, pem_, log_;
};

// Every command that reads a key, a proof, a checkpoint or a log, given the private key file (or
// its raw seed) in that place: exit 2 or 1, and no byte of the key on stdout or stderr.
TEST_F(AuditEdgesCliTest, NoCommandPrintsKeyMaterialGivenTheWrongKind) {
  const std::string seed_path = d_ + "/seed.bin";
  WriteAll(seed_path, testing::SeedOf(pem_));
  CliResult proof = Cli("audit prove --index 1 " + log_);
  ASSERT_EQ(proof.status, 0) << proof.err;
  WriteAll(d_ + "/proof.txt", proof.out);
  for (const std::string& secret : {pem_path_, seed_path}) {
    const std::vector<std::string> commands = {
        "audit verify --key " + secret + " " + d_ + "/logs",
        "audit verify --key " + vkey_path_ + " --key " + secret + " " + log_,
        "audit verify --key " + secret + " --proof " + d_ + "/proof.txt",
        "audit verify --key " + vkey_path_ + " --proof " + secret,
        "audit verify --key " + vkey_path_ + " --trusted-checkpoint " + secret + " " + log_,
        "audit show " + secret,
        "audit show --raw " + secret,
        "audit show --checkpoints " + secret,
        "audit prove --index 0 " + secret,
        "check --policies " + Policies() + " --audit-log " + d_ + "/logs2 --audit-key " + secret +
            " " + secret,
        "check --policies " + secret + " " + d_ + "/req.json",
        "lint " + secret,
    };
    for (const std::string& c : commands) {
      CliResult r = Cli(c);
      EXPECT_NE(r.status, 0) << c;
      EXPECT_FALSE(testing::LeaksKey(r.err, pem_)) << c << "\n" << r.err;
      EXPECT_FALSE(testing::LeaksKey(r.out, pem_)) << c << "\n" << r.out;
    }
  }
  // The private key where the verifier key goes: the file is named and so is the mistake.
  CliResult r = Cli("audit verify --key " + pem_path_ + " " + log_);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "residency audit: `" + pem_path_ + "`: a private key; pass the `.vkey`\n");
  r = Cli("audit verify --key " + pem_path_ + " --proof " + d_ + "/proof.txt");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "residency audit: `" + pem_path_ + "`: a private key; pass the `.vkey`\n");
}

TEST_F(AuditEdgesCliTest, VerifierKeyGivenAsAuditKeyIsNamed) {
  CliResult r = Cli("check --policies " + Policies() + " --audit-log " + d_ +
                    "/logs2 --audit-key " + vkey_path_ + " " + d_ + "/req.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("`" + vkey_path_ + "`: a verifier key (public); pass the private `.pem`"),
            std::string::npos)
      << r.err;
}

// Binary input where text is expected: the position, never the bytes.
TEST_F(AuditEdgesCliTest, BinaryInputNeverReachesTheTerminal) {
  std::string bin = "ops+01234567+";
  for (int i = 0; i < 40; ++i) bin.push_back(static_cast<char>(0x80 + i));
  bin += "\x1b[2J\x07";
  WriteAll(d_ + "/bin.vkey", bin);
  CliResult r = Cli("audit verify --key " + d_ + "/bin.vkey " + log_);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("not UTF-8 text at byte 13"), std::string::npos) << r.err;
  for (char c : r.err + r.out) {
    auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE((u >= 0x20 && u < 0x7f) || c == '\n') << "raw byte " << int(u) << " in " << r.err;
  }
}

// `residency check` honours a request's `now` by default; --request-now refuse and ignore.
TEST_F(AuditEdgesCliTest, CheckRequestNowFlag) {
  const std::string req = d_ + "/req.json";
  CliResult honour = Cli("check --policies " + Policies() + " --now 2027-01-01T00:00:00Z " + req);
  ASSERT_NE(honour.status, 2) << honour.err;
  EXPECT_EQ(nlohmann::json::parse(honour.out).at("now"), "2026-06-30T00:00:00Z");
  CliResult ignore = Cli("check --policies " + Policies() +
                         " --request-now ignore --now 2027-01-01T00:00:00Z " + req);
  ASSERT_NE(ignore.status, 2) << ignore.err;
  EXPECT_EQ(nlohmann::json::parse(ignore.out).at("now"), "2027-01-01T00:00:00Z");
  CliResult refuse = Cli("check --policies " + Policies() + " --request-now refuse " + req);
  EXPECT_EQ(refuse.status, 2);
  EXPECT_NE(refuse.err.find("`now`"), std::string::npos) << refuse.err;
  EXPECT_EQ(refuse.out, "");
  CliResult bad = Cli("check --policies " + Policies() + " --request-now sometimes " + req);
  EXPECT_EQ(bad.status, 2);
}

// The CLI as a second writer: `check --audit-log` always makes a new log, so two CLI runs never
// share one; a log a process holds open refuses the library's resume (see edges_test.cc). Here:
// a freshly written log verifies, and its decision's `evaluated_at` is the request's `now`
// while its `time` is the writer's clock.
TEST_F(AuditEdgesCliTest, FreshLogVerifiesAndShowsBothTimes) {
  CliResult v = Cli("audit verify --key " + vkey_path_ + " " + d_ + "/logs");
  EXPECT_EQ(v.status, 0) << v.out << v.err;
  CliResult show = Cli("audit show " + log_);
  ASSERT_EQ(show.status, 0) << show.err;
  std::istringstream lines(show.out);
  std::string line;
  int decisions = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.at("type") != "decision") continue;
    ++decisions;
    EXPECT_EQ(j.value("evaluated_at", ""), "2026-06-30T00:00:00Z") << line;
    EXPECT_NE(j.at("time"), "2026-06-30T00:00:00Z") << line;
  }
  EXPECT_EQ(decisions, 1);
}

}  // namespace
}  // namespace residency::audit
