// `residency tag` end to end. Skips when the CLI binary has not been built (it links every
// stage); the tagging library tests do not depend on it.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

using ::testing::HasSubstr;

struct CliRun {
  int status;
  std::string out;
};

CliRun RunCli(const std::string& args) {
  const std::string cmd = std::string(RESIDENCY_CLI_PATH) + " " + args + " 2>&1";
  CliRun r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string WriteTemp(const std::string& name, const std::string& body) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << body;
  return path;
}

class TagCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::ifstream(RESIDENCY_CLI_PATH)) GTEST_SKIP() << "residency CLI not built";
    config_ = std::string(RESIDENCY_SOURCE_DIR) + "/policies/tagging.yaml";
  }
  std::string config_;
};

TEST_F(TagCli, TagsEachLineAndReportsBadLines) {
  const std::string in =
      WriteTemp("in.jsonl",
                R"({"headers": {"x-user-country": "KR"}, "payload": "주민등록번호 900101-1234568"})"
                "\n"
                R"({"payload": "kim@example.com", "payload": "x"})"
                "\n"
                "\n"
                R"({"tenant": "t2", "peer": "203.0.113.7", "payload": ["010-1234-", "5678"]})"
                "\n"
                R"({"payload": 5})"
                "\n");
  const CliRun r = RunCli("tag --config " + config_ + " " + in);
  EXPECT_EQ(r.status, 2) << r.out;
  std::vector<nlohmann::json> lines;
  size_t start = 0;
  while (start < r.out.size()) {
    const size_t nl = r.out.find('\n', start);
    lines.push_back(nlohmann::json::parse(r.out.substr(start, nl - start)));
    start = nl + 1;
  }
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0]["tags"], nlohmann::json::parse(R"(["KR:kr.rrn"])"));
  EXPECT_EQ(lines[0]["detectors"], nlohmann::json::parse(R"(["kr_rrn", "kr_rrn_keyword"])"));
  EXPECT_EQ(lines[0]["provenance"]["KR:kr.rrn"], "claimed");
  EXPECT_EQ(lines[0]["status"], "complete");
  EXPECT_EQ(lines[0]["bytes_scanned"], 33);
  EXPECT_EQ(lines[1]["line"], 2);
  EXPECT_THAT(lines[1]["error"].get<std::string>(), HasSubstr("duplicate key `payload`"));
  EXPECT_EQ(lines[2]["tags"], nlohmann::json::parse(R"(["DE:personal"])"));
  EXPECT_EQ(lines[2]["user"]["provenance"], "verified");
  EXPECT_EQ(lines[3]["line"], 5);
}

TEST_F(TagCli, CleanInputExitsZero) {
  const std::string in = WriteTemp("ok.jsonl", "{}\n{\"payload\": \"hello\"}\n");
  const CliRun r = RunCli("tag --config " + config_ + " " + in);
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST_F(TagCli, BadConfigExitsTwoWithPosition) {
  const std::string cfg = WriteTemp("bad.yaml", "kind: tagging\nmax_scan_bytes: lots\n");
  const CliRun r = RunCli("tag --config " + cfg + " /dev/null");
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.out, HasSubstr(cfg + ":2:17: error: `max_scan_bytes` must be"));
  EXPECT_EQ(RunCli("tag --config " + config_ + " /nonexistent.jsonl").status, 2);
}

}  // namespace
