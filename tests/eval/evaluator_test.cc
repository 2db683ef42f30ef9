#include <algorithm>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "eval_fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "residency/decision.h"
#include "residency/explain.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace residency {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class EvalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    CompileResult r = testing::CompileWith({testing::kKrPolicy, testing::kCorpPolicy});
    ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
    snapshot_ = new std::shared_ptr<const PolicySnapshot>(r.snapshot);
  }
  static void TearDownTestSuite() { delete snapshot_; }

  Decision Check(const std::string& yaml) {
    auto req = ParseRequest(yaml);
    EXPECT_TRUE(req.ok()) << req.status();
    if (!req.ok()) return Decision{};
    auto d = Evaluate(**snapshot_, *req);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : Decision{};
  }

  static std::vector<std::string> Rules(const Decision& d) {
    std::vector<std::string> out;
    for (const auto& r : d.reasons) out.emplace_back(r.rule());
    return out;
  }
  static std::vector<std::string> Obligations(const Decision& d) {
    std::vector<std::string> out;
    for (const auto& o : d.obligations) out.emplace_back(o.id());
    return out;
  }

  static std::shared_ptr<const PolicySnapshot>* snapshot_;
};
std::shared_ptr<const PolicySnapshot>* EvalTest::snapshot_ = nullptr;

// A KR personal dataset sent to `dest` at `now`, with extra YAML lines appended.
std::string KrDataset(const std::string& dest, const std::string& now = "2026-06-30T00:00:00Z",
                      const std::string& extra = "", const std::string& classes = "[personal]") {
  return "kind: dataset\naction: transfer\nnow: \"" + now + "\"\ndestination: \"" + dest +
         "\"\nrecipient: {id: \"X Ltd\", country: JP, role: processor}\n"
         "dataset: {id: ds-1, location: \"ncp:KR\", partitions: [{classes: " +
         classes + ", origin: KR, subjects: 1000}]}\n" + extra;
}

TEST_F(EvalTest, HomeRegionIsAllowedWithoutReasons) {
  Decision d = Check(KrDataset("ncp:KR"));
  EXPECT_EQ(d.decision, Effect::kAllow);
  EXPECT_THAT(d.reasons, IsEmpty());
  EXPECT_THAT(d.tags, ElementsAre("KR:personal"));
  EXPECT_THAT(d.suggested_locations(), IsEmpty());
}

TEST_F(EvalTest, CrossBorderWithoutBasisIsDeniedWithOrderedSuggestions) {
  Decision d = Check(KrDataset("aws:ap-northeast-1"));
  EXPECT_EQ(d.decision, Effect::kDeny);
  EXPECT_THAT(Rules(d), ElementsAre("kr.cross_border"));
  EXPECT_EQ(d.reasons[0].basis(), "law");
  EXPECT_EQ(d.reasons[0].citation(), "PIPA Art. 28-8(1)");
  // Same provider first (catalogue order: Seoul, Frankfurt, Stockholm), then the rest.
  ASSERT_GE(d.suggested_locations().size(), 4u);
  EXPECT_EQ(d.suggested_locations()[0], "aws:ap-northeast-2");
  EXPECT_EQ(d.suggested_locations()[1], "aws:eu-central-1");
  EXPECT_EQ(d.suggested_locations()[2], "aws:eu-north-1");
  EXPECT_EQ(d.suggested_locations()[3], "ncp:KR");
  EXPECT_LE(d.suggested_locations().size(), 8u);
  for (const auto& s : d.suggested_locations()) {
    EXPECT_NE(s, "aws:eu-west-2") << "London is not EU";
    EXPECT_NE(s, "aws:ap-northeast-1");
  }
}

TEST_F(EvalTest, SuggestionsCanBeTurnedOff) {
  auto req = ParseRequest(KrDataset("aws:ap-northeast-1"));
  EvalOptions o;
  o.suggest = false;
  auto d = Evaluate(**snapshot_, *req, o);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->decision, Effect::kDeny);
  EXPECT_THAT(d->suggested_locations(), IsEmpty());
}

const char kConsent[] =
    "evidence: [{type: consent.cross_border, country: JP, recipient: \"X Ltd\", "
    "not_before: \"2026-01-01T00:00:00Z\", not_after: \"2027-01-01T00:00:00Z\"%s}]\n";

std::string Consent(const std::string& more = "") {
  char buf[512];
  std::snprintf(buf, sizeof(buf), kConsent, more.c_str());
  return buf;
}

TEST_F(EvalTest, ConsentAllowsWithObligations) {
  Decision d = Check(KrDataset("aws:ap-northeast-1", "2026-06-30T00:00:00Z", Consent()));
  EXPECT_EQ(d.decision, Effect::kAllowWithObligations);
  EXPECT_THAT(Rules(d), ElementsAre("kr.cross_border"));
  EXPECT_EQ(d.reasons[0].alternative(), "consent");
  EXPECT_THAT(Obligations(d), ElementsAre("kr.disclose"));
}

TEST_F(EvalTest, EvidenceWindowEdges) {
  // not_before is inclusive, not_after exclusive.
  EXPECT_EQ(Check(KrDataset("aws:ap-northeast-1", "2026-01-01T00:00:00Z", Consent())).decision,
            Effect::kAllowWithObligations);
  EXPECT_EQ(Check(KrDataset("aws:ap-northeast-1", "2025-12-31T23:59:59Z", Consent())).decision,
            Effect::kDeny);
  EXPECT_EQ(Check(KrDataset("aws:ap-northeast-1", "2027-01-01T00:00:00Z", Consent())).decision,
            Effect::kDeny);
  EXPECT_EQ(Check(KrDataset("aws:ap-northeast-1", "2026-12-31T23:59:59Z", Consent())).decision,
            Effect::kAllowWithObligations);
}

TEST_F(EvalTest, WithdrawnConsentNoLongerCounts) {
  std::string w = Consent(", withdrawn_at: \"2026-06-30T00:00:00Z\"");
  EXPECT_EQ(Check(KrDataset("aws:ap-northeast-1", "2026-06-30T00:00:00Z", w)).decision,
            Effect::kDeny);
  EXPECT_EQ(Check(KrDataset("aws:ap-northeast-1", "2026-06-29T23:59:59Z", w)).decision,
            Effect::kAllowWithObligations);
}

TEST_F(EvalTest, ConsentMustMatchCountryAndRecipientAndCarryThem) {
  // Consent names JP; the data goes to Germany (before the EU recognition).
  EXPECT_EQ(
      Check(KrDataset(
                "aws:eu-central-1", "2025-06-30T00:00:00Z",
                "evidence: [{type: consent.cross_border, country: JP, recipient: \"X Ltd\"}]\n"))
          .decision,
      Effect::kDeny);
  // Wrong recipient.
  EXPECT_EQ(
      Check(KrDataset(
                "aws:ap-northeast-1", "2026-06-30T00:00:00Z",
                "evidence: [{type: consent.cross_border, country: JP, recipient: \"Y Ltd\"}]\n"))
          .decision,
      Effect::kDeny);
  // PIPA consent must name the recipient: an open one does not count here.
  EXPECT_EQ(Check(KrDataset("aws:ap-northeast-1", "2026-06-30T00:00:00Z",
                            "evidence: [{type: consent.cross_border, country: JP}]\n"))
                .decision,
            Effect::kDeny);
}

