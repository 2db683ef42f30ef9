// The CLI's contract (README.md, "What it does"): outputs, one-line errors and exit statuses.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct CliRun {
  int status = -1;
  std::string out, err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("residency_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }

  CliRun Exec(const std::string& args, const std::string& stdin_text = "") {
    std::string in = Write("stdin.txt", stdin_text);
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

  std::string Policies() const { return std::string(RESIDENCY_SOURCE_DIR) + "/policies"; }
  std::filesystem::path dir_;
};

const char kKrToTokyo[] =
    R"({"kind":"dataset","action":"transfer","now":"2026-06-30T00:00:00Z","destination":"aws:ap-northeast-1","dataset":{"id":"d","location":"ncp:KR","partitions":[{"classes":["personal"],"origin":"KR","subjects":10}]}})";
const char kKrHome[] =
    R"({"kind":"dataset","action":"store","now":"2026-06-30T00:00:00Z","destination":"ncp:KR","dataset":{"id":"d","partitions":[{"classes":["personal"],"origin":"KR","subjects":10}]}})";

TEST_F(CliTest, HelpListsEveryCommand) {
  CliRun r = Exec("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* c : {"lint", "check", "test", "tag", "audit", "diff", "explain", "where"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string("  ") + c)) << c;
  }
  EXPECT_EQ(Exec("nonsense").status, 2);
  EXPECT_EQ(Exec("check --help").status, 0);
}

TEST_F(CliTest, WhereListsTheAllowedLocationsAndExitsByWhetherThereAreAny) {
  std::string req = Write("r.json", kKrToTokyo);
  CliRun text = Exec("where --policies " + Policies() + " " + req);
  EXPECT_EQ(text.status, 0) << text.err;
  EXPECT_THAT(text.out, StartsWith("allowed at "));
  EXPECT_THAT(text.out, HasSubstr("\n  aws:ap-northeast-2 "));
  EXPECT_THAT(text.out, Not(HasSubstr("aws:ap-northeast-1 ")));
  CliRun json = Exec("where --policies " + Policies() + " --format json --country KR " + req);
  ASSERT_EQ(json.status, 0) << json.err;
  auto doc = nlohmann::json::parse(json.out);
  ASSERT_FALSE(doc["allowed"].empty());
  for (const auto& a : doc["allowed"]) EXPECT_EQ(a["country"], "KR") << a;
  EXPECT_EQ(doc["allowed"][0]["location"], "aws:ap-northeast-2");  // its provider first
  EXPECT_EQ(doc["now"], "2026-06-30T00:00:00Z");
  // Nowhere left: Korean personal data in the US without a basis. Exit 1.
  CliRun none = Exec("where --policies " + Policies() + " --country US --provider ncp " + req);
  EXPECT_EQ(none.status, 1) << none.out << none.err;
  EXPECT_THAT(none.out, StartsWith("allowed nowhere"));
  CliRun bad = Exec("where --policies " + Policies() + " --provider nco " + req);
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.err, HasSubstr("provider `nco`"));
  EXPECT_TRUE(bad.out.empty());
  CliRun broken = Exec("where --policies " + Policies() + " -", "{\"kind\": \"datset\"}");
  EXPECT_EQ(broken.status, 2);
  EXPECT_THAT(broken.err, StartsWith("residency where: -:"));
}

TEST_F(CliTest, LintShippedPoliciesIsClean) {
  CliRun r = Exec("lint " + Policies());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 errors"));
}

TEST_F(CliTest, LintBrokenFileGivesFileLineColAndExitOne) {
  std::string cat = Write("regions.yaml", Slurp(Policies() + "/regions.yaml"));
  std::string bad = Write("bad.yaml",
                          "kind: policy\nid: bad\nbasis: law\nrules:\n"
                          "  - {id: r, citation: c, message: m, effect: deny, whne: {}}\n");
  CliRun r = Exec("lint " + bad);  // finds regions.yaml beside it
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, StartsWith(bad + ":5:"));
  EXPECT_THAT(r.out, HasSubstr("error: unknown key `whne`"));
  EXPECT_THAT(r.out, HasSubstr("did you mean `when`"));
  CliRun j = Exec("lint --format json " + bad);
  EXPECT_EQ(j.status, 1);
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_GE(doc["errors"].get<int>(), 1);
  CliRun s = Exec("lint --format sarif " + bad);
  EXPECT_EQ(nlohmann::json::parse(s.out)["version"], "2.1.0");
  (void)cat;
  EXPECT_EQ(Exec("lint " + (dir_ / "missing.yaml").string()).status, 2);
}

