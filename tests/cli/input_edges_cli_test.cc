// Input at the edges of the CLI (issue 13, items 1, 5 and 6): nothing is accepted in part, every
// mistake gets a precise one-line message, exit statuses follow the contract (1 findings, 2
// could not run).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct CliRun {
  int status = -1;
  std::string out, err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class InputEdgesCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("residency_edges_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  CliRun Exec(const std::string& args, const std::string& stdin_text = "") {
    std::string in = (dir_ / "stdin.txt").string();
    std::ofstream(in, std::ios::binary) << stdin_text;
    std::string out = (dir_ / "out.txt").string(), err = (dir_ / "err.txt").string();
    std::string cmd =
        std::string(RESIDENCY_CLI_PATH) + " " + args + " <" + in + " >" + out + " 2>" + err;
    int raw = std::system(cmd.c_str());
    CliRun r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = Slurp(out);
    r.err = Slurp(err);
    return r;
  }

  // A copy of the shipped policy folder (policies, catalogue, tagging, no tests).
  std::string CopyPolicies() {
    auto to = dir_ / "policies";
    std::filesystem::create_directories(to);
    for (const auto& e : std::filesystem::directory_iterator(Policies())) {
      if (e.is_regular_file()) std::filesystem::copy_file(e.path(), to / e.path().filename());
    }
    return to.string();
  }

  std::string Policies() const { return std::string(RESIDENCY_SOURCE_DIR) + "/policies"; }
  std::filesystem::path dir_;
};

const char kKrHomeYaml[] =
    "kind: dataset\naction: store\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
    "dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 10}]}\n";
const char kKrHome[] =
    R"({"kind":"dataset","action":"store","now":"2026-06-30T00:00:00Z","destination":"ncp:KR","dataset":{"id":"d","partitions":[{"classes":["personal"],"origin":"KR","subjects":10}]}})";

// ---- item 1 ----------------------------------------------------------------------------------

TEST_F(InputEdgesCliTest, LintOfAFolderWithATwoDocumentPolicyExitsOne) {
  std::string dir = CopyPolicies();
  // The second document would deny everything; it must not vanish.
  std::string policy = Slurp(dir + "/jp.yaml");
  int lines = static_cast<int>(std::count(policy.begin(), policy.end(), '\n'));
  Write("policies/jp.yaml",
        policy +
            "---\nkind: policy\nid: deny_all\nbasis: corp\nrules:\n"
            "  - {id: deny_all.r, citation: c, message: m, effect: deny, when: {}}\n");
  CliRun r = Exec("lint " + dir);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("jp.yaml:" + std::to_string(lines + 1) + ":1: error: "));
  EXPECT_THAT(r.out, HasSubstr("[multiple-documents]"));
  CliRun sarif = Exec("lint --format sarif " + dir);
  auto doc = nlohmann::json::parse(sarif.out);
  bool found = false;
  for (const auto& res : doc["runs"][0]["results"]) {
    if (res["ruleId"] == "multiple-documents") {
      found = true;
      EXPECT_EQ(res["locations"][0]["physicalLocation"]["region"]["startLine"], lines + 1);
    }
  }
  EXPECT_TRUE(found) << sarif.out;
}

TEST_F(InputEdgesCliTest, CheckOfATwoDocumentRequestExitsTwo) {
  std::string req = Write("r.yaml", std::string(kKrHomeYaml) + "---\nkind: dataset\n");
  CliRun r = Exec("check --policies " + Policies() + " " + req);
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("r.yaml"));
  EXPECT_THAT(r.err, HasSubstr("6:1"));
  EXPECT_THAT(r.err, HasSubstr("second YAML document"));
  EXPECT_TRUE(r.out.empty()) << r.out;
  // The same request as one document is decided.
  EXPECT_EQ(Exec("check --policies " + Policies() + " " + Write("one.yaml", kKrHomeYaml)).status,
            0);
}

TEST_F(InputEdgesCliTest, TestFilesWithASecondDocumentCannotRun) {
  std::string t =
      Write("t.yaml", std::string("kind: tests\ncases:\n  - name: home\n    request: ") + kKrHome +
                          "\n    want: {decision: allow}\n---\nkind: tests\ncases:\n"
                          "  - name: never run\n    request: " +
                          kKrHome + "\n    want: {decision: deny}\n");
  CliRun r = Exec("test --policies " + Policies() + " " + t);
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("t.yaml:6:1"));
}