TEST_F(EvalTest, DatedListEntryAndRegionTraps) {
  EXPECT_EQ(Check(KrDataset("aws:eu-central-1", "2025-09-15T23:59:59Z")).decision, Effect::kDeny);
  EXPECT_EQ(Check(KrDataset("aws:eu-central-1", "2025-09-16T00:00:00Z")).decision, Effect::kAllow);
  // London and Zurich are not EU, whatever their codes say.
  EXPECT_EQ(Check(KrDataset("aws:eu-west-2", "2026-06-30T00:00:00Z")).decision, Effect::kDeny);
  EXPECT_EQ(Check(KrDataset("aws:eu-central-2", "2026-06-30T00:00:00Z")).decision, Effect::kDeny);
}

TEST_F(EvalTest, LatticeInsideARuleTakesTheLeastRestrictiveAlternative) {
  // Consent (allow_with_obligations) and the recognised destination (allow) both hold.
  std::string both =
      "evidence: [{type: consent.cross_border, country: DE, recipient: \"X Ltd\"}]\n";
  Decision d = Check(KrDataset("aws:eu-central-1", "2026-06-30T00:00:00Z", both));
  EXPECT_EQ(d.decision, Effect::kAllow);
  EXPECT_EQ(d.reasons[0].alternative(), "recognized");
  // Only the occasional alternative holds: escalate.
  Decision e = Check(
      KrDataset("aws:ap-northeast-1", "2026-06-30T00:00:00Z", "transfer: {pattern: occasional}\n"));
  EXPECT_EQ(e.decision, Effect::kEscalate);
}

TEST_F(EvalTest, LatticeAcrossRulesMostRestrictiveWinsAndEveryDenyIsListed) {
  // Recognised destination allows, the volume rule escalates: escalate wins.
  std::string big =
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:eu-central-1\"\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 2000000}]}\n";
  Decision d = Check(big);
  EXPECT_EQ(d.decision, Effect::kEscalate);
  EXPECT_THAT(Rules(d), ElementsAre("kr.volume"));
  // An RRN sent abroad without a basis: both rules deny and both are reported.
  Decision r = Check(KrDataset("aws:ap-northeast-1", "2026-06-30T00:00:00Z", "", "[kr.rrn]"));
  EXPECT_EQ(r.decision, Effect::kDeny);
  EXPECT_THAT(Rules(r), UnorderedElementsAre("kr.cross_border", "kr.rrn"));
}

TEST_F(EvalTest, ConsentIsIgnoredForRrnButStatuteCounts) {
  std::string consent =
      "evidence: [{type: consent.cross_border, country: KR, recipient: \"X Ltd\"}]\n";
  Decision d = Check(KrDataset("ncp:KR", "2026-06-30T00:00:00Z", consent, "[kr.rrn]"));
  EXPECT_EQ(d.decision, Effect::kDeny);
  EXPECT_THAT(Rules(d), ElementsAre("kr.rrn"));
  Decision s = Check(
      KrDataset("ncp:KR", "2026-06-30T00:00:00Z", "evidence: [{type: statute}]\n", "[kr.rrn]"));
  EXPECT_EQ(s.decision, Effect::kAllow);
}

TEST_F(EvalTest, MissingNumberGivesTheRulesOwnEffectNamingTheFact) {
  // kr.volume escalates from 1,000,000 subjects: without a count it cannot be ruled out, so it
  // escalates (its own effect; never a deny it could not give) and names the missing fact.
  std::string no_count =
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR}]}\n";
  Decision d = Check(no_count);
  EXPECT_EQ(d.decision, Effect::kEscalate);
  ASSERT_THAT(Rules(d), ElementsAre("kr.volume"));
  EXPECT_EQ(d.reasons[0].basis(), "fail_closed");
  EXPECT_THAT(d.reasons[0].message(), HasSubstr("`subjects`"));
}

// One rule per effect on a number the request may lack, and one whose alternative needs it.
const char kUnknownFactsPolicy[] = R"yaml(kind: policy
id: u
basis: law
scope: {always: true}
obligations:
  u.report: "report"
  u.small: "small"
rules:
  - id: u.duty
    citation: "t"
    message: "large models carry a duty"
    when: {kind: [model], training_flops: {gte: 1.0e26}}
    effect: allow_with_obligations
    obligations: [u.report]
  - id: u.review
    citation: "t"
    message: "long retention is reviewed"
    when: {kind: [compute], retention_hours: {gt: 720}}
    effect: escalate
  - id: u.ban
    citation: "t"
    message: "huge exports are refused"
    when: {kind: [dataset], cumulative_subjects: {gte: 5000000}}
    effect: deny
  - id: u.export
    citation: "t"
    message: "exports need a basis"
    when: {kind: [dataset], location: {not_in: [KR]}}
    alternatives:
      - {name: small, when: {cumulative_subjects: {lt: 1000}}, effect: allow_with_obligations, obligations: [u.small]}
    otherwise: deny
)yaml";

TEST(UnknownFacts, EachRuleGivesTheMostRestrictiveResultItCouldGiveCappedAtItsEffect) {
  CompileResult r = testing::CompileWith({kUnknownFactsPolicy});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  auto check = [&](const std::string& yaml) {
    auto req = ParseRequest("now: \"2026-06-30T00:00:00Z\"\n" + yaml);
    EXPECT_TRUE(req.ok()) << req.status();
    auto d = Evaluate(*r.snapshot, *req);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : Decision{};
  };
  auto rules = [](const Decision& d) {
    std::vector<std::string> out;
    for (const auto& x : d.reasons) out.emplace_back(x.rule());
    return out;
  };
  // A model without training_flops: the duty attaches (never a deny), naming the fact.
  Decision m = check("kind: model\ndestination: \"ncp:KR\"\nmodel: {id: m, trained_on: []}\n");
  EXPECT_EQ(m.decision, Effect::kAllowWithObligations) << DecisionToJson(m);
  ASSERT_THAT(rules(m), ElementsAre("u.duty"));
  EXPECT_THAT(m.reasons[0].message(), HasSubstr("`training_flops`"));
  ASSERT_EQ(m.obligations.size(), 1u);
  EXPECT_EQ(m.obligations[0].id(), "u.report");
  // With the number, below the bound: nothing applies.
  EXPECT_EQ(check("kind: model\ndestination: \"ncp:KR\"\n"
                  "model: {id: m, trained_on: [], training_flops: 1.0e20}\n")
                .decision,
            Effect::kAllow);
  // A request without retention_hours: the review escalates (not a deny).
  Decision e = check("kind: compute\ncompute: {job: batch, location: \"ncp:KR\"}\n");
  EXPECT_EQ(e.decision, Effect::kEscalate) << DecisionToJson(e);
  EXPECT_THAT(rules(e), ElementsAre("u.review"));
  // A dataset at home without cumulative_subjects: the ban denies, naming the fact; the
  // partition's own `subjects` is never read in its place.
  Decision b = check(
      "kind: dataset\ndestination: \"ncp:KR\"\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 10}]}\n");
  EXPECT_EQ(b.decision, Effect::kDeny) << DecisionToJson(b);
  ASSERT_THAT(rules(b), ElementsAre("u.ban"));
  EXPECT_THAT(b.reasons[0].message(), HasSubstr("`cumulative_subjects`"));
  // Abroad, the alternative that needs the number cannot be established and legalises
  // nothing; given, it holds.
  Decision x = check(
      "kind: dataset\ndestination: \"aws:ap-northeast-1\"\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 10}]}\n");
  EXPECT_EQ(x.decision, Effect::kDeny);
  EXPECT_THAT(rules(x), UnorderedElementsAre("u.ban", "u.export"));
  Decision y = check(
      "kind: dataset\ndestination: \"aws:ap-northeast-1\"\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 10, "
      "cumulative_subjects: 10}]}\n");
  EXPECT_EQ(y.decision, Effect::kAllowWithObligations) << DecisionToJson(y);
  EXPECT_THAT(rules(y), ElementsAre("u.export"));
}

