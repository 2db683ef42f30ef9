// The routing table: agrees with Evaluate() at every location, follows dated rules, and reads
// without allocating once a shape has been seen.
#include "residency/route.h"

#include <thread>

#include "eval_fixtures.h"
#include "gtest/gtest.h"
#include "testing/counting_new.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

std::shared_ptr<const PolicySnapshot> Snapshot() {
  auto r = testing::CompileWith({testing::kKrPolicy, testing::kCorpPolicy});
  EXPECT_TRUE(r.ok());
  return r.snapshot;
}

TEST(Router, AgreesWithEvaluateAtEveryLocation) {
  auto snap = Snapshot();
  Router router(snap);
  Model m;
  m.id = "chat";
  m.trained_on.emplace();
  int model = *router.AddModel(m);
  std::vector<std::string_view> classes = {"personal"};
  absl::Time now = absl::FromUnixSeconds(1782777600);  // 2026-06-30
  Router::Query q{"KR", "verified", classes, model, -1};
  Router::Result r = router.Route(q, now);
  ASSERT_TRUE(r.status.ok());
  auto locations = snap->locations();
  ASSERT_EQ(r.allowed->size(), locations.size());
  for (size_t i = 0; i < locations.size(); ++i) {
    Request req;
    req.kind = Request::Kind::kCompute;
    req.action = "infer";
    req.now = now;
    Compute c;
    c.job = "inference";
    c.location = locations[i];
    c.user = User{"KR", "verified"};
    c.prompt_classes = std::vector<std::string>{"personal"};
    ComputeInput in;
    in.model = m;
    in.model->location = locations[i];
    c.inputs.push_back(in);
    req.compute = c;
    EvalOptions o;
    o.suggest = false;
    auto d = Evaluate(*snap, req, o);
    ASSERT_TRUE(d.ok());
    Router::Result one = router.Route(q, now, static_cast<int>(i));
    EXPECT_EQ(one.preferred, d->decision) << locations[i];
    bool allowed = d->decision == Effect::kAllow || d->decision == Effect::kAllowWithObligations;
    EXPECT_EQ(r.Allowed(static_cast<int>(i)), allowed) << locations[i];
  }
  EXPECT_TRUE(r.Allowed(router.LocationIndex("ncp:KR")));
  EXPECT_FALSE(r.Allowed(router.LocationIndex("aws:ap-northeast-1")));
  EXPECT_FALSE(r.Allowed(router.LocationIndex("aws:eu-west-2")));
}

TEST(Router, TableFollowsDatedRules) {
  auto snap = Snapshot();
  Router router(snap);
  std::vector<std::string_view> classes = {"personal"};
  Router::Query q{"KR", "claimed", classes, -1, -1};
  int frankfurt = router.LocationIndex("aws:eu-central-1");
  EXPECT_FALSE(router.Route(q, absl::FromUnixSeconds(1757980799))
                   .Allowed(frankfurt));  // 2025-09-15T23:59:59Z
  EXPECT_TRUE(router.Route(q, absl::FromUnixSeconds(1757980800)).Allowed(frankfurt));  // 2025-09-16
  EXPECT_FALSE(router.Route(q, absl::FromUnixSeconds(1757000000)).Allowed(frankfurt));
}

TEST(Router, BadQueriesFailClosed) {
  Router router(Snapshot());
  std::vector<std::string_view> bad = {"personal.favourite_colour"};
  EXPECT_FALSE(router.Route({"KR", "verified", bad, -1, -1}, absl::Now()).status.ok());
  EXPECT_FALSE(router.Route({"XX", "verified", {}, -1, -1}, absl::Now()).status.ok());
  // Country codes skip the hash table; groups and codes outside ISO 3166-1 do not.
  EXPECT_TRUE(router.Route({"EEA", "verified", {}, -1, -1}, absl::Now()).status.ok());
  EXPECT_TRUE(router.Route({"DE", "verified", {}, -1, -1}, absl::Now()).status.ok());
  EXPECT_FALSE(router.Route({"EU1", "verified", {}, -1, -1}, absl::Now()).status.ok());
  EXPECT_FALSE(router.Route({"KR", "sworn", {}, -1, -1}, absl::Now()).status.ok());
  EXPECT_FALSE(router.Route({"KR", "verified", {}, 7, -1}, absl::Now()).status.ok());
  Router::Result r = router.Route({"KR", "verified", bad, -1, -1}, absl::Now(), 0);
  EXPECT_FALSE(r.Allowed(0));
  EXPECT_EQ(r.preferred, Effect::kDeny);
}

TEST(Router, WarmLookupsDoNotAllocate) {
  Router router(Snapshot());
  std::vector<std::string_view> classes = {"personal", "kr.rrn"};
  Router::Query q{"KR", "verified", classes, -1, -1};
  absl::Time now = absl::FromUnixSeconds(1782777600);
  int seoul = router.LocationIndex("ncp:KR");
  router.Route(q, now, seoul);  // builds the entry
  long before = testing::AllocationCount();
  Effect e = Effect::kAllow;
  for (int i = 0; i < 1000; ++i) e = std::max(e, router.Route(q, now, seoul).preferred);
  EXPECT_EQ(testing::AllocationCount(), before) << "Route() allocated on a warm shape";
  EXPECT_EQ(e, Effect::kDeny) << "an RRN without a statute is denied everywhere";
}

TEST(Router, ConcurrentRoutesAgree) {
  Router router(Snapshot());
  std::vector<std::string_view> classes = {"personal"};
  absl::Time now = absl::FromUnixSeconds(1782777600);
  int seoul = router.LocationIndex("ncp:KR");
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        Router::Query q{t % 2 ? "KR" : "DE", "verified", classes, -1, -1};
        Router::Result r = router.Route(q, now, seoul);
        if (!r.status.ok() || !r.Allowed(seoul)) ++bad;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// Warm lookups go through a per-thread cache; it must never hand one router's entry to another
// (two routers over different policies, or a router built where a destroyed one was).
TEST(Router, EachRouterAnswersFromItsOwnTable) {
  auto strict = Snapshot();
  auto open = testing::CompileWith({});
  ASSERT_TRUE(open.ok());
  std::vector<std::string_view> classes = {"personal"};
  Router::Query q{"KR", "verified", classes, -1, -1};
  absl::Time now = absl::FromUnixSeconds(1782777600);
  Router a(strict), b(open.snapshot);
  const int tokyo = a.LocationIndex("aws:ap-northeast-1");
  ASSERT_GE(tokyo, 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(a.Route(q, now).Allowed(tokyo)) << i;  // KR personal data leaving Korea
    EXPECT_TRUE(b.Route(q, now).Allowed(tokyo)) << i;   // no policy says anything
  }
  for (int i = 0; i < 4; ++i) {
    auto c = std::make_unique<Router>(i % 2 ? strict : open.snapshot);
    for (int k = 0; k < 2; ++k) EXPECT_EQ(c->Route(q, now).Allowed(tokyo), i % 2 == 0) << i;
  }
}

}  // namespace
}  // namespace residency
