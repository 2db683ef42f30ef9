// bench_compile: compiles a policy folder in a fresh process and prints the compile time and the
// whole process's peak resident set (the bar: compile 10,000 rules in <= 1 s and <= 50 MB).
//
//   bench_compile DIR [DIR ...]
//
// Prints one JSON object: {"rules": N, "seconds": S, "maxrss_mb": M, "rss_before_mb": B}.
// `seconds` is wall time of CompilePolicies (reading the files included); `maxrss_mb` is
// getrusage(RUSAGE_SELF).ru_maxrss after the compile, with the snapshot still alive.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "residency/policy.h"

namespace {
double MaxRssMb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux: kilobytes
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_compile DIR [DIR ...]\n");
    return 2;
  }
  std::vector<std::string> paths(argv + 1, argv + argc);
  const double before = MaxRssMb();
  auto t0 = std::chrono::steady_clock::now();
  residency::CompileResult r = residency::CompilePolicies(paths);
  auto t1 = std::chrono::steady_clock::now();
  const double rss = MaxRssMb();
  if (!r.ok()) {
    for (const auto& d : r.diagnostics)
      if (d.severity == residency::Diagnostic::Severity::kError)
        std::fprintf(stderr, "%s\n", residency::FormatDiagnostic(d).c_str());
    return 1;
  }
  std::printf("{\"rules\": %zu, \"seconds\": %.4f, \"maxrss_mb\": %.1f, \"rss_before_mb\": %.1f}\n",
              r.snapshot->rule_count(), std::chrono::duration<double>(t1 - t0).count(), rss,
              before);
  return 0;
}
