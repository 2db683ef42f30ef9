// residency lint PATH...: parse, validate and lint policy files (policies/README.md,
// "Diagnostics").
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iterator>

#include "cli_util.h"
#include "commands.h"
#include "residency/lint.h"
#include "residency/policy.h"

namespace residency::cli {
int RunLint(int argc, char** argv) {
  CLI::App app{
      "Parse, validate and lint policy files and folders.\n"
      "Prints FILE:LINE:COL: severity: message [code]. Exit 0 clean, 1 errors found "
      "(or warnings with --strict), 2 could not run.",
      "residency lint"};
  std::vector<std::string> paths;
  std::string format = "text";
  std::string catalogue;
  bool strict = false;
  app.add_option("paths", paths,
                 "policy files or folders (a folder is read whole; the YAML files in its "
                 "subfolders, such as tests/, are checked one by one)")
      ->required();
  app.add_option("--format", format, "text | json | sarif")
      ->check(CLI::IsMember({"text", "json", "sarif"}));
  app.add_option("--catalogue", catalogue,
                 "region catalogue to use when PATHS hold none (default: regions.yaml beside "
                 "the first file)");
  app.add_flag("--strict", strict, "warnings also fail (exit 1)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      std::fputs(app.help().c_str(), stdout);
      return kExitOk;
    }
    std::fprintf(stderr, "residency lint: %s%s\n", e.what(),
                 UnknownFlagHint(app, argc, argv).c_str());
    return kExitCannotRun;
  }
  CompileResult r = LintPolicies(paths, catalogue);
  // Nothing readable at all is "could not run".
  bool io_only = !r.diagnostics.empty();
  for (const auto& d : r.diagnostics) io_only &= d.code == "io";
  LintFormat fmt = format == "json"    ? LintFormat::kJson
                   : format == "sarif" ? LintFormat::kSarif
                                       : LintFormat::kText;
  std::string out = RenderDiagnostics(r.diagnostics, fmt);
  if (io_only) {
    for (const auto& d : r.diagnostics) {
      std::fprintf(stderr, "residency lint: %s\n", FormatDiagnostic(d).c_str());
    }
    return kExitCannotRun;
  }
  std::fputs(out.c_str(), stdout);
  int errors = CountErrors(r.diagnostics), warnings = CountWarnings(r.diagnostics);
  if (fmt == LintFormat::kText) {
    if (r.snapshot) {
      std::fprintf(stdout, "%zu policies, %zu rules, %zu locations: %d errors, %d warnings (%s)\n",
                   r.snapshot->policy_ids().size(), r.snapshot->rule_count(),
                   r.snapshot->locations().size(), errors, warnings, r.snapshot->digest().c_str());
    } else {
      std::fprintf(stdout, "%d errors, %d warnings\n", errors, warnings);
    }
  }
  if (errors > 0 || (strict && warnings > 0)) return kExitFindings;
  return kExitOk;
}

}  // namespace residency::cli
