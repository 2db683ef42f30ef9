// Policy test files (`kind: tests`: decision tables of request, `now` and the expected decision;
// policies/README.md, "Test files"), run against a snapshot as `residency test` does, and the
// check `residency lint` makes of the requests in them.
//
//   auto run = residency::RunPolicyTests(*snapshot, {"policies/tests"});
//   if (!run.errors.empty()) ...                 // could not run: bad files, nothing found
//   for (const auto& c : run.cases) if (!c.passed()) print(c.file, c.line, c.mismatches);
//
// Thread safety: pure functions (they read files).
#ifndef RESIDENCY_POLICY_TEST_H_
#define RESIDENCY_POLICY_TEST_H_

#include <string>
#include <vector>

#include "residency/policy.h"

namespace residency {

struct TestCaseResult {
  std::string file;
  int line = 0;      // of the case (1-based)
  std::string name;  // the case's `name`
  // What differed from `want` ("want decision deny, got allow", "want rule x among the
  // reasons"), or why it could not be decided; empty when the case passed.
  std::vector<std::string> mismatches;
  // When decided: the decision and its deciding rules, "deny; rules: a=deny, b=deny".
  std::string got;
  bool passed() const { return mismatches.empty(); }
};

struct TestRun {
  // Why the tests could not run (a missing path, a file with errors, no `kind: tests` file);
  // when set, `cases` is empty: a file is run whole or not at all.
  std::vector<Diagnostic> errors;
  std::vector<TestCaseResult> cases;  // files in the order given (a folder's in name order)
  int passed = 0, failed = 0, files_run = 0;
};

// Runs every `kind: tests` file among `paths` (files, or the .yaml/.yml files at the top of a
// folder; other kinds of file are passed over). Before a file runs, CheckFolderFile and
// CheckTestRequests must find no error in it.
TestRun RunPolicyTests(const PolicySnapshot& snapshot, const std::vector<std::string>& paths);

// For a `kind: tests` file: every inline `request:` reads as a request (ParseRequest), and every
// `request_file:` (relative to the file's folder) exists and reads as one. An error is reported
// at the offending field inside the inline request (its line and column in this file), or at the
// `request_file` value. Other files: nothing.
std::vector<Diagnostic> CheckTestRequests(const PolicySource& source);

}  // namespace residency

#endif  // RESIDENCY_POLICY_TEST_H_