TEST_F(CliTest, CheckExitStatusFollowsTheDecision) {
  CliRun deny = Exec("check --policies " + Policies() + " " + Write("a.json", kKrToTokyo));
  EXPECT_EQ(deny.status, 1) << deny.err;
  auto d = nlohmann::json::parse(deny.out);
  EXPECT_EQ(d["decision"], "deny");
  EXPECT_FALSE(d["reasons"].empty());
  CliRun allow = Exec("check --policies " + Policies() + " -", kKrHome);
  EXPECT_EQ(allow.status, 0) << allow.err << allow.out;
  std::string first_line = allow.out.substr(0, allow.out.find('\n'));
  EXPECT_NE(nlohmann::json::parse(first_line)["decision"], "deny");
}

TEST_F(CliTest, LangKoGivesTheKoreanTextsOfTheKoreanRulesAndTheSameDecision) {
  const std::string req =
      std::string(RESIDENCY_SOURCE_DIR) + "/examples/requests/kr-prompt-to-tokyo.yaml";
  CliRun en = Exec("check --policies " + Policies() + " " + req);
  CliRun ko = Exec("check --lang ko --policies " + Policies() + " " + req);
  ASSERT_EQ(ko.status, en.status) << ko.err;
  auto e = nlohmann::json::parse(en.out);
  auto k = nlohmann::json::parse(ko.out);
  EXPECT_EQ(k["decision"], e["decision"]);
  EXPECT_EQ(k["suggested_locations"], e["suggested_locations"]);
  bool korean_rule = false, english_rule = false;
  for (const auto& r : k["reasons"]) {
    if (r["rule"] == "kr.cross_border") {
      korean_rule = true;
      EXPECT_THAT(r["citation"].get<std::string>(), HasSubstr("개인정보 보호법 제28조의8"));
    } else {
      english_rule = true;  // a rule without Korean texts keeps its English ones
      EXPECT_EQ(r["citation"].get<std::string>().find("개인정보"), std::string::npos);
    }
  }
  EXPECT_TRUE(korean_rule && english_rule) << ko.out;
  // A malformed language code is bad input (exit 2), one line.
  CliRun bad = Exec("check --lang KO --policies " + Policies() + " " + req);
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.err, HasSubstr("--lang"));
  CliRun explain = Exec("explain --lang ko --policies " + Policies() + " " + req);
  EXPECT_THAT(explain.out, HasSubstr("개인정보 보호법 제28조의8"));
}

TEST_F(CliTest, CheckEscalateExitsThree) {
  // GDPR Art. 49: occasional consent-based transfer to a non-adequate country escalates.
  const char* req =
      R"({"kind":"dataset","action":"transfer","now":"2026-06-30T00:00:00Z","destination":"aws:ap-south-1","recipient":{"id":"R","country":"IN","role":"processor"},"transfer":{"pattern":"occasional"},"evidence":[{"type":"consent","covers":["transfer"]}],"dataset":{"id":"d","location":"aws:eu-central-1","partitions":[{"classes":["personal"],"origin":"DE","subjects":10}]}})";
  CliRun r = Exec("check --policies " + Policies() + " " + Write("e.json", req));
  auto d = nlohmann::json::parse(r.out);
  EXPECT_EQ(d["decision"], "escalate") << r.out;
  EXPECT_EQ(r.status, 3) << r.err << r.out;
}

