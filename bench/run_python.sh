#!/usr/bin/env bash
# bench/run_python.sh OUTDIR [--full]: the Python binding beside the engine, in one run
# (bench/py_bench.py says what each key measures). Needs the module built in
# $RESIDENCY_BENCH_BUILD/python (bench/run.sh configures it) and /usr/bin/python3 (with Debian's
# python3-distributed for dask_scan_per_s). Writes OUTDIR/python.json; raw files in
# OUTDIR/python_raw/.
set -uo pipefail
out="${1:?usage: run_python.sh OUTDIR [--full]}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build="${RESIDENCY_BENCH_BUILD:-$root/build-bench}"
lat="$build/bench/eval_latency"
if [ ! -d "$build/python/residency" ] || [ ! -x "$lat" ]; then
  echo "run_python: the Python module or eval_latency is not built in $build" >&2
  exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
raw="$out/python_raw"
rm -rf "$raw"
mkdir -p "$raw"
requests=("$root"/examples/requests/*.yaml)
python3 "$here/gen_batch.py" "$raw/batch.jsonl" --lines 200000 "${requests[@]}" || exit 1
echo "-- the engine over the mix (eval_latency, no suggestions), then the binding"
"$lat" --policies "$root/policies" --mode nosuggest --runs 3 --budget-ms 1000 "${requests[@]}" \
  >"$raw/eval.json" 2>/dev/null || { echo "run_python: eval_latency failed" >&2; exit 1; }
PYTHONPATH="$build/python" /usr/bin/python3 "$here/py_bench.py" "$out/python.json" \
  "$raw/eval.json" "$raw/batch.jsonl"
