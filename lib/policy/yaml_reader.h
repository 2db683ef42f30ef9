// Typed, position-aware reading of YAML maps for the policy loader.
//
// A MapReader wraps one YAML mapping: every key read through it is marked known, typed getters
// report wrong types with the node's position, Finish() reports unknown keys (with a "did you
// mean") and duplicates. Every value read is also recorded in a canonical JSON shadow, so the
// digest covers exactly what the loader understood (sorted keys, typed scalars) and nothing of
// the file's formatting, comments or key order.
#ifndef RESIDENCY_LIB_POLICY_YAML_READER_H_
#define RESIDENCY_LIB_POLICY_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/yaml_tree.h"
#include "residency/policy.h"

namespace residency::policy_internal {

// Collects diagnostics for one load. Not thread-safe.
class DiagSink {
 public:
  void Add(Diagnostic::Severity sev, std::string file, int line, int col, std::string code,
           std::string message);
  void Error(const std::string& file, const YAML::Mark& m, std::string code, std::string message);
  void Warning(const std::string& file, const YAML::Mark& m, std::string code, std::string message);
  bool has_errors() const { return errors_ > 0; }
  std::vector<Diagnostic>& diagnostics() { return diags_; }

 private:
  std::vector<Diagnostic> diags_;
  int errors_ = 0;
};

// Returns the closest candidate to `word` by edit distance (<= 2, or <= 1/3 of the length), or
// an empty string.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

class MapReader {
 public:
  // `node`'s document must outlive the reader. `canon` may be null (nothing recorded). `what`
  // names the map in messages ("rule", "location", ...).
  MapReader(YNode node, const std::string& file, DiagSink* sink, nlohmann::json* canon,
            std::string what);

  bool ok() const { return ok_; }  // false when the node is not a map
  bool Has(const char* key) const;
  const YAML::Mark& mark() const { return mark_; }
  // The node of `key` (marking it known, not recorded in the canonical shadow); null if absent.
  YNode Raw(const char* key);
  // Declares `key` allowed without reading it (comments-like keys such as `note`, `title`),
  // excluded from the canonical form.
  void Ignore(const char* key);

  std::optional<std::string> String(const char* key, bool required = false);
  std::optional<bool> Bool(const char* key);
  std::optional<double> Number(const char* key);
  std::optional<std::vector<std::string>> StringList(const char* key, bool required = false);
  // `key` must be one of `allowed`.
  std::optional<std::string> Enum(const char* key, const std::vector<std::string>& allowed,
                                  bool required = false);

  // Reports unknown keys and duplicates; call once after reading.
  void Finish();

  const std::string& file() const { return file_; }
  DiagSink* sink() const { return sink_; }
  nlohmann::json* canon() const { return canon_; }

 private:
  YNode Lookup(const char* key);
  void Missing(const char* key);

  YNode node_;
  std::string file_;
  DiagSink* sink_;
  nlohmann::json* canon_;
  std::string what_;
  YAML::Mark mark_;
  bool ok_ = false;
  std::vector<const char*> known_;  // keys read or ignored (string literals)
};

// Scalar helpers usable on any node; they report wrong types into `sink`.
std::optional<std::string> ScalarString(YNode n, const std::string& file, DiagSink* sink,
                                        const std::string& what);
std::optional<double> ParseNumber(std::string_view s);
std::optional<bool> ParseBool(std::string_view s);

}  // namespace residency::policy_internal

#endif  // RESIDENCY_LIB_POLICY_YAML_READER_H_
