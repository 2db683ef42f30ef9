// residency diff OLD_DIR NEW_DIR: what a policy change widens or narrows, with example requests
// (docs/policy-review.md). The exploration is in the library (include/residency/diff.h).
#include <cstdio>
#include <string>

#include "cli_util.h"
#include "commands.h"
#include "residency/diff.h"
#include "residency/policy.h"
#include "residency/util.h"

namespace residency::cli {
namespace {

// Compiles one side; on failure prints one line (the first error) and returns null.
std::shared_ptr<const PolicySnapshot> Load(const std::string& which, const std::string& path) {
  CompileResult r = CompilePolicies({path});
  if (r.snapshot) return r.snapshot;
  for (const auto& d : r.diagnostics) {
    if (d.severity != Diagnostic::Severity::kError) continue;
    std::fprintf(stderr, "residency diff: %s set: %s\n", which.c_str(),
                 FormatDiagnostic(d).c_str());
    return nullptr;
  }
  std::fprintf(stderr, "residency diff: %s set: %s: could not be compiled\n", which.c_str(),
               path.c_str());
  return nullptr;
}

}  // namespace

int RunDiff(int argc, char** argv) {
  CLI::App app{
      "Compare two policy sets: compile both, evaluate both on a generated space of requests "
      "(every catalogue location x data class x origin the policies mention x request shape x "
      "evidence, operator and party profiles; the changed rules first) and report what the "
      "change widens (a request now less restricted) or narrows, grouped by old and new "
      "decision and the rules involved, with a count and an example request for each group "
      "(JSON that `residency check` accepts).\n"
      "Exit: 0 (also when something widened, unless --fail-on-widen), 1 with --fail-on-widen "
      "when anything widened, 2 when a set cannot be read or compiled.",
      "residency diff"};
  std::string old_dir, new_dir, format = "text", now_text;
  bool fail_on_widen = false, explore_identical = false;
  size_t max_examples = 1;
  size_t max_evaluations = DiffOptions().max_evaluations;
  app.add_option("OLD_DIR", old_dir, "the policy set before the change (folder or file)")
      ->required();
  app.add_option("NEW_DIR", new_dir, "the policy set after the change (folder or file)")
      ->required();
  app.add_option("--format", format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--fail-on-widen", fail_on_widen, "exit 1 when anything widened");
  app.add_option("--now", now_text,
                 "evaluation time of every explored request (RFC 3339; default: the clock)");
  app.add_option("--max-examples", max_examples, "example requests shown per group (default 1)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-evaluations", max_evaluations,
                 "evaluation budget, two per request (default 1000000)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--explore-identical", explore_identical,
               "explore even when both sets have the same policy_digest");
  if (int rc = ParseFlags(app, "residency diff", argc, argv); rc >= 0) return rc;

  DiffOptions options;
  options.max_examples = max_examples;
  options.max_evaluations = max_evaluations;
  options.explore_identical = explore_identical;
  if (!now_text.empty()) {
    auto t = ParseTimestamp(now_text);
    if (!t.ok()) {
      std::fprintf(stderr, "residency diff: --now: %s\n",
                   std::string(t.status().message()).c_str());
      return kExitCannotRun;
    }
    options.now = *t;
  }
  auto old_set = Load("old", old_dir);
  if (!old_set) return kExitCannotRun;
  auto new_set = Load("new", new_dir);
  if (!new_set) return kExitCannotRun;
  auto report = DiffPolicies(*old_set, *new_set, options);
  if (!report.ok()) {
    std::fprintf(stderr, "residency diff: %s\n", std::string(report.status().message()).c_str());
    return kExitCannotRun;
  }
  std::string out =
      format == "json" ? DiffReportToJson(*report, 2) + "\n" : DiffReportToText(*report);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return fail_on_widen && !report->widened.empty() ? kExitFindings : kExitOk;
}

}  // namespace residency::cli
