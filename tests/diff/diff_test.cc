// residency diff: widenings and narrowings found with example requests that really decide
// differently, no differences for identical or reformatted sets, the budget, the CLI.
#include "residency/diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "internal/time_util.h"
#include "policy/compiled_set.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace residency {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kNow[] = "2026-06-30T00:00:00Z";

absl::Time Now() { return *internal::ParseTimestamp(kNow); }

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// A fresh copy of the shipped policy folder (the YAML files at its top level).
fs::path CopyShipped(const std::string& name) {
  fs::path dst = fs::path(::testing::TempDir()) / ("residency_diff_" + name);
  fs::remove_all(dst);
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(fs::path(RESIDENCY_SOURCE_DIR) / "policies")) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") {
      fs::copy_file(e.path(), dst / e.path().filename());
    }
  }
  return dst;
}

// Replaces the one occurrence of `from` in `file`; fails the test when it is not there once.
void Edit(const fs::path& file, const std::string& from, const std::string& to) {
  std::string text = ReadFile(file);
  size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << "not found in " << file << ": " << from;
  ASSERT_EQ(text.find(from, at + 1), std::string::npos) << "found twice in " << file;
  text.replace(at, from.size(), to);
  WriteFile(file, text);
}

std::shared_ptr<const PolicySnapshot> Compile(const fs::path& dir) {
  CompileResult r = CompilePolicies({dir.string()});
  for (const auto& d : r.diagnostics) {
    if (d.severity == Diagnostic::Severity::kError) ADD_FAILURE() << FormatDiagnostic(d);
  }
  return r.snapshot;
}

