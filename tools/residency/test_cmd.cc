// residency test [--policies DIR] TESTS...: YAML decision tables (policies/README.md, "Test
// files"), like `opa test`. Prints failures and `N passed, M failed`.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli_util.h"
#include "commands.h"
#include "residency/policy_test.h"

namespace residency::cli {

int RunTest(int argc, char** argv) {
  CLI::App app{
      "Run YAML policy test cases (request + now + expected decision) and print "
      "`N passed, M failed`.\nExit: 0 all passed, 1 some failed, 2 could not run.",
      "residency test"};
  std::string policies_arg = "policies";
  std::vector<std::string> tests;
  bool verbose = false;
  app.add_option(
      "--policies", policies_arg,
      "policy folder or file with the catalogue; several separated by commas (default: policies)");
  app.add_option("tests", tests, "test files or folders")->required();
  app.add_flag("-v,--verbose", verbose, "print every case, not only failures");
  if (int rc = ParseFlags(app, "residency test", argc, argv); rc >= 0) return rc;

  auto snapshot =
      LoadPolicies("residency test",
                   std::vector<std::string>(absl::StrSplit(policies_arg, ',', absl::SkipEmpty())));
  if (!snapshot) return kExitCannotRun;
  TestRun run = RunPolicyTests(*snapshot, tests);
  if (!run.errors.empty()) {
    int shown = 0;
    for (const auto& d : run.errors) {
      if (++shown > 5) break;
      const std::string text = d.code == "no-tests" ? d.message
                               : d.code == "io"     ? absl::StrCat(d.file, ": ", d.message)
                                                    : FormatDiagnostic(d);
      std::fprintf(stderr, "residency test: %s\n", text.c_str());
    }
    return kExitCannotRun;
  }
  for (const auto& c : run.cases) {
    const std::string where = absl::StrCat(c.file, ":", c.line);
    if (c.passed()) {
      if (verbose) std::printf("PASS %s: %s\n", where.c_str(), c.name.c_str());
      continue;
    }
    std::printf("FAIL %s: %s\n", where.c_str(), c.name.c_str());
    for (const auto& m : c.mismatches) std::printf("  %s\n", m.c_str());
    if (!c.got.empty()) std::printf("  got %s\n", c.got.c_str());
  }
  std::printf("%d passed, %d failed\n", run.passed, run.failed);
  return run.failed > 0 ? kExitFindings : kExitOk;
}

}  // namespace residency::cli