TEST_F(CliTest, ExplainShowsWhyAndExitsAsCheck) {
  CliRun deny = Exec("explain --policies " + Policies() + " " + Write("a.json", kKrToTokyo));
  EXPECT_EQ(deny.status, 1) << deny.err;
  EXPECT_THAT(deny.out, StartsWith("decision: deny"));
  EXPECT_THAT(deny.out, HasSubstr("kr.cross_border  (kr, law, deciding)"));
  EXPECT_THAT(deny.out, HasSubstr("at dataset `d`, tag KR:personal, at aws:ap-northeast-1: deny"));
  EXPECT_THAT(deny.out, HasSubstr("no evidence of type `consent.cross_border`"));
  CliRun home = Exec("explain --policies " + Policies() + " --format json -", kKrHome);
  EXPECT_EQ(home.status, 0) << home.err;
  auto doc = nlohmann::json::parse(home.out);
  EXPECT_EQ(doc["decision"]["decision"], "allow") << home.out;
  EXPECT_EQ(doc["rules"][0]["rule"], "kr.home") << home.out;
  EXPECT_FALSE(doc["rules"].empty());
  EXPECT_THAT(doc["policies_in_scope"].dump(), HasSubstr("\"kr\""));
  const char* escalate =
      R"({"kind":"dataset","action":"transfer","now":"2026-06-30T00:00:00Z","destination":"aws:ap-south-1","recipient":{"id":"R","country":"IN","role":"processor"},"transfer":{"pattern":"occasional"},"evidence":[{"type":"consent","covers":["transfer"]}],"dataset":{"id":"d","location":"aws:eu-central-1","partitions":[{"classes":["personal"],"origin":"DE","subjects":10}]}})";
  EXPECT_EQ(Exec("explain --policies " + Policies() + " -", escalate).status, 3);
  CliRun broken = Exec("explain --policies " + Policies() + " -", "{\"kind\": \"datset\"}");
  EXPECT_EQ(broken.status, 2);
  EXPECT_THAT(broken.err, StartsWith("residency explain: -:"));
  EXPECT_TRUE(broken.out.empty());
}

TEST_F(CliTest, BadInputExitsTwoWithOneLine) {
  CliRun dup = Exec(
      "check --policies " + Policies() + " -",
      R"({"kind":"dataset","destination":"ncp:KR","destination":"aws:us-east-1","dataset":{"id":"d"}})");
  EXPECT_EQ(dup.status, 2);
  EXPECT_THAT(dup.err, HasSubstr("duplicate key `destination`"));
  EXPECT_EQ(std::count(dup.err.begin(), dup.err.end(), '\n'), 1) << dup.err;
  EXPECT_TRUE(dup.out.empty());
  CliRun yaml = Exec("check --policies " + Policies() + " " +
                     Write("r.yaml", "kind: dataset\ndataset: {id: [\n"));
  EXPECT_EQ(yaml.status, 2);
  EXPECT_THAT(yaml.err, HasSubstr("r.yaml:"));
  EXPECT_EQ(Exec("check --policies /nonexistent " + Write("a.json", kKrToTokyo)).status, 2);
  EXPECT_EQ(Exec("check --policies " + Policies() + " --now yesterday -", kKrHome).status, 2);
}

TEST_F(CliTest, BatchDecidesEveryLineInOrderAndReportsBadLines) {
  std::string batch = std::string(kKrToTokyo) + "\n" + "{not json\n" + kKrHome + "\n" +
                      R"({"kind":"dataset","bogus":1})" + "\n";
  CliRun r = Exec("check --policies " + Policies() + " --batch " + Write("b.jsonl", batch));
  EXPECT_EQ(r.status, 2) << "a bad line makes the batch exit 2";
  std::vector<nlohmann::json> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["decision"], "deny");
  EXPECT_EQ(lines[1]["line"], 2);
  EXPECT_THAT(lines[1]["error"].get<std::string>(), HasSubstr("malformed JSON"));
  EXPECT_NE(lines[2]["decision"], "deny");
  EXPECT_EQ(lines[3]["line"], 4);
  EXPECT_THAT(lines[3]["error"].get<std::string>(), HasSubstr("`bogus`"));
  // All good: exit 0 whatever the decisions.
  CliRun ok = Exec("check --policies " + Policies() + " --batch -",
                   std::string(kKrToTokyo) + "\n" + kKrHome + "\n");
  EXPECT_EQ(ok.status, 0);
}

TEST_F(CliTest, BatchRefusesAnOverlongLineAndGoesOn) {
  std::string huge = "{\"kind\":\"dataset\",\"purpose\":\"" + std::string(10 << 20, 'x') + "\"}";
  CliRun r = Exec("check --policies " + Policies() + " --batch " +
                  Write("h.jsonl", huge + "\n" + kKrHome + "\n"));
  EXPECT_EQ(r.status, 2);
  std::istringstream in(r.out);
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_THAT(l1, HasSubstr("exceeds"));
  EXPECT_NE(nlohmann::json::parse(l2)["decision"], "deny");
}

