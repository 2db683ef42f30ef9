// Each reason names what in the request triggered it (the artifact, through lineage where the tag
// was inherited, the tag and the location), and each obligation carries its text.
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "residency/decision.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

const char kPolicy[] = R"yaml(kind: policy
id: t
basis: law
scope: {always: true}
obligations:
  t.log: "Log every access to the records for three years."
rules:
  - id: t.kr_abroad
    citation: "test"
    message: "Korean personal data stays in Korea"
    when: {tags: ["KR:personal"], location: {not_in: [KR]}}
    effect: deny
  - id: t.cn_abroad
    citation: "test"
    message: "Chinese personal data stays in mainland China"
    when: {tags: ["CN:personal"], location: {not_in: [CN]}}
    effect: deny
  - id: t.health_in_models
    citation: "test"
    message: "no model trained on health data"
    when: {classes: [personal.health], artifact: [model]}
    effect: deny
  - id: t.ads
    citation: "test"
    message: "no training for advertising"
    when: {kind: [compute], purpose: [ads]}
    effect: deny
  - id: t.logged
    citation: "test"
    message: "access to personal data is logged"
    when: {classes: [personal], location: {in: [KR]}}
    effect: allow_with_obligations
    obligations: [t.log]
)yaml";

class TriggerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    CompileResult r = testing::CompileWith({kPolicy});
    ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
    snapshot_ = new std::shared_ptr<const PolicySnapshot>(r.snapshot);
  }
  static void TearDownTestSuite() { delete snapshot_; }

  static Decision Check(const std::string& yaml) {
    auto req = ParseRequest(yaml);
    EXPECT_TRUE(req.ok()) << req.status();
    if (!req.ok()) return Decision{};
    EvalOptions o;
    o.suggest = false;
    auto d = Evaluate(**snapshot_, *req, o);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : Decision{};
  }
  static const Reason* Find(const Decision& d, std::string_view rule) {
    for (const Reason& r : d.reasons)
      if (r.rule() == rule) return &r;
    return nullptr;
  }
  static std::shared_ptr<const PolicySnapshot>* snapshot_;
};
std::shared_ptr<const PolicySnapshot>* TriggerTest::snapshot_ = nullptr;

// A training job in Frankfurt with three inputs: each deny names the input that caused it.
const char kJob[] = R"yaml(kind: compute
purpose: ads
now: "2026-06-30T00:00:00Z"
compute:
  job: training
  location: "aws:eu-central-1"
  inputs:
    - dataset: {id: kr-customers, location: "ncp:KR",
                partitions: [{classes: [personal], origin: KR, subjects: 10}]}
    - dataset: {id: cn-orders, location: "alibaba:cn-beijing",
                partitions: [{classes: [personal], origin: CN, subjects: 10}]}
    - model:
        id: base-7b
        location: "aws:eu-central-1"
        trained_on:
          - {id: clinic-notes, partitions: [{classes: [personal.health], origin: JP, subjects: 10}]}
  outputs: [{location: "aws:eu-central-1"}]
)yaml";

