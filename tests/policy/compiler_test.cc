#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "policy/compiled_set.h"
#include "policy/yaml_tree.h"
#include "residency/lint.h"
#include "residency/policy.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

using ::residency::testing::CompileWith;
using ::residency::testing::Find;
using ::testing::HasSubstr;

// A valid policy used as the base of most cases.
const char kPolicy[] = R"yaml(kind: policy
id: kr
basis: law
scope: {origins: [KR]}
obligations:
  kr.disclose: "disclose the transfer"
lists:
  recognized:
    - {value: EU, effective_from: "2025-09-16"}
rules:
  - id: kr.cross_border
    citation: "PIPA Art. 28-8(1)"
    message: "Korean personal data leaves Korea only on a basis"
    when: {classes: [personal], origins: [KR], location: {not_in: [KR]}}
    alternatives:
      - name: consent
        when: {evidence: {types: [consent.cross_border], require: [country, recipient]}}
        effect: allow_with_obligations
        obligations: [kr.disclose]
      - name: recognized
        when: {location: {in_list: recognized}}
        effect: allow
    otherwise: deny
)yaml";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

// The digest is SHA-256 of the canonical form: these values were computed by the compiler
// that built the form as one nlohmann tree (before it was streamed part by part); they must not
// change unless the canonical form is meant to.
const char kDigestPolicy[] = R"yaml(kind: policy
id: pin
basis: corp
mode: dry_run
title: "ignored"
scope: {origins: [KR, EU], operator_sectors: [finance], user_jurisdictions: [KR]}
classes:
  - {id: "pin.secret", is_a: [personal]}
obligations:
  pin.log: "log it \"quoted\" \\ back\tslash — é 😀"
  pin.ask: ask
lists:
  near:
    - KR
    - {value: "aws:ap-northeast-1", effective_from: "2025-01-01", effective_until: "2026-01-01T12:30:00Z"}
  partners: [acme, "b\u00e9ta"]
rules:
  - id: pin.a
    basis: law
    citation: "Art. 1"
    message: "numbers"
    effective_from: "2025-02-03"
    when:
      any:
        - {subjects: {gte: 1e3, lt: 1_000_000}}
        - {training_flops: {gt: 10e25}}
        - {retention_hours: {lte: 0.5}}
        - not: {tags: ["KR:personal", "*:pin.secret"]}
      kind: dataset
      action: [store, transfer]
      transfer: {types: [backup], patterns: [replication], transactions: [sale]}
      dataset_id_matches: "^ds-[0-9]+$"
      uri_matches: "s3://.*"
    effect: allow_with_obligations
    obligations: [pin.log]
    suggest: false
  - id: pin.b
    citation: "Art. 2"
    message: "locations and parties"
    mode: enforce
    when:
      all:
        - location: {in: [KR, "aws:eu-central-1"], not_in_list: near, certifications: ["csap:high"], sites: [gov], providers: [ncp], outside_origin: true, attributes: {korean_provider: yes, tier: 2}}
        - operator: {present: true, ids: [op1], id_matches: "op.*", countries: [KR], sectors: [finance], attributes: {x: "1"}}
        - recipient: {roles: [processor], in_list: partners, attributes: {y: false}}
        - user: {jurisdictions: [KR], provenance: [verified]}
        - evidence: {types: [consent], match_country: false, require: [country, origin]}
      purpose: [ads]
      use_case: chat
      tier: gold
      job: training
      artifact: model
    alternatives:
      - {name: ok, when: {evidence: {types: [scc]}}, effect: allow}
      - {name: esc, effect: escalate}
    otherwise: escalate
  - id: pin.c
    citation: "Art. 3"
    message: "plain"
    effect: deny
exceptions:
  - {id: x1, owner: "me", ticket: "T-1", rules: [pin.b], not_before: "2025-01-01", not_after: "2025-02-01", when: {purpose: [research]}, obligations: [pin.ask]}
lifts:
  - {evidence: [anonymisation_report], classes: [personal], artifacts: [dataset], match_origin: false}
ignore_evidence:
  - {types: [self_declared], classes: [pin.secret]}
)yaml";
const char kDigestSecond[] = R"yaml(kind: policy
id: another
basis: law
rules:
  - {id: z, citation: c, message: m, when: {classes: [public]}, effect: allow}
)yaml";