DiffReport Diff(const PolicySnapshot& a, const PolicySnapshot& b, DiffOptions options = {}) {
  options.now = Now();
  auto r = DiffPolicies(a, b, options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : DiffReport();
}

// The location a request places: destination, else compute.location.
std::string Placement(const Request& r) {
  if (r.compute) return r.compute->location;
  return r.destination;
}

// Re-parses each example from its JSON and evaluates it against both sets: the decisions must be
// the group's from/to, and the new one less (widened) or more (narrowed) restrictive.
void CheckExamples(const std::vector<DiffGroup>& groups, const PolicySnapshot& a,
                   const PolicySnapshot& b, bool widened) {
  EvalOptions eo;
  eo.now = Now();
  for (const auto& g : groups) {
    if (widened) {
      EXPECT_LT(g.to, g.from);
    } else {
      EXPECT_GT(g.to, g.from);
    }
    EXPECT_GT(g.count, 0u);
    ASSERT_FALSE(g.examples.empty());
    for (const auto& ex : g.examples) {
      auto req = ParseRequest(ex.request_json);
      ASSERT_TRUE(req.ok()) << req.status() << "\n" << ex.request_json;
      ASSERT_TRUE(req->now.has_value());
      EXPECT_EQ(*req->now, Now());
      auto da = Evaluate(a, *req, eo);
      auto db = Evaluate(b, *req, eo);
      ASSERT_TRUE(da.ok() && db.ok());
      EXPECT_EQ(da->decision, g.from) << ex.request_json;
      EXPECT_EQ(db->decision, g.to) << ex.request_json;
      // The rules of the group are those of the more restrictive decision.
      const Decision& strict = widened ? *da : *db;
      std::set<std::string> rules;
      for (const auto& r : strict.reasons) rules.emplace(r.rule());
      EXPECT_EQ(std::vector<std::string>(rules.begin(), rules.end()), g.rules);
      EXPECT_THAT(g.locations, Contains(Placement(*req)));
    }
  }
}

TEST(DiffWiden, TokyoAddedToKoreasRecognisedDestinationsIsAWidening) {
  fs::path old_dir = CopyShipped("widen_old");
  fs::path new_dir = CopyShipped("widen_new");
  Edit(new_dir / "kr.yaml", "  pipc_recognized:\n",
       "  pipc_recognized:\n    - {value: \"aws:ap-northeast-1\", note: \"Tokyo (test)\"}\n");
  auto a = Compile(old_dir);
  auto b = Compile(new_dir);
  ASSERT_TRUE(a && b);
  ASSERT_NE(a->digest(), b->digest());
  DiffReport r = Diff(*a, *b);
  EXPECT_THAT(r.changes, Contains("list kr/pipc_recognized changed"));
  EXPECT_THAT(r.changes, Contains("rule kr.cross_border changed"));
  ASSERT_FALSE(r.widened.empty());
  EXPECT_TRUE(r.narrowed.empty());
  EXPECT_TRUE(r.changes_complete);
  bool cross_border = false, from_deny = false;
  for (const auto& g : r.widened) {
    // Only Tokyo was added: nothing else may widen.
    EXPECT_EQ(g.locations, std::vector<std::string>{"aws:ap-northeast-1"});
    if (std::find(g.rules.begin(), g.rules.end(), "kr.cross_border") != g.rules.end()) {
      cross_border = true;
      from_deny |= g.from == Effect::kDeny;
    }
  }
  EXPECT_TRUE(cross_border);
  EXPECT_TRUE(from_deny);
  CheckExamples(r.widened, *a, *b, /*widened=*/true);
  // The first example is Korean personal data placed in Tokyo.
  const Request& ex = r.widened[0].examples[0].request;
  EXPECT_EQ(Placement(ex), "aws:ap-northeast-1");
  EXPECT_THAT(r.widened[0].examples[0].request_json, HasSubstr("\"origin\":\"KR\""));
}

TEST(DiffNarrow, SwitzerlandRemovedFromEuAdequacyIsANarrowing) {
  fs::path old_dir = CopyShipped("narrow_old");
  fs::path new_dir = CopyShipped("narrow_new");
  Edit(new_dir / "eu.yaml",
       "    - {value: CH, note: \"Switzerland, Decision 2000/518/EC; reconfirmed 2024-01-15\"}\n",
       "");
  auto a = Compile(old_dir);
  auto b = Compile(new_dir);
  ASSERT_TRUE(a && b);
  DiffReport r = Diff(*a, *b);
  EXPECT_THAT(r.changes, Contains("list eu/eu_adequate changed"));
  EXPECT_THAT(r.changes, Contains("rule eu.transfer changed"));
  EXPECT_TRUE(r.widened.empty());
  ASSERT_FALSE(r.narrowed.empty());
  bool transfer = false;
  for (const auto& g : r.narrowed) {
    transfer |= std::find(g.rules.begin(), g.rules.end(), "eu.transfer") != g.rules.end();
    for (const auto& id : g.locations) {
      auto idx = a->impl().catalogue.location_index.find(id);
      ASSERT_NE(idx, a->impl().catalogue.location_index.end());
      EXPECT_EQ(a->impl().catalogue.locations[idx->second].country_code, "CH") << id;
    }
  }
  EXPECT_TRUE(transfer);
  CheckExamples(r.narrowed, *a, *b, /*widened=*/false);
}

TEST(DiffCatalogue, ANewLocationIsExploredAndWidensOnlyThere) {
  fs::path new_dir = CopyShipped("catalogue_new");
  Edit(new_dir / "regions.yaml", "  - id: \"aws:ap-northeast-1\"\n",
       "  - id: \"aws:ap-northeast-9\"\n"
       "    country: \"JP\"\n"
       "    city: \"Tokyo\"\n"
       "    site: public\n"
       "    partition: \"aws\"\n"
       "    certifications: []\n"
       "    attributes: {}\n"
       "    status: active\n"
       "    unverified: []\n"
       "  - id: \"aws:ap-northeast-1\"\n");
  auto a = Compile(fs::path(RESIDENCY_SOURCE_DIR) / "policies");
  auto b = Compile(new_dir);
  ASSERT_TRUE(a && b);
  DiffReport r = Diff(*a, *b);
  EXPECT_EQ(r.changes, std::vector<std::string>{"location aws:ap-northeast-9 added"});
  EXPECT_TRUE(r.changes_complete);
  EXPECT_TRUE(r.narrowed.empty());
  ASSERT_FALSE(r.widened.empty());
  bool unknown = false;
  for (const auto& g : r.widened) {
    // Unknown in the old catalogue (fail closed), known in the new one.
    EXPECT_EQ(g.from, Effect::kDeny);
    EXPECT_EQ(g.locations, std::vector<std::string>{"aws:ap-northeast-9"});
    unknown |=
        std::find(g.rules.begin(), g.rules.end(), "residency.unknown_location") != g.rules.end();
  }
  EXPECT_TRUE(unknown);
  CheckExamples(r.widened, *a, *b, /*widened=*/true);
}

TEST(DiffIdentical, SameSetHasNoDifferences) {
  auto a = Compile(fs::path(RESIDENCY_SOURCE_DIR) / "policies");
  auto b = Compile(CopyShipped("identical"));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->digest(), b->digest());
  DiffReport r = Diff(*a, *b);
  EXPECT_TRUE(r.changes.empty());
  EXPECT_TRUE(r.widened.empty());
  EXPECT_TRUE(r.narrowed.empty());
  EXPECT_EQ(r.evaluations, 0u);
  EXPECT_EQ(r.old_digest, r.new_digest);

  // Explored anyway: every request decides the same under both.
  DiffOptions explore;
  explore.explore_identical = true;
  explore.max_evaluations = 40000;
  DiffReport e = Diff(*a, *b, explore);
  EXPECT_GT(e.evaluations, 1000u);
  EXPECT_LE(e.evaluations, 40000u);
  EXPECT_TRUE(e.widened.empty());
  EXPECT_TRUE(e.narrowed.empty());
  EXPECT_EQ(e.errors, 0u);
}

