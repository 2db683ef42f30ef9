// bench_eval: Google Benchmark for ad-hoc profiling of the decision engine (the latency
// percentiles of docs/benchmarks.md come from eval_latency, which Google Benchmark cannot give).
//
//   BM_Evaluate/<request>/suggest:{0,1}  Evaluate() of one parsed example request against the
//                                        shipped policies (JSON rendering excluded)
//   BM_Compile                           CompilePolicies() of the shipped folder
//   BM_ParseRequest/<request>            ParseRequest() of one example request (for context)
//
// Run from anywhere: the shipped policies and examples are found through RESIDENCY_SOURCE_DIR.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace {

const std::string kSource = RESIDENCY_SOURCE_DIR;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<const residency::PolicySnapshot> Shipped() {
  static auto snap = [] {
    auto r = residency::CompilePolicies({kSource + "/policies"});
    return r.snapshot;
  }();
  return snap;
}

void BM_Evaluate(benchmark::State& state, residency::Request req, bool suggest) {
  auto snap = Shipped();
  if (!snap) {
    state.SkipWithError("shipped policies do not compile");
    return;
  }
  residency::EvalOptions opt;
  opt.suggest = suggest;
  for (auto _ : state) {
    auto d = residency::Evaluate(*snap, req, opt);
    benchmark::DoNotOptimize(d);
  }
}

void BM_ParseRequest(benchmark::State& state, std::string text) {
  for (auto _ : state) {
    auto r = residency::ParseRequest(text);
    benchmark::DoNotOptimize(r);
  }
}

void BM_Compile(benchmark::State& state) {
  for (auto _ : state) {
    auto r = residency::CompilePolicies({kSource + "/policies"});
    if (!r.ok()) {
      state.SkipWithError("shipped policies do not compile");
      return;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["rules"] = static_cast<double>(Shipped() ? Shipped()->rule_count() : 0);
}
BENCHMARK(BM_Compile)->Unit(benchmark::kMillisecond);

int Register() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(kSource + "/examples/requests"))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string text = Read(f.string());
    auto r = residency::ParseRequest(text);
    if (!r.ok()) continue;
    const std::string name = f.stem().string();
    for (bool suggest : {true, false}) {
      benchmark::RegisterBenchmark(
          ("BM_Evaluate/" + name + "/suggest:" + (suggest ? "1" : "0")).c_str(),
          [req = *r, suggest](benchmark::State& s) { BM_Evaluate(s, req, suggest); });
    }
    benchmark::RegisterBenchmark(("BM_ParseRequest/" + name).c_str(),
                                 [text](benchmark::State& s) { BM_ParseRequest(s, text); });
  }
  return 0;
}
const int kRegistered = Register();

}  // namespace

BENCHMARK_MAIN();
