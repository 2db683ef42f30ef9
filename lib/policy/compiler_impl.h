// The policy compiler (the Compiler class) and what its translation units share: loading and
// limits (compiler.cc), the catalogue and classes (catalogue.cc), policy files
// (policy_file.cc), the canonical form and the digest (canonical.cc).
#ifndef RESIDENCY_LIB_POLICY_COMPILER_IMPL_H_
#define RESIDENCY_LIB_POLICY_COMPILER_IMPL_H_

#include <yaml-cpp/yaml.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "policy/compiler.h"
#include "policy/yaml_reader.h"

namespace residency::policy_internal {

struct LoadedFile {
  std::string name;
  std::unique_ptr<YamlDoc> doc;  // released as soon as the file is compiled
  YNode root;
  std::string kind;
};

// The compact JSON of `v` as nlohmann's strict dump prints it; sets `*bad` (and returns an
// empty string) when a string in it is not valid UTF-8.
std::string Dump(const nlohmann::json& v, bool* bad);

// A policy's canonical JSON in three parts, so that its rules can be dumped one by one as they
// are compiled: `before` + `[` + `rules` + `]` + `after` is what nlohmann would print for the
// whole object, `"rules"` being at its sorted place.
struct PolicyCanon {
  std::string id;
  bool has_rules = false;
  std::string before, rules, after;
};

// Fills pc->before and pc->after from `canon` (the policy's canonical object without `rules`).
void SplitAroundRules(const nlohmann::json& canon, bool has_rules, PolicyCanon* pc, bool* bad);

class Compiler {
 public:
  Compiler(const CompileOptions& options, DiagSink* sink) : options_(options), sink_(sink) {
    set_ = std::make_unique<CompiledSet>();
  }

  std::unique_ptr<CompiledSet> Run(const std::vector<PolicySource>& sources);
  // Reads and checks one file by itself (see CheckFolderFile).
  void CheckAlone(const PolicySource& src) { LoadFile(src); }

 private:
  // Reads, checks the limits of and parses one file (compiler.cc).
  void LoadFile(const PolicySource& src);
  // The catalogue and the classes (catalogue.cc).
  void CompileCatalogue(const LoadedFile& f);
  void CompileGroups(const LoadedFile& f, MapReader& r, nlohmann::json& canon, Catalogue& cat);
  void CompileProviders(const LoadedFile& f, MapReader& r, nlohmann::json& canon, Catalogue& cat);
  void CompileLocations(const LoadedFile& f, MapReader& r, nlohmann::json& canon, Catalogue& cat);
  void CollectClasses(const LoadedFile& f);
  void FinishClasses();
  // A policy file, a function per section (policy_file.cc).
  void CompilePolicyFile(const LoadedFile& f);
  void CompileScope(const LoadedFile& f, MapReader& r, CompileContext& ctx, nlohmann::json& canon,
                    Policy& p);
  void CompileObligations(const LoadedFile& f, MapReader& r, nlohmann::json& canon, Policy& p);
  void CompileLists(const LoadedFile& f, MapReader& r, CompileContext& ctx, nlohmann::json& canon,
                    Policy& p);
  bool CompileRules(const LoadedFile& f, MapReader& r, CompileContext& ctx, Policy& p,
                    PolicyCanon& pc);
  void CompileExceptions(const LoadedFile& f, MapReader& r, CompileContext& ctx,
                         nlohmann::json& canon, Policy& p);
  void CompileLifts(const LoadedFile& f, MapReader& r, CompileContext& ctx, nlohmann::json& canon,
                    Policy& p);
  std::vector<RuleTexts> CompileRuleTexts(YNode n, CompileContext& ctx, nlohmann::json* canon,
                                          bool message_only = false);
  void CompileEvidenceTypes(const LoadedFile& f, MapReader& r, nlohmann::json& canon, Policy& p);
  void CompileIgnoredEvidence(const LoadedFile& f, MapReader& r, CompileContext& ctx,
                              nlohmann::json& canon, Policy& p);
  void CompileRule(YNode n, CompileContext& ctx, nlohmann::json* canon, Rule* rule);
  std::vector<int> ResolveObligations(MapReader& r, const char* key, const Policy& p);
  void BuildIndex(Policy* p);
  // Once every policy is compiled and sorted: numbers every condition node (Condition::id),
  // gives every evidence type named an id (CompiledSet::evidence_types, in policy order) and
  // orders each policy's obligations by id (compiler.cc).
  void NumberAndIntern();
  void LintPolicy(const Policy& p, const std::vector<std::string>& rule_whens);
  // Streams the canonical form into set_->digest; false (and reports) when a part held invalid
  // UTF-8 (canonical.cc).
  bool SetDigest();

  const CompileOptions& options_;
  DiagSink* sink_;
  std::unique_ptr<CompiledSet> set_;
  std::vector<LoadedFile> files_;
  // The canonical form (what the digest hashes) by part, dumped as each part is compiled; hashed
  // in key order at the end. `canon_bad_utf8_`: a part held invalid UTF-8.
  std::string canon_catalogue_, canon_classes_;
  std::vector<PolicyCanon> canon_policies_;
  bool canon_bad_utf8_ = false;
  std::vector<std::pair<std::string, std::vector<std::string>>> added_classes_;
  std::vector<std::tuple<std::string, YAML::Mark, std::string>> added_class_marks_;
};

}  // namespace residency::policy_internal

#endif  // RESIDENCY_LIB_POLICY_COMPILER_IMPL_H_
