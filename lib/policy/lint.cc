#include "residency/lint.h"

#include <algorithm>
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

}  // namespace residency
