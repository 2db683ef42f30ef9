// The decision service without a transport: the trusted clock, /v1/check answers identical to
// the engine's decision JSON, the gateway mapping (allow, deny, escalate, dry-run, bad input),
// and fail-closed audit: a decision the log cannot take is a deny.
#include "residency/serve/service.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "eval/eval_fixtures.h"
#include "gtest/gtest.h"
#include "residency/decision.h"
#include "testing/fixtures.h"

namespace residency::serve {
namespace {

absl::Time PinnedClock() { return absl::FromUnixSeconds(1782777600); }  // 2026-06-30T00:00:00Z

std::shared_ptr<const PolicySnapshot> Snapshot(const std::string& otherwise = "deny") {
  std::string p = testing::kKrPolicy;
  p.replace(p.find("    otherwise: deny"), 19, "    otherwise: " + otherwise);
  return testing::CompileWith({p}).snapshot;
}

ServiceOptions Options() {
  ServiceOptions o;
  o.clock = &PinnedClock;
  return o;
}

// An audit log that refuses every record (a full disk, a failed fsync).
class FailingLog : public AuditLog {
 public:
  absl::StatusOr<uint64_t> Append(const DecisionRecord&) override {
    ++attempts;
    return absl::UnavailableError("fsync failed");
  }
  absl::StatusOr<uint64_t> AppendPolicyLoaded(const std::string&) override {
    return absl::UnavailableError("fsync failed");
  }
  absl::Status Flush() override { return absl::UnavailableError("fsync failed"); }
  absl::Status Close() override { return absl::OkStatus(); }
  const std::string& log_id() const override { return id_; }
  std::string log_dir() const override { return "/nowhere/" + id_; }
  const std::string& origin() const override { return id_; }
  const std::string& commitment_secret() const override { return id_; }
  uint64_t durable_size() const override { return 0; }
  int attempts = 0;