// A policy that binds processing on its territory, whoever the data subjects are.
const char kTerritoryPolicy[] = R"yaml(kind: policy
id: terr
basis: law
scope: {locations: [KR]}
rules:
  - id: terr.no_biometrics
    citation: "t"
    message: "biometric data is not processed here"
    when: {classes: [personal.biometric]}
    effect: deny
)yaml";

// A policy that refuses Tokyo for everything, to make a request suggest places.
const char kNoTokyoPolicy[] = R"yaml(kind: policy
id: nt
basis: corp
scope: {always: true}
rules:
  - id: nt.tokyo
    citation: "t"
    message: "not in Tokyo"
    when: {location: {in: ["aws:ap-northeast-1"]}}
    effect: deny
)yaml";

TEST(ScopeByLocation, APolicyOnWhereProcessingHappensAppliesThereAndCountsForSuggestions) {
  CompileResult r = testing::CompileWith({kTerritoryPolicy, kNoTokyoPolicy});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  auto check = [&](const std::string& dest) {
    auto req = ParseRequest(
        "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"" + dest +
        "\"\ndataset: {id: faces, partitions: [{classes: [personal.biometric], origin: DE, "
        "subjects: 5}]}\n");
    EXPECT_TRUE(req.ok()) << req.status();
    auto d = Evaluate(*r.snapshot, *req);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : Decision{};
  };
  // German subjects' data processed in Korea: the territorial policy applies.
  Decision kr = check("ncp:KR");
  EXPECT_EQ(kr.decision, Effect::kDeny) << DecisionToJson(kr);
  ASSERT_EQ(kr.reasons.size(), 1u);
  EXPECT_EQ(kr.reasons[0].rule(), "terr.no_biometrics");
  // The same data in Frankfurt: out of its scope.
  EXPECT_EQ(check("aws:eu-central-1").decision, Effect::kAllow);
  // Refused in Tokyo, the suggestions leave out every Korean location, where the territorial
  // policy would refuse it, and keep others.
  Decision tokyo = check("aws:ap-northeast-1");
  EXPECT_EQ(tokyo.decision, Effect::kDeny);
  ASSERT_FALSE(tokyo.suggested_locations().empty());
  for (const auto& l : tokyo.suggested_locations()) {
    EXPECT_NE(l, "ncp:KR");
    EXPECT_NE(l, "aws:ap-northeast-2");
  }
}

// Evidence that says what it authorises, and a registry of what each type must carry.
const char kEvidencePolicy[] = R"yaml(kind: policy
id: ev
basis: law
scope: {always: true}
evidence_types:
  assessment: {require: [origin], max_validity_days: 365}
  certificate: {require: [recipient]}
rules:
  - id: ev.abroad
    citation: "t"
    message: "abroad needs a statute that covers the transfer"
    when: {kind: [dataset], location: {not_in: [KR]}}
    alternatives:
      - {name: statute, when: {evidence: {types: [statute], covers: [transfer, unique_id]}}, effect: allow}
      - {name: assessed, when: {evidence: {types: [assessment]}}, effect: allow}
      - {name: certified, when: {evidence: {types: [certificate]}}, effect: allow}
    otherwise: deny
)yaml";

TEST(EvidenceSaysWhatItAuthorises, CoversAndTheRegistryDecideWhatAnItemIsWorth) {
  CompileResult r = testing::CompileWith({kEvidencePolicy});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  auto check = [&](const std::string& evidence) {
    auto req = ParseRequest(
        "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:ap-northeast-1\"\n"
        "recipient: {id: R, country: JP}\n"
        "evidence: " +
        evidence + "\ndataset: {id: d, partitions: [{classes: [personal], origin: KR}]}\n");
    EXPECT_TRUE(req.ok()) << req.status();
    auto d = Evaluate(*r.snapshot, *req);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? d->decision : Effect::kDeny;
  };
  // `covers` asks for every listed value; a generic item (no covers) never satisfies it.
  EXPECT_EQ(check("[{type: statute, covers: [unique_id, transfer]}]"), Effect::kAllow);
  EXPECT_EQ(check("[{type: statute, covers: [transfer]}]"), Effect::kDeny);
  EXPECT_EQ(check("[{type: statute}]"), Effect::kDeny);
  // The registry: an item missing a required field counts for nothing.
  EXPECT_EQ(check("[{type: certificate, recipient: R}]"), Effect::kAllow);
  EXPECT_EQ(check("[{type: certificate}]"), Effect::kDeny);
  // ... and counts at most max_validity_days from its not_before, which it then needs.
  EXPECT_EQ(check("[{type: assessment, origin: KR, not_before: \"2026-01-01\"}]"), Effect::kAllow);
  EXPECT_EQ(check("[{type: assessment, origin: KR, not_before: \"2025-06-01\", "
                  "not_after: \"2030-01-01\"}]"),
            Effect::kDeny);
  EXPECT_EQ(check("[{type: assessment, origin: KR}]"), Effect::kDeny);
  EXPECT_EQ(check("[{type: assessment, not_before: \"2026-01-01\"}]"), Effect::kDeny);
}

TEST(EvidenceSaysWhatItAuthorises, ExplainSaysWhyAnItemDoesNotCount) {
  CompileResult r = testing::CompileWith({kEvidencePolicy});
  ASSERT_TRUE(r.ok());
  auto req = ParseRequest(
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:ap-northeast-1\"\n"
      "evidence: [{type: statute, covers: [transfer]}, {type: certificate}, "
      "{type: assessment, origin: KR, not_before: \"2025-06-01\", not_after: \"2030-01-01\"}]\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR}]}\n");
  ASSERT_TRUE(req.ok()) << req.status();
  auto e = Explain(*r.snapshot, *req);
  ASSERT_TRUE(e.ok()) << e.status();
  const std::string text = ExplanationToText(*e);
  EXPECT_THAT(text, HasSubstr("does not say it authorises `transfer`, `unique_id`"));
  EXPECT_THAT(text, HasSubstr("lacks `recipient`, which every item of this type must carry"));
  EXPECT_THAT(text, HasSubstr("expired at 2026-06-01T00:00:00Z (the longest validity"));
}

// A site records who controls it: an operator's own premises are the locations it controls.
const char kOwnPremisesCatalogue[] = R"(kind: catalogue
id: regions
providers:
  bank: {hq_country: KR}
  dc: {hq_country: KR}
locations:
  - {id: "bank:hq-dc", country: KR, site: onprem, controller: kr-bank}
  - {id: "dc:colo", country: KR, site: onprem, controller: dc-co}
)";

const char kOwnPremisesPolicy[] = R"yaml(kind: policy
id: own
basis: law
scope: {always: true}
obligations:
  own.report: "report the outsourcing"
rules:
  - id: own.outsourcing
    citation: "t"
    message: "data on someone else's premises is outsourced"
    when: {kind: [dataset], not: {location: {own_premises: true}}}
    effect: allow_with_obligations
    obligations: [own.report]
)yaml";

TEST(OwnPremises, ASiteIsTheOperatorsOwnOnlyWhenItControlsIt) {
  CompileResult r = CompilePolicySources(
      {{"regions.yaml", kOwnPremisesCatalogue}, {"own.yaml", kOwnPremisesPolicy}});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  auto check = [&](const std::string& dest, const std::string& op) {
    auto req = ParseRequest("kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"" + dest +
                            "\"\n" + op +
                            "dataset: {id: d, partitions: [{classes: [public], origin: KR}]}\n");
    EXPECT_TRUE(req.ok()) << req.status();
    auto d = Evaluate(*r.snapshot, *req);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? d->decision : Effect::kDeny;
  };
  const std::string bank = "operator: {id: kr-bank, country: KR}\n";
  EXPECT_EQ(check("bank:hq-dc", bank), Effect::kAllow);
  // Another company's on-premises site is a third party's data centre.
  EXPECT_EQ(check("dc:colo", bank), Effect::kAllowWithObligations);
  // No operator named: no one's own premises.
  EXPECT_EQ(check("bank:hq-dc", ""), Effect::kAllowWithObligations);
  EXPECT_EQ(check("bank:hq-dc", "operator: {id: other, country: KR}\n"),
            Effect::kAllowWithObligations);
}

