// AllowedLocations ("where may this go") against its definition read directly: the reference
// evaluator run with the request's placement at every catalogue location; and its filters, the
// sector-cloud rule it shares with suggestions, and its errors.
#include "residency/where.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "eval_fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "policy/compiled_set.h"
#include "policy/eval_index.h"
#include "reference_evaluator.h"
#include "request_generator.h"
#include "residency/decision.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

using testing::ReferenceMovedTo;
using testing::ReferencePlacement;

struct Expected {
  std::string location, effect;
  std::set<std::string> obligations;  // policy/id
  bool operator==(const Expected& o) const {
    return location == o.location && effect == o.effect && obligations == o.obligations;
  }
};

void PrintTo(const Expected& e, std::ostream* os) {
  *os << e.location << " " << e.effect << " {";
  for (const auto& o : e.obligations) *os << o << " ";
  *os << "}";
}

// Every location where the reference evaluator does not deny, in the documented order: the
// placement's provider and country, its provider, its country, the rest; catalogue order within.
std::vector<Expected> ReferenceWhere(const PolicySnapshot& snap, const Request& r) {
  const auto& locs = snap.impl().catalogue.locations;
  const std::string placement = ReferencePlacement(r);
  std::string provider = placement.substr(0, placement.find(':')), country;
  for (const auto& l : locs)
    if (l.id == placement) country = l.country_code;
  std::vector<Expected> ranked[4];
  for (const auto& l : locs) {
    testing::RefDecision d =
        testing::ReferenceEvaluate(snap.impl(), ReferenceMovedTo(r, l.id), *r.now);
    if (d.decision == "deny") continue;
    bool same_p = l.provider == provider, same_c = !country.empty() && l.country_code == country;
    ranked[same_p && same_c ? 0
           : same_p         ? 1
           : same_c         ? 2
                            : 3]
        .push_back(Expected{l.id, d.decision, d.obligations});
  }
  std::vector<Expected> out;
  for (const auto& rank : ranked) out.insert(out.end(), rank.begin(), rank.end());
  return out;
}

std::vector<Expected> Got(const Placements& p) {
  std::vector<Expected> out;
  for (const auto& a : p.allowed) {
    Expected e{a.location, EffectName(a.effect), {}};
    for (const auto& o : a.obligations)
      e.obligations.insert(std::string(o.policy()) + "/" + std::string(o.id()));
    out.push_back(std::move(e));
  }
  return out;
}

void DifferentialWhere(const PolicySnapshot& snap, uint32_t seed, int n) {
  testing::RandomChoices choices(seed);
  testing::RequestGenerator gen(snap, &choices);
  WhereOptions all;
  all.include_escalate = true;
  all.include_reserved = true;
  int somewhere = 0, nowhere = 0;
  for (int i = 0; i < n; ++i) {
    Request r = gen.Make();
    SCOPED_TRACE("request #" + std::to_string(i) + " seed " + std::to_string(seed) + ": " +
                 RequestToJson(r));
    auto got = AllowedLocations(snap, r, all);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->now, *r.now);
    ASSERT_EQ(Got(*got), ReferenceWhere(snap, r));
    (got->allowed.empty() ? nowhere : somewhere)++;
    // PlacedAt moves what the reference moves, and Evaluate there agrees.
    for (const auto& a : got->allowed) {
      Request placed = PlacedAt(r, a.location);
      ASSERT_EQ(RequestToJson(placed), RequestToJson(ReferenceMovedTo(r, a.location)));
      auto d = Evaluate(snap, placed);
      ASSERT_TRUE(d.ok()) << d.status();
      EXPECT_EQ(d->decision, a.effect) << a.location;
    }
  }
  // Both answers must occur, or the comparison proves little.
  EXPECT_GT(somewhere, n / 10);
  EXPECT_GT(nowhere, 0);
}

TEST(Where, AgreesWithTheReferenceAtEveryLocationShippedPolicies) {
  auto snap = CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(snap.ok()) << snap.status();
  DifferentialWhere(**snap, 20261207, 300);
}