TEST(DiffIdentical, ReformattingOnlyHasNoDifferences) {
  fs::path old_dir = CopyShipped("reformat_old");
  fs::path new_dir = CopyShipped("reformat_new");
  // Flow map to block map with other key order, comments, quoting, a flow scope.
  Edit(new_dir / "kr.yaml",
       "    when: {classes: [personal], origins: [KR], artifact: [dataset, prompt], location: "
       "{in: [KR]}}\n",
       "    # reformatted: block style, keys reordered\n"
       "    when:\n"
       "      location:\n"
       "        in:\n"
       "          - \"KR\"\n"
       "      artifact: [\"dataset\", \"prompt\"]\n"
       "      origins: [KR]   # Korea\n"
       "      classes:\n"
       "        - personal\n");
  Edit(new_dir / "eu.yaml",
       "scope:\n  origins: [EEA]\n  operator_countries: [EEA]   # GDPR Art. 3(1): an EEA "
       "establishment's processing, whoever the subjects\n",
       "scope: {origins: [\"EEA\"], operator_countries: [EEA]}  # same\n");
  Edit(new_dir / "kr.yaml", "kind: policy\nid: kr\n", "id: 'kr'\n\n\nkind: policy\n");
  auto a = Compile(old_dir);
  auto b = Compile(new_dir);
  ASSERT_TRUE(a && b);
  EXPECT_NE(ReadFile(old_dir / "kr.yaml"), ReadFile(new_dir / "kr.yaml"));
  EXPECT_EQ(a->digest(), b->digest());
  DiffReport r = Diff(*a, *b);
  EXPECT_TRUE(r.changes.empty());
  EXPECT_TRUE(r.widened.empty());
  EXPECT_TRUE(r.narrowed.empty());
  EXPECT_EQ(r.old_digest, r.new_digest);
  DiffOptions explore;
  explore.explore_identical = true;
  explore.max_evaluations = 20000;
  DiffReport e = Diff(*a, *b, explore);
  EXPECT_TRUE(e.changes.empty());
  EXPECT_TRUE(e.widened.empty());
  EXPECT_TRUE(e.narrowed.empty());
}