TEST(Digest, PinnedForARichSet) {
  CompileResult r = CompileWith({kDigestPolicy, kDigestSecond});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  EXPECT_EQ(r.snapshot->digest(),
            "sha256:3ac3a5fc929e3bca4d7ff0e695ee5c113897ec3cacc528bf88bf08bb9305875e");
}

TEST(Digest, PinnedForTheShippedSet) {
  // Update together with policies/: the value is `residency lint policies` of a trusted build.
  CompileResult r = CompilePolicies({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  EXPECT_EQ(r.snapshot->digest(),
            "sha256:9a01ba0e2fdd4bf5bc692f581a26339995a7d36da238b782faecc3c6c358ba4e");
}

TEST(Digest, SameAcrossFileOrderAndFormatting) {
  std::string reformatted = Replace(
      kDigestSecond, "{id: z, citation: c, message: m, when: {classes: [public]}, effect: allow}",
      "id: z\n    effect: allow   # comment\n    message: m\n    citation: c\n    when:\n      "
      "classes: public");
  CompileResult a = CompileWith({kDigestPolicy, kDigestSecond});
  CompileResult b = CompileWith({reformatted, kDigestPolicy});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.snapshot->digest(), b.snapshot->digest());
}

TEST(KeepSources, TheSnapshotHoldsWhatItWasCompiledFromOnlyWhenAsked) {
  const std::string dir = std::string(RESIDENCY_SOURCE_DIR) + "/policies";
  CompileResult plain = CompilePolicies({dir});
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain.snapshot->sources().empty());
  CompileOptions keep;
  keep.keep_sources = true;
  CompileResult kept = CompilePolicies({dir}, keep);
  ASSERT_TRUE(kept.ok());
  const auto& sources = kept.snapshot->sources();
  ASSERT_GT(sources.size(), 2u);
  EXPECT_EQ(sources.front().name.substr(0, dir.size()), dir);
  // Compiled again from them: the same set.
  CompileResult again = CompilePolicySources(sources);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.snapshot->digest(), plain.snapshot->digest());
}

TEST(YamlDoc, RecordsWhatYamlLoadBuilds) {
  using policy_internal::YamlDoc;
  using policy_internal::YNode;
  auto doc = YamlDoc::Parse("a: &x [1, {k: v}]\nb: *x\nc:\nd: ~\ne: 'null'\na: 3\n");
  YNode root = doc->root();
  ASSERT_TRUE(root.IsMap());
  EXPECT_EQ(root.size(), 6u);               // the duplicate `a` is kept for the reader to report
  EXPECT_TRUE(root.Get("a").IsSequence());  // the first of duplicates
  EXPECT_EQ(root.Key(5).Mark().line, 5);
  YNode b = root.Get("b");
  ASSERT_TRUE(b.IsSequence());
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].Scalar(), "1");
  EXPECT_EQ(b[1].Get("k").Scalar(), "v");
  EXPECT_TRUE(root.Get("c").IsNull());
  EXPECT_TRUE(root.Get("d").IsNull());
  EXPECT_TRUE(root.Get("e").IsScalar());
  EXPECT_EQ(root.Get("e").Scalar(), "null");
  EXPECT_FALSE(root.Get("zz").IsDefined());
  EXPECT_EQ(root.Get("zz").Mark().line, 0);
  int n = 0;
  for (YNode e : root.Get("a")) n += e.IsDefined();
  EXPECT_EQ(n, 2);
  EXPECT_TRUE(YamlDoc::Parse("")->root().IsNull());
  EXPECT_TRUE(YamlDoc::Parse("# only a comment\n")->root().IsNull());
  try {
    YamlDoc::Parse("a: [1, 2\nb: c\n");
    ADD_FAILURE() << "no exception";
  } catch (const YAML::Exception& e) {
    EXPECT_FALSE(e.mark.is_null());
  }
}

TEST(Compiler, ValidPolicyCompiles) {
  CompileResult r = CompileWith({kPolicy});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  EXPECT_EQ(r.snapshot->policy_ids(), std::vector<std::string>{"kr"});
  EXPECT_EQ(r.snapshot->rule_count(), 1u);
  EXPECT_EQ(r.snapshot->digest().substr(0, 7), "sha256:");
  EXPECT_EQ(r.snapshot->digest().size(), 7u + 64u);
}