// A provision enacted with a later commencement date: a dry run until then.
const char kEnforceFromPolicy[] = R"yaml(kind: policy
id: ef
basis: law
scope: {always: true}
rules:
  - id: ef.later
    citation: "t"
    message: "not abroad, from commencement"
    effective_from: "2026-01-01"
    enforce_from: "2027-05-13"
    when: {kind: [dataset], location: {not_in: [KR]}}
    effect: deny
)yaml";

TEST(EnforceFrom, ARuleIsADryRunUntilItCommences) {
  CompileResult r = testing::CompileWith({kEnforceFromPolicy});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  auto check = [&](const std::string& now) {
    auto req = ParseRequest("kind: dataset\nnow: \"" + now +
                            "\"\ndestination: \"aws:ap-northeast-1\"\n"
                            "dataset: {id: d, partitions: [{classes: [public], origin: KR}]}\n");
    EXPECT_TRUE(req.ok()) << req.status();
    auto d = Evaluate(*r.snapshot, *req);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : Decision{};
  };
  Decision before = check("2027-05-12T23:59:59Z");
  EXPECT_EQ(before.decision, Effect::kAllow);
  ASSERT_EQ(before.dry_run.size(), 1u);
  EXPECT_EQ(before.dry_run[0].rule(), "ef.later");
  EXPECT_TRUE(before.suggested_locations().empty());
  Decision after = check("2027-05-13T00:00:00Z");
  EXPECT_EQ(after.decision, Effect::kDeny);
  ASSERT_EQ(after.reasons.size(), 1u);
  EXPECT_EQ(after.reasons[0].rule(), "ef.later");
  EXPECT_TRUE(after.dry_run.empty());
  // Before its effective_from it is not evaluated at all.
  Decision earlier = check("2025-12-31T00:00:00Z");
  EXPECT_TRUE(earlier.dry_run.empty());
  EXPECT_EQ(earlier.decision, Effect::kAllow);
}

// Texts in another language, chosen per call; the decision is the same in every language.
const char kI18nPolicy[] = R"yaml(kind: policy
id: tr
basis: law
scope: {always: true}
obligations:
  tr.record: "Keep the record."
  tr.notify: "Notify the users."
obligations_i18n:
  ko: {tr.record: "기록을 보관하십시오."}
rules:
  - id: tr.abroad
    citation: "Act Art. 1"
    message: "Data abroad needs a basis."
    messages: {escalate: "A person decides."}
    i18n:
      ko: {citation: "법 제1조", message: "국외 이전에는 근거가 필요합니다.", messages: {escalate: "사람이 판단합니다."}}
    when: {kind: [dataset], location: {not_in: [KR]}}
    alternatives:
      - name: contract
        when: {evidence: {types: [contract]}}
        effect: allow_with_obligations
        obligations: [tr.record, tr.notify]
        message: "The contract carries it."
        i18n: {ko: {message: "계약이 근거입니다."}}
      - name: review
        when: {evidence: {types: [review]}}
        effect: escalate
    otherwise: deny
)yaml";

TEST(Languages, ReasonsAndObligationsInTheCallersLanguageWhereThePolicyGivesThem) {
  CompileResult r = testing::CompileWith({kI18nPolicy});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  auto check = [&](const std::string& evidence, const std::string& lang) {
    auto req = ParseRequest(
        "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:ap-northeast-1\"\n"
        "evidence: " +
        evidence + "\ndataset: {id: d, partitions: [{classes: [public], origin: KR}]}\n");
    EXPECT_TRUE(req.ok()) << req.status();
    EvalOptions o;
    o.lang = lang;
    auto d = Evaluate(*r.snapshot, *req, o);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : Decision{};
  };
  Decision en = check("[]", "");
  Decision ko = check("[]", "ko");
  EXPECT_EQ(en.decision, Effect::kDeny);
  EXPECT_EQ(ko.decision, en.decision);
  ASSERT_EQ(ko.reasons.size(), 1u);
  EXPECT_EQ(en.reasons[0].message(), "Data abroad needs a basis.");
  EXPECT_EQ(ko.reasons[0].message(), "국외 이전에는 근거가 필요합니다.");
  EXPECT_EQ(ko.reasons[0].citation(), "법 제1조");
  EXPECT_EQ(ko.suggested_locations(), en.suggested_locations());
  // An alternative's own message, translated; an obligation without a translation stays English.
  Decision alt = check("[{type: contract}]", "ko");
  EXPECT_EQ(alt.decision, Effect::kAllowWithObligations);
  ASSERT_EQ(alt.reasons.size(), 1u);
  EXPECT_EQ(alt.reasons[0].message(), "계약이 근거입니다.");
  ASSERT_EQ(alt.obligations.size(), 2u);
  EXPECT_EQ(alt.obligations[0].id(), "tr.notify");
  EXPECT_EQ(alt.obligations[0].text(), "Notify the users.");
  EXPECT_EQ(alt.obligations[1].text(), "기록을 보관하십시오.");
  // The message of one outcome, translated.
  Decision esc = check("[{type: review}]", "ko");
  EXPECT_EQ(esc.decision, Effect::kEscalate);
  EXPECT_EQ(esc.reasons[0].message(), "사람이 판단합니다.");
  // A language no policy gives, or English: the English texts.
  EXPECT_EQ(check("[]", "fr").reasons[0].message(), "Data abroad needs a basis.");
  EXPECT_EQ(check("[{type: review}]", "en").reasons[0].message(), "A person decides.");
}

TEST(Languages, BadTranslationsAreLintErrorsAtTheirPosition) {
  std::string bad_lang = kI18nPolicy;
  bad_lang.replace(bad_lang.find("ko: {citation"), 2, "EN");
  CompileResult a = testing::CompileWith({bad_lang});
  const Diagnostic* d = testing::Find(a, "bad-value");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("is not a language code"));
  std::string dangling = kI18nPolicy;
  dangling.replace(dangling.find("ko: {tr.record:"), 15, "ko: {tr.recrod:");
  CompileResult b = testing::CompileWith({dangling});
  d = testing::Find(b, "dangling-reference");
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->message, HasSubstr("names obligation `tr.recrod`"));
  EXPECT_EQ(d->line, 9);
}

TEST_F(EvalTest, NumbersAreSummedOverThePartitionsTheRuleMatches) {
  // 600k credit + 500k health records are 1.1M people of Korean personal data: over the
  // 1,000,000 threshold although neither class alone is. A partition with two matching classes
  // counts once.
  std::string split =
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
      "dataset: {id: d, partitions: [{classes: [personal.credit], origin: KR, subjects: 600000},"
      " {classes: [personal.health], origin: KR, subjects: 500000}]}\n";
  Decision d = Check(split);
  EXPECT_EQ(d.decision, Effect::kEscalate);
  EXPECT_THAT(Rules(d), ElementsAre("kr.volume"));
  std::string once =
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
      "dataset: {id: d, partitions: [{classes: [personal.credit, personal.health], origin: KR,"
      " subjects: 600000}]}\n";
  EXPECT_EQ(Check(once).decision, Effect::kAllow);
  // Partitions of another origin do not count towards a KR threshold.
  std::string other =
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 600000},"
      " {classes: [personal], origin: DE, subjects: 500000}]}\n";
  EXPECT_EQ(Check(other).decision, Effect::kAllow);
}

