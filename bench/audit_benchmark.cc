// Audit trail benchmarks. Two modes:
//   audit_benchmark [google benchmark flags]   micro-benchmarks (encode, hash, append, verify)
//   audit_benchmark --summary [--full]          the audit figures of docs/benchmarks.md from our
//   own harness,
//       medians over repetitions, printed as one JSON object:
//       audit_append_per_s     records appended from one thread per CPU-second of the whole
//                              process (the appending thread, the background writer and the
//                              kernel time of their write/fsync calls, summed), async
//                              durability, checkpoints signed on the default cadence, the final
//                              Flush included: one core's worth of appending. CPU time keeps the
//                              figure honest on a shared machine; since the writer runs beside
//                              the caller, the wall-clock rate on two idle cores is higher;
//       audit_append_wall_per_s  the same appends per wall-clock second (the reading of the bar:
//                              records/s appended from one thread, the writer on its own); it
//                              drops when other work takes the writer's core. The caller/writer
//                              split goes to stderr;
//       audit_verify_per_s     records verified per second of CPU time on one core (the verifier
//                              is single-threaded; CPU time keeps the figure honest on a shared
//                              machine; the wall-clock rate is printed to stderr): CRC, canonical
//                              decode, leaf hash, tree, every checkpoint signature;
//       audit_overhead_p50_ns  median latency of one Append call on the decision path.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/merkle.h"
#include "audit/record.h"
#include "internal/openssl_util.h"
#include "residency/audit.h"
#include "residency/audit_tiles.h"

namespace {

using residency::AuditLog;
using residency::AuditOptions;
using residency::DecisionRecord;

DecisionRecord Sample(uint64_t i) {
  DecisionRecord d;
  d.decision = (i & 3) == 0 ? "deny" : "allow";
  d.rule_ids = {"kr.cross_border", "corp.sovereign_model"};
  d.tags = {"DE:personal", "KR:personal", "KR:personal.credit"};
  d.request_digest = residency::internal::Sha256(absl::StrCat("request ", i));
  d.policy_digest = "sha256:" + std::string(64, 'a');
  d.now = absl::FromUnixSeconds(1782777600);
  return d;
}

struct Workspace {
  std::string root, key, vkey;
  Workspace() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "audit_bench_XXXXXX").string();
    root = ::mkdtemp(tmpl.data()) ? tmpl : "/tmp";
    auto v = residency::GenerateAuditKey("bench", root);
    if (!v.ok()) {
      std::fprintf(stderr, "audit_benchmark: %s\n", std::string(v.status().message()).c_str());
      std::exit(2);
    }
    vkey = *v;
    key = root + "/bench.pem";
    std::filesystem::create_directory(root + "/logs");
  }
  ~Workspace() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  AuditOptions Options() const {
    AuditOptions o;
    o.audit_dir = root + "/logs";
    o.key_file = key;
    return o;  // async, checkpoints every 65,536 records or 1 s (the defaults)
  }
};

Workspace& Ws() {
  static Workspace ws;
  return ws;
}

void Fail(const absl::Status& s) {
  std::fprintf(stderr, "audit_benchmark: %s\n", std::string(s.message()).c_str());
  std::exit(2);
}

// ---- micro-benchmarks ----

void BM_EncodeDecision(benchmark::State& state) {
  DecisionRecord d = Sample(1);
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(residency::audit::EncodeDecision(d, 42, nullptr, &out));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeDecision);

void BM_LeafHashAndAppend(benchmark::State& state) {
  std::string rec;
  (void)residency::audit::EncodeDecision(Sample(1), 42, nullptr, &rec);
  residency::audit::TreeHasher h;
  residency::audit::CompactRange range;
  for (auto _ : state) range.Append(h.Leaf(rec), &h);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LeafHashAndAppend);

void BM_AppendAsync(benchmark::State& state) {
  auto log = AuditLog::Open(Ws().Options());
  if (!log.ok()) Fail(log.status());
  DecisionRecord d = Sample(1);
  for (auto _ : state) benchmark::DoNotOptimize((*log)->Append(d));
  if (absl::Status s = (*log)->Flush(); !s.ok()) Fail(s);
  state.SetItemsProcessed(state.iterations());
  (void)(*log)->Close();
  std::filesystem::remove_all((*log)->log_dir());
}
BENCHMARK(BM_AppendAsync)->UseRealTime();

