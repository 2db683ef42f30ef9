// Explain: every alternative tried and why it did not hold, for each kind of failure (a condition,
// evidence missing, expired, not yet valid, withdrawn, bound to another recipient, ignored, a fact
// the request lacks, an exception), and agreement with Evaluate on generated requests.
#include "residency/explain.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "request_generator.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

using ::testing::HasSubstr;

const char kPolicy[] = R"yaml(kind: policy
id: t
basis: law
scope: {always: true}
obligations:
  t.disclose: "Disclose the recipient to the data subjects."
lists:
  recognized: ["aws:eu-central-1"]
ignore_evidence:
  - {types: [consent.cross_border], classes: [kr.rrn]}
rules:
  - id: t.abroad
    citation: "test"
    message: "Korean personal data leaves Korea only with a basis"
    when: {tags: ["KR:personal"], location: {not_in: [KR]}}
    alternatives:
      - name: consent
        when: {evidence: {types: [consent.cross_border], require: [recipient]}}
        effect: allow_with_obligations
        obligations: [t.disclose]
      - {name: recognized, when: {location: {in_list: recognized}}, effect: allow}
      - {name: small, when: {subjects: {lt: 100}}, effect: allow}
    otherwise: deny
  - id: t.volume
    citation: "test"
    message: "large exports escalate"
    when: {tags: ["JP:personal"], cumulative_subjects: {gte: 1000000}}
    effect: escalate
)yaml";

const char kCorp[] = R"yaml(kind: policy
id: c
basis: corp
scope: {always: true}
obligations:
  c.review: "review"
rules:
  - id: c.no_us
    citation: "POL-1"
    message: "nothing in us-east-1"
    when: {location: {in: ["aws:us-east-1"]}}
    effect: deny
exceptions:
  - id: EXC-OLD
    owner: platform
    ticket: T-1
    rules: [c.no_us]
    when: {purpose: [research]}
    not_after: "2026-01-01T00:00:00Z"
    obligations: [c.review]
  - id: EXC-NOW
    owner: platform
    ticket: T-2
    rules: [c.no_us]
    when: {purpose: [analytics]}
    not_after: "2027-01-01T00:00:00Z"
    obligations: [c.review]
)yaml";

class ExplainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    CompileResult r = testing::CompileWith({kPolicy, kCorp});
    ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
    snapshot_ = new std::shared_ptr<const PolicySnapshot>(r.snapshot);
  }
  static void TearDownTestSuite() { delete snapshot_; }

  static Explanation Run(const std::string& yaml) {
    auto req = ParseRequest(yaml);
    EXPECT_TRUE(req.ok()) << req.status();
    if (!req.ok()) return Explanation{};
    auto e = Explain(**snapshot_, *req);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *std::move(e) : Explanation{};
  }
  static const RuleTrace* Rule(const Explanation& e, const std::string& id) {
    for (const auto& r : e.rules)
      if (r.rule == id) return &r;
    return nullptr;
  }
  static const AlternativeTrace* Alt(const UnitTrace& u, const std::string& name) {
    for (const auto& a : u.alternatives)
      if (a.name == name) return &a;
    return nullptr;
  }
  // Every fact line in a condition tree.
  static std::string Facts(const ConditionTrace& c) {
    std::string out = absl::StrJoin(c.facts, "\n");
    for (const auto& ch : c.children) absl::StrAppend(&out, "\n", Facts(ch));
    return out;
  }
  static std::shared_ptr<const PolicySnapshot>* snapshot_;
};
std::shared_ptr<const PolicySnapshot>* ExplainTest::snapshot_ = nullptr;

// A KR dataset to `dest` with the given request evidence (YAML flow list) and recipient.
std::string Transfer(const std::string& dest, const std::string& evidence,
                     const std::string& subjects = "subjects: 1000",
                     const std::string& purpose = "marketing") {
  return absl::StrCat(R"(kind: dataset
action: transfer
purpose: )",
                      purpose, R"(
now: "2026-06-30T00:00:00Z"
destination: ")",
                      dest, R"("
recipient: {id: "Tokyo KK", country: JP, role: processor}
evidence: )",
                      evidence, R"(
