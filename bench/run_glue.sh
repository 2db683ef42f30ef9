#!/usr/bin/env bash
# bench/run_glue.sh OUTDIR [--full]: the format glue around the decision engine (issue #14):
# `residency check --batch` (JSON lines in, one decision JSON line out per request) over the
# example mix, against Evaluate() alone on the same mix. Binaries come from $RESIDENCY_BENCH_BUILD
# (see bench/run.sh). Writes OUTDIR/glue.json with
#   batch_per_s    requests per second of `check --batch --policies policies` on one core
#                  (taskset -c 1 when there is a CPU 1) over 200,000 lines (the ten
#                  examples/requests round-robin, bench/gen_batch.py); policy compile and process
#                  start excluded by subtracting a run on an empty input; median of 5 runs
#                  (9 with --full)
#   glue_vs_eval   batch time per request / Evaluate() mean time per call on the same mix
#                  (eval_latency, default options as the CLI uses them, same core, measured just
#                  before and just after each run's batch pair, the two means averaged); median
#                  over the runs
# Raw outputs go to OUTDIR/glue_raw/ (not merged).
set -uo pipefail
out="${1:?usage: run_glue.sh OUTDIR [--full]}"
full=""
[ "${2:-}" = "--full" ] && full="--full"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build="${RESIDENCY_BENCH_BUILD:-$root/build-bench}"
cli="$build/tools/residency/residency"
lat="$build/bench/eval_latency"
for b in "$cli" "$lat"; do
  if [ ! -x "$b" ]; then
    echo "run_glue: $b not built" >&2
    exit 1
  fi
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
raw="$out/glue_raw"
rm -rf "$raw"
mkdir -p "$raw"
runs=5
[ -n "$full" ] && runs=9
lines=200000
pin=()
if command -v taskset >/dev/null && [ "$(nproc --all)" -gt 1 ]; then pin=(taskset -c 1); fi
requests=("$root"/examples/requests/*.yaml)

python3 "$here/gen_batch.py" "$raw/batch.jsonl" --lines $lines "${requests[@]}" || exit 1
: >"$raw/empty.jsonl"
# One batch run: wall seconds on stdout; the decisions go to $raw/decisions.jsonl.
batch_run() {
  local input=$1 t0 t1
  t0=$(date +%s%N)
  "${pin[@]}" "$cli" check --policies "$root/policies" --batch "$input" >"$raw/decisions.jsonl" ||
    return 1
  t1=$(date +%s%N)
  echo $(((t1 - t0)))
}

echo "-- check --batch: $lines lines, $runs runs (each: Evaluate alone, batch, empty input, Evaluate alone)"
: >"$raw/runs.jsonl"
for i in $(seq $runs); do
  # Evaluate alone just before and just after the batch pair (the load of a shared machine moves
  # within seconds; the mean of the two brackets the batch).
  "${pin[@]}" "$lat" --policies "$root/policies" --mode suggest --runs 1 --budget-ms 1000 \
    "${requests[@]}" >"$raw/eval_${i}a.json" 2>/dev/null || { echo "run_glue: eval_latency failed" >&2; exit 1; }
  full_ns=$(batch_run "$raw/batch.jsonl") || { echo "run_glue: check --batch failed" >&2; exit 1; }
  decided=$(grep -c '"decision"' "$raw/decisions.jsonl")
  if [ "$decided" != "$lines" ]; then
    echo "run_glue: $decided of $lines lines decided" >&2
    exit 1
  fi
  empty_ns=$(batch_run "$raw/empty.jsonl") || exit 1
  "${pin[@]}" "$lat" --policies "$root/policies" --mode suggest --runs 1 --budget-ms 1000 \
    "${requests[@]}" >"$raw/eval_${i}b.json" 2>/dev/null || { echo "run_glue: eval_latency failed" >&2; exit 1; }
  python3 - "$raw/eval_${i}a.json" "$raw/eval_${i}b.json" "$full_ns" "$empty_ns" "$lines" \
    >>"$raw/runs.jsonl" <<'PY'
import json, sys
full_ns, empty_ns, lines = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
per_req = (full_ns - empty_ns) / lines
means = [json.load(open(p))["suggest"]["mean_ns"] for p in sys.argv[1:3]]
mean = sum(means) / 2
print(json.dumps({"full_ns": full_ns, "empty_ns": empty_ns, "batch_ns_per_request": per_req,
                  "batch_per_s": 1e9 / per_req, "eval_mean_ns": mean,
                  "glue_vs_eval": per_req / mean}))
PY
  tail -1 "$raw/runs.jsonl"
done

python3 - "$raw/runs.jsonl" "$out/glue.json" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = {"batch_per_s": round(statistics.median(r["batch_per_s"] for r in runs)),
       "glue_vs_eval": round(statistics.median(r["glue_vs_eval"] for r in runs), 2)}
with open(sys.argv[2], "w") as f:
    json.dump(out, f, indent=2, sort_keys=True)
    f.write("\n")
print("\nformat glue (median of %d runs): %d requests/s (%.0f ns/request), Evaluate mean %.0f ns"
      % (len(runs), out["batch_per_s"], 1e9 / out["batch_per_s"],
         statistics.median(r["eval_mean_ns"] for r in runs)))
bars = {"batch_per_s": (">=", 200000), "glue_vs_eval": ("<=", 3)}
for k, (op, bar) in bars.items():
    met = out[k] >= bar if op == ">=" else out[k] <= bar
    print("  %-16s %s  (bar %s %s: %s)" % (k, out[k], op, bar, "met" if met else "MISSED"))
PY