// ---- the summary harness ----

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

using Clock = std::chrono::steady_clock;

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

std::vector<double> g_caller_cpu_ns;   // CPU time per Append on the calling thread
std::vector<double> g_process_cpu_ns;  // CPU time per record of the whole process
std::vector<double> g_append_wall;     // records per wall-clock second

// Returns records per CPU-second of the process (see the file comment).
// With `tiles`, the log is also published as C2SP tiles at every checkpoint, into a fresh
// directory per run (`tiles-<run>`) that is kept until the workspace goes: deleting one run's
// thousands of tile files just before the next creates its own would bill that run for the
// deletion (on ext4 without a journal, inode allocation skips recently deleted inodes one by one,
// which is what `perf` showed dominating the ratio when every run deleted the last one's tree).
double AppendPerCpuSecond(uint64_t n, bool tiles = false) {
  static int tiles_runs = 0;
  std::vector<DecisionRecord> recs;
  for (uint64_t i = 0; i < 64; ++i) recs.push_back(Sample(i));
  AuditOptions opts = Ws().Options();
  if (tiles) opts.tiles_dir = absl::StrCat(Ws().root, "/tiles-", tiles_runs++);
  auto log = AuditLog::Open(opts);
  if (!log.ok()) Fail(log.status());
  auto t0 = Clock::now();
  double p0 = CpuSeconds();
  double c0 = ThreadCpuSeconds();
  for (uint64_t i = 0; i < n; ++i) {
    auto idx = (*log)->Append(recs[i & 63]);
    if (!idx.ok()) Fail(idx.status());
  }
  g_caller_cpu_ns.push_back((ThreadCpuSeconds() - c0) * 1e9 / n);
  if (absl::Status s = (*log)->Flush(); !s.ok()) Fail(s);
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = CpuSeconds() - p0;
  if (absl::Status s = (*log)->Close(); !s.ok()) Fail(s);
  std::filesystem::remove_all((*log)->log_dir());
  if (tiles) return n / cpu;  // the tree goes with the workspace, after the last run
  g_process_cpu_ns.push_back(cpu * 1e9 / n);
  g_append_wall.push_back(n / secs);
  return n / cpu;
}

double AppendP50Ns(uint64_t n) {
  std::vector<DecisionRecord> recs;
  for (uint64_t i = 0; i < 64; ++i) recs.push_back(Sample(i));
  auto log = AuditLog::Open(Ws().Options());
  if (!log.ok()) Fail(log.status());
  std::vector<double> ns;
  ns.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto idx = (*log)->Append(recs[i & 63]);
    auto t1 = Clock::now();
    if (!idx.ok()) Fail(idx.status());
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  if (absl::Status s = (*log)->Close(); !s.ok()) Fail(s);
  std::filesystem::remove_all((*log)->log_dir());
  return Median(ns);
}