TEST(Diagnostics, MalformedYamlHasPosition) {
  CompileResult r = CompileWith({"kind: policy\nid: [unclosed\n"});
  ASSERT_FALSE(r.ok());
  const Diagnostic* d = Find(r, "yaml-syntax");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->file, "p0.yaml");
  EXPECT_GE(d->line, 2);
  EXPECT_GE(d->column, 1);
  EXPECT_THAT(FormatDiagnostic(*d), ::testing::StartsWith("p0.yaml:"));
}

TEST(Diagnostics, UnknownKeyWithDidYouMean) {
  CompileResult r =
      CompileWith({Replace(kPolicy, "    citation:", "    citaton: x\n    citation:")});
  const Diagnostic* d = Find(r, "unknown-key");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("`citaton`"));
  EXPECT_THAT(d->message, HasSubstr("did you mean `citation`"));
  EXPECT_EQ(d->line, 12);
  EXPECT_EQ(d->column, 5);
}

TEST(Diagnostics, UnknownConditionKey) {
  CompileResult r =
      CompileWith({Replace(kPolicy, "origins: [KR], location", "orgins: [KR], location")});
  const Diagnostic* d = Find(r, "unknown-key");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("did you mean `origins`"));
  EXPECT_EQ(d->line, 14);
}

TEST(Diagnostics, WrongType) {
  CompileResult r = CompileWith({Replace(kPolicy, "classes: [personal]", "classes: {a: b}")});
  const Diagnostic* d = Find(r, "wrong-type");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("`classes` must be a list"));
  EXPECT_EQ(d->line, 14);
}

TEST(Diagnostics, BadEnumValue) {
  CompileResult r = CompileWith({Replace(kPolicy, "otherwise: deny", "otherwise: denny")});
  const Diagnostic* d = Find(r, "bad-value");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("did you mean `deny`"));
  EXPECT_EQ(d->line, 23);
}

TEST(Diagnostics, DuplicateRuleIds) {
  std::string twice =
      std::string(kPolicy) + "  - {id: kr.cross_border, citation: c, message: m, effect: deny}\n";
  CompileResult r = CompileWith({twice});
  const Diagnostic* d = Find(r, "duplicate-id");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("duplicate rule id `kr.cross_border`"));
  EXPECT_EQ(d->line, 24);
}

TEST(Diagnostics, DuplicatePolicyIdsAcrossFiles) {
  CompileResult r = CompileWith({kPolicy, kPolicy});
  const Diagnostic* d = Find(r, "duplicate-id");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("policy id `kr` is also defined"));
}

TEST(Diagnostics, DuplicateYamlKey) {
  CompileResult r = CompileWith({Replace(kPolicy, "basis: law\n", "basis: law\nbasis: corp\n")});
  const Diagnostic* d = Find(r, "duplicate-key");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->line, 4);
}

TEST(Diagnostics, DanglingReferences) {
  struct Case {
    std::string from, to, needle;
  } cases[] = {
      {"not_in: [KR]", "not_in: [\"aws:eu-west-9\"]",
       "`aws:eu-west-9` is neither a catalogue location"},
      {"origins: [KR], location", "origins: [UK], location", "the UK is GB"},
      {"classes: [personal]", "classes: [personal.credt]", "did you mean `personal.credit`"},
      {"in_list: recognized", "in_list: recognised", "unknown list `recognised`"},
      {"obligations: [kr.disclose]", "obligations: [kr.disclosure]",
       "unknown obligation `kr.disclosure`"},
  };
  for (const auto& c : cases) {
    CompileResult r = CompileWith({Replace(kPolicy, c.from, c.to)});
    const Diagnostic* d = Find(r, "dangling-reference");
    ASSERT_NE(d, nullptr) << c.to;
    EXPECT_THAT(d->message, HasSubstr(c.needle));
    EXPECT_GT(d->line, 0) << c.to;
  }
}

TEST(Diagnostics, DanglingGroupInCatalogue) {
  std::string cat = Replace(residency::testing::kTestCatalogue, "members: [EU, IS, LI, \"NO\"]",
                            "members: [EUU, IS]");
  CompileResult r = CompilePolicySources({{"regions.yaml", cat}});
  const Diagnostic* d = Find(r, "dangling-reference");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("did you mean `EU`"));
}

TEST(Diagnostics, InvalidRegexCarriesRe2Message) {
  std::string p =
      Replace(kPolicy, "when: {classes: [personal], origins: [KR],",
              "when: {uri_matches: \"s3://(unclosed\", classes: [personal], origins: [KR],");
  CompileResult r = CompileWith({p});
  const Diagnostic* d = Find(r, "invalid-regex");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("missing )"));
  EXPECT_EQ(d->line, 14);
}

