// The format glue of lib/eval: the decision JSON writer against the nlohmann rendering it
// replaced (byte for byte), ParseRequest's fast JSON path against its general path (same
// requests, same errors), RequestToJson round trips, and the decision -> audit record mapping.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "eval/request_parse.h"
#include "eval_fixtures.h"
#include "gtest/gtest.h"
#include "internal/time_util.h"
#include "request_generator.h"
#include "residency/audit.h"
#include "residency/decision.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

// DecisionToJson as it was written with nlohmann::ordered_json (the reference).
nlohmann::ordered_json ReasonJson(const Reason& r) {
  nlohmann::ordered_json j;
  j["policy"] = r.policy();
  j["rule"] = r.rule();
  j["basis"] = r.basis();
  j["effect"] = EffectName(r.effect());
  j["citation"] = r.citation();
  j["message"] = r.message();
  if (!r.alternative().empty()) j["alternative"] = r.alternative();
  if (!r.exception().empty()) j["exception"] = r.exception();
  nlohmann::ordered_json trigger = nlohmann::ordered_json::object();
  if (!r.artifact_kind().empty()) trigger["kind"] = r.artifact_kind();
  if (!r.artifact().empty()) trigger["artifact"] = r.artifact();
  if (!r.via().empty()) trigger["via"] = r.via();
  if (!r.tag().empty()) trigger["tag"] = r.tag();
  if (!r.location().empty()) trigger["location"] = r.location();
  if (!trigger.empty()) j["trigger"] = trigger;
  return j;
}

