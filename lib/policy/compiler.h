// Internals of the policy compiler shared by its translation units.
#ifndef RESIDENCY_LIB_POLICY_COMPILER_H_
#define RESIDENCY_LIB_POLICY_COMPILER_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/compiled_set.h"
#include "policy/yaml_reader.h"
#include "residency/policy.h"

namespace residency::policy_internal {

// What a condition parser needs to resolve names.
struct CompileContext {
  const CompileOptions* options = nullptr;
  CompiledSet* set = nullptr;
  Policy* policy = nullptr;  // the policy being compiled (for lists)
  DiagSink* sink = nullptr;
  std::string file;
  std::vector<std::string> list_names;  // this policy's named lists
  // Lists used in location conditions (checked after parsing: entries must resolve).
  std::vector<std::pair<int, YAML::Mark>> location_lists_used;
};

// Parses a condition map (see policies/README.md "Conditions"); records its canonical form.
// On error reports a diagnostic and returns a condition that never holds (kNot of kTrue).
Condition ParseCondition(YNode node, CompileContext& ctx, nlohmann::json* canon, int depth);

// Resolves a jurisdiction (country code or group) to its country set; -1 if unknown.
int ResolveJurisdiction(const CompiledSet& set, const std::string& name);

// Resolves a country/group/location name to the catalogue locations it covers. Returns false
// (and reports) when the name is neither.
bool ResolveLocations(const std::string& name, const YAML::Mark& mark, CompileContext& ctx,
                      LocationBits* out);

// Resolves class names to bits; reports unknown ones.
bool ResolveClasses(const std::vector<std::string>& names, const YAML::Mark& mark,
                    CompileContext& ctx, ClassBits* out);

// Resolves jurisdiction names to countries; reports unknown ones.
bool ResolveCountries(const std::vector<std::string>& names, const YAML::Mark& mark,
                      CompileContext& ctx, CountryBits* out);

// Validates a `kind: tests` file key by key (aux_files.cc).
void CheckTestsFile(YNode root, const std::string& file, DiagSink* sink);
// Validates a `kind: tagging` file as the tagger compiles it (aux_files.cc).
void CheckTaggingFile(const PolicySource& src, DiagSink* sink);
// The keys of a tests file, of a test case and of its `want`, and the decisions `want` takes:
// what CheckTestsFile accepts (policies/schema/tests.schema.json is checked against these).
const std::vector<std::string>& TestsFileKeys();
const std::vector<std::string>& TestCaseKeys();
const std::vector<std::string>& TestWantKeys();
const std::vector<std::string>& TestDecisions();

}  // namespace residency::policy_internal

#endif  // RESIDENCY_LIB_POLICY_COMPILER_H_
