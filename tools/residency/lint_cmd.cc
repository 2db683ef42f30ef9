// residency lint PATH...: parse, validate and lint policy files (policies/README.md,
// "Diagnostics").
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "cli_util.h"
#include "commands.h"
#include "residency/lint.h"
#include "residency/policy.h"

namespace residency::cli {
namespace {

// The YAML files in the subfolders of `dir` (any depth; `schema/` holds JSON Schemas and is
// skipped), sorted. The policy set is read from the folder itself; these are its tests and other
// side files, which a lint of the folder checks one by one.
std::vector<std::filesystem::path> SubfolderYaml(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& sub : fs::directory_iterator(dir, ec)) {
    if (!sub.is_directory(ec) || sub.path().filename() == "schema") continue;
    for (auto it = fs::recursive_directory_iterator(sub.path(), ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path& p = it->path();
      const std::string ext = p.extension().string();
      if (it->is_regular_file(ec) && (ext == ".yaml" || ext == ".yml")) out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// CheckFolderFile over the subfolder files of every folder in `paths`, within the compile limits.
std::vector<Diagnostic> CheckSubfolderFiles(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  const CompileOptions limits;
  std::vector<Diagnostic> out;
  size_t files = 0;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) continue;
    for (const auto& p : SubfolderYaml(path)) {
      if (++files > limits.max_files) {
        out.push_back(Diagnostic{p.string(), 0, 0, Diagnostic::Severity::kError, "limit",
                                 "more than " + std::to_string(limits.max_files) +
                                     " files in subfolders; the rest were not checked"});
        return out;
      }
      const auto size = fs::file_size(p, ec);
      if (ec || size > limits.max_file_bytes) {
        out.push_back(Diagnostic{p.string(), 0, 0, Diagnostic::Severity::kError,
                                 ec ? "io" : "limit",
                                 ec ? "cannot read the file size: " + ec.message()
                                    : "file is " + std::to_string(size) + " bytes; the limit is " +
                                          std::to_string(limits.max_file_bytes)});
        continue;
      }
      std::ifstream in(p, std::ios::binary);
      if (!in) {
        out.push_back(
            Diagnostic{p.string(), 0, 0, Diagnostic::Severity::kError, "io", "cannot open file"});
        continue;
      }
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (auto& d : CheckFolderFile(PolicySource{p.string(), std::move(text)})) {
        out.push_back(std::move(d));
      }
    }
  }
  return out;
}

}  // namespace

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
  CompileResult r = CompilePolicies(paths);
  bool no_catalogue = r.diagnostics.size() == 1 && r.diagnostics[0].code == "no-catalogue";
  if (no_catalogue) {
    std::vector<std::string> with = paths;
    if (catalogue.empty()) {
      std::filesystem::path first(paths[0]);
      auto dir = std::filesystem::is_directory(first) ? first : first.parent_path();
      if (dir.empty()) dir = ".";
      catalogue = (dir / "regions.yaml").string();
    }
    with.push_back(catalogue);
    r = CompilePolicies(with);
  } else if (!catalogue.empty()) {
    std::vector<std::string> with = paths;
    with.push_back(catalogue);
    r = CompilePolicies(with);
  }
  {
    std::vector<Diagnostic> side = CheckSubfolderFiles(paths);
    r.diagnostics.insert(r.diagnostics.end(), std::make_move_iterator(side.begin()),
                         std::make_move_iterator(side.end()));
  }
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