TEST(Diagnostics, InvalidDate) {
  CompileResult r = CompileWith({Replace(kPolicy, "2025-09-16", "2025-13-16")});
  const Diagnostic* d = Find(r, "invalid-date");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->line, 9);
}

const char kCorpPolicy[] = R"yaml(kind: policy
id: corp
basis: corp
obligations:
  corp.review: "review"
rules:
  - {id: corp.tier, citation: "POL-1", message: "m", when: {tier: [sovereign-kr], location: {not_in: [KR]}}, effect: deny}
  - {id: corp.law_mirror, basis: law, citation: "PIPA", message: "m", when: {classes: [kr.rrn]}, effect: deny}
exceptions:
  - {id: EXC-1, owner: a, ticket: T-1, rules: [RULE], not_before: "2026-01-01", not_after: "2026-02-01", obligations: [corp.review]}
)yaml";

TEST(Diagnostics, ExceptionMayNotOverrideLaw) {
  CompileResult ok = CompileWith({Replace(kCorpPolicy, "RULE", "corp.tier")});
  EXPECT_TRUE(ok.ok());
  CompileResult r = CompileWith({Replace(kCorpPolicy, "RULE", "corp.law_mirror")});
  const Diagnostic* d = Find(r, "exception-overrides-law");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->line, 10);
  EXPECT_FALSE(r.ok());
}

TEST(Diagnostics, ExceptionNeedsExpiryAndWarnsWhenLong) {
  CompileResult r = CompileWith(
      {Replace(Replace(kCorpPolicy, "RULE", "corp.tier"), ", not_after: \"2026-02-01\"", "")});
  EXPECT_NE(Find(r, "missing-key"), nullptr);
  CompileResult l =
      CompileWith({Replace(Replace(kCorpPolicy, "RULE", "corp.tier"), "2026-02-01", "2026-12-01")});
  EXPECT_TRUE(l.ok());
  EXPECT_NE(Find(l, "long-exception"), nullptr);
}

TEST(Diagnostics, ShadowedAndUnreachableRulesWarn) {
  std::string shadow =
      Replace(Replace(kCorpPolicy, "RULE", "corp.tier"), "exceptions:",
              "  - {id: corp.tier2, citation: \"POL-1\", message: \"m2\", when: {tier: "
              "[sovereign-kr], location: {not_in: [KR]}}, effect: deny}\nexceptions:");
  CompileResult r = CompileWith({shadow});
  ASSERT_TRUE(r.ok());
  const Diagnostic* d = Find(r, "shadowed-rule");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("`corp.tier2` is shadowed by rule `corp.tier`"));
  EXPECT_EQ(d->severity, Diagnostic::Severity::kWarning);
  EXPECT_EQ(d->line, 9);

  std::string never =
      Replace(Replace(kCorpPolicy, "RULE", "corp.tier"), "exceptions:",
              "  - {id: corp.never, citation: c, message: m, effect: deny, effective_from: "
              "\"2027-01-01\", effective_until: \"2026-01-01\"}\nexceptions:");
  CompileResult u = CompileWith({never});
  EXPECT_NE(Find(u, "unreachable-rule"), nullptr);
}

TEST(Limits, FileSizeRuleCountNestingPattern) {
  CompileOptions small;
  small.max_file_bytes = 200;
  EXPECT_NE(Find(CompileWith({kPolicy}, small), "limit"), nullptr);

  CompileOptions few;
  few.max_rules = 1;
  std::string two =
      std::string(kPolicy) + "  - {id: kr.b, citation: c, message: m, effect: deny}\n";
  CompileResult r2 = CompileWith({two}, few);
  const Diagnostic* d = Find(r2, "limit");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("more than 1 rules"));

  std::string deep = "kind: policy\nid: x\nbasis: law\nrules: " + std::string(200, '[') +
                     std::string(200, ']') + "\n";
  CompileResult r3 = CompileWith({deep});
  d = Find(r3, "limit");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("nesting"));

  CompileOptions tiny_pattern;
  tiny_pattern.max_pattern_bytes = 4;
  std::string p =
      Replace(kPolicy, "when: {classes: [personal], origins: [KR],",
              "when: {uri_matches: \"^s3://kr-.*$\", classes: [personal], origins: [KR],");
  EXPECT_NE(Find(CompileWith({p}, tiny_pattern), "limit"), nullptr);
}

