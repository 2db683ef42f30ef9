// Input at the edges of the compiler: nothing is accepted in part, every mistake gets a precise
// diagnostic (issue 13, items 1, 5 and 6).
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "policy/compiler.h"
#include "residency/lint.h"
#include "residency/policy.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

using ::residency::testing::CompileWith;
using ::residency::testing::Find;
using ::residency::testing::kTestCatalogue;
using ::testing::HasSubstr;
using ::testing::Not;

const char kSmallPolicy[] = R"yaml(kind: policy
id: a
basis: law
rules:
  - {id: a.r, citation: c, message: m, effect: allow, when: {classes: [personal]}}
)yaml";

std::string All(const CompileResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += FormatDiagnostic(d) + "\n";
  return out;
}

CompileResult CompileFiles(const std::vector<PolicySource>& extra) {
  std::vector<PolicySource> sources = {{"regions.yaml", kTestCatalogue}};
  sources.insert(sources.end(), extra.begin(), extra.end());
  return CompilePolicySources(sources);
}

// ---- item 1: a second YAML document is an error at its position -----------------------------

TEST(MultiDocument, SecondPolicyDocumentIsAnErrorAtItsMarker) {
  std::string two = std::string(kSmallPolicy) +
                    "---\nkind: policy\nid: b\nbasis: law\nrules:\n"
                    "  - {id: b.deny, citation: c, message: m, effect: deny, when: {}}\n";
  CompileResult r = CompileWith({two});
  EXPECT_FALSE(r.ok()) << All(r);
  const Diagnostic* d = Find(r, "multiple-documents");
  ASSERT_NE(d, nullptr) << All(r);
  EXPECT_EQ(d->file, "p0.yaml");
  EXPECT_EQ(d->line, 6);
  EXPECT_EQ(d->column, 1);
  EXPECT_EQ(d->severity, Diagnostic::Severity::kError);
}

TEST(MultiDocument, LeadingMarkerIsOneDocumentAndATrailingEmptyOneIsNot) {
  EXPECT_TRUE(CompileWith({std::string("---\n") + kSmallPolicy}).ok());
  EXPECT_TRUE(CompileWith({std::string(kSmallPolicy) + "...\n# end\n"}).ok());
  CompileResult r = CompileWith({std::string(kSmallPolicy) + "---\n"});
  const Diagnostic* d = Find(r, "multiple-documents");
  ASSERT_NE(d, nullptr) << All(r);
  EXPECT_EQ(d->line, 6);
  // A document after an end marker, without `---`.
  CompileResult bare = CompileWith({std::string(kSmallPolicy) + "...\nkind: policy\n"});
  ASSERT_NE(Find(bare, "multiple-documents"), nullptr) << All(bare);
  EXPECT_EQ(Find(bare, "multiple-documents")->line, 7);
}

TEST(MultiDocument, ASecondDocumentWithoutAMarkerIsAnErrorToo) {
  // yaml-cpp starts a new document after any complete node, marker or not.
  CompileResult r =
      CompileWith({"!!map {kind: policy, id: a, basis: law, rules: []}\n{kind: policy, id: b}\n"});
  const Diagnostic* d = Find(r, "multiple-documents");
  ASSERT_NE(d, nullptr) << All(r);
  EXPECT_EQ(d->line, 2);
  EXPECT_EQ(d->column, 1);
}

TEST(MultiDocument, SecondDocumentWithASyntaxErrorIsStillNamedAsSecondDocument) {
  CompileResult r = CompileWith({std::string(kSmallPolicy) + "---\nkind: [unclosed\n"});
  ASSERT_NE(Find(r, "multiple-documents"), nullptr) << All(r);
}

TEST(MultiDocument, CatalogueTestsAndTaggingFilesToo) {
  CompileResult c = CompilePolicySources(
      {{"regions.yaml", std::string(kTestCatalogue) + "---\nkind: catalogue\n"},
       {"a.yaml", kSmallPolicy}});
  ASSERT_NE(Find(c, "multiple-documents"), nullptr) << All(c);
  EXPECT_EQ(Find(c, "multiple-documents")->file, "regions.yaml");
  CompileResult t =
      CompileFiles({{"t.yaml", "kind: tests\ncases: []\n---\nkind: tests\ncases: []\n"}});
  ASSERT_NE(Find(t, "multiple-documents"), nullptr) << All(t);
  EXPECT_EQ(Find(t, "multiple-documents")->line, 3);
  CompileResult g = CompileFiles({{"g.yaml", "kind: tagging\nversion: 1\n---\nkind: tagging\n"}});
  ASSERT_NE(Find(g, "multiple-documents"), nullptr) << All(g);
}

// ---- item 5: tests and tagging files are validated key by key -------------------------------

