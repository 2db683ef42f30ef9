// Linting policy files: the compiler's diagnostics rendered for people, tools and code-scanning
// (SARIF 2.1.0). Thread safety: pure functions.
#ifndef RESIDENCY_LINT_H_
#define RESIDENCY_LINT_H_

#include <string>
#include <vector>

#include "residency/policy.h"

namespace residency {

enum class LintFormat { kText, kJson, kSarif };

// Text: one FormatDiagnostic() line each. JSON: {"diagnostics": [...], "errors": N,
// "warnings": M}. SARIF: one run of tool `residency`, a result per diagnostic, rules named by
// diagnostic code.
std::string RenderDiagnostics(const std::vector<Diagnostic>& diagnostics, LintFormat format);

// Checks one file of a policy folder on its own: that it is UTF-8, one YAML document, a mapping
// with a known `kind:`, and, for `kind: tests` and `kind: tagging` files, every key and value
// (as a compile of the folder does). Policies and the catalogue need the whole folder to be
// checked further (CompilePolicies). `residency test` runs this on every test file first.
std::vector<Diagnostic> CheckFolderFile(const PolicySource& source);

// CheckFolderFile over every YAML file in the subfolders (any depth; `schema/` is skipped) of
// each folder in `paths`, in name order, within CompileOptions' file-count and file-size limits;
// for a file without errors, CheckTestRequests too (residency/policy_test.h).
// A compile reads a folder's top level only; this is how a lint of a policy folder also covers
// its `tests/` and other side files. Files named directly in `paths` are not read here.
std::vector<Diagnostic> CheckSubfolders(const std::vector<std::string>& paths);

// What `residency lint PATHS` (and Python's `residency.lint`) checks: compiles `paths` with
// `catalogue` when one is given; when none is given and the paths hold no catalogue, with the
// `regions.yaml` beside the first path (in it, for a folder); then adds CheckSubfolders, and
// CheckTestRequests of the files named and at the top of each folder. The result's diagnostics
// are all of them; its snapshot is set when the compile succeeded.
CompileResult LintPolicies(const std::vector<std::string>& paths,
                           const std::string& catalogue = "");

// Counts of each severity.
int CountErrors(const std::vector<Diagnostic>& diagnostics);
int CountWarnings(const std::vector<Diagnostic>& diagnostics);

}  // namespace residency

#endif  // RESIDENCY_LINT_H_