TEST(Limits, PathologicalRegexIsBoundedByRe2Memory) {
  CompileOptions o;
  o.max_regex_memory = 1 << 10;  // far too little for the pattern below
  std::string p = Replace(
      kPolicy, "when: {classes: [personal], origins: [KR],",
      "when: {uri_matches: \"((a{1,100}){1,100}){1,100}\", classes: [personal], origins: [KR],");
  CompileResult r = CompileWith({p}, o);
  EXPECT_NE(Find(r, "invalid-regex"), nullptr);
}

TEST(Files, InvalidUtf8IsRefusedNotThrown) {
  // Found by policy_fuzzer: the canonical form must not throw on invalid UTF-8.
  CompileResult r = CompileWith({Replace(kPolicy, "leaves Korea only", "leaves \xff\xfe Korea")});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(Find(r, "encoding"), nullptr);
  EXPECT_NO_THROW(RenderDiagnostics(r.diagnostics, LintFormat::kSarif));
}

TEST(Files, NeedsKindAndOneCatalogue) {
  CompileResult r = CompilePolicySources({{"a.yaml", "id: x\n"}});
  ASSERT_NE(Find(r, "kind"), nullptr);
  EXPECT_EQ(Find(r, "kind")->line, 1);
  CompileResult none = CompilePolicySources({{"a.yaml", kPolicy}});
  EXPECT_NE(Find(none, "no-catalogue"), nullptr);
  CompileResult two = CompilePolicySources({{"a.yaml", residency::testing::kTestCatalogue},
                                            {"b.yaml", residency::testing::kTestCatalogue}});
  EXPECT_NE(Find(two, "duplicate-id"), nullptr);
}

// ---- Digest -------------------------------------------------------------------------------

std::string DigestOf(const std::string& policy) {
  CompileResult r = CompileWith({policy});
  EXPECT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  return r.ok() ? r.snapshot->digest() : "";
}

TEST(Digest, StableUnderFormattingCommentsAndKeyOrder) {
  std::string base = DigestOf(kPolicy);
  // Comments and blank lines.
  EXPECT_EQ(base, DigestOf("# a comment\n\n" + std::string(kPolicy) + "# trailing\n"));
  // Key order inside a rule and at the top.
  EXPECT_EQ(base, DigestOf(Replace(Replace(kPolicy, "    citation: \"PIPA Art. 28-8(1)\"\n", ""),
                                   "    otherwise: deny",
                                   "    otherwise: deny\n    citation: \"PIPA Art. 28-8(1)\"")));
  EXPECT_EQ(base, DigestOf(Replace(Replace(kPolicy, "basis: law\n", ""), "id: kr\n",
                                   "id: kr\nbasis: law\n")));
  // Flow vs block style and quoting.
  EXPECT_EQ(base, DigestOf(Replace(kPolicy, "scope: {origins: [KR]}",
                                   "scope:\n  origins:\n    - \"KR\"")));
  // Documentation keys do not count.
  EXPECT_EQ(base,
            DigestOf(Replace(kPolicy, "basis: law\n", "basis: law\ntitle: Korea\nnote: x\n")));
  // The same date written two ways.
  EXPECT_EQ(base, DigestOf(Replace(kPolicy, "\"2025-09-16\"", "\"2025-09-16T09:00:00+09:00\"")));
}

TEST(Digest, ChangesWithEverySemanticEdit) {
  std::string base = DigestOf(kPolicy);
  EXPECT_NE(base, DigestOf(Replace(kPolicy, "leaves Korea only", "leaves Korea solely")));
  EXPECT_NE(base, DigestOf(Replace(kPolicy, "otherwise: deny", "otherwise: escalate")));
  EXPECT_NE(base, DigestOf(Replace(kPolicy, "2025-09-16", "2025-09-17")));
  EXPECT_NE(base, DigestOf(Replace(kPolicy, "\"disclose the transfer\"", "\"disclose it\"")));
  EXPECT_NE(base,
            DigestOf(Replace(kPolicy, "require: [country, recipient]", "require: [country]")));
  // Alternative order matters as written.
  std::string swapped = kPolicy;
  auto a = swapped.find("      - name: consent");
  auto b = swapped.find("      - name: recognized");
  auto e = swapped.find("    otherwise:");
  std::string first = swapped.substr(a, b - a), second = swapped.substr(b, e - b);
  swapped = swapped.substr(0, a) + second + first + swapped.substr(e);
  EXPECT_NE(base, DigestOf(swapped));
  // The catalogue is covered too.
  std::string cat = Replace(residency::testing::kTestCatalogue, "country: JP, city: Tokyo",
                            "country: JP, city: Tokyo, certifications: [iso27001]");
  CompileResult r = CompilePolicySources({{"regions.yaml", cat}, {"p.yaml", kPolicy}});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(base, r.snapshot->digest());
}