TEST(LintTestsFiles, MisspelledKeysAreUnknownKeysWithAHint) {
  CompileResult r = CompileFiles({{"t.yaml",
                                   "kind: tests\n"
                                   "cases:\n"
                                   "  - name: one\n"
                                   "    requets: {kind: dataset}\n"
                                   "    want: {decison: deny}\n"}});
  EXPECT_FALSE(r.ok());
  std::vector<const Diagnostic*> unknown;
  for (const auto& d : r.diagnostics)
    if (d.code == "unknown-key") unknown.push_back(&d);
  ASSERT_EQ(unknown.size(), 2u) << All(r);
  EXPECT_EQ(unknown[0]->file, "t.yaml");
  EXPECT_EQ(unknown[0]->line, 4);
  EXPECT_EQ(unknown[0]->column, 5);
  EXPECT_THAT(unknown[0]->message, HasSubstr("did you mean `request`"));
  EXPECT_EQ(unknown[1]->line, 5);
  EXPECT_EQ(unknown[1]->column, 12);
  EXPECT_THAT(unknown[1]->message, HasSubstr("did you mean `decision`"));
}

TEST(LintTestsFiles, WrongTypesAndBadValuesAreReported) {
  CompileResult r = CompileFiles({{"t.yaml",
                                   "kind: tests\n"
                                   "cases:\n"
                                   "  - name: one\n"
                                   "    request: {kind: dataset}\n"
                                   "    want: {decision: dney, rules: {a: b}}\n"
                                   "  - name: two\n"
                                   "    want: {decision: deny}\n"}});
  EXPECT_FALSE(r.ok());
  const Diagnostic* bad = Find(r, "bad-value");
  ASSERT_NE(bad, nullptr) << All(r);
  EXPECT_THAT(bad->message, HasSubstr("did you mean `deny`"));
  const Diagnostic* wt = Find(r, "wrong-type");
  ASSERT_NE(wt, nullptr) << All(r);
  EXPECT_EQ(wt->line, 5);
  ASSERT_NE(Find(r, "missing-key"), nullptr) << All(r);  // case two: no request
}

TEST(LintTestsFiles, CasesMustBeAList) {
  CompileResult r = CompileFiles({{"t.yaml", "kind: tests\ncases: {a: b}\n"}});
  const Diagnostic* wt = Find(r, "wrong-type");
  ASSERT_NE(wt, nullptr) << All(r);
  EXPECT_EQ(wt->line, 2);
  EXPECT_EQ(Find(r, "yaml-syntax"), nullptr);
}

TEST(LintTaggingFiles, MisspelledKeyIsAnErrorAtItsPositionWithAHint) {
  CompileResult r =
      CompileFiles({{"tagging.yaml", "kind: tagging\nversion: 1\nmax_scan_byte: 4096\n"}});
  EXPECT_FALSE(r.ok());
  const Diagnostic* d = Find(r, "unknown-key");
  ASSERT_NE(d, nullptr) << All(r);
  EXPECT_EQ(d->file, "tagging.yaml");
  EXPECT_EQ(d->line, 3);
  EXPECT_EQ(d->column, 1);
  EXPECT_THAT(d->message, HasSubstr("did you mean `max_scan_bytes`"));
}

// The tests-file validator is the source of truth; policies/schema/tests.schema.json must name
// exactly its keys and decisions, and the validator must accept exactly its own key lists.
TEST(LintTestsFiles, SchemaAndValidatorAgreeKeyByKey) {
  std::ifstream in(std::string(RESIDENCY_SOURCE_DIR) + "/policies/schema/tests.schema.json");
  ASSERT_TRUE(in) << "tests.schema.json not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const nlohmann::json schema = nlohmann::json::parse(ss.str());
  auto keys = [](const nlohmann::json& props) {
    std::set<std::string> out;
    for (auto it = props.begin(); it != props.end(); ++it) out.insert(it.key());
    return out;
  };
  auto set_of = [](const std::vector<std::string>& v) {
    return std::set<std::string>(v.begin(), v.end());
  };
  using namespace policy_internal;  // NOLINT(build/namespaces)
  const nlohmann::json& kase = schema["$defs"]["case"];
  EXPECT_EQ(keys(schema["properties"]), set_of(TestsFileKeys()));
  // `note` is a comment the validator ignores; the schema does not name it.
  std::set<std::string> case_keys = set_of(TestCaseKeys());
  case_keys.erase("note");
  EXPECT_EQ(keys(kase["properties"]), case_keys);
  EXPECT_EQ(keys(kase["properties"]["want"]["properties"]), set_of(TestWantKeys()));
  EXPECT_EQ(set_of(kase["properties"]["want"]["properties"]["decision"]["enum"]
                       .get<std::vector<std::string>>()),
            set_of(TestDecisions()));
  // The validator accepts every listed key and refuses one that is not listed.
  for (const auto& k : TestCaseKeys()) {
    std::string text =
        "kind: tests\ncases:\n  - {name: n, request_file: r.json, want: {}, " +
        (k == "name" || k == "want" || k == "request_file" ? std::string("note: x")
                                                           : k + (k == "now" ? ": \"2026-01-01\""
                                                                  : k == "request" ? ": "
                                                                                   : ": x")) +
        "}\n";
    if (k == "request") text = "kind: tests\ncases:\n  - {name: n, request: {}, want: {}}\n";
    for (const auto& d : CheckFolderFile({"t.yaml", text})) {
      EXPECT_NE(d.code, "unknown-key") << k << ": " << FormatDiagnostic(d);
    }
  }
  for (const auto& k : TestWantKeys()) {
    std::string text = "kind: tests\ncases:\n  - {name: n, request_file: r.json, want: {" + k +
                       (k == "decision" ? ": deny" : ": [x]") + "}}\n";
    for (const auto& d : CheckFolderFile({"t.yaml", text})) {
      EXPECT_NE(d.code, "unknown-key") << k << ": " << FormatDiagnostic(d);
    }
  }
  bool refused = false;
  for (const auto& d : CheckFolderFile(
           {"t.yaml", "kind: tests\ncases:\n  - {name: n, request_file: r, want: {}, x: 1}\n"})) {
    refused |= d.code == "unknown-key";
  }
  EXPECT_TRUE(refused);
}

