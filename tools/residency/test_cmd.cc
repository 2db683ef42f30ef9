// residency test [--policies DIR] TESTS...: YAML decision tables (policies/README.md, "Test
// files"), like `opa test`. Prints failures and `N passed, M failed`.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli_util.h"
#include "commands.h"
#include "internal/time_util.h"
#include "internal/yaml_util.h"
#include "residency/decision.h"
#include "residency/lint.h"
#include "residency/request.h"

namespace residency::cli {
namespace {

namespace fs = std::filesystem;

struct Want {
  std::string decision;
  std::vector<std::string> rules, not_rules, obligations, suggested, lifted, dry_run;
};

std::vector<std::string> StrList(const YAML::Node& n) {
  std::vector<std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  for (const auto& e : n) out.push_back(e.Scalar());
  return out;
}

template <typename String>
bool Has(const std::vector<String>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Checks `d` against `w`; returns the mismatches (empty when the case passes).
std::vector<std::string> Compare(const Want& w, const Decision& d) {
  std::vector<std::string> bad;
  std::vector<std::string_view> rules, obligations, lifted, dry;
  for (const auto& r : d.reasons) rules.push_back(r.rule());
  for (const auto& o : d.obligations) obligations.push_back(o.id());
  for (const auto& l : d.lifted) lifted.push_back(l.tag());
  for (const auto& r : d.dry_run) dry.push_back(r.rule());
  if (!w.decision.empty() && w.decision != EffectName(d.decision)) {
    bad.push_back(absl::StrCat("want decision ", w.decision, ", got ", EffectName(d.decision)));
  }
  for (const auto& r : w.rules)
    if (!Has(rules, r)) bad.push_back(absl::StrCat("want rule ", r, " among the reasons"));
  for (const auto& r : w.not_rules)
    if (Has(rules, r)) bad.push_back(absl::StrCat("want rule ", r, " not among the reasons"));
  for (const auto& o : w.obligations)
    if (!Has(obligations, o)) bad.push_back(absl::StrCat("want obligation ", o));
  for (const auto& s : w.suggested)
    if (!Has(d.suggested_locations(), s)) bad.push_back(absl::StrCat("want suggestion ", s));
  for (const auto& l : w.lifted)
    if (!Has(lifted, l)) bad.push_back(absl::StrCat("want lifted tag ", l));
  for (const auto& r : w.dry_run)
    if (!Has(dry, r)) bad.push_back(absl::StrCat("want dry-run rule ", r));
  return bad;
}

std::vector<fs::path> Expand(const std::vector<std::string>& paths,
                             std::vector<std::string>* errs) {
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      out.insert(out.end(), files.begin(), files.end());
    } else if (fs::exists(p, ec)) {
      out.emplace_back(p);
    } else {
      errs->push_back(absl::StrCat(p, ": no such file or directory"));
    }
  }
  return out;
}

}  // namespace

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
  std::vector<std::string> errs;
  std::vector<fs::path> files = Expand(tests, &errs);
  for (const auto& e : errs) std::fprintf(stderr, "residency test: %s\n", e.c_str());
  if (!errs.empty()) return kExitCannotRun;

  int passed = 0, failed = 0, files_run = 0;
  for (const auto& file : files) {
    auto text = ReadInput(file.string(), 8u << 20);
    if (!text.ok()) {
      std::fprintf(stderr, "residency test: %s\n", std::string(text.status().message()).c_str());
      return kExitCannotRun;
    }
    // The lint's checks first (one document, known keys): a file is run whole or not at all.
    int errors = 0;
    for (const auto& d : CheckFolderFile(PolicySource{file.string(), *text})) {
      if (d.severity != Diagnostic::Severity::kError) continue;
      if (++errors <= 5) std::fprintf(stderr, "residency test: %s\n", FormatDiagnostic(d).c_str());
    }
    if (errors > 0) return kExitCannotRun;
    YAML::Node root;
    internal::YamlLoadError error;
    if (!internal::LoadOneYamlDocument(*text, &root, &error)) {
      std::fprintf(stderr, "residency test: %s:%d:%d: %s\n", file.c_str(), error.line, error.column,
                   error.message.c_str());
      return kExitCannotRun;
    }
    if (!root.IsMap() || !root["kind"].IsDefined() || !root["kind"].IsScalar() ||
        root["kind"].Scalar() != "tests") {
      continue;  // not a test file (policies and the catalogue may sit in the same folder)
    }
    ++files_run;
    YAML::Node cases = root["cases"];
    if (!cases.IsDefined() || !cases.IsSequence()) {
      std::fprintf(stderr, "residency test: %s:%d:%d: `cases` must be a list\n", file.c_str(),
                   root.Mark().line + 1, root.Mark().column + 1);
      return kExitCannotRun;
    }
    for (const auto& c : cases) {
      std::string where = absl::StrCat(file.string(), ":", c.Mark().line + 1);
      std::string name = c["name"].IsDefined() ? c["name"].Scalar() : where;
      // Keys and types were checked by CheckFolderFile above.
      std::string problem;
      std::string text;
      if (problem.empty()) {
        if (c["request"].IsDefined()) {
          YAML::Emitter em;
          em << c["request"];
          // A document marker keeps a flow-style request from being taken for JSON.
          text = std::string("---\n") + em.c_str();
        } else if (c["request_file"].IsDefined()) {
          fs::path rf = file.parent_path() / c["request_file"].Scalar();
          auto t = ReadInput(rf.string(), RequestLimits().max_bytes);
          if (!t.ok()) {
            problem = std::string(t.status().message());
          } else {
            text = *t;
          }
        } else {
          problem = "a test case needs `request` or `request_file`";
        }
      }
      Want w;
      YAML::Node wn = c["want"];
      if (problem.empty() && (!wn.IsDefined() || !wn.IsMap())) problem = "a test case needs `want`";
      if (problem.empty()) {
        if (wn["decision"].IsDefined()) w.decision = wn["decision"].Scalar();
        w.rules = StrList(wn["rules"]);
        w.not_rules = StrList(wn["not_rules"]);
        w.obligations = StrList(wn["obligations"]);
        w.suggested = StrList(wn["suggested"]);
        w.lifted = StrList(wn["lifted"]);
        w.dry_run = StrList(wn["dry_run"]);
      }
      absl::StatusOr<Request> req = absl::InvalidArgumentError(problem);
      if (problem.empty()) req = ParseRequest(text);
      if (req.ok() && c["now"].IsDefined()) {
        auto t = internal::ParseTimestamp(c["now"].Scalar());
        if (!t.ok()) {
          req = t.status();
        } else {
          req->now = *t;
        }
      }
      absl::StatusOr<Decision> d = req.ok() ? Evaluate(*snapshot, *req) : req.status();
      std::vector<std::string> bad;
      if (!d.ok()) {
        bad.push_back(absl::StrCat("could not evaluate: ", std::string(d.status().message())));
      } else {
        bad = Compare(w, *d);
      }
      if (bad.empty()) {
        ++passed;
        if (verbose) std::printf("PASS %s: %s\n", where.c_str(), name.c_str());
        continue;
      }
      ++failed;
      std::printf("FAIL %s: %s\n", where.c_str(), name.c_str());
      for (const auto& b : bad) std::printf("  %s\n", b.c_str());
      if (d.ok()) {
        std::vector<std::string> fired;
        for (const auto& r : d->reasons) {
          fired.push_back(std::string(r.rule()) + "=" + EffectName(r.effect()));
        }
        std::printf("  got %s; rules: %s\n", EffectName(d->decision),
                    fired.empty() ? "(none)" : absl::StrJoin(fired, ", ").c_str());
      }
    }
  }
  if (files_run == 0) {
    std::fprintf(stderr, "residency test: no `kind: tests` files found\n");
    return kExitCannotRun;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed > 0 ? kExitFindings : kExitOk;
}

}  // namespace residency::cli
