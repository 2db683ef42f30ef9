// The policy test runner in the library (RunPolicyTests) and the request check of test files
// (CheckTestRequests): what `residency test` and `residency lint` print comes from here.
#include <filesystem>
#include <fstream>
#include <string>

#include "eval_fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "residency/policy_test.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

using ::testing::HasSubstr;

std::string Write(const std::string& name, const std::string& text) {
  const std::string dir = ::testing::TempDir() + "runner_test/";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + name) << text;
  return dir + name;
}

constexpr char kHome[] =
    "{kind: dataset, destination: \"ncp:KR\", dataset: {id: d, partitions: [{classes: [personal], "
    "origin: KR, subjects: 10}]}}";
constexpr char kTokyo[] =
    "{kind: dataset, destination: \"aws:ap-northeast-1\", dataset: {id: d, partitions: "
    "[{classes: [personal], origin: KR, subjects: 10}]}}";

TEST(RunPolicyTests, CountsPassesAndFailuresAndSaysWhatItGot) {
  auto compiled = testing::CompileWith({testing::kKrPolicy});
  ASSERT_TRUE(compiled.snapshot);
  Write("req_tokyo.yaml", std::string("---\n") + kTokyo);
  const std::string file = Write(
      "cases.yaml", std::string("kind: tests\ncases:\n") +
                        "  - {name: home, now: \"2026-06-30T00:00:00Z\", request: " + kHome +
                        ", want: {decision: deny}}\n" +
                        "  - {name: tokyo, request_file: req_tokyo.yaml, want: {decision: deny, "
                        "rules: [kr.cross_border]}}\n");
  TestRun run = RunPolicyTests(*compiled.snapshot, {file});
  ASSERT_TRUE(run.errors.empty()) << run.errors[0].message;
  EXPECT_EQ(run.files_run, 1);
  EXPECT_EQ(run.passed, 1);
  EXPECT_EQ(run.failed, 1);
  ASSERT_EQ(run.cases.size(), 2u);
  EXPECT_EQ(run.cases[0].name, "home");
  EXPECT_EQ(run.cases[0].line, 3);
  EXPECT_FALSE(run.cases[0].passed());
  EXPECT_THAT(run.cases[0].mismatches[0], HasSubstr("want decision deny, got allow"));
  EXPECT_THAT(run.cases[0].got, HasSubstr("allow"));
  EXPECT_TRUE(run.cases[1].passed()) << run.cases[1].mismatches[0];
}

TEST(RunPolicyTests, AFileWithAnErrorRunsNothingAndNoTestsIsAnError) {
  auto compiled = testing::CompileWith({testing::kKrPolicy});
  ASSERT_TRUE(compiled.snapshot);
  const std::string bad =
      Write("bad.yaml", std::string("kind: tests\ncases:\n  - {name: a, request: {kind: dataset, "
                                    "colour: red}, want: {decision: deny}}\n"));
  TestRun run = RunPolicyTests(*compiled.snapshot, {bad});
  ASSERT_EQ(run.errors.size(), 1u);
  EXPECT_EQ(run.errors[0].code, "bad-request");
  EXPECT_EQ(run.errors[0].line, 3);
  EXPECT_TRUE(run.cases.empty());
  const std::string policy = Write("not_tests.yaml", "kind: catalogue\nid: x\n");
  TestRun none = RunPolicyTests(*compiled.snapshot, {policy});
  ASSERT_EQ(none.errors.size(), 1u);
  EXPECT_EQ(none.errors[0].code, "no-tests");
  TestRun missing = RunPolicyTests(*compiled.snapshot, {"/nonexistent/tests"});
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].code, "io");
}

TEST(CheckTestRequests, PointsAtTheFieldInsideTheInlineRequest) {
  const std::string text =
      "kind: tests\n"
      "cases:\n"
      "  - name: a\n"
      "    request:\n"
      "      kind: dataset\n"
      "      dataset:\n"
      "        id: d\n"
      "        partitions:\n"
      "          - classes: personal\n"
      "    want: {decision: deny}\n"
      "  - {name: b, request: {kind: dataset, dataset: {id: d, partitions: []}}, want: {}}\n";
  auto found = CheckTestRequests(PolicySource{"t.yaml", text});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].line, 9);
  EXPECT_EQ(found[0].column, 13);  // the `classes` key
  EXPECT_THAT(found[0].message, HasSubstr("dataset.partitions[0].classes"));
  EXPECT_TRUE(CheckTestRequests(PolicySource{"p.yaml", "kind: policy\nid: x\n"}).empty());
}

}  // namespace
}  // namespace residency