TEST_F(TriggerTest, EachReasonNamesTheInputThatTriggeredIt) {
  Decision d = Check(kJob);
  ASSERT_EQ(d.decision, Effect::kDeny) << DecisionToJson(d);
  ASSERT_EQ(d.reasons.size(), 4u) << DecisionToJson(d);

  const Reason* kr = Find(d, "t.kr_abroad");
  ASSERT_NE(kr, nullptr);
  EXPECT_EQ(kr->artifact_kind(), "dataset");
  EXPECT_EQ(kr->artifact(), "kr-customers");
  EXPECT_EQ(kr->via(), "");
  EXPECT_EQ(kr->tag(), "KR:personal");
  EXPECT_EQ(kr->location(), "aws:eu-central-1");

  const Reason* cn = Find(d, "t.cn_abroad");
  ASSERT_NE(cn, nullptr);
  EXPECT_EQ(cn->artifact(), "cn-orders");
  EXPECT_EQ(cn->tag(), "CN:personal");
  EXPECT_EQ(cn->location(), "aws:eu-central-1");

  // Inherited through lineage; the rule decides alike everywhere, so no location.
  const Reason* health = Find(d, "t.health_in_models");
  ASSERT_NE(health, nullptr);
  EXPECT_EQ(health->artifact_kind(), "model");
  EXPECT_EQ(health->artifact(), "base-7b");
  EXPECT_EQ(health->via(), "clinic-notes");
  EXPECT_EQ(health->tag(), "JP:personal.health");
  EXPECT_EQ(health->location(), "");

  // A rule on the request itself names no artifact.
  const Reason* ads = Find(d, "t.ads");
  ASSERT_NE(ads, nullptr);
  EXPECT_EQ(ads->artifact_kind(), "");
  EXPECT_EQ(ads->artifact(), "");
  EXPECT_EQ(ads->tag(), "");
  EXPECT_EQ(ads->location(), "");

  const std::string json = DecisionToJson(d);
  EXPECT_NE(json.find(R"("trigger":{"kind":"model","artifact":"base-7b","via":"clinic-notes",)"
                      R"("tag":"JP:personal.health"})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("trigger":{"kind":"dataset","artifact":"cn-orders","tag":"CN:personal",)"
                      R"("location":"aws:eu-central-1"})"),
            std::string::npos)
      << json;
}

// The location named is the one where the rule gave its result: the input's own location when
// only that one is abroad.
TEST_F(TriggerTest, TheLocationIsWhereTheRuleFired) {
  Decision d = Check(R"yaml(kind: compute
now: "2026-06-30T00:00:00Z"
compute:
  job: batch
  location: "ncp:KR"
  inputs:
    - dataset: {id: kr-customers, location: "aws:ap-northeast-1",
                partitions: [{classes: [personal], origin: KR, subjects: 10}]}
)yaml");
  ASSERT_EQ(d.decision, Effect::kDeny) << DecisionToJson(d);
  const Reason* kr = Find(d, "t.kr_abroad");
  ASSERT_NE(kr, nullptr);
  EXPECT_EQ(kr->location(), "aws:ap-northeast-1");
}

TEST_F(TriggerTest, TriggersAndObligationTextsOutliveTheRequest) {
  Decision d;
  {
    std::string yaml = R"yaml(kind: dataset
action: store
now: "2026-06-30T00:00:00Z"
destination: "nhn:kr1"
dataset: {id: a-dataset-id-well-beyond-the-small-string-buffer, location: "nhn:kr1",
          partitions: [{classes: [personal], origin: KR, subjects: 10}]}
)yaml";
    d = Check(yaml);
    yaml.assign(yaml.size(), 'x');
  }
  ASSERT_EQ(d.decision, Effect::kAllowWithObligations) << DecisionToJson(d);
  std::vector<Reason> reasons = d.reasons;
  std::vector<ObligationRef> obligations = d.obligations;
  d = Decision{};
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons[0].artifact(), "a-dataset-id-well-beyond-the-small-string-buffer");
  EXPECT_EQ(reasons[0].tag(), "KR:personal");
  EXPECT_EQ(reasons[0].location(), "nhn:kr1");
  ASSERT_EQ(obligations.size(), 1u);
  EXPECT_EQ(obligations[0].id(), "t.log");
  EXPECT_EQ(obligations[0].text(), "Log every access to the records for three years.");
}

TEST_F(TriggerTest, ObligationTextIsInTheJson) {
  Decision d = Check(R"yaml(kind: dataset
action: store
now: "2026-06-30T00:00:00Z"
destination: "nhn:kr1"
dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 10}]}
)yaml");
  EXPECT_NE(DecisionToJson(d).find(R"({"id":"t.log","policy":"t","text":"Log every access to )"
                                   R"(the records for three years."})"),
            std::string::npos)
      << DecisionToJson(d);
}

}  // namespace
}  // namespace residency