dataset: {id: kr-customers, location: "ncp:KR",
          partitions: [{classes: [personal], origin: KR, )",
                      subjects, R"(}]}
)");
}

TEST_F(ExplainTest, NoEvidenceAndAFailedConditionAreNamed) {
  Explanation e = Run(Transfer("aws:ap-northeast-1", "[]"));
  EXPECT_EQ(e.decision.decision, Effect::kDeny);
  const RuleTrace* r = Rule(e, "t.abroad");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->deciding);
  EXPECT_EQ(r->effect, Effect::kDeny);
  EXPECT_THAT(r->source, HasSubstr("p0.yaml:"));
  ASSERT_EQ(r->units.size(), 1u);
  const UnitTrace& u = r->units[0];
  EXPECT_EQ(u.artifact, "kr-customers");
  EXPECT_EQ(u.tag, "KR:personal");
  EXPECT_EQ(u.location, "aws:ap-northeast-1");
  EXPECT_EQ(u.when.value, Truth::kTrue);
  ASSERT_EQ(u.alternatives.size(), 3u);
  const AlternativeTrace* consent = Alt(u, "consent");
  EXPECT_EQ(consent->when.value, Truth::kFalse);
  EXPECT_FALSE(consent->chosen);
  EXPECT_THAT(consent->when.condition, HasSubstr("evidence:"));
  EXPECT_THAT(Facts(consent->when), HasSubstr("no evidence of type `consent.cross_border`"));
  const AlternativeTrace* recognized = Alt(u, "recognized");
  EXPECT_EQ(recognized->when.value, Truth::kFalse);
  EXPECT_THAT(Facts(recognized->when), HasSubstr("not in list `recognized`"));
  EXPECT_EQ(Alt(u, "small")->when.value, Truth::kFalse);
  EXPECT_THAT(Facts(Alt(u, "small")->when), HasSubstr("`subjects` is 1000"));
  EXPECT_THAT(ExplanationToText(e), HasSubstr("no alternative holds: the rule's own effect, deny"));
}

TEST_F(ExplainTest, EvidenceOutsideItsWindowOrWithdrawn) {
  Explanation expired = Run(Transfer(
      "aws:ap-northeast-1",
      R"([{type: consent.cross_border, recipient: "Tokyo KK", not_after: "2026-01-01T00:00:00Z"}])"));
  EXPECT_THAT(Facts(Alt(Rule(expired, "t.abroad")->units[0], "consent")->when),
              HasSubstr("evidence #0 `consent.cross_border` of the request: expired at "
                        "2026-01-01T00:00:00Z"));
  Explanation early = Run(Transfer(
      "aws:ap-northeast-1",
      R"([{type: consent.cross_border, recipient: "Tokyo KK", not_before: "2027-01-01T00:00:00Z"}])"));
  EXPECT_THAT(Facts(Alt(Rule(early, "t.abroad")->units[0], "consent")->when),
              HasSubstr("not valid before 2027-01-01T00:00:00Z"));
  Explanation withdrawn = Run(Transfer("aws:ap-northeast-1",
                                       R"([{type: consent.cross_border, recipient: "Tokyo KK",
                                           withdrawn_at: "2026-03-01T00:00:00Z"}])"));
  EXPECT_EQ(withdrawn.decision.decision, Effect::kDeny);
  EXPECT_THAT(Facts(Alt(Rule(withdrawn, "t.abroad")->units[0], "consent")->when),
              HasSubstr("withdrawn at 2026-03-01T00:00:00Z"));
}