// ---- item 6: precise messages ----------------------------------------------------------------

TEST(PreciseErrors, MappingWhereAListIsExpectedIsWrongTypeAtItsPosition) {
  const std::string policy = std::string(kSmallPolicy) + "lifts: {a: b}\n";
  CompileResult r = CompileWith({policy});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(Find(r, "yaml-syntax"), nullptr) << All(r);
  const Diagnostic* d = Find(r, "wrong-type");
  ASSERT_NE(d, nullptr) << All(r);
  EXPECT_EQ(d->file, "p0.yaml");
  EXPECT_EQ(d->line, 6);
  EXPECT_EQ(d->column, 8);
}

TEST(PreciseErrors, EveryListFieldGivenAMappingIsWrongType) {
  // Each of these once reached a range-for over a mapping.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rules", "kind: policy\nid: a\nbasis: law\nrules: {a: b}\n"},
      {"list", "kind: policy\nid: a\nbasis: law\nlists:\n  l: {a: b}\nrules: []\n"},
      {"any",
       "kind: policy\nid: a\nbasis: law\nrules:\n"
       "  - {id: a.r, citation: c, message: m, effect: deny, when: {any: {a: b}}}\n"},
      {"ignore_evidence", "kind: policy\nid: a\nbasis: law\nignore_evidence: {a: b}\nrules: []\n"},
  };
  for (const auto& [what, text] : cases) {
    CompileResult r = CompileWith({text});
    EXPECT_FALSE(r.ok()) << what;
    EXPECT_EQ(Find(r, "yaml-syntax"), nullptr) << what << "\n" << All(r);
    const Diagnostic* d = Find(r, "wrong-type");
    ASSERT_NE(d, nullptr) << what << "\n" << All(r);
    EXPECT_GT(d->line, 0) << what;
  }
}

TEST(PreciseErrors, NotUtf8NamesTheFileAndTheByteWithoutEchoingIt) {
  std::string policy = kSmallPolicy;
  policy.replace(policy.find("message: m"), 10, "message: \xff\xfe");
  CompileResult r = CompileWith({policy});
  EXPECT_FALSE(r.ok());
  const Diagnostic* d = Find(r, "encoding");
  ASSERT_NE(d, nullptr) << All(r);
  EXPECT_EQ(d->file, "p0.yaml");
  EXPECT_EQ(d->line, 5);
  EXPECT_THAT(d->message, HasSubstr("not UTF-8 text at byte "));
  for (const auto& diag : r.diagnostics) {
    EXPECT_EQ(diag.message.find('\xff'), std::string::npos) << diag.message;
    EXPECT_FALSE(diag.file.empty()) << diag.message;
  }
}

TEST(PreciseErrors, CountryAsAlpha3OrNameGetsTheAlpha2Hint) {
  const std::vector<std::pair<std::string, std::string>> cases = {{"USA", "US"},
                                                                  {"Korea", "KR"},
                                                                  {"DEU", "DE"},
                                                                  {"Germany", "DE"},
                                                                  {"KOR", "KR"},
                                                                  {"south korea", "KR"},
                                                                  {"United Kingdom", "GB"},
                                                                  {"JPN", "JP"}};
  for (const auto& [written, want] : cases) {
    std::string cat = kTestCatalogue;
    cat.replace(cat.find("country: US}"), 11, "country: \"" + written + "\"");
    CompileResult r = CompilePolicySources({{"regions.yaml", cat}, {"a.yaml", kSmallPolicy}});
    EXPECT_FALSE(r.ok()) << written;
    bool hinted = false;
    for (const auto& d : r.diagnostics) {
      hinted |= d.message.find("did you mean `" + want + "`") != std::string::npos;
    }
    EXPECT_TRUE(hinted) << written << "\n" << All(r);
  }
}

TEST(PreciseErrors, UnknownJurisdictionInAConditionGetsAHint) {
  std::string policy = kSmallPolicy;
  policy.replace(policy.find("classes: [personal]"), 19, "origins: [USA]");
  CompileResult r = CompileWith({policy});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(All(r), HasSubstr("did you mean `US`")) << All(r);
  EXPECT_THAT(All(r), Not(HasSubstr("did you mean `SA`")));
}

}  // namespace
}  // namespace residency
