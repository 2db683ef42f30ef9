// eval_latency: the project's own timing harness for check latency percentiles (docs/benchmarks.md;
// Google Benchmark reports means, not percentiles).
//
//   eval_latency --policies DIR [--policies DIR ...]
//                [--mode both|suggest|nosuggest|where|explain]
//                [--runs 5] [--evals 200000] [--budget-ms 3000] REQUEST.yaml...
//   eval_latency --set DIR --set DIR ... [same flags] REQUEST.yaml...
//
// With --set, each folder is its own policy set and the sets are measured interleaved (run r of
// every set before run r+1 of any), so that the load of a shared machine hits them alike; this is
// how the rule-count scaling is measured.
//
// The requests are parsed once; each run evaluates them round-robin (request i % n), timing every
// call on its own with std::chrono::steady_clock (the clock's own overhead, the median of
// back-to-back reads, is measured first and subtracted). The timed region is Evaluate() and the
// destruction of its result; JSON rendering is excluded. A run stops after `--evals` calls or
// `--budget-ms` of wall time, whichever comes first (at least 50 rounds of the mix), so that the
// slow suggestion path does not blow the time budget. p50/p99 are over all calls of a run, over
// the whole mix; the reported figure is the median over runs. Per-request p50s are reported too.
// --mode where times AllowedLocations (every location where the request may go) instead;
// --mode explain times Explain (the decision and every rule's trace; rendering excluded).
//
// Output: one JSON object on stdout (see Report below); a readable summary on stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "residency/decision.h"
#include "residency/explain.h"
#include "residency/policy.h"
#include "residency/request.h"
#include "residency/where.h"