TEST_F(InputEdgesCliTest, TaggerConfigWithASecondDocumentIsRefused) {
  std::string cfg = Write("tagging.yaml", "kind: tagging\nversion: 1\n---\nkind: tagging\n");
  CliRun r = Exec("tag --config " + cfg + " -", "{\"payload\": \"x\"}\n");
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("tagging.yaml:3:1"));
}

TEST_F(InputEdgesCliTest, TrailingContentAfterAJsonValueIsRefused) {
  CliRun one = Exec("check --policies " + Policies() + " -", std::string(kKrHome) + " {}");
  EXPECT_EQ(one.status, 2) << one.out;
  CliRun batch = Exec("check --policies " + Policies() + " --batch -",
                      std::string(kKrHome) + " {\"kind\":\"model\"}\n" + kKrHome + "\n");
  EXPECT_EQ(batch.status, 2);
  std::istringstream in(batch.out);
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_EQ(nlohmann::json::parse(l1)["line"], 1) << l1;
  EXPECT_NE(nlohmann::json::parse(l2)["decision"], "deny");
  CliRun tag = Exec("tag --config " + Policies() + "/tagging.yaml -",
                    "{\"payload\": \"x\"} {\"payload\": \"y\"}\n");
  EXPECT_EQ(tag.status, 2);
  EXPECT_THAT(tag.out, HasSubstr("\"line\":1"));
}

// ---- item 5 ----------------------------------------------------------------------------------

TEST_F(InputEdgesCliTest, LintChecksTestFilesKeyByKey) {
  std::string dir = CopyPolicies();
  Write("policies/t_test.yaml", std::string("kind: tests\ncases:\n  - name: home\n    requets: ") +
                                    kKrHome + "\n    want: {decision: allow}\n");
  CliRun r = Exec("lint " + dir);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("t_test.yaml:4:5: error: unknown key `requets`"));
  EXPECT_THAT(r.out, HasSubstr("did you mean `request`"));
}

// The shipped layout keeps tests in a subfolder (policies/tests/): a lint of the folder checks them
// (and any other subfolder's YAML) too, without reading them into the policy set.
TEST_F(InputEdgesCliTest, LintOfAFolderChecksTheFilesInItsSubfolders) {
  std::string dir = CopyPolicies();
  CliRun clean = Exec("lint " + dir);
  EXPECT_EQ(clean.status, 0) << clean.out << clean.err;
  Write("policies/tests/deep/t_test.yaml",
        std::string("kind: tests\ncases:\n  - name: home\n    requets: ") + kKrHome +
            "\n    want: {decision: allow}\n");
  Write("policies/schema/ignored.yaml", "this is: [not checked\n");
  CliRun r = Exec("lint " + dir);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("deep/t_test.yaml:4:5: error: unknown key `requets`"));
  EXPECT_THAT(r.out, Not(HasSubstr("ignored.yaml")));
}

TEST_F(InputEdgesCliTest, LintReadsTheRequestsInTestFilesAndNamesTheFieldsPlace) {
  std::string dir = CopyPolicies();
  // A misspelled field three levels down in an inline request, and a request file that is not
  // there: lint (and `residency test`, before it runs anything) report both where they are.
  Write("policies/tests/t_test.yaml",
        "kind: tests\ncases:\n  - name: home\n    request:\n      kind: dataset\n"
        "      destination: \"ncp:KR\"\n      dataset:\n        id: d\n        partitions:\n"
        "          - {classes: [personal], origin: KR, subjetcs: 10}\n"
        "    want: {decision: allow}\n"
        "  - name: from a file\n    request_file: missing.yaml\n    want: {decision: deny}\n");
  CliRun r = Exec("lint " + dir);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("t_test.yaml:10:47: error: `request`: "));
  EXPECT_THAT(r.out, HasSubstr("subjetcs"));
  EXPECT_THAT(r.out, HasSubstr("t_test.yaml:13:19: error: `request_file` missing.yaml: "));
  CliRun t = Exec("test --policies " + dir + " " + dir + "/tests");
  EXPECT_EQ(t.status, 2) << t.out << t.err;
  EXPECT_THAT(t.err, HasSubstr("t_test.yaml:10:47: error: `request`: "));
}

TEST_F(InputEdgesCliTest, LintChecksTaggingFilesKeyByKey) {
  std::string dir = CopyPolicies();
  std::string tagging = Slurp(dir + "/tagging.yaml");
  tagging.replace(tagging.find("\nmax_scan_bytes:"), 16, "\nmax_scan_byte:");
  Write("policies/tagging.yaml", tagging);
  CliRun r = Exec("lint " + dir);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("tagging.yaml:"));
  EXPECT_THAT(r.out, HasSubstr("unknown key `max_scan_byte`"));
  EXPECT_THAT(r.out, HasSubstr("did you mean `max_scan_bytes`"));
}