TEST_F(EvalTest, MixedOriginDatasetCarriesBothTags) {
  std::string mixed =
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:ap-northeast-1\"\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 5},"
      " {classes: [personal.credit], origin: DE, subjects: 7}]}\n";
  Decision d = Check(mixed);
  EXPECT_EQ(d.decision, Effect::kDeny);
  EXPECT_THAT(d.tags, ElementsAre("DE:personal.credit", "KR:personal"));
  EXPECT_THAT(Rules(d), ElementsAre("kr.cross_border"));
  // Only German data: the Korean policy is out of scope, nothing applies.
  std::string de =
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:ap-northeast-1\"\n"
      "dataset: {id: d, partitions: [{classes: [personal.credit], origin: DE, subjects: 7}]}\n";
  EXPECT_EQ(Check(de).decision, Effect::kAllow);
}

std::string ModelTwoLevels(const std::string& dest, const std::string& evidence = "") {
  return "kind: model\naction: deploy\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"" + dest +
         "\"\nmodel:\n  id: ft\n  artifact: adapter\n  trained_on: []\n" + evidence +
         "  base_models:\n    - id: mid\n      trained_on: []\n      base_models:\n"
         "        - id: base\n          trained_on:\n"
         "            - {id: kr-web, partitions: [{classes: [personal], origin: KR, subjects: 9}],"
         " evidence: [{type: model_anonymity_assessment}]}\n";
}

TEST_F(EvalTest, LineageThroughTwoLevelsOfBaseModels) {
  Decision d = Check(ModelTwoLevels("aws:us-east-1"));
  EXPECT_THAT(d.tags, ElementsAre("KR:personal"));
  EXPECT_EQ(d.decision, Effect::kDeny);
  EXPECT_THAT(Rules(d), ElementsAre("kr.cross_border"));
  // Evidence held on a dataset in the lineage does not flow to the model.
  EXPECT_THAT(d.lifted, IsEmpty());
}

TEST_F(EvalTest, EvidenceOnTheModelLiftsItsTagForThatPolicy) {
  Decision d = Check(ModelTwoLevels(
      "aws:us-east-1", "  evidence: [{type: model_anonymity_assessment, origin: KR}]\n"));
  EXPECT_EQ(d.decision, Effect::kAllow);
  ASSERT_EQ(d.lifted.size(), 1u);
  EXPECT_EQ(d.lifted[0].tag(), "KR:personal");
  EXPECT_EQ(d.lifted[0].policy(), "kr");
  EXPECT_THAT(d.tags, ElementsAre("KR:personal")) << "tags are reported before lifting";
  // An assessment for another origin lifts nothing.
  Decision e = Check(ModelTwoLevels(
      "aws:us-east-1", "  evidence: [{type: model_anonymity_assessment, origin: DE}]\n"));
  EXPECT_EQ(e.decision, Effect::kDeny);
}

TEST_F(EvalTest, MissingLineageAndCyclesFailClosed) {
  Decision d =
      Check("kind: model\nnow: \"2026-06-30T00:00:00Z\"\nmodel: {id: m, location: \"ncp:KR\"}\n");
  EXPECT_EQ(d.decision, Effect::kDeny);
  EXPECT_THAT(Rules(d), ElementsAre("residency.missing_lineage"));
  EXPECT_EQ(d.reasons[0].basis(), "fail_closed");
  // The engine's own reasons cite the engine, not a document outside the decision.
  EXPECT_EQ(d.reasons[0].policy(), "residency");
  EXPECT_THAT(d.reasons[0].citation(), HasSubstr("residency: fail closed"));
  // An explicit empty list is a claim: allowed.
  EXPECT_EQ(Check("kind: model\nnow: \"2026-06-30T00:00:00Z\"\nmodel: {id: m, location: "
                  "\"ncp:KR\", trained_on: []}\n")
                .decision,
            Effect::kAllow);
  // A base model without lineage fails closed too.
  EXPECT_EQ(Check("kind: model\nnow: \"2026-06-30T00:00:00Z\"\nmodel: {id: m, location: "
                  "\"ncp:KR\", trained_on: [], base_models: [{id: b}]}\n")
                .decision,
            Effect::kDeny);
  Decision c = Check(
      "kind: model\nnow: \"2026-06-30T00:00:00Z\"\nmodel: {id: m, location: \"ncp:KR\", "
      "trained_on: [],"
      " base_models: [{id: b, trained_on: [], base_models: [{id: m, trained_on: []}]}]}\n");
  EXPECT_EQ(c.decision, Effect::kDeny);
  EXPECT_THAT(Rules(c), ElementsAre("residency.lineage_cycle"));
}

TEST_F(EvalTest, UnknownLocationClassOriginFailClosed) {
  Decision l = Check(KrDataset("aws:eu-west-9"));
  EXPECT_EQ(l.decision, Effect::kDeny);
  EXPECT_THAT(Rules(l), ElementsAre("residency.unknown_location"));
  EXPECT_FALSE(l.suggested_locations().empty()) << "a refused placement gets suggestions";
  Decision c =
      Check(KrDataset("ncp:KR", "2026-06-30T00:00:00Z", "", "[personal.favourite_colour]"));
  EXPECT_EQ(c.decision, Effect::kDeny);
  EXPECT_THAT(Rules(c), ElementsAre("residency.unknown_class"));
  Decision o = Check(
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
      "dataset: {id: d, partitions: [{classes: [public], origin: XX}]}\n");
  EXPECT_EQ(o.decision, Effect::kDeny);
  EXPECT_THAT(Rules(o), ElementsAre("residency.unknown_origin"));
}

// The first reason's message, for the hint tests below.
std::string FirstMessage(const Decision& d) {
  return d.reasons.empty() ? std::string() : std::string(d.reasons[0].message());
}

TEST_F(EvalTest, UnknownNamesInARequestGetADidYouMeanHint) {
  EXPECT_THAT(FirstMessage(Check(KrDataset("ncp:KRR"))),
              ::testing::HasSubstr("(did you mean `ncp:KR`?)"));
  EXPECT_THAT(FirstMessage(Check(KrDataset("ncp:KR", "2026-06-30T00:00:00Z", "", "[personl]"))),
              ::testing::HasSubstr("(did you mean `personal`?)"));
  for (const char* origin : {"kr", "KOR", "Korea"}) {
    Decision d = Check(std::string("kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: "
                                   "\"ncp:KR\"\ndataset: {id: d, partitions: [{classes: [public], "
                                   "origin: ") +
                       origin + "}]}\n");
    EXPECT_EQ(d.decision, Effect::kDeny) << origin;
    EXPECT_THAT(FirstMessage(d), ::testing::HasSubstr("(did you mean `KR`?)")) << origin;
  }
  // Nothing close: no guess.
  EXPECT_THAT(FirstMessage(Check(KrDataset("mars:base-1"))),
              ::testing::Not(::testing::HasSubstr("did you mean")));
  Decision xx = Check(
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
      "dataset: {id: d, partitions: [{classes: [public], origin: XX}]}\n");
  EXPECT_THAT(FirstMessage(xx), ::testing::Not(::testing::HasSubstr("did you mean")));
}

