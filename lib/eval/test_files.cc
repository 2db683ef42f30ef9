// Policy folders' side files: their subfolders checked file by file (CheckSubfolders), the lint
// of a policy set (LintPolicies), and the test files: their requests checked (CheckTestRequests)
// and run (RunPolicyTests). Here, above the policy component, because test files hold requests.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "internal/time_util.h"
#include "internal/yaml_util.h"
#include "residency/decision.h"
#include "residency/lint.h"
#include "residency/policy_test.h"
#include "residency/request.h"

namespace residency {
namespace fs = std::filesystem;
namespace {
absl::StatusOr<std::string> ReadFileLimited(const fs::path& p, size_t limit);
}  // namespace

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

}  // namespace

std::vector<Diagnostic> CheckSubfolders(const std::vector<std::string>& paths) {
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
      PolicySource source{p.string(), std::string((std::istreambuf_iterator<char>(in)),
                                                  std::istreambuf_iterator<char>())};
      std::vector<Diagnostic> found = CheckFolderFile(source);
      if (CountErrors(found) == 0) {
        for (auto& d : CheckTestRequests(source)) found.push_back(std::move(d));
      }
      for (auto& d : found) out.push_back(std::move(d));
    }
  }
  return out;
}

CompileResult LintPolicies(const std::vector<std::string>& paths, const std::string& catalogue) {
  std::vector<std::string> with = paths;
  if (!catalogue.empty()) with.push_back(catalogue);
  CompileResult r = CompilePolicies(with);
  if (catalogue.empty() && !paths.empty() && r.diagnostics.size() == 1 &&
      r.diagnostics[0].code == "no-catalogue") {
    const std::filesystem::path first(paths[0]);
    std::error_code ec;
    std::filesystem::path dir =
        std::filesystem::is_directory(first, ec) ? first : first.parent_path();
    if (dir.empty()) dir = ".";
    with.push_back((dir / "regions.yaml").string());
    r = CompilePolicies(with);
  }
  std::vector<Diagnostic> side = CheckSubfolders(paths);
  // The test files the compile read (named, or at the top of a folder): their requests too.
  for (const auto& path : paths) {
    std::error_code ec;
    std::vector<fs::path> files;
    if (fs::is_directory(path, ec)) {
      for (const auto& e : fs::directory_iterator(path, ec)) {
        const auto ext = e.path().extension().string();
        if (e.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
    } else {
      files.emplace_back(path);
    }
    for (const auto& f : files) {
      auto text = ReadFileLimited(f, CompileOptions().max_file_bytes);
      if (!text.ok()) continue;  // the compile reports it
      for (auto& d : CheckTestRequests(PolicySource{f.string(), *std::move(text)})) {
        side.push_back(std::move(d));
      }
    }
  }
  r.diagnostics.insert(r.diagnostics.end(), std::make_move_iterator(side.begin()),
                       std::make_move_iterator(side.end()));
  return r;
}

namespace {

// Where a request error's field path (`dataset.partitions[0].classes`) points inside `request`:
// the field's key when the path ends at a key (as the policy lint points at a key), else its
// element, else the deepest of its steps that exists.
YAML::Node NodeAt(YAML::Node node, const std::string& path) {
  const std::vector<std::string> parts = absl::StrSplit(path, '.', absl::SkipEmpty());
  for (size_t step = 0; step < parts.size(); ++step) {
    const std::string& part = parts[step];
    std::string key(part);
    std::vector<int> indexes;
    while (!key.empty() && key.back() == ']') {
      const size_t open = key.rfind('[');
      int i = 0;
      if (open == std::string::npos ||
          !absl::SimpleAtoi(key.substr(open + 1, key.size() - open - 2), &i)) {
        return node;
      }
      indexes.insert(indexes.begin(), i);
      key.resize(open);
    }
    if (!key.empty()) {
      if (!node.IsMap() || !node[key].IsDefined()) return node;
      if (step + 1 == parts.size() && indexes.empty()) {
        for (const auto& kv : node) {
          if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.first;
        }
      }
      node = node[key];
    }
    for (int i : indexes) {
      if (!node.IsSequence() || i < 0 || static_cast<size_t>(i) >= node.size()) return node;
      node = node[i];
    }
  }
  return node;
}

// A request error's message without the `line:column: ` of the text it was read from.
std::string WithoutPosition(const absl::Status& status) {
  std::string m(status.message());
  const RequestErrorLocation at = LocateRequestError(status);
  if (at.line > 0) {
    const size_t colon = m.find(": ");
    if (colon != std::string::npos) m = m.substr(colon + 2);
  }
  return m;
}

// The text of an inline request as ParseRequest reads it (a document marker keeps a flow-style
// mapping from being taken for JSON).
std::string InlineRequestText(const YAML::Node& request) {
  YAML::Emitter em;
  em << request;
  return std::string("---\n") + em.c_str();
}

std::string TestFileDir(const std::string& file) {
  fs::path dir = fs::path(file).parent_path();
  return dir.empty() ? "." : dir.string();
}

bool IsTestsFile(const std::string& text, YAML::Node* root) {
  internal::YamlLoadError error;
  if (!internal::LoadOneYamlDocument(text, root, &error)) return false;
  return root->IsMap() && (*root)["kind"].IsDefined() && (*root)["kind"].IsScalar() &&
         (*root)["kind"].Scalar() == "tests" && (*root)["cases"].IsSequence();
}

absl::StatusOr<std::string> ReadFileLimited(const fs::path& p, size_t limit) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("cannot read: ", ec.message()));
  if (size > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("file is ", size, " bytes; the limit is ", limit));
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The request of one test case: parsed, or the error with the node it concerns.
struct CaseRequest {
  absl::StatusOr<Request> request = absl::UnknownError("");
  YAML::Node at;       // where an error is reported
  std::string prefix;  // put before the parser's message
};

CaseRequest ReadCaseRequest(const YAML::Node& c, const std::string& dir) {
  CaseRequest out;
  if (c["request"].IsDefined() && c["request"].IsMap()) {
    out.request = ParseRequest(InlineRequestText(c["request"]));
    out.prefix = "`request`: ";
    out.at = out.request.ok() ? c["request"]
                              : NodeAt(c["request"], LocateRequestError(out.request.status()).path);
    if (!out.request.ok())
      out.request = absl::InvalidArgumentError(WithoutPosition(out.request.status()));
    return out;
  }
  if (c["request_file"].IsDefined() && c["request_file"].IsScalar()) {
    const std::string name = c["request_file"].Scalar();
    out.at = c["request_file"];
    out.prefix = absl::StrCat("`request_file` ", name, ": ");
    auto text = ReadFileLimited(fs::path(dir) / name, RequestLimits().max_bytes);
    out.request = text.ok() ? ParseRequest(*text) : absl::StatusOr<Request>(text.status());
    return out;
  }
  out.at = c;
  out.request = absl::InvalidArgumentError("a test case needs `request` or `request_file`");
  return out;
}

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

std::string Got(const Decision& d) {
  std::vector<std::string> fired;
  for (const auto& r : d.reasons) {
    fired.push_back(absl::StrCat(std::string(r.rule()), "=", EffectName(r.effect())));
  }
  return absl::StrCat(EffectName(d.decision),
                      "; rules: ", fired.empty() ? "(none)" : absl::StrJoin(fired, ", "));
}

TestCaseResult RunCase(const PolicySnapshot& snapshot, const std::string& file,
                       const YAML::Node& c) {
  TestCaseResult out;
  out.file = file;
  out.line = c.Mark().line + 1;
  out.name = c["name"].IsDefined() ? c["name"].Scalar() : absl::StrCat(file, ":", out.line);
  CaseRequest req = ReadCaseRequest(c, TestFileDir(file));
  Want w;
  const YAML::Node wn = c["want"];
  if (wn.IsDefined() && wn.IsMap()) {
    if (wn["decision"].IsDefined()) w.decision = wn["decision"].Scalar();
    w.rules = StrList(wn["rules"]);
    w.not_rules = StrList(wn["not_rules"]);
    w.obligations = StrList(wn["obligations"]);
    w.suggested = StrList(wn["suggested"]);
    w.lifted = StrList(wn["lifted"]);
    w.dry_run = StrList(wn["dry_run"]);
  }
  if (req.request.ok() && c["now"].IsDefined()) {
    auto t = internal::ParseTimestamp(c["now"].Scalar());
    if (t.ok()) {
      req.request->now = *t;
    } else {
      req.request = t.status();
    }
  }
  absl::StatusOr<Decision> d =
      req.request.ok() ? Evaluate(snapshot, *req.request) : req.request.status();
  if (!d.ok()) {
    out.mismatches.push_back(
        absl::StrCat("could not evaluate: ", std::string(d.status().message())));
    return out;
  }
  out.mismatches = Compare(w, *d);
  out.got = Got(*d);
  return out;
}

std::vector<fs::path> Expand(const std::vector<std::string>& paths, std::vector<Diagnostic>* errs) {
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        const auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      out.insert(out.end(), files.begin(), files.end());
    } else if (fs::exists(p, ec)) {
      out.emplace_back(p);
    } else {
      errs->push_back(
          Diagnostic{p, 0, 0, Diagnostic::Severity::kError, "io", "no such file or directory"});
    }
  }
  return out;
}

}  // namespace