// ---- Catalogue resolution ------------------------------------------------------------------

TEST(Catalogue, PrefixTrapsResolveByCountryNotCode) {
  // A rule on EU locations must not see London or Zurich.
  std::string p = R"yaml(kind: policy
id: t
basis: law
rules:
  - {id: t.eu, citation: c, message: m, when: {location: {in: [EU]}}, effect: deny}
  - {id: t.eea, citation: c, message: m, when: {location: {in: [EEA]}}, effect: escalate}
)yaml";
  CompileResult r = CompileWith({p});
  ASSERT_TRUE(r.ok());
  const auto& set = r.snapshot->impl();
  const auto& cat = set.catalogue;
  auto loc = [&](const char* id) { return cat.location_index.at(id); };
  EXPECT_EQ(cat.locations[loc("aws:eu-west-2")].country_code, "GB");
  EXPECT_EQ(cat.locations[loc("aws:eu-central-2")].country_code, "CH");
  EXPECT_EQ(cat.locations[loc("aws:ap-east-1")].country_code, "HK");
  const auto& in_eu = set.policies[0].rules[0].when.location->in;
  EXPECT_TRUE(in_eu.Test(loc("aws:eu-central-1")));
  EXPECT_FALSE(in_eu.Test(loc("aws:eu-west-2")));
  EXPECT_FALSE(in_eu.Test(loc("aws:eu-central-2")));
  // Groups reference groups: EEA = EU + IS, LI, NO.
  int eea = cat.jurisdiction_index.at("EEA");
  EXPECT_TRUE(cat.jurisdiction_members[eea].Test(policy_internal::IsoCountryIndex("NO")));
  EXPECT_TRUE(cat.jurisdiction_members[eea].Test(policy_internal::IsoCountryIndex("DE")));
  EXPECT_FALSE(cat.jurisdiction_members[eea].Test(policy_internal::IsoCountryIndex("GB")));
  // CN_MAINLAND excludes Hong Kong.
  int cn = cat.jurisdiction_index.at("CN_MAINLAND");
  EXPECT_FALSE(cat.jurisdiction_members[cn].Test(policy_internal::IsoCountryIndex("HK")));
}

TEST(Catalogue, GroupCycleIsAnError) {
  std::string cat = Replace(residency::testing::kTestCatalogue, "CN_MAINLAND: {members: [CN]}",
                            "CN_MAINLAND: {members: [CN, LOOP]}\n  LOOP: {members: [CN_MAINLAND]}");
  CompileResult r = CompilePolicySources({{"regions.yaml", cat}});
  const Diagnostic* d = Find(r, "dangling-reference");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("cycle"));
}

TEST(Catalogue, ShippedCatalogueHasTheTraps) {
  std::string dir = std::string(RESIDENCY_SOURCE_DIR) + "/policies/regions.yaml";
  CompileResult r = CompilePolicies({dir});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  const auto& cat = r.snapshot->impl().catalogue;
  auto country = [&](const char* id) {
    return cat.locations[cat.location_index.at(id)].country_code;
  };
  EXPECT_EQ(country("aws:eu-west-2"), "GB");
  EXPECT_EQ(country("aws:eu-central-2"), "CH");
  EXPECT_EQ(country("gcp:europe-west6"), "CH");
  EXPECT_EQ(country("aws:ap-east-1"), "HK");
  EXPECT_EQ(country("alibaba:cn-hongkong"), "HK");
  EXPECT_EQ(country("ncp:FKR"), "KR");
  EXPECT_EQ(country("site:naver-gak-sejong"), "KR");
  EXPECT_EQ(country("aws:eusc-de-east-1"), "DE");
  EXPECT_GE(cat.locations.size(), 100u);
}