namespace residency {
namespace {

// A rule words each outcome: the deciding alternative's `message`, else `messages` for the
// effect, else `message`.
TEST(OutcomeMessages, TheAlternativeThenTheEffectThenTheRule) {
  const char* policy = R"yaml(kind: policy
id: m
basis: law
scope: {always: true}
obligations:
  m.keep: "keep the contract"
rules:
  - id: m.abroad
    citation: "test"
    message: "none of the ways out applies to this destination"
    messages:
      allow_with_obligations: "allowed on the basis named in this reason"
      escalate: "a person must decide"
    when: {classes: [personal], location: {not_in: [KR]}}
    alternatives:
      - name: contract
        when: {evidence: {types: [contract]}}
        effect: allow_with_obligations
        obligations: [m.keep]
        message: "the contract with the recipient carries the transfer"
      - name: certificate
        when: {evidence: {types: [certificate]}}
        effect: allow_with_obligations
        obligations: [m.keep]
      - name: occasional
        when: {transfer: {patterns: [occasional]}}
        effect: escalate
    otherwise: deny
)yaml";
  CompileResult r = testing::CompileWith({policy});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  auto message = [&](const std::string& extra) {
    auto req = ParseRequest(absl::StrCat(
        "kind: dataset\naction: transfer\nnow: \"2026-06-30T00:00:00Z\"\n",
        "destination: \"aws:ap-northeast-1\"\n", extra,
        "dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjects: 10}]}\n"));
    EXPECT_TRUE(req.ok()) << req.status();
    auto d = Evaluate(*r.snapshot, *req);
    EXPECT_TRUE(d.ok() && d->reasons.size() == 1) << (d.ok() ? DecisionToJson(*d) : "");
    return d.ok() && !d->reasons.empty() ? std::string(d->reasons[0].message()) : "";
  };
  EXPECT_EQ(message("evidence: [{type: contract}]\n"),
            "the contract with the recipient carries the transfer");
  EXPECT_EQ(message("evidence: [{type: certificate}]\n"),
            "allowed on the basis named in this reason");
  EXPECT_EQ(message("transfer: {pattern: occasional}\n"), "a person must decide");
  EXPECT_EQ(message(""), "none of the ways out applies to this destination");

  // An unknown outcome is an error at its key.
  CompileResult bad = testing::CompileWith({absl::StrCat(
      "kind: policy\nid: b\nbasis: law\nscope: {always: true}\nrules:\n",
      "  - {id: b.r, citation: c, message: m, messages: {allowed: x}, effect: deny}\n")});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(FormatDiagnostic(bad.diagnostics[0]).find("unknown key `allowed`"), std::string::npos)
      << FormatDiagnostic(bad.diagnostics[0]);
}

// The shipped EU transfer rule no longer tells an allow through SCCs that "none applies".
TEST(OutcomeMessages, AnSccTransferSaysWhatItRestsOn) {
  auto snap = CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(snap.ok()) << snap.status();
  std::ifstream in(std::string(RESIDENCY_SOURCE_DIR) +
                   "/examples/requests/eu-dataset-to-us-scc.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto req = ParseRequest(text);
  ASSERT_TRUE(req.ok()) << req.status();
  auto d = Evaluate(**snap, *req);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->decision, Effect::kAllowWithObligations);
  ASSERT_EQ(d->reasons.size(), 1u);
  EXPECT_EQ(d->reasons[0].alternative(), "scc_with_tia");
  EXPECT_EQ(std::string(d->reasons[0].message()).find("None applies"), std::string::npos);
  EXPECT_NE(std::string(d->reasons[0].message()).find("standard contractual clauses"),
            std::string::npos);
}

}  // namespace
}  // namespace residency