TEST_F(CliTest, BatchReadsLinesAcrossBlocksAndALastLineWithoutNewline) {
  // About 1.5 MB: lines cross the reader's 1 MiB blocks; the last line has no newline.
  std::string batch;
  const int n = 1500000 / (std::string(kKrHome).size() + 1);
  for (int i = 0; i < n; ++i) absl::StrAppend(&batch, kKrHome, i % 7 == 0 ? "\r\n" : "\n");
  absl::StrAppend(&batch, " \t\r\n", kKrToTokyo);
  CliRun r = Exec("check --policies " + Policies() + " --batch " + Write("m.jsonl", batch));
  EXPECT_EQ(r.status, 2) << "the blank line is an error";
  CliRun one = Exec("check --policies " + Policies() + " -", kKrHome);
  CliRun last = Exec("check --policies " + Policies() + " -", kKrToTokyo);
  std::istringstream in(r.out);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), static_cast<size_t>(n) + 2);
  for (int i = 0; i < n; ++i) ASSERT_EQ(lines[i] + "\n", one.out) << "line " << i + 1;
  EXPECT_EQ(lines[n], absl::StrCat(R"({"error":"empty line","line":)", n + 1, "}"));
  EXPECT_EQ(lines[n + 1] + "\n", last.out);
  // An overlong last line without a newline is reported too.
  std::string huge = "{\"kind\":\"dataset\",\"purpose\":\"" + std::string(5 << 20, 'x');
  CliRun h = Exec("check --policies " + Policies() + " --batch " +
                  Write("h2.jsonl", std::string(kKrHome) + "\n" + huge));
  EXPECT_EQ(h.status, 2);
  EXPECT_THAT(h.out, HasSubstr(R"({"error":"line exceeds 4194304 bytes","line":2})"));
}

TEST_F(CliTest, CheckWritesAnAuditRecordThatVerifiesOffline) {
  std::string keys = (dir_ / "keys").string();
  std::filesystem::create_directories(keys);
  ASSERT_EQ(Exec("audit keygen --name ops --out " + keys).status, 0);
  std::string logs = (dir_ / "logs").string();
  CliRun r = Exec("check --policies " + Policies() + " --audit-log " + logs + " --audit-key " +
                  keys + "/ops.pem " + Write("a.json", kKrToTokyo));
  ASSERT_EQ(r.status, 1) << r.err;
  auto d = nlohmann::json::parse(r.out);
  ASSERT_TRUE(d.contains("audit"));
  std::string log = d["audit"]["log"];
  EXPECT_THAT(log, StartsWith(logs));
  EXPECT_GE(d["audit"]["index"].get<int>(), 1);
  CliRun ok = Exec("audit verify --key " + keys + "/ops.vkey " + logs);
  EXPECT_EQ(ok.status, 0) << ok.out << ok.err;
  // Flip one byte of a record: the verifier must find it.
  for (const auto& e : std::filesystem::directory_iterator(log)) {
    if (e.path().extension() == ".seg" ||
        e.path().filename().string().find("seg") != std::string::npos) {
      std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(0, std::ios::end);
      auto size = static_cast<long>(f.tellg());
      ASSERT_GT(size, 40);
      f.seekp(size / 2);
      char c;
      f.seekg(size / 2);
      f.get(c);
      f.seekp(size / 2);
      f.put(static_cast<char>(c ^ 0x01));
      break;
    }
  }
  CliRun bad = Exec("audit verify --key " + keys + "/ops.vkey " + logs);
  EXPECT_EQ(bad.status, 1) << bad.out;
  // Without the key the check cannot record: exit 2, nothing printed as decided.
  CliRun nokey = Exec("check --policies " + Policies() + " --audit-log " + logs + " --audit-key " +
                      keys + "/missing.pem " + Write("b.json", kKrHome));
  EXPECT_EQ(nokey.status, 2);
  EXPECT_TRUE(nokey.out.empty());
}

TEST_F(CliTest, PolicyTestsPassAndAFailingCaseIsReported) {
  CliRun r = Exec("test --policies " + Policies() + " " + Policies() + "/tests");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("[0-9]+ passed, 0 failed"));
  std::string t =
      Write("t.yaml", std::string("kind: tests\ncases:\n  - name: wrong on purpose\n") +
                          "    request: " + kKrToTokyo + "\n    want: {decision: allow}\n");
  CliRun f = Exec("test --policies " + Policies() + " " + t);
  EXPECT_EQ(f.status, 1);
  EXPECT_THAT(f.out, HasSubstr("FAIL"));
  EXPECT_THAT(f.out, HasSubstr("want decision allow, got deny"));
  EXPECT_THAT(f.out, HasSubstr("0 passed, 1 failed"));
}

}  // namespace
