// Inference routing from tags (the bar: <= 50 ns, no allocation): a warm Router lookup for a
// mix of request shapes against the shipped policies.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "residency/route.h"

namespace {

std::shared_ptr<const residency::PolicySnapshot> Policies() {
  static auto snap = residency::CompilePolicy({RESIDENCY_BENCH_POLICIES});
  if (!snap.ok()) {
    std::fprintf(stderr, "%s\n", std::string(snap.status().message()).c_str());
    std::abort();
  }
  return *snap;
}

void BM_RouteWarm(benchmark::State& state) {
  residency::Router router(Policies());
  residency::Model m;
  m.id = "chat";
  m.artifact = "weights";
  m.trained_on.emplace();
  int model = *router.AddModel(m);
  static const std::vector<std::string_view> personal = {"personal"};
  static const std::vector<std::string_view> rrn = {"kr.rrn", "personal"};
  static const std::vector<std::string_view> none = {};
  std::vector<residency::Router::Query> shapes = {
      {"KR", "verified", personal, model, -1}, {"DE", "verified", personal, model, -1},
      {"KR", "claimed", rrn, model, -1},       {"US", "inferred", none, model, -1},
      {"JP", "verified", personal, model, -1}, {"CN", "claimed", personal, model, -1}};
  absl::Time now = absl::FromUnixSeconds(1782777600);  // 2026-06-30
  int seoul = router.LocationIndex("ncp:KR");
  for (const auto& q : shapes) router.Route(q, now, seoul);  // build the tables
  size_t i = 0;
  for (auto _ : state) {
    residency::Router::Result r = router.Route(shapes[i], now, seoul);
    benchmark::DoNotOptimize(r.preferred);
    if (++i == shapes.size()) i = 0;
  }
}
BENCHMARK(BM_RouteWarm);

}  // namespace

BENCHMARK_MAIN();
