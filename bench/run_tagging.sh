#!/usr/bin/env bash
# bench/run_tagging.sh OUTDIR [--full]: runs the tagging benchmarks (binaries in
# $RESIDENCY_BENCH_BUILD, see bench/run.sh) and writes OUTDIR/tagging.json with the keys
# tag_meta_ns, tag_prose_gbps, tag_digits_gbps, hyperscan_prose_gbps, re2set_prose_gbps,
# tag_vs_hyperscan, tag_vs_re2set: medians of 5 repetitions, 4 KB corpora for the headline
# figures, CPU time per iteration (the machine may be shared). A binary built without Hyperscan
# is an error; a key whose benchmark failed its detection cross-check is left out (and
# bench/run.sh then fails on the missing key). The raw Google Benchmark JSON goes to
# OUTDIR/tagging_raw.txt (not *.json, so bench/run.sh does not merge it).
set -euo pipefail
out="${1:?usage: run_tagging.sh OUTDIR [--full]}"
full=""
[ "${2:-}" = "--full" ] && full="--full"
here=$(cd "$(dirname "$0")" && pwd)
build="${RESIDENCY_BENCH_BUILD:-$here/../build-bench}"
bin="$build/bench/tagging_benchmark"
if [ ! -x "$bin" ]; then
  echo "run_tagging: $bin not built" >&2
  exit 1
fi
if ! "$bin" --benchmark_list_tests=true 2>/dev/null | grep -q '^hyperscan/'; then
  echo "run_tagging: $bin was built without Hyperscan (pkg-config libhs was not found when" \
    "$build was configured): run bench/install_peers.sh hyperscan and configure again" >&2
  exit 1
fi
mkdir -p "$out"
raw="$out/tagging_raw.txt"
"$bin" $full --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.1 --benchmark_format=console \
  --benchmark_out="$raw" --benchmark_out_format=json
python3 - "$raw" "$out/tagging.json" <<'PY'
import json, sys
raw, dest = sys.argv[1], sys.argv[2]
with open(raw) as f:
    data = json.load(f)
med = {}
for b in data.get("benchmarks", []):
    if b.get("aggregate_name") != "median" or b.get("error_occurred"):
        continue
    med[b["run_name"]] = b
def ns(name):
    b = med.get(name)
    if b is None:
        return None
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    return b["cpu_time"] * scale
def gbps(name):
    b = med.get(name)
    if b is None or "bytes_per_second" not in b:
        return None
    return b["bytes_per_second"] / 1e9
out = {}
def put(key, value, digits=3):
    if value is not None:
        out[key] = round(value, digits)
put("tag_meta_ns", ns("tag_meta"), 1)
put("tag_prose_gbps", gbps("tag/prose_en/r0/4096"))
put("tag_digits_gbps", gbps("tag/digits/r0.1/4096"))
put("hyperscan_prose_gbps", gbps("hyperscan/prose_en/r0/4096"))
put("re2set_prose_gbps", gbps("re2set/prose_en/r0/4096"))
if "tag_prose_gbps" in out and "hyperscan_prose_gbps" in out:
    out["tag_vs_hyperscan"] = round(out["tag_prose_gbps"] / out["hyperscan_prose_gbps"], 2)
if "tag_prose_gbps" in out and "re2set_prose_gbps" in out:
    out["tag_vs_re2set"] = round(out["tag_prose_gbps"] / out["re2set_prose_gbps"], 2)
with open(dest, "w") as f:
    json.dump(out, f, indent=2, sort_keys=True)
    f.write("\n")
print("\ntagging (medians, CPU time):")
for name in sorted(med):
    g = gbps(name)
    print("  %-36s %10.1f ns%s" % (name, ns(name), "  %.2f GB/s" % g if g else ""))
bars = {"tag_meta_ns": ("<=", 150), "tag_prose_gbps": (">=", 3), "tag_digits_gbps": (">=", 2),
        "tag_vs_hyperscan": (">=", 1.5), "tag_vs_re2set": (">=", 5)}
for k in sorted(out):
    bar = bars.get(k)
    ok = ""
    if bar:
        v = out[k]
        ok = "  (bar %s %s: %s)" % (bar[0], bar[1],
                                    "met" if (v <= bar[1] if bar[0] == "<=" else v >= bar[1]) else "MISSED")
    print("  %-22s %s%s" % (k, out[k], ok))
keys = ["tag_meta_ns", "tag_prose_gbps", "tag_digits_gbps", "hyperscan_prose_gbps",
        "re2set_prose_gbps", "tag_vs_hyperscan", "tag_vs_re2set"]
missing = [k for k in keys if k not in out]
if missing:
    errors = sorted({b.get("error_message", "") for b in data.get("benchmarks", [])
                     if b.get("error_occurred")} - {""})
    print("run_tagging: left out (benchmark failed or disagreed): %s%s"
          % (", ".join(missing), "; " + "; ".join(errors) if errors else ""), file=sys.stderr)
PY