TEST_F(ExplainTest, EvidenceBoundToAnotherRecipientOrLackingARequiredField) {
  Explanation other = Run(
      Transfer("aws:ap-northeast-1", R"([{type: consent.cross_border, recipient: "Osaka KK"}])"));
  EXPECT_THAT(Facts(Alt(Rule(other, "t.abroad")->units[0], "consent")->when),
              HasSubstr("is bound to recipient `Osaka KK`; the request's recipient is `Tokyo KK`"));
  Explanation bare = Run(Transfer("aws:ap-northeast-1", "[{type: consent.cross_border}]"));
  EXPECT_THAT(Facts(Alt(Rule(bare, "t.abroad")->units[0], "consent")->when),
              HasSubstr("does not name its `recipient`, which is required here"));
}

TEST_F(ExplainTest, TheChosenAlternativeHolds) {
  Explanation e = Run(
      Transfer("aws:ap-northeast-1", R"([{type: consent.cross_border, recipient: "Tokyo KK"}])"));
  EXPECT_EQ(e.decision.decision, Effect::kAllowWithObligations);
  const UnitTrace& u = Rule(e, "t.abroad")->units[0];
  EXPECT_EQ(u.effect, Effect::kAllowWithObligations);
  EXPECT_TRUE(Alt(u, "consent")->chosen);
  EXPECT_EQ(Alt(u, "consent")->when.value, Truth::kTrue);
  EXPECT_THAT(Facts(Alt(u, "consent")->when), HasSubstr("of the request: holds"));
  EXPECT_THAT(ExplanationToText(e),
              HasSubstr("obligation t.disclose: Disclose the recipient to the data subjects."));
}

TEST_F(ExplainTest, AnAlternativeThatCannotBeDecidedLegalisesNothing) {
  Explanation e = Run(Transfer("aws:ap-northeast-1", "[]", "sensitive_subjects: 1"));
  const UnitTrace& u = Rule(e, "t.abroad")->units[0];
  EXPECT_EQ(u.effect, Effect::kDeny);
  const AlternativeTrace* small = Alt(u, "small");
  EXPECT_EQ(small->when.value, Truth::kUnknown);
  EXPECT_FALSE(small->chosen);
  EXPECT_THAT(Facts(small->when), HasSubstr("the request does not give `subjects`"));
  EXPECT_THAT(ExplanationToText(e), HasSubstr("cannot be decided, so it legalises nothing"));
}

TEST_F(ExplainTest, ARuleWhoseConditionLacksAFactNamesIt) {
  Explanation e = Run(R"(kind: dataset
action: transfer
now: "2026-06-30T00:00:00Z"
destination: "aws:ap-northeast-1"
dataset: {id: jp-users, partitions: [{classes: [personal], origin: JP}]}
)");
  const RuleTrace* r = Rule(e, "t.volume");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->effect, Effect::kEscalate);  // judged as if it applied: its own effect
  ASSERT_EQ(r->units.size(), 1u);
  EXPECT_EQ(r->units[0].when.value, Truth::kUnknown);
  EXPECT_EQ(r->units[0].unknown, "cumulative_subjects");
  EXPECT_THAT(ExplanationToText(e),
              HasSubstr("the request does not give `cumulative_subjects`: judged as if the rule "
                        "applied (fail closed)"));
}

TEST_F(ExplainTest, IgnoredEvidenceIsSaidToBeIgnored) {
  Explanation e = Run(R"(kind: dataset
action: transfer
now: "2026-06-30T00:00:00Z"
destination: "aws:ap-northeast-1"
recipient: {id: "Tokyo KK", country: JP}
evidence: [{type: consent.cross_border, recipient: "Tokyo KK"}]
dataset: {id: rrn, partitions: [{classes: [kr.rrn], origin: KR, subjects: 1000}]}
)");
  const RuleTrace* r = Rule(e, "t.abroad");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->effect, Effect::kDeny);
  EXPECT_THAT(Facts(Alt(r->units[0], "consent")->when),
              HasSubstr("this policy ignores it for data of class `kr.rrn`"));
}