// A party country that is not an ISO code would match no country condition and bring no policy
// into scope by where the operator is established: it fails closed instead.
TEST_F(EvalTest, PartyCountryThatIsNotAnIsoCodeFailsClosed) {
  Decision op =
      Check(KrDataset("ncp:KR", "2026-06-30T00:00:00Z", "operator: {id: o, country: KOR}\n"));
  EXPECT_EQ(op.decision, Effect::kDeny);
  EXPECT_THAT(Rules(op), ElementsAre("residency.unknown_country"));
  EXPECT_THAT(FirstMessage(op), ::testing::HasSubstr("operator country `KOR`"));
  EXPECT_THAT(FirstMessage(op), ::testing::HasSubstr("(did you mean `KR`?)"));
  Decision ok =
      Check(KrDataset("ncp:KR", "2026-06-30T00:00:00Z", "operator: {id: o, country: KR}\n"));
  EXPECT_EQ(ok.decision, Effect::kAllow);
  std::string to_japan = KrDataset("aws:ap-northeast-1");
  to_japan.replace(to_japan.find("country: JP"), 11, "country: Japan");
  Decision rc = Check(to_japan);
  EXPECT_EQ(rc.decision, Effect::kDeny);
  EXPECT_THAT(Rules(rc), ::testing::Contains("residency.unknown_country"));
}

TEST_F(EvalTest, AnonymizedNeedsAnAttestation) {
  EXPECT_EQ(
      Check(KrDataset("aws:ap-northeast-1", "2026-06-30T00:00:00Z", "", "[anonymized]")).decision,
      Effect::kDeny)
      << "without an attestation anonymized counts as pseudonymized, which is personal";
  std::string attested =
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:ap-northeast-1\"\n"
      "dataset: {id: d, partitions: [{classes: [anonymized], origin: KR, subjects: 3}],"
      " evidence: [{type: anonymization_attestation, not_after: \"2027-01-31T00:00:00Z\"}]}\n";
  EXPECT_EQ(Check(attested).decision, Effect::kAllow);
}

TEST_F(EvalTest, DryRunIsReportedButDoesNotDecide) {
  Decision d = Check(
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:us-east-1\"\n"
      "dataset: {id: d, partitions: [{classes: [public], origin: US}]}\n");
  EXPECT_EQ(d.decision, Effect::kAllow);
  ASSERT_EQ(d.dry_run.size(), 1u);
  EXPECT_EQ(d.dry_run[0].rule(), "corp.new");
  EXPECT_EQ(d.dry_run[0].effect(), Effect::kDeny);
}

std::string Sovereign(const std::string& dest, const std::string& now) {
  return "kind: model\naction: deploy\nnow: \"" + now + "\"\ndestination: \"" + dest +
         "\"\nmodel: {id: hcx, tier: sovereign-kr, trained_on: []}\n";
}

TEST_F(EvalTest, ExceptionsLiftCorpRulesOnlyInsideTheirWindowAndScope) {
  Decision in = Check(Sovereign("aws:ap-northeast-1", "2026-06-15T00:00:00Z"));
  EXPECT_EQ(in.decision, Effect::kAllowWithObligations);
  ASSERT_THAT(Rules(in), ElementsAre("corp.tier"));
  EXPECT_EQ(in.reasons[0].exception(), "EXC-1");
  EXPECT_THAT(Obligations(in), ElementsAre("corp.review"));
  EXPECT_EQ(Check(Sovereign("aws:ap-northeast-1", "2026-07-01T00:00:00Z")).decision, Effect::kDeny)
      << "expired";
  EXPECT_EQ(Check(Sovereign("aws:ap-northeast-1", "2026-05-31T23:59:59Z")).decision, Effect::kDeny)
      << "not yet valid";
  EXPECT_EQ(Check(Sovereign("aws:us-east-1", "2026-06-15T00:00:00Z")).decision, Effect::kDeny)
      << "outside the exception's scope";
  EXPECT_EQ(Check(Sovereign("ncp:KR", "2026-06-15T00:00:00Z")).decision, Effect::kAllow);
}

TEST_F(EvalTest, InferencePromptCarriesTheUsersJurisdiction) {
  std::string infer =
      "kind: compute\nnow: \"2026-06-30T00:00:00Z\"\n"
      "compute: {job: inference, location: \"aws:ap-northeast-1\", user: {jurisdiction: KR, "
      "provenance: verified},"
      " prompt: {classes: [personal]}, inputs: [{model: {id: m, location: \"aws:ap-northeast-1\", "
      "trained_on: []}}]}\n";
  Decision d = Check(infer);
  EXPECT_EQ(d.decision, Effect::kDeny);
  EXPECT_THAT(d.tags, ElementsAre("KR:personal"));
  EXPECT_THAT(Rules(d), ElementsAre("kr.cross_border"));
  EXPECT_THAT(Obligations(d), ElementsAre("kr.ai.notify")) << "obligations are the union";
  // The suggestion replaces compute.location; the model input's own location stays checked
  // (it is abroad but carries no tags), so a Korean serving region is allowed.
  EXPECT_THAT(d.suggested_locations(), ::testing::Contains("ncp:KR"));
  // A prompt with classes but no user jurisdiction fails closed.
  std::string anon_user =
      "kind: compute\nnow: \"2026-06-30T00:00:00Z\"\n"
      "compute: {job: inference, location: \"ncp:KR\", prompt: {classes: [personal]}}\n";
  EXPECT_EQ(Check(anon_user).decision, Effect::kDeny);
}

TEST_F(EvalTest, ComputeChecksEveryInputAndOutputLocation) {
  std::string train =
      "kind: compute\nnow: \"2026-06-30T00:00:00Z\"\n"
      "compute: {job: training, location: \"ncp:KR\","
      " inputs: [{dataset: {id: d, location: \"aws:us-east-1\", partitions: [{classes: [personal], "
      "origin: KR, subjects: 3}]}}],"
      " outputs: [{location: \"ncp:KR\", artifact: checkpoint}]}\n";
  EXPECT_EQ(Check(train).decision, Effect::kDeny) << "the input is read from us-east-1";
  std::string out_abroad =
      "kind: compute\nnow: \"2026-06-30T00:00:00Z\"\n"
      "compute: {job: training, location: \"ncp:KR\","
      " inputs: [{dataset: {id: d, location: \"ncp:KR\", partitions: [{classes: [personal], "
      "origin: KR, subjects: 3}]}}],"
      " outputs: [{location: \"aws:us-east-1\", artifact: checkpoint}]}\n";
  EXPECT_EQ(Check(out_abroad).decision, Effect::kDeny) << "checkpoints written abroad";
  std::string home = out_abroad;
  home.replace(home.find("aws:us-east-1"), 13, "nhn:kr1");
  EXPECT_EQ(Check(home).decision, Effect::kAllow);
}

TEST_F(EvalTest, SuspendedRecipientIsDenied) {
  std::string s =
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
      "recipient: {id: \"Bad Corp\", country: KR}\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 1}]}\n";
  Decision d = Check(s);
  EXPECT_EQ(d.decision, Effect::kDeny);
  EXPECT_THAT(Rules(d), ElementsAre("kr.suspension"));
}

TEST_F(EvalTest, OutputIsDeterministicByteForByte) {
  auto req = ParseRequest(
      KrDataset("aws:ap-northeast-1", "2026-06-30T00:00:00Z", "", "[kr.rrn, personal]"));
  ASSERT_TRUE(req.ok());
  std::string a = DecisionToJson(*Evaluate(**snapshot_, *req));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a, DecisionToJson(*Evaluate(**snapshot_, *req)));
  EXPECT_EQ(a.rfind("{\"decision\":\"deny\",\"reasons\":[", 0), 0u) << a;
  EXPECT_THAT(a, HasSubstr("\"now\":\"2026-06-30T00:00:00Z\""));
  EXPECT_THAT(a, HasSubstr("\"policy_digest\":\"sha256:"));
}