TEST(Where, AgreesWithTheReferenceAtEveryLocationTestFixturePolicies) {
  auto r = testing::CompileWith({testing::kKrPolicy, testing::kCorpPolicy});
  ASSERT_TRUE(r.ok());
  DifferentialWhere(*r.snapshot, 9, 300);
}

// A decision's suggestions are the head of the same list: escalations included, sector clouds
// the operator may not use left out, the refused location dropped.
TEST(Where, SuggestionsAreTheHeadOfTheList) {
  auto snap = CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(snap.ok()) << snap.status();
  testing::RandomChoices choices(20261208);
  testing::RequestGenerator gen(**snap, &choices);
  WhereOptions escalations;
  escalations.include_escalate = true;
  int compared = 0;
  for (int i = 0; i < 2000 && compared < 100; ++i) {
    Request r = gen.Make();
    auto d = Evaluate(**snap, r);
    ASSERT_TRUE(d.ok());
    if (d->suggested_locations().empty()) continue;
    ++compared;
    auto w = AllowedLocations(**snap, r, escalations);
    ASSERT_TRUE(w.ok());
    std::vector<std::string> head;
    for (const auto& a : w->allowed) {
      if (a.location != ReferencePlacement(r) && head.size() < 8) head.push_back(a.location);
    }
    EXPECT_EQ(
        std::vector<std::string>(d->suggested_locations().begin(), d->suggested_locations().end()),
        head)
        << RequestToJson(r);
  }
  EXPECT_EQ(compared, 100);
}

// Locations no condition, list or country tells apart share a class (where decides each class
// once); the differential tests above check that the classes are sound.
TEST(Where, LocationClassesMergeOnlyWhatNoRuleTellsApart) {
  auto r = testing::CompileWith({testing::kKrPolicy, testing::kCorpPolicy});
  ASSERT_TRUE(r.ok());
  const auto& cat = r.snapshot->impl().catalogue;
  const auto& ix = r.snapshot->index();
  auto cls = [&](const char* id) { return ix.location_class[cat.location_index.at(id)]; };
  ASSERT_EQ(ix.location_class.size(), cat.locations.size());
  EXPECT_LT(ix.location_class_count, static_cast<int>(cat.locations.size()));
  EXPECT_EQ(cls("ncp:KR"), cls("nhn:kr1"));
  EXPECT_NE(cls("aws:ap-northeast-1"), cls("ncp:JPN"));       // a corp exception names the first
  EXPECT_NE(cls("aws:eu-central-1"), cls("aws:eu-north-1"));  // another country
}

class WhereTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = testing::CompileWith({testing::kKrPolicy, testing::kCorpPolicy});
    ASSERT_TRUE(r.ok());
    snap_ = r.snapshot;
  }
  // Non-personal data of a Korean operator: no rule stands in its way anywhere.
  static Request Anywhere(std::vector<std::string> sectors = {}) {
    auto r = ParseRequest(R"({"kind": "dataset", "action": "store",
        "now": "2026-06-30T00:00:00Z",
        "operator": {"id": "acme", "country": "KR"},
        "dataset": {"id": "d", "location": "aws:ap-northeast-1",
                    "partitions": [{"classes": ["public"], "origin": "KR"}]}})");
    EXPECT_TRUE(r.ok()) << r.status();
    r->operator_party->sectors = std::move(sectors);
    return *r;
  }
  static std::vector<std::string> Ids(const Placements& p) {
    std::vector<std::string> out;
    for (const auto& a : p.allowed) out.push_back(a.location);
    return out;
  }
  std::shared_ptr<const PolicySnapshot> snap_;
};