 private:
  std::string id_ = "failing";
};

// An audit log in memory that takes every record.
class MemoryLog : public FailingLog {
 public:
  absl::StatusOr<uint64_t> Append(const DecisionRecord& r) override {
    records.push_back(r);
    return records.size() - 1;
  }
  std::vector<DecisionRecord> records;
};

constexpr char kDatasetToTokyo[] =
    R"({"kind": "dataset", "destination": "aws:ap-northeast-1",)"
    R"( "dataset": {"id": "d", "partitions": [{"classes": ["personal"], "origin": "KR"}]}})";

TEST(RequestNow, ParsesTheThreeWaysAndNothingElse) {
  EXPECT_EQ(*ParseRequestNow("refuse"), RequestTime::kRefuse);
  EXPECT_EQ(*ParseRequestNow("ignore"), RequestTime::kIgnore);
  EXPECT_EQ(*ParseRequestNow("honour"), RequestTime::kHonour);
  EXPECT_EQ(*ParseRequestNow("honor"), RequestTime::kHonour);
  EXPECT_FALSE(ParseRequestNow("sometimes").ok());
  EXPECT_FALSE(ParseRequestNow("").ok());
}

TEST(Check, AnswerIsTheEngineDecisionJsonAtTheServiceClock) {
  auto snap = Snapshot();
  ASSERT_TRUE(snap);
  DecisionService service(snap, Options(), nullptr, nullptr);
  CheckAnswer a = service.Check(kDatasetToTokyo);
  ASSERT_EQ(a.http_status, 200) << a.body;
  EvalOptions o;
  o.now = PinnedClock();
  auto d = Evaluate(*snap, *ParseRequest(kDatasetToTokyo), o);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(a.body, DecisionToJson(*d) + "\n");
  EXPECT_NE(a.body.find("\"deny\""), std::string::npos);
}

TEST(Check, RequestNowIsRefusedUnlessConfigured) {
  auto snap = Snapshot();
  std::string with_now = kDatasetToTokyo;
  with_now.insert(1, R"("now": "2020-01-01T00:00:00Z", )");
  DecisionService strict(snap, Options(), nullptr, nullptr);
  CheckAnswer a = strict.Check(with_now);
  EXPECT_EQ(a.http_status, 400);
  EXPECT_NE(a.body.find("service's clock"), std::string::npos) << a.body;
  ServiceOptions ignoring = Options();
  ignoring.request_now = RequestTime::kIgnore;
  DecisionService ignorer(snap, ignoring, nullptr, nullptr);
  CheckAnswer c = ignorer.Check(with_now);
  EXPECT_EQ(c.http_status, 200) << c.body;
  EXPECT_EQ(c.body.find("2020-01-01"), std::string::npos) << c.body;
  ServiceOptions o = Options();
  o.request_now = RequestTime::kHonour;
  DecisionService lenient(snap, o, nullptr, nullptr);
  CheckAnswer b = lenient.Check(with_now);
  EXPECT_EQ(b.http_status, 200);
  EXPECT_NE(b.body.find("2020-01-01T00:00:00Z"), std::string::npos) << b.body;
}

TEST(Check, BadInputIsA400WithOneLineError) {
  DecisionService service(Snapshot(), Options(), nullptr, nullptr);
  for (const char* body : {"{", "{\"kind\": \"dataset\", \"bogus\": 1}", "", "[1,2]"}) {
    CheckAnswer a = service.Check(body);
    EXPECT_EQ(a.http_status, 400) << body;
    EXPECT_EQ(a.body.find('\n'), a.body.size() - 1) << a.body;
    EXPECT_EQ(a.body.find("allow"), std::string::npos) << a.body;
  }
}

TEST(CheckBatch, OneAnswerLinePerInputLine) {
  DecisionService service(Snapshot(), Options(), nullptr, nullptr);
  std::string body = std::string(kDatasetToTokyo) + "\n{bad\n\n" + kDatasetToTokyo + "\n";
  CheckAnswer a = service.CheckBatch(body);
  ASSERT_EQ(a.http_status, 200);
  std::vector<std::string> lines = absl::StrSplit(a.body, '\n');
  ASSERT_EQ(lines.size(), 5u) << a.body;  // four answers and the final newline
  EXPECT_EQ(lines[0], lines[3]);
  EXPECT_NE(lines[1].find("\"line\":2"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("empty line"), std::string::npos) << lines[2];
}

AuthzInput Gateway(const std::string& destination, const std::string& classes = "personal") {
  AuthzInput in;
  in.headers = {{"x-residency-user-jurisdiction", "KR"},
                {"x-residency-user-provenance", "verified"},
                {"x-residency-prompt-classes", classes}};
  in.context["destination"] = destination;
  return in;
}

std::string Header(const AuthzAnswer& a, const std::string& name) {
  for (const auto& [k, v] : a.headers)
    if (k == name) return v;
  return "<absent>";
}

TEST(Authz, AllowDenyAndWhereToServe) {
  auto log = std::make_shared<MemoryLog>();
  DecisionService service(Snapshot(), Options(), log, nullptr);
  AuthzAnswer deny = service.Authz(Gateway("aws:ap-northeast-1"));
  EXPECT_FALSE(deny.allow);
  EXPECT_EQ(deny.http_status, 403);
  EXPECT_EQ(Header(deny, "x-residency-decision"), "deny");
  EXPECT_NE(deny.body.find("kr.cross_border"), std::string::npos) << deny.body;
  // Where to serve instead: a suggested location in Korea.
  std::string where = Header(deny, "x-residency-location");
  EXPECT_TRUE(where == "ncp:KR" || where == "ncp:gov-KR" || where == "nhn:kr1" ||
              where == "aws:ap-northeast-2" || where == "site:naver-gak-sejong")
      << where;
  EXPECT_EQ(Header(deny, "x-residency-audit"), "failing/0");

  AuthzAnswer allow = service.Authz(Gateway("ncp:KR"));
  EXPECT_TRUE(allow.allow);
  EXPECT_EQ(allow.http_status, 200);
  EXPECT_EQ(Header(allow, "x-residency-decision"), "allow_with_obligations");
  EXPECT_EQ(Header(allow, "x-residency-location"), "ncp:KR");
  EXPECT_EQ(Header(allow, "x-residency-audit"), "failing/1");
  ASSERT_EQ(log->records.size(), 2u);
  EXPECT_EQ(log->records[0].decision, "deny");
  EXPECT_EQ(log->records[1].decision, "allow_with_obligations");
  EXPECT_NE(log->records[0].request_digest, log->records[1].request_digest);
}

TEST(Authz, EscalateIsDenyUnlessConfigured) {
  auto snap = Snapshot("escalate");
  DecisionService strict(snap, Options(), nullptr, nullptr);
  AuthzAnswer a = strict.Authz(Gateway("aws:ap-northeast-1"));
  EXPECT_FALSE(a.allow);
  EXPECT_EQ(Header(a, "x-residency-decision"), "escalate");
  ServiceOptions o = Options();
  o.authz.allow_escalate = true;
  DecisionService lenient(snap, o, nullptr, nullptr);
  AuthzAnswer b = lenient.Authz(Gateway("aws:ap-northeast-1"));
  EXPECT_TRUE(b.allow);
  EXPECT_EQ(Header(b, "x-residency-decision"), "escalate");
}

TEST(Authz, DryRunAllowsAndRecordsTheRealDecision) {
  auto log = std::make_shared<MemoryLog>();
  ServiceOptions o = Options();
  o.authz.dry_run = true;
  DecisionService service(Snapshot(), o, log, nullptr);
  AuthzAnswer a = service.Authz(Gateway("aws:ap-northeast-1"));
  EXPECT_TRUE(a.allow);
  EXPECT_EQ(a.http_status, 200);
  EXPECT_EQ(Header(a, "x-residency-decision"), "deny");
  EXPECT_EQ(Header(a, "x-residency-dry-run"), "true");
  ASSERT_EQ(log->records.size(), 1u);
  EXPECT_EQ(log->records[0].decision, "deny");
}

TEST(Authz, BadInputIsADeny) {
  DecisionService service(Snapshot(), Options(), nullptr, nullptr);
  AuthzInput wrong_kind = Gateway("ncp:KR");
  wrong_kind.context["kind"] = "training";
  AuthzInput unknown_location = Gateway("mars:base-1");
  AuthzInput unknown_class = Gateway("");
  unknown_class.context.clear();  // routed: the routing table refuses the unknown class
  unknown_class.headers.back().second = "personal,astrology";
  for (const AuthzInput* in : {&wrong_kind, &unknown_location, &unknown_class}) {
    AuthzAnswer a = service.Authz(*in);
    EXPECT_FALSE(a.allow);
    EXPECT_NE(a.http_status, 200);
    EXPECT_EQ(Header(a, "x-residency-decision"), "deny");
  }
}

// The kr policy with its cross-border message in Korean too.
std::shared_ptr<const PolicySnapshot> KoreanSnapshot() {
  std::string p = testing::kKrPolicy;
  const std::string msg = "    message: \"cross-border transfer needs a basis\"\n";
  const size_t at = p.find(msg);
  p.insert(at + msg.size(), "    i18n: {ko: {message: \"국외 이전에는 근거가 필요합니다\"}}\n");
  return testing::CompileWith({p}).snapshot;
}

TEST(Lang, TextsInTheLanguageARequestAsksForElseTheServicesAndBadCodesAreBadInput) {
  auto snap = KoreanSnapshot();
  ASSERT_TRUE(snap);
  const std::string ko = "국외 이전에는 근거가 필요합니다";
  const std::string en = "cross-border transfer needs a basis";
  DecisionService english(snap, Options(), nullptr, nullptr);
  CheckAnswer a = english.Check(kDatasetToTokyo);
  ASSERT_EQ(a.http_status, 200) << a.body;
  EXPECT_NE(a.body.find(en), std::string::npos) << a.body;
  CheckAnswer k = english.Check(kDatasetToTokyo, "ko");
  ASSERT_EQ(k.http_status, 200) << k.body;
  EXPECT_NE(k.body.find(ko), std::string::npos) << k.body;
  EXPECT_EQ(k.body.find(en), std::string::npos) << k.body;
  // The same decision, only the texts differ.
  EXPECT_NE(k.body.find("\"deny\""), std::string::npos) << k.body;
  CheckAnswer batch = english.CheckBatch(std::string(kDatasetToTokyo) + "\n", absl::Now(), "ko");
  EXPECT_NE(batch.body.find(ko), std::string::npos) << batch.body;
  for (const char* bad : {"KO", "korean", "k", "k1", "ko-KR"}) {
    CheckAnswer b = english.Check(kDatasetToTokyo, bad);
    EXPECT_EQ(b.http_status, 400) << bad;
    EXPECT_NE(b.body.find("x-residency-lang"), std::string::npos) << b.body;
    EXPECT_EQ(english.CheckBatch(kDatasetToTokyo, absl::Now(), bad).http_status, 400) << bad;
  }
  // A service whose default is Korean; a request may still ask for English.
  ServiceOptions korean_default = Options();
  korean_default.lang = "ko";
  DecisionService korean(snap, korean_default, nullptr, nullptr);
  EXPECT_NE(korean.Check(kDatasetToTokyo).body.find(ko), std::string::npos);
  EXPECT_NE(korean.Check(kDatasetToTokyo, "en").body.find(en), std::string::npos);
  // Gateways: the header of the request; a bad one is a 400 deny.
  AuthzInput in = Gateway("aws:ap-northeast-1");
  in.headers.push_back({"x-residency-lang", "ko"});
  AuthzAnswer deny = english.Authz(in);
  EXPECT_FALSE(deny.allow);
  EXPECT_EQ(deny.http_status, 403);
  EXPECT_NE(deny.body.find(ko), std::string::npos) << deny.body;
  in.headers.back().second = "x\n";
  AuthzAnswer bad = english.Authz(in);
  EXPECT_FALSE(bad.allow);
  EXPECT_EQ(bad.http_status, 400);
  EXPECT_EQ(Header(bad, "x-residency-decision"), "deny");
}

AuthzInput Undirected(const std::string& model = "") {
  AuthzInput in = Gateway("");
  in.context.clear();
  if (!model.empty()) in.headers.push_back({"x-residency-model", model});
  return in;
}

ServedModel Served(const std::string& id, std::vector<std::string> deployments) {
  ServedModel m;
  m.model.id = id;
  m.model.artifact = "weights";
  m.model.trained_on.emplace();  // no personal data in its lineage
  m.deployments = std::move(deployments);
  return m;
}

TEST(Route, WithoutDestinationServesInTheUsersCountryAndRecordsWhere) {
  auto log = std::make_shared<MemoryLog>();
  DecisionService service(Snapshot(), Options(), log, nullptr);
  AuthzAnswer a = service.Authz(Undirected());
  ASSERT_TRUE(a.allow) << a.body;
  EXPECT_EQ(Header(a, "x-residency-routed"), "true");
  // The user's country first, catalogue order, no sector cloud: the first Korean location.
  EXPECT_EQ(Header(a, "x-residency-location"), "ncp:KR");
  ASSERT_EQ(log->records.size(), 1u);
  EXPECT_EQ(log->records[0].decision, Header(a, "x-residency-decision"));
}

TEST(Route, TakesTheModelsFirstAllowedDeployment) {
  ServiceOptions o = Options();
  o.models["chat"] = Served("chat", {"aws:ap-northeast-1", "aws:us-east-1", "nhn:kr1"});
  DecisionService service(Snapshot(), o, nullptr, nullptr);
  AuthzAnswer a = service.Authz(Undirected("chat"));
  ASSERT_TRUE(a.allow) << a.body;
  EXPECT_EQ(Header(a, "x-residency-location"), "nhn:kr1");  // Tokyo, Virginia: a transfer
  // A request with nothing personal is served at the first deployment.
  AuthzInput plain = Undirected("chat");
  plain.headers[2].second = "public";
  AuthzAnswer b = service.Authz(plain);
  ASSERT_TRUE(b.allow) << b.body;
  EXPECT_EQ(Header(b, "x-residency-location"), "aws:ap-northeast-1");
}

TEST(Route, ConfiguredLocationsWhenTheModelNamesNone) {
  ServiceOptions o = Options();
  o.route_locations = {"aws:us-east-1", "aws:ap-northeast-2", "ncp:KR"};
  DecisionService service(Snapshot(), o, nullptr, nullptr);
  AuthzAnswer a = service.Authz(Undirected());
  ASSERT_TRUE(a.allow) << a.body;
  EXPECT_EQ(Header(a, "x-residency-location"), "aws:ap-northeast-2");
}

TEST(Route, AllowedNowhereIsARecordedDenyWithItsReasons) {
  auto log = std::make_shared<MemoryLog>();
  ServiceOptions o = Options();
  o.models["chat"] = Served("chat", {"aws:ap-northeast-1", "aws:us-east-1"});
  DecisionService service(Snapshot(), o, log, nullptr);
  AuthzAnswer a = service.Authz(Undirected("chat"));
  EXPECT_FALSE(a.allow);
  EXPECT_EQ(a.http_status, 403);
  EXPECT_EQ(Header(a, "x-residency-routed"), "nowhere");
  EXPECT_EQ(Header(a, "x-residency-decision"), "deny");
  EXPECT_NE(a.body.find("kr.cross_border"), std::string::npos) << a.body;
  ASSERT_EQ(log->records.size(), 1u);
  EXPECT_EQ(log->records[0].decision, "deny");
}

TEST(Route, AModelNotServedIsNotRoutedAnywhere) {
  DecisionService service(Snapshot(), Options(), nullptr, nullptr);
  AuthzAnswer a = service.Authz(Undirected("someone-elses-model"));
  EXPECT_FALSE(a.allow);
  EXPECT_EQ(Header(a, "x-residency-decision"), "deny");
  EXPECT_NE(a.body.find("not among the served models"), std::string::npos) << a.body;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Models, LoadsLineageAndDeploymentsAndReportsErrorsAtTheirPlace) {
  auto ok = LoadModels(WriteFile("models_ok.yaml", R"(models:
  - id: chat
    artifact: weights
    training_flops: 2.0e19
    trained_on: [{id: web, partitions: [{classes: [public], origin: KR, subjects: 12}]}]
    deployments: ["ncp:KR", "aws:ap-northeast-1"]
)"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->count("chat"), 1u);
  EXPECT_EQ(ok->at("chat").deployments, (std::vector<std::string>{"ncp:KR", "aws:ap-northeast-1"}));
  ASSERT_TRUE(ok->at("chat").model.trained_on.has_value());
  EXPECT_EQ(ok->at("chat").model.trained_on->at(0).id, "web");
  // Numbers stay numbers on the way through the request parser.
  EXPECT_EQ(ok->at("chat").model.training_flops, 2.0e19);
  EXPECT_EQ(ok->at("chat").model.trained_on->at(0).partitions.at(0).subjects, 12);

  const std::pair<const char*, const char*> bad[] = {
      {"models:\n  - id: a\n    artifact: weights\n    colour: red\n", ":2:5: models[0]:"},
      {"models:\n  - id: a\n    deployments: ncp:KR\n", ":3:18: models[0].deployments"},
      {"models:\n  - {id: a}\n  - {id: a}\n", "listed twice"},
      {"models: []\n---\nmodels: []\n", "one YAML document"},
      {"model: []\n", "one key, `models`"},
      {"models: [\n", "models_bad.yaml:"},
  };
  for (const auto& [text, want] : bad) {
    auto r = LoadModels(WriteFile("models_bad.yaml", text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos)
        << text << " -> " << r.status().message();
  }
}

TEST(Models, AReloadChangesWhereRequestsGoAndABadFileKeepsTheOld) {
  DecisionService service(Snapshot(), Options(), nullptr, nullptr);
  EXPECT_FALSE(service.Authz(Undirected("chat")).allow);  // not served yet
  ASSERT_TRUE(service
                  .ReloadModels(WriteFile("models_v1.yaml",
                                          "models:\n  - {id: chat, artifact: weights, trained_on: "
                                          "[], deployments: [\"nhn:kr1\"]}\n"))
                  .ok());
  AuthzAnswer a = service.Authz(Undirected("chat"));
  ASSERT_TRUE(a.allow) << a.body;
  EXPECT_EQ(Header(a, "x-residency-location"), "nhn:kr1");
  EXPECT_FALSE(service.ReloadModels(WriteFile("models_v2.yaml", "models: {\n")).ok());
  EXPECT_EQ(Header(service.Authz(Undirected("chat")), "x-residency-location"), "nhn:kr1");
  EXPECT_NE(service.RenderMetrics().find("residency_reloads_total{result=\"error\"} 1"),
            std::string::npos);
}

TEST(Tagger, AReloadSwapsTheTaggerAndABadFileKeepsTheOld) {
  const char* src = std::getenv("RESIDENCY_SOURCE_DIR");
  if (src == nullptr) GTEST_SKIP() << "RESIDENCY_SOURCE_DIR is not set";
  DecisionService service(Snapshot(), Options(), nullptr, nullptr);
  const std::string line = R"({"payload": "call me at 010-1234-5678"})";
  EXPECT_EQ(service.Tag(line).http_status, 404);  // no tagger
  ASSERT_TRUE(service.ReloadTagger(std::string(src) + "/policies/tagging.yaml").ok());
  CheckAnswer tagged = service.Tag(line);
  ASSERT_EQ(tagged.http_status, 200) << tagged.body;
  EXPECT_NE(tagged.body.find("personal"), std::string::npos) << tagged.body;
  EXPECT_FALSE(service.ReloadTagger(WriteFile("tagging_bad.yaml", "kind: [\n")).ok());
  EXPECT_EQ(service.Tag(line).body, tagged.body);
}

TEST(Deadline, ABatchPastItsDeadlineAnswersTheRestWithErrors) {
  ServiceOptions o = Options();
  o.deadline = absl::Milliseconds(100);
  DecisionService service(Snapshot(), o, nullptr, nullptr);
  std::string body = std::string(kDatasetToTokyo) + "\n" + kDatasetToTokyo + "\n";
  CheckAnswer on_time = service.CheckBatch(body, absl::Now());
  EXPECT_EQ(on_time.body.find("deadline"), std::string::npos) << on_time.body;
  CheckAnswer late = service.CheckBatch(body, absl::Now() - absl::Seconds(1));
  std::vector<std::string> lines = absl::StrSplit(late.body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << late.body;
  for (const std::string& l : lines) {
    EXPECT_NE(l.find("deadline exceeded"), std::string::npos) << l;
    EXPECT_EQ(l.find("allow"), std::string::npos) << l;
  }
}

TEST(Deadline, AGatewayRequestPastItsDeadlineIsAnUnrecordedDeny) {
  auto log = std::make_shared<MemoryLog>();
  ServiceOptions o = Options();
  o.deadline = absl::Milliseconds(100);
  DecisionService service(Snapshot(), o, log, nullptr);
  AuthzInput in = Gateway("ncp:KR");  // would be allowed
  in.start = absl::Now() - absl::Seconds(1);
  AuthzAnswer a = service.Authz(in);
  EXPECT_FALSE(a.allow);
  EXPECT_EQ(Header(a, "x-residency-decision"), "deny");
  EXPECT_NE(a.body.find("deadline exceeded"), std::string::npos) << a.body;
  EXPECT_TRUE(log->records.empty());
  in.start = absl::Now();
  EXPECT_TRUE(service.Authz(in).allow);
}

TEST(Authz, TheStreamsAggregateComesFromItsHeaderAndIsRecorded) {
  auto log = std::make_shared<MemoryLog>();
  DecisionService service(Snapshot(), Options(), log, nullptr);
  AuthzInput counted = Gateway("ncp:KR");
  counted.headers.push_back({"x-residency-prompt-cumulative-subjects", "1200"});
  EXPECT_TRUE(service.Authz(counted).allow);
  EXPECT_TRUE(service.Authz(Gateway("ncp:KR")).allow);
  ASSERT_EQ(log->records.size(), 2u);
  // The aggregate is part of what the record's request digest covers.
  EXPECT_NE(log->records[0].request_digest, log->records[1].request_digest);
  for (const char* bad : {"many", "-3", "nan", "1e300"}) {
    AuthzInput in = Gateway("ncp:KR");
    in.headers.push_back({"x-residency-prompt-cumulative-subjects", bad});
    AuthzAnswer a = service.Authz(in);
    EXPECT_FALSE(a.allow) << bad;
    EXPECT_EQ(a.http_status, 400) << bad;
  }
}

TEST(Authz, NothingKnownAboutThePromptIsNotAnAllowAbroad) {
  DecisionService service(Snapshot(), Options(), nullptr, nullptr);
  AuthzInput in = Gateway("aws:ap-northeast-1");
  in.headers.pop_back();  // no classes header, no body
  EXPECT_FALSE(service.Authz(in).allow);
}

TEST(Audit, ARecordTheLogCannotTakeIsADeny) {
  auto log = std::make_shared<FailingLog>();
  DecisionService service(Snapshot(), Options(), log, nullptr);
  AuthzAnswer a = service.Authz(Gateway("ncp:KR"));  // would be allowed
  EXPECT_FALSE(a.allow);
  EXPECT_EQ(a.http_status, 403);
  EXPECT_NE(a.body.find("audit log cannot take the record"), std::string::npos) << a.body;
  CheckAnswer c = service.Check(kDatasetToTokyo);
  EXPECT_EQ(c.http_status, 503);
  EXPECT_NE(c.body.find("\"deny\""), std::string::npos);
  EXPECT_EQ(log->attempts, 2);
  EXPECT_NE(service.RenderMetrics().find("residency_audit_failures_total 2"), std::string::npos);
}

TEST(Metrics, CountsDecisionsByEffectAndPolicy) {
  DecisionService service(Snapshot(), Options(), nullptr, nullptr);
  service.Authz(Gateway("aws:ap-northeast-1"));
  service.Authz(Gateway("aws:ap-northeast-1"));
  service.Authz(Gateway("ncp:KR"));
  std::string m = service.RenderMetrics();
  EXPECT_NE(m.find("residency_decisions_total{effect=\"deny\"} 2"), std::string::npos) << m;
  EXPECT_NE(m.find("residency_decisions_total{effect=\"allow_with_obligations\"} 1"),
            std::string::npos);
  EXPECT_NE(m.find("residency_policy_decisions_total{policy=\"kr\",effect=\"deny\"} 2"),
            std::string::npos);
  EXPECT_NE(m.find("residency_decision_seconds_count 3"), std::string::npos);
  EXPECT_NE(m.find("residency_ready 1"), std::string::npos);
}

TEST(Reload, AFailedCompileKeepsTheCurrentSnapshot) {
  auto snap = Snapshot();
  DecisionService service(snap, Options(), nullptr, nullptr);
  EXPECT_FALSE(service.Reload({"/nonexistent/policies"}).ok());
  EXPECT_EQ(service.store().Get(), snap);
  EXPECT_NE(service.RenderMetrics().find("residency_reloads_total{result=\"error\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace residency::serve