TEST_F(EvalTest, NowDefaultsToTheOptionsThenTheClock) {
  auto req =
      ParseRequest("kind: dataset\ndestination: \"ncp:KR\"\ndataset: {id: d, partitions: []}\n");
  ASSERT_TRUE(req.ok());
  EvalOptions o;
  o.now = absl::FromUnixSeconds(1800000000);
  EXPECT_EQ(Evaluate(**snapshot_, *req, o)->now, *o.now);
  absl::Time before = absl::Now();
  absl::Time got = Evaluate(**snapshot_, *req)->now;
  EXPECT_GE(got, before);
}

// ---- Request parsing -----------------------------------------------------------------------

// A request built in code, not parsed: a model artifact other than weights, checkpoint or
// adapter is refused (the
// rule index relies on a model never being a `dataset` or `prompt` artifact).
TEST_F(EvalTest, ModelArtifactOutsideTheSpecIsAnError) {
  auto req = ParseRequest(
      "kind: model\naction: deploy\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
      "model: {id: m-1, artifact: weights, trained_on: [{id: ds-1, partitions: "
      "[{classes: [personal], origin: KR}]}]}\n");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_TRUE(Evaluate(**snapshot_, *req).ok());
  for (const char* bad : {"dataset", "prompt", "Weights"}) {
    Request r = *req;
    r.model->artifact = bad;
    auto d = Evaluate(**snapshot_, r);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_THAT(std::string(d.status().message()),
                HasSubstr("want weights, checkpoint or adapter"));
  }
  Request compute;
  compute.kind = Request::Kind::kCompute;
  compute.action = "train";
  compute.compute.emplace();
  compute.compute->job = "training";
  compute.compute->location = "ncp:KR";
  compute.compute->inputs.emplace_back();
  compute.compute->inputs.back().model = *req->model;
  EXPECT_TRUE(Evaluate(**snapshot_, compute).ok());
  compute.compute->inputs.back().model->artifact = "prompt";
  EXPECT_FALSE(Evaluate(**snapshot_, compute).ok());
}

// A decision's texts stay valid after its snapshot is released (hot reload drops the old one):
// the decision shares the policy set, and owns the texts it built (fail-closed messages). Run
// under ASan, a dangling view is a use-after-free.
TEST(EvalTexts, DecisionOutlivesItsSnapshot) {
  const std::vector<std::string> yaml = {
      KrDataset("aws:ap-northeast-1"),  // denied: reasons, suggestions
      KrDataset("ncp:KR", "2026-06-30T00:00:00Z", "", "[personal, anonymized]"),
      KrDataset("nowhere:zz-1"),  // fail closed: a message made for this request
      "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
      "dataset: {id: d, partitions: [{classes: [personal], origin: KR}]}\n",  // missing number
  };
  std::vector<Decision> kept;
  std::vector<std::string> json;
  {
    CompileResult r = testing::CompileWith({testing::kKrPolicy, testing::kCorpPolicy});
    ASSERT_TRUE(r.ok());
    for (const auto& y : yaml) {
      auto req = ParseRequest(y);
      ASSERT_TRUE(req.ok()) << req.status();
      auto d = Evaluate(*r.snapshot, *req);
      ASSERT_TRUE(d.ok()) << d.status();
      json.push_back(DecisionToJson(*d));
      kept.push_back(*d);  // a copy; the original goes with this scope
    }
    EXPECT_EQ(r.snapshot.use_count(), 1);  // the decisions share the set, not the snapshot
  }
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(DecisionToJson(kept[i]), json[i]);
  EXPECT_FALSE(kept[0].suggested_locations().empty());
  EXPECT_THAT(std::string(kept[2].reasons[0].message()), HasSubstr("`nowhere:zz-1`"));
  EXPECT_THAT(std::string(kept[3].reasons[0].message()), HasSubstr("`subjects`"));
}

// Every part of every kind of decision, copied out and kept after the decision, its snapshot and
// the policy set are gone (a PolicyStore reload released the set): each part shares what it
// shows, and the decision-wide texts (suggestions, digest) are read through a copy of the
// decision. Run under ASan, a part that borrows freed text is a use-after-free. (Before parts
// shared their texts, ASan reported a heap-use-after-free here.)
TEST(EvalTexts, PartsCopiedOutOutliveTheirDecisionAndAReload) {
  testing::TempDir dir;
  {
    std::ofstream(dir.File("regions.yaml")) << testing::kTestCatalogue;
    std::ofstream(dir.File("kr.yaml")) << testing::kKrPolicy;
    std::ofstream(dir.File("corp.yaml")) << testing::kCorpPolicy;
  }
  auto first = CompilePolicy({dir.path()});
  ASSERT_TRUE(first.ok()) << first.status();
  PolicyStore store(*std::move(first));
  const std::string kNow = "2026-06-30T00:00:00Z";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"allow", KrDataset("aws:eu-central-1")},
      {"allow_with_obligations", KrDataset("aws:ap-northeast-1", kNow, Consent())},
      {"deny with suggestions", KrDataset("aws:ap-northeast-1")},
      {"escalate", KrDataset("aws:ap-northeast-1", kNow, "transfer: {pattern: occasional}\n")},
      {"fail-closed unknown location", KrDataset("nowhere:zz-1")},
      {"missing number",
       "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"ncp:KR\"\n"
       "dataset: {id: d, partitions: [{classes: [personal], origin: KR}]}\n"},
      {"lifted tag", ModelTwoLevels("aws:us-east-1",
                                    "  evidence: [{type: "
                                    "model_anonymity_assessment, origin: KR}]\n")},
      {"dry-run",
       "kind: dataset\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:us-east-1\"\n"
       "dataset: {id: d, partitions: [{classes: [public], origin: US}]}\n"},
  };
  struct Kept {
    std::vector<Reason> reasons, dry_run;
    std::vector<ObligationRef> obligations;
    std::vector<LiftedTag> lifted;
    Reason one;      // assigned, not copy-constructed
    Decision whole;  // suggestions and the digest are read through a decision
  };
  std::vector<Kept> kept(cases.size());
  std::vector<std::string> want(cases.size());
  auto text = [](const Kept& k) {
    std::string out;
    auto reason = [&](const Reason& r) {
      absl::StrAppend(&out, "reason ", std::string(r.policy()), "|", std::string(r.rule()), "|",
                      std::string(r.basis()), "|", EffectName(r.effect()), "|",
                      std::string(r.citation()), "|", std::string(r.message()), "|",
                      std::string(r.alternative()), "|", std::string(r.exception()), "\n");
    };
    for (const auto& r : k.reasons) reason(r);
    for (const auto& r : k.dry_run) reason(r);
    reason(k.one);
    for (const auto& o : k.obligations)
      absl::StrAppend(&out, "obligation ", std::string(o.id()), "|", std::string(o.policy()), "\n");
    for (const auto& l : k.lifted)
      absl::StrAppend(&out, "lifted ", l.tag(), "|", std::string(l.policy()), "\n");
    for (const auto& s : k.whole.suggested_locations())
      absl::StrAppend(&out, "suggested ", std::string(s), "\n");
    absl::StrAppend(&out, "digest ", std::string(k.whole.policy_digest()), "\n");
    for (const auto& r : k.whole.reasons) reason(r);
    return out;
  };
  std::set<std::string> effects;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::shared_ptr<const PolicySnapshot> snap = store.Get();
    auto req = ParseRequest(cases[i].second);
    ASSERT_TRUE(req.ok()) << cases[i].first << ": " << req.status();
    auto d = Evaluate(*snap, *req);
    ASSERT_TRUE(d.ok()) << cases[i].first << ": " << d.status();
    effects.insert(EffectName(d->decision));
    Kept& k = kept[i];
    k.reasons = d->reasons;
    k.dry_run = d->dry_run;
    k.obligations = d->obligations;
    k.lifted = d->lifted;
    if (!d->reasons.empty()) k.one = d->reasons.back();
    Decision copy = *d;
    k.whole = std::move(copy);
    want[i] = text(k);
  }
  // Each kind was met: the test copies out what it meant to.
  EXPECT_THAT(effects, UnorderedElementsAre("allow", "allow_with_obligations", "deny", "escalate"));
  EXPECT_THAT(want[1], HasSubstr("obligation kr.disclose|kr"));
  EXPECT_THAT(want[2], HasSubstr("suggested "));
  EXPECT_THAT(want[4], HasSubstr("`nowhere:zz-1`"));
  EXPECT_THAT(want[5], HasSubstr("`subjects`"));
  EXPECT_THAT(want[6], HasSubstr("lifted KR:personal|kr"));
  EXPECT_THAT(want[7], HasSubstr("reason corp|corp.new|corp|deny"));
  // The decisions and snapshots are gone; the reload releases the set they were made with.
  ASSERT_TRUE(store.Reload({std::string(RESIDENCY_SOURCE_DIR) + "/policies"}).ok());
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(text(kept[i]), want[i]) << cases[i].first;
}
TEST(RequestParse, DuplicateKeysAreRejectedInJsonAndYaml) {
  auto j = ParseRequest(
      R"({"kind":"dataset","destination":"ncp:KR","destination":"aws:us-east-1","dataset":{"id":"d"}})");
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("duplicate key `destination`"));
  auto y = ParseRequest(
      "kind: dataset\ndestination: ncp:KR\ndestination: aws:us-east-1\ndataset: {id: d}\n");
  ASSERT_FALSE(y.ok());
  EXPECT_THAT(std::string(y.status().message()), HasSubstr("3:1: `destination`: duplicate key"));
}