// ---- item 6 ----------------------------------------------------------------------------------

TEST_F(InputEdgesCliTest, LintOfAListGivenAsAMappingIsWrongTypeAtItsPosition) {
  std::string cat = Write("regions.yaml", Slurp(Policies() + "/regions.yaml"));
  (void)cat;
  std::string bad = Write("bad.yaml",
                          "kind: policy\nid: bad\nbasis: law\nlifts: {a: b}\nrules:\n"
                          "  - {id: bad.r, citation: c, message: m, effect: deny, when: {}}\n");
  CliRun r = Exec("lint " + bad);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(bad + ":4:8: error: "));
  EXPECT_THAT(r.out, HasSubstr("[wrong-type]"));
  EXPECT_THAT(r.out, Not(HasSubstr("yaml-syntax")));
}

TEST_F(InputEdgesCliTest, NotUtf8IsNamedWithItsFileAndNeverEchoed) {
  std::string cat = Write("regions.yaml", Slurp(Policies() + "/regions.yaml"));
  (void)cat;
  std::string bad = Write("bin.yaml", "kind: policy\nid: \"\xc3\x28\xff\"\n");
  CliRun r = Exec("lint --format sarif " + bad);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_FALSE(doc["runs"][0]["results"].empty());
  const auto& res = doc["runs"][0]["results"][0];
  EXPECT_EQ(res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], bad);
  EXPECT_EQ(res["locations"][0]["physicalLocation"]["region"]["startLine"], 2);
  EXPECT_THAT(res["message"]["text"].get<std::string>(), HasSubstr("not UTF-8 text at byte 18"));
  CliRun text = Exec("lint " + bad);
  EXPECT_EQ(text.out.find('\xff'), std::string::npos);
  EXPECT_EQ(text.out.find('\xc3'), std::string::npos);
  // A request with raw bytes: the byte offset, never the bytes.
  std::string req = std::string(kKrHome);
  req.replace(req.find("\"id\":\"d\""), 8, "\"id\":\"\xfe\xfe\"");
  CliRun check = Exec("check --policies " + Policies() + " -", req);
  EXPECT_EQ(check.status, 2);
  EXPECT_THAT(check.err, HasSubstr("not UTF-8 text at byte "));
  EXPECT_EQ(check.err.find('\xfe'), std::string::npos);
}

TEST_F(InputEdgesCliTest, UnknownRequestKeyGetsAHint) {
  std::string req = std::string(kKrHome);
  req.replace(req.find("\"destination\""), 13, "\"destinaton\"");
  CliRun r = Exec("check --policies " + Policies() + " -", req);
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("did you mean `destination`"));
}

TEST_F(InputEdgesCliTest, MissingFileSaysWhyAndADirectoryIsNotARequest) {
  CliRun missing = Exec("check --policies " + Policies() + " " + (dir_ / "missing.json").string());
  EXPECT_EQ(missing.status, 2);
  EXPECT_THAT(missing.err, HasSubstr("No such file or directory"));
  CliRun dir = Exec("check --policies " + Policies() + " " + dir_.string());
  EXPECT_EQ(dir.status, 2);
  EXPECT_THAT(dir.err, HasSubstr("is a directory"));
  CliRun batch_dir = Exec("check --policies " + Policies() + " --batch " + dir_.string());
  EXPECT_EQ(batch_dir.status, 2);
  EXPECT_THAT(batch_dir.err, HasSubstr("is a directory"));
  CliRun tag_missing =
      Exec("tag --config " + Policies() + "/tagging.yaml " + (dir_ / "nope.jsonl").string());
  EXPECT_EQ(tag_missing.status, 2);
  EXPECT_THAT(tag_missing.err, HasSubstr("No such file or directory"));
}

TEST_F(InputEdgesCliTest, UnknownSubcommandAndFlagGetAHint) {
  CliRun cmd = Exec("chek");
  EXPECT_EQ(cmd.status, 2);
  EXPECT_THAT(cmd.err, HasSubstr("did you mean `check`"));
  CliRun flag = Exec("lint --formt json " + Policies());
  EXPECT_EQ(flag.status, 2);
  EXPECT_THAT(flag.err, HasSubstr("did you mean `--format`"));
}

}  // namespace