TEST_F(WhereTest, SectorCloudsOnlyForTheirSector) {
  auto open = AllowedLocations(*snap_, Anywhere());
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_THAT(Ids(*open), Not(Contains("ncp:gov-KR")));
  EXPECT_THAT(Ids(*open), Contains("ncp:KR"));
  for (const auto& a : open->allowed) EXPECT_EQ(a.reserved_for, "") << a.location;

  auto pub = AllowedLocations(*snap_, Anywhere({"kr_public"}));
  ASSERT_TRUE(pub.ok());
  EXPECT_THAT(Ids(*pub), Contains("ncp:gov-KR"));
  EXPECT_EQ(pub->allowed.size(), open->allowed.size() + 1);
  // Another sector does not open a government site.
  auto fin = AllowedLocations(*snap_, Anywhere({"kr_financial"}));
  ASSERT_TRUE(fin.ok());
  EXPECT_THAT(Ids(*fin), Not(Contains("ncp:gov-KR")));

  WhereOptions all;
  all.include_reserved = true;
  auto listed = AllowedLocations(*snap_, Anywhere(), all);
  ASSERT_TRUE(listed.ok());
  auto gov = std::find_if(listed->allowed.begin(), listed->allowed.end(),
                          [](const AllowedLocation& a) { return a.location == "ncp:gov-KR"; });
  ASSERT_NE(gov, listed->allowed.end());
  EXPECT_EQ(gov->site, "gov");
  EXPECT_EQ(gov->reserved_for, "kr_public");
  EXPECT_EQ(gov->country, "KR");
  EXPECT_EQ(gov->provider, "ncp");
}

TEST_F(WhereTest, SuggestionsLeaveOutSectorCloudsToo) {
  // Korean personal data denied in Tokyo: the Korean sites are offered, the government one only
  // to a public body.
  Request r = Anywhere();
  r.dataset->partitions[0].classes = {"personal"};
  r.dataset->partitions[0].subjects = 10;
  auto d = Evaluate(*snap_, r);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->decision, Effect::kDeny) << DecisionToJson(*d);
  std::vector<std::string> s(d->suggested_locations().begin(), d->suggested_locations().end());
  EXPECT_THAT(s, Contains("ncp:KR"));
  EXPECT_THAT(s, Not(Contains("ncp:gov-KR")));
  r.operator_party->sectors = {"kr_public"};
  auto pub = Evaluate(*snap_, r);
  ASSERT_TRUE(pub.ok());
  std::vector<std::string> p(pub->suggested_locations().begin(), pub->suggested_locations().end());
  EXPECT_THAT(p, Contains("ncp:gov-KR"));
}

TEST_F(WhereTest, FiltersByProviderAndCountry) {
  WhereOptions ncp;
  ncp.providers = {"ncp"};
  auto a = AllowedLocations(*snap_, Anywhere(), ncp);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(Ids(*a), (std::vector<std::string>{"ncp:JPN", "ncp:KR"}));
  WhereOptions eu;
  eu.countries = {"EU", "GB"};
  auto b = AllowedLocations(*snap_, Anywhere(), eu);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Ids(*b),
            (std::vector<std::string>{"aws:eu-central-1", "aws:eu-west-2", "aws:eu-north-1"}));
  WhereOptions both = eu;
  both.providers = {"ncp"};
  auto c = AllowedLocations(*snap_, Anywhere(), both);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->allowed.empty());
}

TEST_F(WhereTest, TheOrderIsTheSuggestionOrderUncapped) {
  // Placement aws:ap-northeast-1 (aws, JP): aws in JP, then aws elsewhere, then JP, then the rest.
  auto a = AllowedLocations(*snap_, Anywhere());
  ASSERT_TRUE(a.ok());
  std::vector<std::string> ids = Ids(*a);
  ASSERT_GT(ids.size(), 8u);  // not capped at 8 like suggestions
  EXPECT_EQ(ids.front(), "aws:ap-northeast-1");
  EXPECT_EQ(ids[1], "aws:ap-northeast-2");
  auto jpn = std::find(ids.begin(), ids.end(), "ncp:JPN");
  auto last_aws = std::find(ids.begin(), ids.end(), "aws:eu-north-1");
  ASSERT_NE(jpn, ids.end());
  EXPECT_GT(jpn, last_aws);
  EXPECT_EQ(*(jpn + 1), "ncp:KR");
}