TEST(RequestParse, UnknownKeysAndWrongTypesNameTheField) {
  auto u = ParseRequest(
      R"({"kind":"dataset","dataset":{"id":"d","partitions":[{"classes":["personal"],"origin":"KR","subject":3}]}})");
  ASSERT_FALSE(u.ok());
  EXPECT_THAT(std::string(u.status().message()),
              HasSubstr("`dataset.partitions[0].subject`: unknown key"));
  auto t = ParseRequest(
      R"({"kind":"dataset","dataset":{"id":"d","partitions":[{"classes":"personal","origin":"KR"}]}})");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("`dataset.partitions[0].classes`: must be a list"));
  auto y = ParseRequest(
      "kind: dataset\ndataset:\n  id: d\n  partitions:\n    - {classes: [personal], origin: KR, "
      "subjects: many}\n");
  ASSERT_FALSE(y.ok());
  EXPECT_THAT(std::string(y.status().message()), HasSubstr("5:"));
  EXPECT_THAT(std::string(y.status().message()), HasSubstr("subjects`: must be a number"));
}

TEST(RequestParse, LocateRequestErrorGivesTheFieldAndPositionApart) {
  auto j = ParseRequest(
      R"({"kind":"dataset","dataset":{"id":"d","partitions":[{"classes":["personal"],"origin":"KR","subject":3}]}})");
  ASSERT_FALSE(j.ok());
  RequestErrorLocation jl = LocateRequestError(j.status());
  EXPECT_EQ(jl.path, "dataset.partitions[0].subject");
  EXPECT_EQ(jl.line, 0);  // JSON fields carry no position
  auto y = ParseRequest(
      "kind: dataset\ndataset:\n  id: d\n  partitions:\n    - {classes: [personal], origin: KR, "
      "subjects: many}\n");
  ASSERT_FALSE(y.ok());
  RequestErrorLocation yl = LocateRequestError(y.status());
  EXPECT_EQ(yl.path, "dataset.partitions[0].subjects");
  EXPECT_EQ(yl.line, 5);
  EXPECT_GT(yl.column, 1);
  auto syntax = ParseRequest("{\"kind\": \"dataset\",\n \"dataset\": {\"id\": }\n}");
  ASSERT_FALSE(syntax.ok());
  RequestErrorLocation sl = LocateRequestError(syntax.status());
  EXPECT_EQ(sl.path, "");
  EXPECT_EQ(sl.line, 2);
  EXPECT_EQ(LocateRequestError(absl::InvalidArgumentError("12 apples: x")).line, 0);
}

TEST(RequestParse, MalformedInputHasAPosition) {
  auto j = ParseRequest("{\"kind\": \"dataset\",\n \"dataset\": {\"id\": }\n}");
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("2:"));
  auto y = ParseRequest("kind: dataset\ndataset: {id: [\n");
  ASSERT_FALSE(y.ok());
  EXPECT_THAT(std::string(y.status().message()), HasSubstr("malformed YAML"));
  EXPECT_FALSE(ParseRequest("").ok());
  EXPECT_FALSE(ParseRequest("[1, 2]").ok());
  EXPECT_FALSE(ParseRequest(std::string(200, '[')).ok());
}

TEST(RequestParse, ActionMustAgreeWithJob) {
  auto bad = ParseRequest(
      R"({"kind":"compute","action":"train","compute":{"job":"inference","location":"ncp:KR"}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("disagrees with compute.job"));
  auto ok = ParseRequest(R"({"kind":"compute","compute":{"job":"inference","location":"ncp:KR"}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->action, "infer");
}

TEST(RequestParse, SizeAndDepthAreBounded) {
  RequestLimits l;
  l.max_bytes = 64;
  EXPECT_FALSE(ParseRequest(std::string(100, ' ') + "{}", l).ok());
  std::string deep = "{\"kind\":\"dataset\",\"dataset\":{\"id\":\"d\",\"derived_from\":[";
  for (int i = 0; i < 100; ++i) deep += "{\"id\":\"x\",\"derived_from\":[";
  for (int i = 0; i < 100; ++i) deep += "]}";
  deep += "]}}";
  EXPECT_FALSE(ParseRequest(deep).ok());
}

}  // namespace
}  // namespace residency

namespace residency {
namespace {

// An evidence condition that ignores the location (match_country: false) is evaluated without
// one when suggestions are computed; it must not read a location (ASan caught nothing here only
// because no shipped policy had one).
TEST(EvalSuggestions, EvidenceIgnoringTheCountryAtEveryCandidate) {
  static const char kPolicy[] = R"yaml(kind: policy
id: ev
basis: law
scope: {origins: [KR]}
rules:
  - id: ev.contract
    citation: "test"
    message: "needs a contract abroad"
    when: {classes: [personal], origins: [KR], location: {not_in: [KR]}}
    alternatives:
      - name: contract
        when: {evidence: {types: [contract], match_country: false}}
        effect: allow
    otherwise: deny
)yaml";
  CompileResult r = testing::CompileWith({kPolicy});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  auto req = ParseRequest(
      "kind: dataset\naction: store\nnow: \"2026-06-30T00:00:00Z\"\n"
      "destination: \"aws:ap-northeast-1\"\n"
      "dataset: {id: d, partitions: [{origin: KR, classes: [personal]}]}\n");
  ASSERT_TRUE(req.ok()) << req.status();
  auto d = Evaluate(*r.snapshot, *req);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->decision, Effect::kDeny);
  // Only the Korean locations: the provider's own first, then catalogue order; the government
  // site only for a public body (the request names no operator).
  EXPECT_THAT(d->suggested_locations(), ::testing::ElementsAre("aws:ap-northeast-2", "ncp:KR",
                                                               "nhn:kr1", "site:naver-gak-sejong"));
  // With the contract the placement itself is allowed.
  req->evidence.push_back(Evidence{});
  req->evidence.back().type = "contract";
  auto allowed = Evaluate(*r.snapshot, *req);
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->decision, Effect::kAllow);
}

}  // namespace
}  // namespace residency