int Summary(bool full) {
  const int reps = full ? 7 : 5;
  const uint64_t n_append = full ? 4000000 : 1000000;
  const uint64_t n_latency = full ? 1000000 : 200000;
  std::vector<double> append, p50, verify, append_tiles, verify_tiles;
  // Interleaved, so that load from elsewhere hits both alike.
  for (int r = 0; r < reps; ++r) {
    append.push_back(AppendPerCpuSecond(n_append));
    append_tiles.push_back(AppendPerCpuSecond(n_append, true));
  }
  for (int r = 0; r < reps; ++r) p50.push_back(AppendP50Ns(n_latency));
  // One log to verify, written once.
  std::string dir;
  uint64_t records = 0;
  {
    auto log = AuditLog::Open(Ws().Options());
    if (!log.ok()) Fail(log.status());
    for (uint64_t i = 0; i < n_append; ++i) {
      if (auto idx = (*log)->Append(Sample(i & 1023)); !idx.ok()) Fail(idx.status());
    }
    if (absl::Status s = (*log)->Close(); !s.ok()) Fail(s);
    dir = (*log)->log_dir();
  }
  residency::AuditVerifyOptions vo;
  vo.vkeys = {Ws().vkey};
  std::vector<double> verify_wall;
  for (int r = 0; r < reps; ++r) {
    double c0 = CpuSeconds();
    auto t0 = Clock::now();
    auto report = residency::VerifyAuditLogs(dir, vo);
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    double cpu = CpuSeconds() - c0;
    if (!report.ok()) Fail(report.status());
    if (!report->ok()) Fail(absl::InternalError("benchmark log does not verify"));
    records = report->logs[0].records;
    verify.push_back(records / cpu);
    verify_wall.push_back(records / secs);
  }
  // The same log as C2SP tiles, verified from the directory (every entry and tile).
  const std::string tiles = Ws().root + "/verify-tiles";
  if (auto published = residency::PublishAuditTiles(dir, tiles); !published.ok()) {
    Fail(published.status());
  }
  residency::AuditTilesVerifyOptions tvo;
  tvo.vkeys = {Ws().vkey};
  for (int r = 0; r < reps; ++r) {
    double c0 = CpuSeconds();
    auto report = residency::VerifyAuditTiles(tiles, tvo);
    double cpu = CpuSeconds() - c0;
    if (!report.ok()) Fail(report.status());
    if (report->status != residency::AuditLogStatus::kValid) {
      Fail(absl::InternalError("benchmark tiles do not verify"));
    }
    verify_tiles.push_back(report->records / cpu);
  }
  std::filesystem::remove_all(tiles);
  std::filesystem::remove_all(dir);
  const double overhead = Median(append_tiles) / Median(append);
  std::printf(
      "{\"audit_append_per_s\": %.0f, \"audit_append_wall_per_s\": %.0f, "
      "\"audit_verify_per_s\": %.0f, \"audit_overhead_p50_ns\": %.1f, "
      "\"audit_tiles_publish_overhead\": %.3f, \"audit_verify_tiles_per_s\": %.0f}\n",
      Median(append), Median(g_append_wall), Median(verify), Median(p50), overhead,
      Median(verify_tiles));
  std::fprintf(stderr, "audit: append with tiles publication %.0f records/cpu-s (runs:",
               Median(append_tiles));
  for (double a : append_tiles) std::fprintf(stderr, " %.0f", a);
  std::fprintf(stderr, "), ratio %.3f; verify from tiles %.0f records/cpu-s\n", overhead,
               Median(verify_tiles));
  std::fprintf(stderr, "audit: append %.0f records/cpu-s (runs:", Median(append));
  for (double a : append) std::fprintf(stderr, " %.0f", a);
  std::fprintf(stderr, "), %.0f/s wall (runs:", Median(g_append_wall));
  for (double a : g_append_wall) std::fprintf(stderr, " %.0f", a);
  std::fprintf(stderr, "), cpu per record %.0f ns of which caller %.0f ns",
               Median(g_process_cpu_ns), Median(g_caller_cpu_ns));
  std::fprintf(
      stderr, ", verify %.0f records/cpu-s (%.0f/s wall) over %llu records, append p50 %.1f ns\n",
      Median(verify), Median(verify_wall), static_cast<unsigned long long>(records), Median(p50));
  return 0;
}

// For profilers (callgrind): appends `n` records from one thread, flushes and closes.
int Profile(uint64_t n) {
  std::vector<DecisionRecord> recs;
  for (uint64_t i = 0; i < 64; ++i) recs.push_back(Sample(i));
  auto log = AuditLog::Open(Ws().Options());
  if (!log.ok()) Fail(log.status());
  for (uint64_t i = 0; i < n; ++i) {
    if (auto idx = (*log)->Append(recs[i & 63]); !idx.ok()) Fail(idx.status());
  }
  if (absl::Status s = (*log)->Flush(); !s.ok()) Fail(s);
  if (absl::Status s = (*log)->Close(); !s.ok()) Fail(s);
  std::filesystem::remove_all((*log)->log_dir());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool summary = false, full = false;
  uint64_t profile = 0;
  for (int i = 1; i < argc; ++i) {
    summary |= std::strcmp(argv[i], "--summary") == 0;
    full |= std::strcmp(argv[i], "--full") == 0;
    if (std::strncmp(argv[i], "--profile_append=", 17) == 0) {
      profile = std::strtoull(argv[i] + 17, nullptr, 10);
    }
  }
  if (profile > 0) return Profile(profile);
  if (summary) return Summary(full);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