TEST(DiffBudget, StopsAtTheBudgetAndSaysSo) {
  fs::path new_dir = CopyShipped("budget_new");
  Edit(new_dir / "kr.yaml", "  pipc_recognized:\n",
       "  pipc_recognized:\n    - {value: \"aws:ap-northeast-1\"}\n");
  auto a = Compile(fs::path(RESIDENCY_SOURCE_DIR) / "policies");
  auto b = Compile(new_dir);
  ASSERT_TRUE(a && b);
  DiffOptions small;
  small.max_evaluations = 101;
  DiffReport r = Diff(*a, *b, small);
  EXPECT_FALSE(r.complete);
  EXPECT_FALSE(r.changes_complete);
  EXPECT_LE(r.evaluations, 101u);
  EXPECT_EQ(r.evaluations, 100u);
  EXPECT_EQ(r.requests_explored, 50u);
  EXPECT_GT(r.space, r.requests_explored);
}

TEST(DiffOutput, DeterministicJsonWithTheDocumentedShape) {
  fs::path new_dir = CopyShipped("json_new");
  Edit(new_dir / "kr.yaml", "  pipc_recognized:\n",
       "  pipc_recognized:\n    - {value: \"aws:ap-northeast-1\"}\n");
  auto a = Compile(fs::path(RESIDENCY_SOURCE_DIR) / "policies");
  auto b = Compile(new_dir);
  ASSERT_TRUE(a && b);
  DiffOptions two;
  two.max_examples = 2;
  two.max_evaluations = 200000;  // the shape, not a complete exploration
  DiffReport r1 = Diff(*a, *b, two);
  DiffReport r2 = Diff(*a, *b, two);
  std::string j1 = DiffReportToJson(r1);
  EXPECT_EQ(j1, DiffReportToJson(r2));
  EXPECT_EQ(DiffReportToText(r1), DiffReportToText(r2));
  auto j = nlohmann::json::parse(j1);
  EXPECT_EQ(j["old_digest"], a->digest());
  EXPECT_EQ(j["new_digest"], b->digest());
  EXPECT_EQ(j["now"], kNow);
  ASSERT_TRUE(j["widened"].is_array());
  ASSERT_FALSE(j["widened"].empty());
  EXPECT_TRUE(j["narrowed"].empty());
  for (const auto& g : j["widened"]) {
    EXPECT_TRUE(g["from"].is_string());
    EXPECT_TRUE(g["to"].is_string());
    EXPECT_TRUE(g["rules"].is_array());
    EXPECT_GT(g["count"].get<size_t>(), 0u);
    EXPECT_EQ(g["example"], g["examples"][0]["request"]);
    EXPECT_LE(g["examples"].size(), 2u);
    EXPECT_EQ(g["examples"][0]["old"]["decision"], g["from"]);
    EXPECT_EQ(g["examples"][0]["new"]["decision"], g["to"]);
    EXPECT_TRUE(ParseRequest(g["example"].dump()).ok());
  }
  std::string text = DiffReportToText(r1);
  EXPECT_THAT(text, HasSubstr("widened: "));
  EXPECT_THAT(text, HasSubstr("narrowed: none"));
  EXPECT_THAT(text, HasSubstr("kr.cross_border"));
}

// ------------------------------------------------------------------------------------------------
// The CLI.

struct CliRun {
  int status = -1;
  std::string out, err;
};