std::string ReferenceDecisionJson(const Decision& d) {
  nlohmann::ordered_json j;
  j["decision"] = EffectName(d.decision);
  j["reasons"] = nlohmann::ordered_json::array();
  for (const auto& r : d.reasons) j["reasons"].push_back(ReasonJson(r));
  j["obligations"] = nlohmann::ordered_json::array();
  for (const auto& o : d.obligations) {
    j["obligations"].push_back({{"id", o.id()}, {"policy", o.policy()}, {"text", o.text()}});
  }
  j["suggested_locations"] = d.suggested_locations();
  j["tags"] = d.tags;
  j["lifted"] = nlohmann::ordered_json::array();
  for (const auto& l : d.lifted) j["lifted"].push_back({{"tag", l.tag()}, {"policy", l.policy()}});
  j["dry_run"] = nlohmann::ordered_json::array();
  for (const auto& r : d.dry_run) j["dry_run"].push_back(ReasonJson(r));
  j["now"] = internal::FormatTimestamp(d.now);
  j["policy_digest"] = d.policy_digest();
  if (d.audit) {
    j["audit"] = {{"log", d.audit->log}, {"index", d.audit->index}};
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::vector<std::string> ExampleTexts() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(RESIDENCY_SOURCE_DIR) +
                                                           "/examples/requests")) {
    std::ifstream f(e.path());
    out.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::shared_ptr<const PolicySnapshot> Shipped() {
  auto snap = CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  EXPECT_TRUE(snap.ok()) << snap.status();
  return snap.ok() ? *snap : nullptr;
}

void ExpectSameJson(const Decision& d, const std::string& what) {
  std::string mine = DecisionToJson(d);
  ASSERT_EQ(mine, ReferenceDecisionJson(d)) << what;
  std::string appended = "x";
  AppendDecisionJson(d, &appended);
  ASSERT_EQ(appended, "x" + mine) << what;
  // Read back: the same bytes again, and the same parts (a trigger split as it was).
  auto back = DecisionFromJson(mine);
  ASSERT_TRUE(back.ok()) << back.status() << " " << mine;
  ASSERT_EQ(DecisionToJson(*back), mine) << what;
  ASSERT_EQ(back->reasons.size(), d.reasons.size());
  for (size_t i = 0; i < d.reasons.size(); ++i) {
    EXPECT_EQ(back->reasons[i].artifact(), d.reasons[i].artifact());
    EXPECT_EQ(back->reasons[i].via(), d.reasons[i].via());
    EXPECT_EQ(back->reasons[i].tag(), d.reasons[i].tag());
    EXPECT_EQ(back->reasons[i].effect(), d.reasons[i].effect());
  }
  EXPECT_EQ(back->now, d.now);
}

TEST(DecisionJson, ReadingBackRefusesWhatIsNotADecisionNamingTheField) {
  auto snap = Shipped();
  ASSERT_TRUE(snap);
  auto d = Evaluate(*snap, *ParseRequest(ExampleTexts()[0]));
  ASSERT_TRUE(d.ok());
  const std::string good = DecisionToJson(*d);
  auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(good);
    edit(j);
    return j.dump();
  };
  const std::pair<std::string, std::string> bad[] = {
      {"{", "not valid JSON"},
      {"[]", "not an object"},
      {edited([](nlohmann::json& j) { j["decision"] = "maybe"; }), "`decision`"},
      {edited([](nlohmann::json& j) { j.erase("tags"); }), "`tags` is missing"},
      {edited([](nlohmann::json& j) { j["colour"] = 1; }), "`colour`"},
      {edited([](nlohmann::json& j) { j["reasons"][0]["rule"] = 7; }), "`reasons[0].rule`"},
      {edited([](nlohmann::json& j) { j["reasons"][0].erase("policy"); }),
       "`reasons[0].policy` is missing"},
      {edited([](nlohmann::json& j) { j["reasons"][0]["trigger"]["kind"] = "ship"; }),
       "`reasons[0].trigger.kind`"},
      {edited([](nlohmann::json& j) { j["now"] = "yesterday"; }), "`now`"},
      {edited([](nlohmann::json& j) {
         j["audit"] = {{"log", "x"}, {"index", -1}};
       }),
       "`audit`"},
  };
  for (const auto& [text, want] : bad) {
    auto r = DecisionFromJson(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status();
  }
}

// A decision made at a time before the year 1000 writes `now` with four digits (RFC 3339) and
// reads back (the year was written as `506`, which no reader took back).
TEST(DecisionJson, EarlyYearsWriteFourDigitsAndReadBack) {
  auto snap = Shipped();
  ASSERT_TRUE(snap);
  auto req = ParseRequest(
      R"({"kind": "dataset", "destination": "aws:ap-northeast-1", "dataset": {"id": "d",)"
      R"( "partitions": [{"classes": ["personal"], "origin": "KR"}]}})");
  ASSERT_TRUE(req.ok()) << req.status();
  for (const char* when : {"0506-06-30T00:00:00Z", "0001-01-01T00:00:00Z", "0999-12-31"}) {
    EvalOptions o;
    o.now = *internal::ParseTimestamp(when);
    auto d = Evaluate(*snap, *req, o);
    ASSERT_TRUE(d.ok()) << d.status();
    ExpectSameJson(*d, when);
    EXPECT_NE(DecisionToJson(*d).find(absl::StrCat("\"now\":\"", std::string(when, 4))),
              std::string::npos)
        << when;
  }
}

TEST(DecisionJson, ExamplesMatchTheNlohmannRendering) {
  auto snap = Shipped();
  ASSERT_TRUE(snap);
  int n = 0;
  for (const std::string& text : ExampleTexts()) {
    auto req = ParseRequest(text);
    ASSERT_TRUE(req.ok()) << req.status();
    for (bool suggest : {true, false}) {
      EvalOptions o;
      o.suggest = suggest;
      auto d = Evaluate(*snap, *req, o);
      ASSERT_TRUE(d.ok()) << d.status();
      ExpectSameJson(*d, text);
      d->audit = AuditRef{"/tmp/audit/20260630T000000Z-1a2b3c4d", 18446744073709551615ull};
      ExpectSameJson(*d, text);
      ++n;
    }
  }
  EXPECT_EQ(n, 20);
}

TEST(DecisionJson, GeneratedRequestsMatchTheNlohmannRendering) {
  auto snap = Shipped();
  ASSERT_TRUE(snap);
  auto fixture = testing::CompileWith({testing::kKrPolicy, testing::kCorpPolicy});
  ASSERT_TRUE(fixture.ok());
  for (const PolicySnapshot* s : {snap.get(), fixture.snapshot.get()}) {
    testing::RandomChoices choices(20261207);
    testing::RequestGenerator gen(*s, &choices);
    for (int i = 0; i < 1500; ++i) {
      Request r = gen.Make();
      EvalOptions o;
      o.suggest = i % 2 == 0;
      auto d = Evaluate(*s, r, o);
      if (!d.ok()) continue;
      ExpectSameJson(*d, RequestToJson(r));
    }
  }
}

TEST(DecisionJson, EscapingMatchesTheNlohmannRendering) {
  auto snap = Shipped();
  ASSERT_TRUE(snap);
  auto req = ParseRequest(ExampleTexts()[0]);
  ASSERT_TRUE(req.ok());
  auto d = Evaluate(*snap, *req);
  ASSERT_TRUE(d.ok());
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  d->tags = {"",
             "plain",
             "quote \" backslash \\ slash /",
             std::string("nul \0 byte", 10),
             "\b\f\n\r\t\x01\x1f\x7f",
             "한국어 ✓ \xF0\x9F\x98\x80",
             "bad \xC3 utf8",
             "overlong \xC0\xAF surrogate \xED\xA0\x80 past \xF4\x90\x80\x80",
             "cut at the end \xE2\x82",
             all_bytes};
  d->audit = AuditRef{"dir \"with\" quotes\n\xFF", 0};
  ExpectSameJson(*d, "escapes");
}

// ---- ParseRequest: fast JSON path vs general path --------------------------------------------

void ExpectSameParse(std::string_view text, const RequestLimits& limits = RequestLimits()) {
  absl::StatusOr<Request> fast = ParseRequest(text, limits);
  absl::StatusOr<Request> general = eval_internal::ParseRequestGeneral(text, limits);
  ASSERT_EQ(fast.ok(), general.ok())
      << text << "\nfast: " << fast.status() << "\ngeneral: " << general.status();
  if (fast.ok()) {
    ASSERT_EQ(RequestToJson(*fast), RequestToJson(*general)) << text;
  } else {
    ASSERT_EQ(fast.status(), general.status()) << text;
  }
}

std::vector<std::string> JsonCorpus() {
  std::vector<std::string> out;
  for (const std::string& text : ExampleTexts()) {
    auto req = ParseRequest(text);
    EXPECT_TRUE(req.ok());
    if (req.ok()) out.push_back(RequestToJson(*req));
  }
  auto snap = Shipped();
  testing::RandomChoices choices(1207);
  testing::RequestGenerator gen(*snap, &choices);
  for (int i = 0; i < 1000; ++i) out.push_back(RequestToJson(gen.Make()));
  return out;
}

TEST(ParseRequestFast, ValidRequestsDecodeAlike) {
  for (const std::string& text : JsonCorpus()) {
    ExpectSameParse(text);
    // RequestToJson gives back what it was given.
    auto r = ParseRequest(text);
    ASSERT_TRUE(r.ok()) << r.status() << "\n" << text;
    EXPECT_EQ(RequestToJson(*r), text);
  }
}

TEST(ParseRequestFast, HandWrittenEdgesDecodeAlike) {
  const char* cases[] = {
      R"({"kind":"dataset","dataset":{"location":"aws:ap-northeast-2","partitions":[{"classes":["personal"],"origin":"KR","subjects":-0}]}})",
      R"({"kind":"dataset","dataset":{"location":"aws:ap-northeast-2","partitions":[{"classes":["personal"],"origin":"KR","subjects":-0.0}]}})",
      R"({"kind":"dataset","dataset":{"location":"x","partitions":[{"classes":["personal"],"origin":"KR","subjects":1e400}]}})",
      R"({"kind":"dataset","dataset":{"location":"x","partitions":[{"classes":["personal"],"origin":"KR","subjects":18446744073709551617}]}})",
      R"({"kind":"dataset","dataset":{"location":"x","partitions":[{"classes":["personal"],"origin":"KR","subjects":1.5E+3}]}})",
      R"({"kind":"dataset","dataset":{"location":"x","partitions":[{"classes":["personal"],"origin":"KR","subjects":-1}]}})",
      R"({"kind":"dataset","kind":"dataset","dataset":{"location":"x"}})",
      R"({"kind":"dataset","dataset":{"location":"x","location":"y"}})",
      R"({"kind":"dataset","dataset":{"location":"x"},"operator":{"attributes":{"a":1,"a":2}}})",
      R"({"kind":"dataset","dataset":{"location":"x"},"operator":{"attributes":{"i":-0,"j":-9223372036854775809,"k":18446744073709551615,"l":1.0,"m":2e19,"n":1.5e-7,"o":"TRUE","p":false,"q":"False"}}})",
      R"({"kind":"dataset","dataset":{"location":"x"},"operator":{"attributes":{"a":null}}})",
      R"({"kind":"dataset","dataset":{"location":"x"},"operator":{"attributes":{"a":[1]}}})",
      R"({"kind":"dataset","dataset":{"location":"x"},"model":null,"compute":null,"now":null})",
      R"({"kind":null,"dataset":{"location":"x"}})",
      R"({"dataset":{"location":"x"}})",
      R"({"kind":"dataset","dataset":{"location":"x"}} trailing)",
      R"({"kind":"dataset","dataset":{"location":"x"},})",
      R"({"kind":"dataset","dataset":{"location":"x"}})"
      "\n\t ",
      R"( {"kind" : "dataset" , "dataset" : { "location" : "x" } } )",
      R"({"kind":"dataset","dataset":{"location":"x\u00e9\ud83d\ude00\n\"\\\/"}})",
      R"({"kind":"dataset","dataset":{"location":"x\ud83d"}})",
      R"({"kind":"dataset","dataset":{"location":"x\udc00"}})",
      R"({"kind":"dataset","dataset":{"location":"x\u0000y"}})",
      R"({"kind":"dataset","dataset":{"location":"x\q"}})",
      R"({"kin\u0064":"dataset","dataset":{"location":"x"}})",
      R"({"kind":"dataset","dataset":{"location":"x","partitions":[{"classes":[],"origin":"KR"}]}})",
      R"({"kind":"dataset","dataset":{"location":"x"},"evidence":[{"type":""}]})",
      R"({"kind":"dataset","dataset":{"location":"x"},"evidence":[{"type":"t","not_after":"2026-13-01T00:00:00Z"}]})",
      R"({"kind":"dataset","dataset":{"location":"x"},"evidence":[{"type":"t","not_after":"2026-01-01T00:00:00+09:00"}]})",
      R"({"kind":"dataset","action":"deploy","dataset":{"location":"x"}})",
      R"({"kind":"compute","compute":{"job":"inference","location":"x","inputs":[{"dataset":null,"model":{"artifact":"weights"}}],"user":{"jurisdiction":"KR"},"prompt":{"classes":["personal"]}}})",
      R"({"kind":"compute","compute":{"job":"inference","location":"x","inputs":[{"dataset":{},"model":{"artifact":"weights"}}]}})",
      R"({"kind":"compute","action":"train","compute":{"job":"inference","location":"x"}})",
      R"({"kind":"compute","compute":{"job":"batch","location":"x","outputs":[{"artifact":"log"}]}})",
      R"({"kind":"model","model":{"artifact":"weights","trained_on":[],"base_models":[{"artifact":"adapter"}]}})",
      R"({"kind":"model","model":{"artifact":"lora"}})",
      R"({"kind":"dataset","dataset":{"location":"x"},"recipient":{"role":"processor","sectors":[]}})",
      R"({"kind":"dataset","dataset":{"location":"x"},"transfer":{"type":"storage","retention_hours":0.5,"pattern":"occasional","transaction":"vendor"}})",
      R"([{"kind":"dataset"}])",
      R"({"kind":"dataset","dataset":{"location":"x"})",
      R"({"kind":"dataset","dataset":{"location":"x",}})",
      R"({"kind":"dataset","dataset":{"location":01}})",
      R"({"kind":"dataset","dataset":{"location":"x"},"purpose":tru})",
  };
  for (const char* c : cases) ExpectSameParse(c);
}