std::vector<Diagnostic> CheckTestRequests(const PolicySource& source) {
  std::vector<Diagnostic> out;
  YAML::Node root;
  if (!IsTestsFile(source.text, &root)) return out;
  const std::string dir = TestFileDir(source.name);
  for (const YAML::Node& c : root["cases"]) {
    if (!c.IsMap()) continue;
    const bool inline_request = c["request"].IsDefined() && c["request"].IsMap();
    const bool file_request = c["request_file"].IsDefined() && c["request_file"].IsScalar();
    if (!inline_request && !file_request) continue;  // CheckFolderFile reports it
    CaseRequest req = ReadCaseRequest(c, dir);
    if (req.request.ok()) continue;
    out.push_back(Diagnostic{source.name, req.at.Mark().line + 1, req.at.Mark().column + 1,
                             Diagnostic::Severity::kError, "bad-request",
                             req.prefix + std::string(req.request.status().message())});
  }
  return out;
}

TestRun RunPolicyTests(const PolicySnapshot& snapshot, const std::vector<std::string>& paths) {
  TestRun run;
  std::vector<fs::path> files = Expand(paths, &run.errors);
  if (!run.errors.empty()) return run;
  std::vector<TestCaseResult> cases;
  for (const auto& file : files) {
    auto text = ReadFileLimited(file, CompileOptions().max_file_bytes);
    if (!text.ok()) {
      run.errors.push_back(Diagnostic{file.string(), 0, 0, Diagnostic::Severity::kError, "io",
                                      std::string(text.status().message())});
      return run;
    }
    // A file is run whole or not at all: the lint's checks first.
    std::vector<Diagnostic> problems = CheckFolderFile(PolicySource{file.string(), *text});
    if (CountErrors(problems) == 0) {
      std::vector<Diagnostic> requests = CheckTestRequests(PolicySource{file.string(), *text});
      problems.insert(problems.end(), requests.begin(), requests.end());
    }
    for (auto& d : problems) {
      if (d.severity == Diagnostic::Severity::kError) run.errors.push_back(std::move(d));
    }
    if (!run.errors.empty()) return run;
    YAML::Node root;
    if (!IsTestsFile(*text, &root)) continue;  // policies and the catalogue may sit beside
    ++run.files_run;
    for (const YAML::Node& c : root["cases"]) {
      cases.push_back(RunCase(snapshot, file.string(), c));
      ++(cases.back().passed() ? run.passed : run.failed);
    }
  }
  if (run.files_run == 0) {
    run.errors.push_back(Diagnostic{paths.empty() ? std::string() : paths[0], 0, 0,
                                    Diagnostic::Severity::kError, "no-tests",
                                    "no `kind: tests` files found"});
    return run;
  }
  run.cases = std::move(cases);
  return run;
}

}  // namespace residency