CliRun RunCli(const std::string& args) {
  // Names of this process's own: ctest runs the tests of this file in parallel processes.
  static int calls = 0;
  fs::path dir = fs::path(::testing::TempDir());
  std::string stem =
      "residency_diff_cli." + std::to_string(::getpid()) + "." + std::to_string(++calls);
  fs::path out = dir / (stem + ".out"), err = dir / (stem + ".err");
  std::string cmd =
      std::string(RESIDENCY_CLI_PATH) + " " + args + " >" + out.string() + " 2>" + err.string();
  int rc = std::system(cmd.c_str());
  CliRun r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

TEST(DiffCli, FailOnWidenExitsOneAndTheExampleIsWhatCheckAccepts) {
  if (!fs::exists(RESIDENCY_CLI_PATH)) GTEST_SKIP() << "residency CLI not built";
  fs::path old_dir = CopyShipped("cli_old");
  fs::path new_dir = CopyShipped("cli_new");
  Edit(new_dir / "kr.yaml", "  pipc_recognized:\n",
       "  pipc_recognized:\n    - {value: \"aws:ap-northeast-1\"}\n");
  std::string dirs = old_dir.string() + " " + new_dir.string();
  // A budget that finds the change without exploring the rest of the space (faster under ASan).
  const std::string budget = " --max-evaluations 200000";
  CliRun text = RunCli("diff " + dirs + " --now " + kNow + budget);
  EXPECT_EQ(text.status, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("kr.cross_border"));
  CliRun fail =
      RunCli("diff " + dirs + " --now " + kNow + budget + " --fail-on-widen --format json");
  EXPECT_EQ(fail.status, 1) << fail.err;
  auto j = nlohmann::json::parse(fail.out);
  ASSERT_FALSE(j["widened"].empty());
  // Feed the first example to `residency check` against both sets.
  const auto& g = j["widened"][0];
  fs::path req = fs::path(::testing::TempDir()) / "residency_diff_example.json";
  WriteFile(req, g["example"].dump());
  auto exit_for = [](const std::string& d) { return d == "deny" ? 1 : d == "escalate" ? 3 : 0; };
  CliRun c_old = RunCli("check --no-suggest --policies " + old_dir.string() + " " + req.string());
  CliRun c_new = RunCli("check --no-suggest --policies " + new_dir.string() + " " + req.string());
  EXPECT_EQ(c_old.status, exit_for(g["from"])) << c_old.err;
  EXPECT_EQ(c_new.status, exit_for(g["to"])) << c_new.err;
  EXPECT_EQ(nlohmann::json::parse(c_old.out)["decision"], g["from"]);
  EXPECT_EQ(nlohmann::json::parse(c_new.out)["decision"], g["to"]);

  // A narrowing (the reverse diff) does not fail --fail-on-widen.
  CliRun reverse = RunCli("diff " + new_dir.string() + " " + old_dir.string() + " --now " + kNow +
                          budget + " --fail-on-widen --format json");
  EXPECT_EQ(reverse.status, 0) << reverse.err;
  auto rj = nlohmann::json::parse(reverse.out);
  EXPECT_TRUE(rj["widened"].empty());
  EXPECT_FALSE(rj["narrowed"].empty());
}

TEST(DiffCli, UnreadableOrBrokenSetExitsTwoWithOneLine) {
  if (!fs::exists(RESIDENCY_CLI_PATH)) GTEST_SKIP() << "residency CLI not built";
  fs::path good = CopyShipped("cli_good");
  fs::path broken = CopyShipped("cli_broken");
  Edit(broken / "kr.yaml", "  - id: kr.home\n", "  - id: kr.home\n    bogus_key: 1\n");
  CliRun missing = RunCli("diff /nonexistent/residency " + good.string());
  EXPECT_EQ(missing.status, 2);
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  EXPECT_TRUE(missing.out.empty());
  CliRun bad = RunCli("diff " + good.string() + " " + broken.string() + " --fail-on-widen");
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("new set"));
  EXPECT_THAT(bad.err, HasSubstr("kr.yaml"));
  CliRun flags = RunCli("diff " + good.string());
  EXPECT_EQ(flags.status, 2);
  CliRun help = RunCli("diff --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_THAT(help.out, HasSubstr("--fail-on-widen"));
}

}  // namespace
}  // namespace residency
