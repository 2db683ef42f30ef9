#!/usr/bin/env bash
# bench/run_audit.sh OUTDIR [--full]: runs the audit benchmarks from $RESIDENCY_BENCH_BUILD (see
# bench/run.sh) and writes OUTDIR/audit.json with audit_append_per_s, audit_verify_per_s,
# audit_overhead_p50_ns, audit_tiles_publish_overhead (append throughput with continuous C2SP
# tiles publication over without it; bar >= 0.8) and audit_verify_tiles_per_s (records verified
# per CPU-second from a local tiles tree; bar >= 1,000,000): medians of repeated runs, our own
# timing harness. A few minutes.
set -euo pipefail
out="${1:?usage: run_audit.sh OUTDIR [--full]}"
full=""
[ "${2:-}" = "--full" ] && full="--full"
here=$(cd "$(dirname "$0")" && pwd)
build="${RESIDENCY_BENCH_BUILD:-$here/../build-bench}"
bin="$build/bench/audit_benchmark"
if [ ! -x "$bin" ]; then
  echo "run_audit.sh: $bin not built (configure with -DRESIDENCY_BUILD_BENCHMARKS=ON)" >&2
  exit 2
fi
mkdir -p "$out"
# Micro-benchmarks for the readable table (short).
"$bin" --benchmark_min_time=0.2 2>/dev/null | grep -E '^(BM_|Benchmark|-)' || true
json=$("$bin" --summary $full)
echo "$json" > "$out/audit.json"
echo "audit: $json"