namespace {

using Clock = std::chrono::steady_clock;

int64_t Ns(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(q * (v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

double ClockOverheadNs() {
  std::vector<double> d;
  d.reserve(100000);
  for (int i = 0; i < 100000; ++i) {
    auto a = Clock::now();
    auto b = Clock::now();
    d.push_back(static_cast<double>(Ns(a, b)));
  }
  return Median(std::move(d));
}

volatile int g_sink = 0;

enum class Call { kEvaluate, kWhere, kExplain };

struct RunResult {
  double p50 = 0, p99 = 0, mean = 0;
  size_t evals = 0;
  std::vector<double> per_request_p50;
};

RunResult OneRun(const residency::PolicySnapshot& snap, const std::vector<residency::Request>& reqs,
                 const residency::EvalOptions& opt, Call call, size_t max_evals, int64_t budget_ns,
                 double overhead) {
  const size_t n = reqs.size();
  std::vector<double> all;
  all.reserve(max_evals);
  std::vector<std::vector<double>> per(n);
  const size_t min_evals = 50 * n;
  auto start = Clock::now();
  for (size_t i = 0; i < max_evals; ++i) {
    const size_t r = i % n;
    auto a = Clock::now();
    if (call == Call::kWhere) {
      auto w = residency::AllowedLocations(snap, reqs[r], residency::WhereOptions(), opt);
      g_sink += w.ok() ? static_cast<int>(w->allowed.size()) : 7;
    } else if (call == Call::kExplain) {
      residency::ExplainOptions eo;
      eo.eval = opt;
      auto e = residency::Explain(snap, reqs[r], eo);
      g_sink += e.ok() ? static_cast<int>(e->rules.size()) : 7;
    } else {
      auto d = residency::Evaluate(snap, reqs[r], opt);
      g_sink += d.ok() ? static_cast<int>(d->decision) : 7;
    }
    auto b = Clock::now();
    double t = std::max(0.0, static_cast<double>(Ns(a, b)) - overhead);
    all.push_back(t);
    per[r].push_back(t);
    if (r == n - 1 && i + 1 >= min_evals && Ns(start, b) > budget_ns) break;
  }
  RunResult out;
  out.evals = all.size();
  double sum = 0;
  for (double x : all) sum += x;
  out.mean = sum / static_cast<double>(all.size());
  out.p50 = Percentile(all, 0.50);
  out.p99 = Percentile(all, 0.99);
  for (auto& v : per) out.per_request_p50.push_back(Median(v));
  return out;
}

std::string Base(const std::string& path) {
  size_t s = path.find_last_of('/');
  std::string b = s == std::string::npos ? path : path.substr(s + 1);
  size_t dot = b.rfind('.');
  return dot == std::string::npos ? b : b.substr(0, dot);
}

std::string JsonNum(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

struct Set {
  std::string name;
  std::shared_ptr<const residency::PolicySnapshot> snap;
  std::vector<std::string> decisions;
  std::vector<size_t> suggested;
  std::ostringstream js;  // this set's JSON object, built up
};

std::shared_ptr<const residency::PolicySnapshot> Compile(const std::vector<std::string>& paths) {
  auto compiled = residency::CompilePolicies(paths);
  if (!compiled.ok()) {
    for (const auto& d : compiled.diagnostics)
      if (d.severity == residency::Diagnostic::Severity::kError)
        std::cerr << residency::FormatDiagnostic(d) << "\n";
  }
  return compiled.snapshot;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> policies, set_dirs, files;
  std::string mode = "both";
  int runs = 5;
  size_t max_evals = 200000;
  int64_t budget_ms = 3000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "eval_latency: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--policies")
      policies.push_back(next());
    else if (a == "--set")
      set_dirs.push_back(next());
    else if (a == "--mode")
      mode = next();
    else if (a == "--runs")
      runs = std::atoi(next().c_str());
    else if (a == "--evals")
      max_evals = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--budget-ms")
      budget_ms = std::atoll(next().c_str());
    else if (!a.empty() && a[0] == '-') {
      std::cerr << "eval_latency: unknown flag " << a << "\n";
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (policies.empty() == set_dirs.empty() || files.empty()) {
    std::cerr
        << "usage: eval_latency (--policies PATH... | --set DIR --set DIR...) "
           "[--mode both|suggest|nosuggest|where|explain] [--runs N] [--evals N] [--budget-ms MS] "
           "REQUEST...\n"
           "  --policies: one policy set made of the paths given; --set: one policy set per "
           "folder, measured interleaved (run r of every set before run r+1 of any)\n";
    return 2;
  }
  std::vector<Set> sets(policies.empty() ? set_dirs.size() : 1);
  for (size_t k = 0; k < sets.size(); ++k) {
    sets[k].name = policies.empty() ? set_dirs[k] : policies[0];
    sets[k].snap = Compile(policies.empty() ? std::vector<std::string>{set_dirs[k]} : policies);
    if (!sets[k].snap) return 1;
  }
  std::vector<residency::Request> reqs;
  std::vector<std::string> names;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    auto r = residency::ParseRequest(ss.str());
    if (!r.ok()) {
      std::cerr << "eval_latency: " << f << ": " << r.status().ToString() << "\n";
      return 1;
    }
    reqs.push_back(*std::move(r));
    names.push_back(Base(f));
  }
  const double overhead = ClockOverheadNs();
  for (auto& s : sets) {
    // Decisions with the default options (the same with and without suggestions).
    for (const auto& r : reqs) {
      auto d = residency::Evaluate(*s.snap, r);
      s.decisions.push_back(d.ok() ? residency::EffectName(d->decision) : "error");
      s.suggested.push_back(d.ok() ? d->suggested_locations().size() : 0);
    }
    s.js << "{\"policies\": \"" << s.name << "\", \"rules\": " << s.snap->rule_count()
         << ", \"requests\": " << reqs.size() << ", \"clock_overhead_ns\": " << JsonNum(overhead)
         << ", \"decisions\": {";
    for (size_t i = 0; i < reqs.size(); ++i)
      s.js << (i ? ", " : "") << "\"" << names[i] << "\": \"" << s.decisions[i] << "\"";
    s.js << "}";
  }
  std::fprintf(stderr, "eval_latency: %zu policy set(s), %zu requests, clock overhead %.1f ns\n",
               sets.size(), reqs.size(), overhead);
  struct Mode {
    std::string name;
    bool suggest;
    Call call;
  };
  std::vector<Mode> modes;
  if (mode == "both" || mode == "suggest") modes.push_back({"suggest", true, Call::kEvaluate});
  if (mode == "both" || mode == "nosuggest") {
    modes.push_back({"nosuggest", false, Call::kEvaluate});
  }
  if (mode == "where") modes.push_back({"where", false, Call::kWhere});
  // Explain's decision carries suggestions, as `residency explain` prints them.
  if (mode == "explain") modes.push_back({"explain", true, Call::kExplain});
  for (const auto& [mname, suggest, call] : modes) {
    residency::EvalOptions opt;
    opt.suggest = suggest;
    // Warm-up: two rounds of the mix per set.
    for (auto& s : sets)
      for (int w = 0; w < 2; ++w)
        for (const auto& r : reqs) {
          auto d = residency::Evaluate(*s.snap, r, opt);
          g_sink += d.ok() ? 1 : 0;
        }
    struct Acc {
      std::vector<double> p50s, p99s, means;
      std::vector<std::vector<double>> per;
      size_t evals = 0;
    };
    std::vector<Acc> acc(sets.size());
    for (auto& a : acc) a.per.resize(reqs.size());
    for (int run = 0; run < runs; ++run) {
      for (size_t k = 0; k < sets.size(); ++k) {
        RunResult rr =
            OneRun(*sets[k].snap, reqs, opt, call, max_evals, budget_ms * 1000000, overhead);
        acc[k].p50s.push_back(rr.p50);
        acc[k].p99s.push_back(rr.p99);
        acc[k].means.push_back(rr.mean);
        acc[k].evals += rr.evals;
        for (size_t i = 0; i < reqs.size(); ++i) acc[k].per[i].push_back(rr.per_request_p50[i]);
      }
    }
    for (size_t k = 0; k < sets.size(); ++k) {
      Set& s = sets[k];
      Acc& a = acc[k];
      s.js << ", \"" << mname << "\": {\"p50_ns\": " << JsonNum(Median(a.p50s))
           << ", \"p99_ns\": " << JsonNum(Median(a.p99s))
           << ", \"mean_ns\": " << JsonNum(Median(a.means)) << ", \"evals\": " << a.evals
           << ", \"runs_p50_ns\": [";
      for (size_t i = 0; i < a.p50s.size(); ++i) s.js << (i ? ", " : "") << JsonNum(a.p50s[i]);
      s.js << "], \"runs_p99_ns\": [";
      for (size_t i = 0; i < a.p99s.size(); ++i) s.js << (i ? ", " : "") << JsonNum(a.p99s[i]);
      s.js << "], \"per_request_p50_ns\": {";
      for (size_t i = 0; i < reqs.size(); ++i)
        s.js << (i ? ", " : "") << "\"" << names[i] << "\": " << JsonNum(Median(a.per[i]));
      s.js << "}}";
      std::fprintf(stderr,
                   "  %s (%zu rules) %-9s p50 %9.0f ns  p99 %9.0f ns  mean %9.0f ns  (%zu evals, "
                   "%d runs)\n",
                   s.name.c_str(), s.snap->rule_count(), mname.c_str(), Median(a.p50s),
                   Median(a.p99s), Median(a.means), a.evals, runs);
      if (sets.size() == 1) {
        for (size_t i = 0; i < reqs.size(); ++i)
          std::fprintf(stderr, "    %-36s %-24s p50 %9.0f ns%s\n", names[i].c_str(),
                       s.decisions[i].c_str(), Median(a.per[i]),
                       s.suggested[i] ? " (suggestions)" : "");
      }
    }
  }
  if (sets.size() == 1) {
    std::cout << sets[0].js.str() << "}" << std::endl;
  } else {
    std::cout << "{\"sets\": [";
    for (size_t k = 0; k < sets.size(); ++k)
      std::cout << (k ? ", " : "") << sets[k].js.str() << "}";
    std::cout << "]}" << std::endl;
  }
  return 0;
}
