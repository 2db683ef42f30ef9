#!/usr/bin/env bash
# bench/run_route.sh OUTDIR [--full]: warm inference-routing lookups; writes OUTDIR/route.json
# with route_ns (median of 5 repetitions of Google Benchmark's per-iteration time).
set -euo pipefail
out=${1:?usage: run_route.sh OUTDIR}
bin="${RESIDENCY_BENCH_BUILD:?}/bench/route_benchmark"
reps=5
[ "${2:-}" = "--full" ] && reps=10
"$bin" --benchmark_repetitions=$reps --benchmark_report_aggregates_only=true \
  --benchmark_format=json >"$out/route_raw.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
raw = json.load(open(f"{out}/route_raw.json"))
med = [b for b in raw["benchmarks"] if b.get("aggregate_name") == "median"][0]
ns = med["real_time"] if med["time_unit"] == "ns" else med["real_time"] * 1000
print(f"route_ns {ns:.1f}")
json.dump({"route_ns": round(ns, 1)}, open(f"{out}/route.json", "w"))
PY
