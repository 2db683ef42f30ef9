#!/usr/bin/env bash
# bench/run.sh [--full] [OUTDIR]: installs the peers (bench/install_peers.sh), builds in Release,
# runs every benchmark and peer side by side on the same inputs, prints a table and writes
# OUTDIR/summary.json (default bench/out/).
# Each stage contributes bench/run_<stage>.sh OUTDIR [--full], which writes OUTDIR/<stage>.json.
# Exits 1 when a peer cannot be installed, a fragment fails, or summary.json lacks a key that
# docs/benchmarks.md lists (bench/check_summary.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
full=""
out="$here/out"
for a in "$@"; do
  case "$a" in
    --full) full="--full" ;;
    -h|--help) sed -n 2,7p "$0"; exit 0 ;;
    *) out="$a" ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
if ! bash "$here/install_peers.sh"; then
  echo "bench: a peer is missing and could not be installed (see above); nothing was run" >&2
  exit 1
fi
export RESIDENCY_BENCH_BUILD="${RESIDENCY_BENCH_BUILD:-$root/build-bench}"
cmake -S "$root" -B "$RESIDENCY_BENCH_BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DRESIDENCY_BUILD_BENCHMARKS=ON -DRESIDENCY_BUILD_TESTS=OFF -DRESIDENCY_BUILD_PYTHON=ON \
  -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build "$RESIDENCY_BENCH_BUILD" -j"$(nproc)" >/dev/null
failed=()
for frag in "$here"/run_*.sh; do
  [ -e "$frag" ] || continue
  stage=$(basename "$frag" .sh); stage=${stage#run_}
  echo "== $stage"
  rm -f "$out/$stage.json"  # a stale file must not stand in for this run's keys
  if ! bash "$frag" "$out" $full; then
    echo "bench: $stage failed; its keys are left out" >&2
    rm -f "$out/$stage.json"
    failed+=("$stage")
  fi
done
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
summary = {}
for name in sorted(os.listdir(out)):
    if name.endswith(".json") and name != "summary.json" and not name.endswith("_raw.json"):
        with open(os.path.join(out, name)) as f:
            summary.update(json.load(f))
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2, sort_keys=True)
    f.write("\n")
print("\n%-24s %s" % ("key", "value"))
for k in sorted(summary):
    print("%-24s %s" % (k, summary[k]))
PY
status=0
if ((${#failed[@]})); then
  echo "bench: failed fragments: ${failed[*]}" >&2
  status=1
fi
python3 "$here/check_summary.py" "$out/summary.json" "$root/docs/benchmarks.md" || status=1
exit $status
