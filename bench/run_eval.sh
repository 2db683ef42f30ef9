#!/usr/bin/env bash
# bench/run_eval.sh OUTDIR [--full]: decision-engine benchmarks (docs/benchmarks.md). Binaries come from
# $RESIDENCY_BENCH_BUILD (see bench/run.sh). Writes OUTDIR/eval.json with
#   check_p50_ns, check_p99_ns                  the example requests vs the shipped policies,
#                                               default options (suggestions on); median of 5 runs
#   check_nosuggest_p50_ns, check_nosuggest_p99_ns   the same with EvalOptions.suggest = false
#   where_p50_ns                                AllowedLocations p50 on kr-prompt-to-tokyo;
#   where_mix_p50_ns, where_max_request_p50_ns  over the example mix, and its slowest request
#   explain_p50_ns, explain_max_request_p50_ns  Explain over the example mix, and its slowest request
#   rules_10k_vs_10 (+ _nosuggest)              p50(10,000 generated rules) / p50(10)
#   compile_10k_s, compile_10k_rss_mb           compile of the 10,000-rule set in its own process
#                                               (median of 3 processes, 5 with --full)
#   cedar_p50_ns, check_vs_cedar (+ _nosuggest) Cedar (cedar-wasm under Node, pre-parsed policy
#                                               set) on the requests of the Cedar subset, and
#                                               cedar p50 / check p50 on that subset, same run
# Raw outputs go to OUTDIR/eval_raw/ (not merged). A part that fails leaves its keys out; a
# disagreement between Cedar and residency on any request fails the fragment. Cedar is installed
# with npm into bench/.cedar/ (git-ignored) on first use; without node/npm the Cedar keys are
# left out. --full runs longer (10 s per timing run instead of 2-3 s).
set -uo pipefail
out="${1:?usage: run_eval.sh OUTDIR [--full]}"
full=""
[ "${2:-}" = "--full" ] && full="--full"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build="${RESIDENCY_BENCH_BUILD:-$root/build-bench}"
bin="$build/bench"
for b in eval_latency bench_compile; do
  if [ ! -x "$bin/$b" ]; then
    echo "run_eval: $bin/$b not built" >&2
    exit 1
  fi
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
raw="$out/eval_raw"
rm -rf "$raw"
mkdir -p "$raw"
budget=2500; sbudget=1000; cbudget=2000; runs=5; cruns=3
if [ -n "$full" ]; then budget=10000; sbudget=4000; cbudget=8000; cruns=5; fi
requests=("$root"/examples/requests/*.yaml)
cedar_subset=(eu-dataset-to-us-scc kr-financial-credit-seoul kr-finetune-inherits-tag
              kr-prompt-to-tokyo kr-public-csap kr-training-gak-sejong
              sovereign-kr-to-foreign-region)

echo "-- check latency: ${#requests[@]} example requests, shipped policies, $runs runs"
"$bin/eval_latency" --policies "$root/policies" --mode both --runs $runs --budget-ms $budget \
  "${requests[@]}" >"$raw/check.json" || rm -f "$raw/check.json"

echo "-- where (AllowedLocations): the same requests, $runs runs"
"$bin/eval_latency" --policies "$root/policies" --mode where --runs $runs --budget-ms $sbudget \
  "${requests[@]}" >"$raw/where.json" || rm -f "$raw/where.json"

echo "-- explain (Explain): the same requests, $runs runs"
"$bin/eval_latency" --policies "$root/policies" --mode explain --runs $runs --budget-ms $sbudget \
  "${requests[@]}" >"$raw/explain.json" || rm -f "$raw/explain.json"

echo "-- rule-count scaling: generated sets of 10, 100, 1000, 10000 rules, measured interleaved"
sets=()
for n in 10 100 1000 10000; do
  python3 "$here/gen_policies.py" "$raw/gen/$n" --rules $n >/dev/null && sets+=(--set "$raw/gen/$n")
done
if [ ${#sets[@]} -eq 8 ]; then
  "$bin/eval_latency" "${sets[@]}" --mode both --runs $runs --budget-ms $sbudget \
    "${requests[@]}" >"$raw/rules.json" || rm -f "$raw/rules.json"
fi

echo "-- compile of the 10,000-rule set, own process, $cruns runs"
if [ -d "$raw/gen/10000" ]; then
  for i in $(seq $cruns); do
    "$bin/bench_compile" "$raw/gen/10000" >>"$raw/compile_10k.jsonl" || { rm -f "$raw/compile_10k.jsonl"; break; }
  done
fi
"$bin/bench_compile" "$root/policies" >"$raw/compile_shipped.json" 2>/dev/null || true

echo "-- Cedar peer"
cedar_dir="$here/.cedar"
if command -v node >/dev/null && command -v npm >/dev/null; then
  if [ ! -f "$cedar_dir/node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm.js" ] ||
     ! cmp -s "$here/cedar/package.json" "$cedar_dir/package.json"; then
    mkdir -p "$cedar_dir"
    cp "$here/cedar/package.json" "$cedar_dir/package.json"
    (cd "$cedar_dir" && timeout 300 npm install --no-audit --no-fund --loglevel=error >/dev/null) ||
      echo "run_eval: npm install of @cedar-policy/cedar-wasm failed; Cedar keys left out" >&2
  fi
  if [ -f "$cedar_dir/node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm.js" ]; then
    subset=()
    for s in "${cedar_subset[@]}"; do subset+=("$root/examples/requests/$s.yaml"); done
    if python3 "$here/cedar/convert.py" "$raw/cedar_requests.json" "${subset[@]}"; then
      # Same run, back to back: residency on the subset, then Cedar on the same requests.
      "$bin/eval_latency" --policies "$root/policies" --mode both --runs $runs \
        --budget-ms $cbudget "${subset[@]}" >"$raw/check_cedar_subset.json" ||
        rm -f "$raw/check_cedar_subset.json"
      node "$here/cedar/harness.cjs" "$cedar_dir" "$raw/cedar_requests.json" \
        "$here/cedar/policies.cedar" --budget-ms $cbudget --runs $runs >"$raw/cedar.json" ||
        rm -f "$raw/cedar.json"
    fi
    # Agreement only (not timed): variants of the examples in bench/cedar/variants/ that take the
    # other branches of the same rules (alternatives that hold or not, dates, fail-closed).
    variants=("$here"/cedar/variants/*.yaml)
    if python3 "$here/cedar/convert.py" "$raw/cedar_variants.json" "${variants[@]}"; then
      "$bin/eval_latency" --policies "$root/policies" --mode nosuggest --runs 0 "${variants[@]}" \
        >"$raw/check_variants.json" 2>/dev/null || rm -f "$raw/check_variants.json"
      node "$here/cedar/harness.cjs" "$cedar_dir" "$raw/cedar_variants.json" \
        "$here/cedar/policies.cedar" --decide-only >"$raw/cedar_variants_decisions.json" ||
        rm -f "$raw/cedar_variants_decisions.json"
    fi
  fi
else
  echo "run_eval: node/npm not found; Cedar keys left out" >&2
fi

python3 - "$raw" "$out/eval.json" "$here/cedar/policies.cedar" <<'PY'
import json, os, re, statistics, sys
raw, dest, cedar_policies = sys.argv[1], sys.argv[2], sys.argv[3]

def load(name):
    p = os.path.join(raw, name)
    if not os.path.exists(p) or os.path.getsize(p) == 0:
        return None
    with open(p) as f:
        return json.load(f)

out = {}
def put(k, v, digits=1):
    if v is not None:
        out[k] = round(v, digits)

check = load("check.json")
if check:
    put("check_p50_ns", check["suggest"]["p50_ns"])
    put("check_p99_ns", check["suggest"]["p99_ns"])
    put("check_nosuggest_p50_ns", check["nosuggest"]["p50_ns"])
    put("check_nosuggest_p99_ns", check["nosuggest"]["p99_ns"])

where = load("where.json")
if where:
    # The gateway's question, where may this prompt be served (52 of the catalogue's locations
    # allowed), and the mix with its slowest request (allowed almost everywhere).
    per = where["where"]["per_request_p50_ns"]
    put("where_p50_ns", per.get("kr-prompt-to-tokyo"))
    put("where_mix_p50_ns", where["where"]["p50_ns"])
    put("where_max_request_p50_ns", max(per.values()))

explain = load("explain.json")
if explain:
    put("explain_p50_ns", explain["explain"]["p50_ns"])
    put("explain_max_request_p50_ns", max(explain["explain"]["per_request_p50_ns"].values()))

rules = {}
scaling = load("rules.json")
if scaling:
    rules = {s["rules"]: s for s in scaling["sets"]}
if 10 in rules and 10000 in rules:
    put("rules_10k_vs_10", rules[10000]["suggest"]["p50_ns"] / rules[10]["suggest"]["p50_ns"], 3)
    put("rules_10k_vs_10_nosuggest",
        rules[10000]["nosuggest"]["p50_ns"] / rules[10]["nosuggest"]["p50_ns"], 3)

comp = []
p = os.path.join(raw, "compile_10k.jsonl")
if os.path.exists(p):
    with open(p) as f:
        comp = [json.loads(l) for l in f if l.strip()]
if comp:
    put("compile_10k_s", statistics.median(c["seconds"] for c in comp), 3)
    put("compile_10k_rss_mb", statistics.median(c["maxrss_mb"] for c in comp), 1)

# Cedar: agreement first, then the ratio from the same run.
sub, ced = load("check_cedar_subset.json"), load("cedar.json")
agree_ok = None
if sub and ced:
    ids = re.findall(r'@id\("([^"]+)"\)', open(cedar_policies).read())
    def pid(x):
        m = re.fullmatch(r"policy(\d+)", x)
        return ids[int(m.group(1))] if m and int(m.group(1)) < len(ids) else x
    print("\nCedar agreement (residency allow/allow_with_obligations = Cedar allow; "
          "deny/escalate = Cedar deny):")
    print("  %-32s %-24s %-6s %-6s %5s  %s" % ("request", "residency", "cedar", "agree", "calls",
                                              "cedar forbids"))
    agree_ok = True
    for name, d in sub["decisions"].items():
        mine = "allow" if d in ("allow", "allow_with_obligations") else "deny"
        c = ced["decisions"].get(name)
        theirs = c["decision"] if c else "missing"
        ok = mine == theirs
        agree_ok &= ok
        print("  %-32s %-24s %-6s %-6s %5s  %s" % (name, d, theirs, "yes" if ok else "NO",
                                                  c["calls"] if c else "-",
                                                  ",".join(pid(x) for x in c["forbids"]) if c else ""))
    vsub, vced = load("check_variants.json"), load("cedar_variants_decisions.json")
    if vsub and vced:
        print("  variants (bench/cedar/variants, agreement only):")
        for name, d in vsub["decisions"].items():
            mine = "allow" if d in ("allow", "allow_with_obligations") else "deny"
            c = vced["decisions"].get(name)
            theirs = c["decision"] if c else "missing"
            ok = mine == theirs
            agree_ok &= ok
            print("  %-32s %-24s %-6s %-6s %5s  %s" % (name, d, theirs, "yes" if ok else "NO",
                                                      c["calls"] if c else "-",
                                                      ",".join(pid(x) for x in c["forbids"]) if c else ""))
    else:
        print("  variants: not run", file=sys.stderr)
        agree_ok = False
    if agree_ok:
        cp50 = ced["modes"]["stateful"]["p50_ns"]
        put("cedar_p50_ns", cp50)
        put("check_vs_cedar", cp50 / sub["suggest"]["p50_ns"], 1)
        put("check_vs_cedar_nosuggest", cp50 / sub["nosuggest"]["p50_ns"], 1)
        print("  cedar %s: stateful p50 %.0f ns, isAuthorized (policy text parsed per call) "
              "p50 %.0f ns; residency on the subset p50 %.0f ns (suggest) / %.0f ns (no suggest)"
              % (ced["cedar_version"], cp50, ced["modes"]["isAuthorized"]["p50_ns"],
                 sub["suggest"]["p50_ns"], sub["nosuggest"]["p50_ns"]))
        print("  per request (p50, ns):  %12s %12s %12s %8s %8s" % (
            "cedar", "residency", "res nosugg", "ratio", "nosugg"))
        for name in sub["decisions"]:
            c = ced["modes"]["stateful"]["per_request_p50_ns"][name]
            r1 = sub["suggest"]["per_request_p50_ns"][name]
            r2 = sub["nosuggest"]["per_request_p50_ns"][name]
            print("  %-32s %12.0f %12.0f %12.0f %7.0fx %7.0fx" % (name, c, r1, r2, c / r1, c / r2))
    else:
        print("  DISAGREEMENT: Cedar keys left out", file=sys.stderr)

with open(dest, "w") as f:
    json.dump(out, f, indent=2, sort_keys=True)
    f.write("\n")

print("\ndecision engine (medians of runs; ns):")
if check:
    print("  %-34s %-24s %12s %12s" % ("request", "decision", "p50 suggest", "p50 nosugg"))
    for name, d in check["decisions"].items():
        print("  %-34s %-24s %12.0f %12.0f" % (name, d, check["suggest"]["per_request_p50_ns"][name],
                                              check["nosuggest"]["per_request_p50_ns"][name]))
print("  %-10s %10s %10s %10s %10s" % ("rules", "p50", "p99", "p50 nosug", "p99 nosug"))
for n, r in rules.items():
    if r:
        print("  %-10d %10.0f %10.0f %10.0f %10.0f" % (r["rules"], r["suggest"]["p50_ns"],
              r["suggest"]["p99_ns"], r["nosuggest"]["p50_ns"], r["nosuggest"]["p99_ns"]))
bars = {"check_p50_ns": ("<=", 1000), "check_p99_ns": ("<=", 5000),
        "check_vs_cedar": (">=", 50), "rules_10k_vs_10": ("<=", 2),
        "compile_10k_s": ("<=", 1), "compile_10k_rss_mb": ("<=", 50)}
print()
for k in sorted(out):
    bar = bars.get(k)
    note = ""
    if bar:
        v = out[k]
        met = v <= bar[1] if bar[0] == "<=" else v >= bar[1]
        note = "  (bar %s %s: %s)" % (bar[0], bar[1], "met" if met else "MISSED")
    print("  %-28s %s%s" % (k, out[k], note))
sys.exit(1 if agree_ok is False else 0)
PY