TEST_F(WhereTest, ErrorsAreTheRequestsOrTheFiltersAndNamed) {
  WhereOptions bad;
  bad.providers = {"nco"};
  auto a = AllowedLocations(*snap_, Anywhere(), bad);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("provider `nco`"));
  WhereOptions country;
  country.countries = {"XX"};
  EXPECT_FALSE(AllowedLocations(*snap_, Anywhere(), country).ok());
  Request no_dataset = Anywhere();
  no_dataset.dataset.reset();
  auto c = AllowedLocations(*snap_, no_dataset);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("needs `dataset`"));
  EvalOptions refuse;
  refuse.request_time = RequestTime::kRefuse;
  EXPECT_FALSE(AllowedLocations(*snap_, Anywhere(), WhereOptions(), refuse).ok());
}

TEST_F(WhereTest, AnUnknownPlacementIsAskedAboutEverywhere) {
  Request r = Anywhere();
  r.dataset->location = "aws:ap-northeast-9";  // not in the catalogue: denied where it is
  auto d = Evaluate(*snap_, r);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->decision, Effect::kDeny);
  auto a = AllowedLocations(*snap_, r);
  ASSERT_TRUE(a.ok());
  ASSERT_FALSE(a->allowed.empty());
  EXPECT_EQ(a->allowed.front().provider, "aws");  // its provider prefix first
}

TEST_F(WhereTest, JsonHasEveryFieldInAFixedOrder) {
  Request r = Anywhere();
  WhereOptions only;
  only.countries = {"KR"};
  only.include_reserved = true;
  auto a = AllowedLocations(*snap_, r, only);
  ASSERT_TRUE(a.ok());
  std::string text = PlacementsToJson(*a);
  auto j = nlohmann::json::parse(text);
  ASSERT_EQ(j["allowed"].size(), a->allowed.size());
  EXPECT_EQ(j["now"], "2026-06-30T00:00:00Z");
  EXPECT_EQ(j["policy_digest"], snap_->digest());
  EXPECT_THAT(text, HasSubstr(R"({"location":"ncp:gov-KR","provider":"ncp","country":"KR",)"
                              R"("site":"gov","reserved_for":"kr_public","effect":"allow",)"
                              R"("obligations":[]})"));
}

}  // namespace
}  // namespace residency

namespace residency {
namespace {

// The HTML page carries the placements as JSON inside a <script> element and the title in the
// markup: neither a policy's obligation text nor a file name can end the script or add markup.
TEST(WhereHtml, PolicyTextAndTitleCannotBreakOutOfThePage) {
  const char* policy = R"yaml(kind: policy
id: x
basis: law
scope: {always: true}
obligations:
  x.note: "Tell them </script><img src=x onerror=alert(1)> <!-- now"
rules:
  - id: x.any
    citation: "test"
    message: "everything carries a note"
    when: {classes: [personal]}
    effect: allow_with_obligations
    obligations: [x.note]
)yaml";
  auto r = testing::CompileWith({policy});
  ASSERT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : FormatDiagnostic(r.diagnostics[0]));
  auto req = ParseRequest(R"({"kind": "dataset", "action": "store", "now": "2026-06-30T00:00:00Z",
      "dataset": {"id": "d", "location": "ncp:KR",
                  "partitions": [{"classes": ["personal"], "origin": "KR"}]}})");
  ASSERT_TRUE(req.ok()) << req.status();
  auto where = AllowedLocations(*r.snapshot, *req);
  ASSERT_TRUE(where.ok()) << where.status();
  ASSERT_FALSE(where->allowed.empty());
  ASSERT_EQ(where->allowed[0].obligations.size(), 1u);
  const std::string html = PlacementsToHtml(*where, "<b>a&b</b>.yaml");
  size_t closers = 0;
  for (size_t at = html.find("</script>"); at != std::string::npos;
       at = html.find("</script>", at + 1)) {
    ++closers;
  }
  EXPECT_EQ(closers, 2u) << "only the page's own two scripts end";
  EXPECT_EQ(html.find("<!-- now"), std::string::npos);
  EXPECT_THAT(html,
              HasSubstr(R"(Tell them \u003c/script\u003e\u003cimg src=x onerror=alert(1)\u003e )"
                        R"(\u003c!-- now)"));
  EXPECT_THAT(html, HasSubstr("Where may &lt;b&gt;a&amp;b&lt;/b&gt;.yaml go?"));
  EXPECT_EQ(html.find("<b>a&b</b>"), std::string::npos);
}

}  // namespace
}  // namespace residency