TEST(ParseRequestFast, LimitsGiveTheSameErrors) {
  // Nesting and item counts around the limits.
  RequestLimits small;
  small.max_depth = 6;
  small.max_items = 5;
  std::string lineage = R"({"kind":"dataset","dataset":{"location":"x")";
  std::string close = "}}";
  for (int depth = 0; depth < 9; ++depth) {
    ExpectSameParse(lineage + close, small);
    lineage += R"(,"derived_from":[{"id":"d")";
    close = "}]" + close;
  }
  std::string parts = R"({"kind":"dataset","dataset":{"location":"x","partitions":[)";
  for (int i = 0; i < 8; ++i) {
    if (i) parts += ",";
    parts += R"({"classes":["personal"],"origin":"KR"})";
    ExpectSameParse(parts + "]}}", small);
  }
}

TEST(ParseRequestFast, MutatedRequestsGiveTheSameResults) {
  std::mt19937 rng(1207);
  std::vector<std::string> corpus = JsonCorpus();
  const char alphabet[] = "{}[],:\"\\ 0-1e.nulltruefalse\x01\xc3\xa9";
  for (int i = 0; i < 20000; ++i) {
    std::string text = corpus[rng() % corpus.size()];
    for (int k = 0, m = 1 + rng() % 3; k < m && !text.empty(); ++k) {
      size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text.erase(at, 1);
          break;
        case 1:
          text.insert(at, 1, alphabet[rng() % (sizeof alphabet - 1)]);
          break;
        default:
          text[at] = alphabet[rng() % (sizeof alphabet - 1)];
      }
    }
    ExpectSameParse(text);
  }
}

// ---- Audit record ---------------------------------------------------------------------------

TEST(AuditRecordOf, CarriesTheDecision) {
  auto snap = Shipped();
  ASSERT_TRUE(snap);
  for (const std::string& text : ExampleTexts()) {
    auto req = ParseRequest(text);
    ASSERT_TRUE(req.ok());
    auto d = Evaluate(*snap, *req);
    ASSERT_TRUE(d.ok());
    DecisionRecord rec = AuditRecordOf(*d, text, "alice");
    EXPECT_EQ(rec.decision, EffectName(d->decision));
    ASSERT_EQ(rec.rule_ids.size(), d->reasons.size());
    for (size_t i = 0; i < rec.rule_ids.size(); ++i)
      EXPECT_EQ(rec.rule_ids[i], d->reasons[i].rule());
    EXPECT_EQ(rec.tags, d->tags);
    EXPECT_EQ(rec.request_digest, AuditRequestDigest(text));
    EXPECT_EQ(rec.policy_digest, d->policy_digest());
    EXPECT_EQ(rec.now, d->now);
    EXPECT_EQ(rec.principal, "alice");
  }
}

}  // namespace
}  // namespace residency