TEST(Shipped, PolicySetCompilesWithoutWarnings) {
  CompileResult r = CompilePolicies({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(r.ok());
  for (const auto& d : r.diagnostics) ADD_FAILURE() << FormatDiagnostic(d);
  auto ids = r.snapshot->policy_ids();
  for (const char* want : {"cn", "corp-sovereign-model", "eu", "in", "jp", "kr", "us"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), want), ids.end()) << want;
  }
}

// ---- Output formats --------------------------------------------------------------------------

TEST(LintOutput, JsonAndSarifShapes) {
  CompileResult r =
      CompileWith({Replace(kPolicy, "    citation:", "    citaton: x\n    citation:")});
  ASSERT_FALSE(r.diagnostics.empty());
  auto j = nlohmann::json::parse(RenderDiagnostics(r.diagnostics, LintFormat::kJson));
  ASSERT_TRUE(j["diagnostics"].is_array());
  EXPECT_EQ(j["errors"], CountErrors(r.diagnostics));
  const auto& d0 = j["diagnostics"][0];
  for (const char* k : {"file", "line", "column", "severity", "code", "message"}) {
    EXPECT_TRUE(d0.contains(k)) << k;
  }
  auto s = nlohmann::json::parse(RenderDiagnostics(r.diagnostics, LintFormat::kSarif));
  EXPECT_EQ(s["version"], "2.1.0");
  const auto& run = s["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["name"], "residency");
  // informationUri points at the diagnostics reference in this repository, which must exist.
  const std::string info = run["tool"]["driver"]["informationUri"];
  EXPECT_EQ(info, "policies/README.md#diagnostics");
  std::ifstream doc(std::string(RESIDENCY_SOURCE_DIR) + "/" + info.substr(0, info.find('#')));
  std::stringstream text;
  text << doc.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("\n## Diagnostics\n")) << info;
  const auto& res = run["results"][0];
  EXPECT_EQ(res["level"], "error");
  EXPECT_EQ(res["ruleId"], "unknown-key");
  EXPECT_EQ(res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "p0.yaml");
  EXPECT_EQ(res["locations"][0]["physicalLocation"]["region"]["startLine"], 12);
  bool rule_listed = false;
  for (const auto& rule : run["tool"]["driver"]["rules"])
    rule_listed |= rule["id"] == "unknown-key";
  EXPECT_TRUE(rule_listed);
  EXPECT_EQ(RenderDiagnostics(r.diagnostics, LintFormat::kText).substr(0, 8), "p0.yaml:");
}

TEST(Store, SwapKeepsOldSnapshotAliveForHolders) {
  auto a = CompileWith({kPolicy}).snapshot;
  auto b = CompileWith({Replace(kPolicy, "otherwise: deny", "otherwise: escalate")}).snapshot;
  PolicyStore store(a);
  auto held = store.Get();
  store.Swap(b);
  EXPECT_EQ(held->digest(), a->digest());
  EXPECT_EQ(store.Get()->digest(), b->digest());
  EXPECT_FALSE(store.Reload({"/nonexistent/dir"}).ok());
  EXPECT_EQ(store.Get()->digest(), b->digest());
}

}  // namespace
}  // namespace residency

namespace residency {
namespace {

TEST(EvidenceRegistry, ATypeIsRegisteredOnceAndItsEntriesAreChecked) {
  const char* a = R"(kind: policy
id: a
basis: law
evidence_types:
  certificate: {require: [recipient], max_validity_days: 365}
rules: []
)";
  const char* b = R"(kind: policy
id: b
basis: law
evidence_types:
  certificate: {require: [country]}
rules: []
)";
  EXPECT_TRUE(testing::CompileWith({a}).ok());
  CompileResult twice = testing::CompileWith({a, b});
  const Diagnostic* d = testing::Find(twice, "duplicate-id");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("evidence type `certificate` is also registered in p0.yaml"));
  EXPECT_EQ(d->line, 5);
  CompileResult bad = testing::CompileWith({Replace(a, "[recipient]", "[recipeint]")});
  d = testing::Find(bad, "bad-value");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("`require` names `recipeint`"));
  CompileResult days = testing::CompileWith({Replace(a, "365", "-1")});
  d = testing::Find(days, "bad-value");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("max_validity_days"));
  CompileResult key = testing::CompileWith({Replace(a, "max_validity_days", "max_validity")});
  EXPECT_NE(testing::Find(key, "unknown-key"), nullptr);
}

}  // namespace
}  // namespace residency