TEST_F(ExplainTest, ExceptionsInactiveOrLifting) {
  auto request = [](const std::string& purpose) {
    return absl::StrCat("kind: dataset\naction: store\npurpose: ", purpose,
                        "\nnow: \"2026-06-30T00:00:00Z\"\ndestination: \"aws:us-east-1\"\n"
                        "dataset: {id: d, partitions: [{classes: [public], origin: US}]}\n");
  };
  Explanation old = Run(request("research"));
  EXPECT_EQ(old.decision.decision, Effect::kDeny);
  const UnitTrace& u = Rule(old, "c.no_us")->units[0];
  ASSERT_EQ(u.exceptions.size(), 2u);
  EXPECT_EQ(u.exceptions[0].id, "EXC-OLD");
  EXPECT_FALSE(u.exceptions[0].active);
  EXPECT_EQ(u.exceptions[0].when.value, Truth::kTrue);
  EXPECT_FALSE(u.exceptions[0].chosen);
  EXPECT_THAT(ExplanationToText(old), HasSubstr("exception EXC-OLD: not active at this time"));

  Explanation lifted = Run(request("analytics"));
  EXPECT_EQ(lifted.decision.decision, Effect::kAllowWithObligations);
  const UnitTrace& v = Rule(lifted, "c.no_us")->units[0];
  EXPECT_TRUE(v.exceptions[1].chosen);
  EXPECT_THAT(ExplanationToText(lifted), HasSubstr("exception EXC-NOW: lifts it"));
}

TEST_F(ExplainTest, PlacesBeyondTheLimitAreCounted) {
  std::string inputs;
  for (int i = 0; i < 5; ++i) {
    absl::StrAppend(&inputs, "    - dataset: {id: d", i,
                    ", partitions: [{classes: [personal], origin: KR, subjects: 1000}]}\n");
  }
  auto req = ParseRequest(absl::StrCat("kind: compute\nnow: \"2026-06-30T00:00:00Z\"\n",
                                       "compute:\n  job: batch\n  location: \"aws:us-east-1\"\n",
                                       "  inputs:\n", inputs));
  ASSERT_TRUE(req.ok()) << req.status();
  ExplainOptions options;
  options.max_units = 2;
  auto e = Explain(**snapshot_, *req, options);
  ASSERT_TRUE(e.ok()) << e.status();
  const RuleTrace* r = Rule(*e, "t.abroad");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->units.size(), 2u);
  EXPECT_EQ(r->units_left_out, 3u);
}

TEST_F(ExplainTest, JsonCarriesTheDecisionAndTheTrees) {
  Explanation e = Run(Transfer("aws:ap-northeast-1", "[]"));
  const std::string j = ExplanationToJson(e);
  EXPECT_THAT(j, HasSubstr(R"("decision":{"decision":"deny")"));
  EXPECT_THAT(j, HasSubstr(R"("name":"consent","effect":"allow_with_obligations","chosen":false)"));
  EXPECT_THAT(j, HasSubstr(R"("policies_in_scope":["c","t"])"));
}

// The explanation and the decision are two walks over the same rules: they must agree on the
// decision, the deciding rules and each reason's trigger, on generated requests.
TEST(ExplainAgreement, WithEvaluateOnGeneratedRequests) {
  auto snap = CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(snap.ok()) << snap.status();
  testing::RandomChoices choices(20261207);
  testing::RequestGenerator gen(**snap, &choices);
  int with_rules = 0;
  for (int i = 0; i < 400; ++i) {
    Request r = gen.Make();
    ASSERT_EQ(testing::CompareExplainWithEvaluate(**snap, r), "")
        << "request #" << i << ": " << RequestToJson(r);
    auto e = Explain(**snap, r);
    with_rules += e.ok() && !e->rules.empty() ? 1 : 0;
  }
  EXPECT_GT(with_rules, 100);
}

}  // namespace
}  // namespace residency
