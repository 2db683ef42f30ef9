#include "residency/lint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "residency/version.h"

namespace residency {
namespace {

// SARIF `tool.driver.informationUri`: the reference for the diagnostic codes, policies/README.md
// "Diagnostics", relative to the repository root (the project publishes no URL of its own; SARIF
// asks for an absolute URI here, so a published build should put its repository's URL in front).
constexpr char kSarifInformationUri[] = "policies/README.md#diagnostics";

}  // namespace

int CountErrors(const std::vector<Diagnostic>& diagnostics) {
  int n = 0;
  for (const auto& d : diagnostics) n += d.severity == Diagnostic::Severity::kError;
  return n;
}

int CountWarnings(const std::vector<Diagnostic>& diagnostics) {
  return static_cast<int>(diagnostics.size()) - CountErrors(diagnostics);
}

std::string RenderDiagnostics(const std::vector<Diagnostic>& diagnostics, LintFormat format) {
  auto sev = [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::kError ? "error" : "warning";
  };
  if (format == LintFormat::kText) {
    std::string out;
    for (const auto& d : diagnostics) {
      out += FormatDiagnostic(d);
      out += '\n';
    }
    return out;
  }
  if (format == LintFormat::kJson) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& d : diagnostics) {
      arr.push_back({{"file", d.file},
                     {"line", d.line},
                     {"column", d.column},
                     {"severity", sev(d)},
                     {"code", d.code},
                     {"message", d.message}});
    }
    nlohmann::json doc = {{"diagnostics", arr},
                          {"errors", CountErrors(diagnostics)},
                          {"warnings", CountWarnings(diagnostics)}};
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  std::set<std::string> codes;
  for (const auto& d : diagnostics) codes.insert(d.code.empty() ? "residency" : d.code);
  nlohmann::json rules = nlohmann::json::array();
  for (const auto& c : codes) rules.push_back({{"id", c}, {"name", c}});
  nlohmann::json results = nlohmann::json::array();
  for (const auto& d : diagnostics) {
    nlohmann::json loc = {{"physicalLocation", {{"artifactLocation", {{"uri", d.file}}}}}};
    if (d.line > 0) {
      loc["physicalLocation"]["region"] = {{"startLine", d.line},
                                           {"startColumn", d.column > 0 ? d.column : 1}};
    }
    results.push_back({{"ruleId", d.code.empty() ? "residency" : d.code},
                       {"level", sev(d)},
                       {"message", {{"text", d.message}}},
                       {"locations", nlohmann::json::array({loc})}});
  }
  nlohmann::json sarif = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs", nlohmann::json::array({{{"tool",
                                        {{"driver",
                                          {{"name", "residency"},
                                           {"version", kVersionString},
                                           {"informationUri", kSarifInformationUri},
                                           {"rules", rules}}}}},
                                       {"results", results}}})}};
  return sarif.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

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
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (auto& d : CheckFolderFile(PolicySource{p.string(), std::move(text)})) {
        out.push_back(std::move(d));
      }
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
  r.diagnostics.insert(r.diagnostics.end(), std::make_move_iterator(side.begin()),
                       std::make_move_iterator(side.end()));
  return r;
}

}  // namespace residency
