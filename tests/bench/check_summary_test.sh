#!/usr/bin/env bash
# tests/bench/check_summary_test.sh SOURCE_DIR: the end-of-run checks of bench/run.sh.
#  - bench/check_summary.py against docs/benchmarks.md: a summary with every listed key passes;
#    one lacking a key (each key in turn), holding a non-number, or a keys file without the
#    marked table fails, naming what is wrong;
#  - bench/run.sh calls it on its summary and exits with its status;
#  - bench/install_peers.sh fails with a message when Hyperscan is absent and cannot be
#    installed (pkg-config and apt-get replaced by stubs that fail).
set -uo pipefail
src=${1:?usage: check_summary_test.sh SOURCE_DIR}
check="$src/bench/check_summary.py"
keys_md="$src/docs/benchmarks.md"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

keys=$(python3 - "$check" "$keys_md" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("cs", sys.argv[1])
cs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cs)
print("\n".join(cs.expected_keys(sys.argv[2])))
PY
) || { echo "FAIL: cannot read the key list of $keys_md" >&2; exit 1; }
count=$(echo "$keys" | wc -l)
# The list holds at least the tagging keys the issue is about, and the headline bars (check
# latency, routing, audit verification).
for k in tag_vs_hyperscan hyperscan_prose_gbps tag_vs_re2set check_vs_cedar cedar_p50_ns \
         check_p50_ns route_ns audit_verify_per_s; do
  grep -qx "$k" <<<"$keys" || fail "docs/benchmarks.md does not list $k"
done

write_summary() {  # write_summary FILE [KEY-TO-DROP]
  python3 - "$1" "${2:-}" <<PY
import json, sys
keys = """$keys""".split()
json.dump({k: 1.5 for k in keys if k != sys.argv[2]}, open(sys.argv[1], "w"))
PY
}

write_summary "$tmp/full.json"
python3 "$check" "$tmp/full.json" "$keys_md" >/dev/null 2>"$tmp/err" ||
  fail "a complete summary was refused: $(cat "$tmp/err")"

# Each key missing in turn (one Python process: the check's main() per summary).
python3 - "$check" "$keys_md" "$tmp" <<'PY' || fail "a summary lacking a key passed, or its error did not name it"
import contextlib, importlib.util, io, json, os, sys
spec = importlib.util.spec_from_file_location("cs", sys.argv[1])
cs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cs)
keys = cs.expected_keys(sys.argv[2])
bad = 0
for k in keys:
    path = os.path.join(sys.argv[3], "missing.json")
    json.dump({x: 1.5 for x in keys if x != k}, open(path, "w"))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cs.main(["check_summary.py", path, sys.argv[2]])
    if rc != 1 or k not in err.getvalue():
        print(f"FAIL: without {k}: exit {rc}, {err.getvalue().strip()!r}", file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
PY
# The command line itself: a summary without tag_vs_hyperscan (the key a fresh machine lost).
write_summary "$tmp/missing.json" tag_vs_hyperscan
if python3 "$check" "$tmp/missing.json" "$keys_md" >/dev/null 2>"$tmp/err"; then
  fail "a summary without tag_vs_hyperscan passed"
elif ! grep -q "tag_vs_hyperscan" "$tmp/err"; then
  fail "the error for a missing tag_vs_hyperscan does not name it: $(cat "$tmp/err")"
fi

python3 - "$tmp/full.json" "$tmp/string.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["tag_vs_hyperscan"] = "6.4"
json.dump(d, open(sys.argv[2], "w"))
PY
python3 "$check" "$tmp/string.json" "$keys_md" >/dev/null 2>&1 && fail "a string value passed"

echo "no table here" >"$tmp/nokeys.md"
python3 "$check" "$tmp/full.json" "$tmp/nokeys.md" >/dev/null 2>&1
[ $? -eq 2 ] || fail "a keys file without the marked table did not exit 2"
python3 "$check" "$tmp/absent.json" "$keys_md" >/dev/null 2>&1
[ $? -eq 2 ] || fail "an absent summary did not exit 2"

# bench/run.sh ends with the check and exits with its status.
tail -n 3 "$src/bench/run.sh" | grep -q 'check_summary.py" "$out/summary.json"' ||
  fail "bench/run.sh does not end with the key check"
tail -n 1 "$src/bench/run.sh" | grep -qx 'exit $status' || fail "bench/run.sh ignores the check"

# install_peers.sh: Hyperscan absent and apt-get failing.
mkdir -p "$tmp/bin"
printf '#!/bin/sh\nexit 1\n' >"$tmp/bin/pkg-config"
printf '#!/bin/sh\necho "E: Unable to locate package $*" >&2\nexit 100\n' >"$tmp/bin/apt-get"
printf '#!/bin/sh\n"$@"\n' >"$tmp/bin/sudo"
chmod +x "$tmp/bin/"*
if PATH="$tmp/bin:$PATH" bash "$src/bench/install_peers.sh" hyperscan >/dev/null 2>"$tmp/err"; then
  fail "install_peers.sh succeeded without Hyperscan"
elif ! grep -q "Hyperscan is missing and could not be installed" "$tmp/err"; then
  fail "install_peers.sh gave no clear message: $(cat "$tmp/err")"
fi

if ((fails)); then
  echo "$fails failure(s)" >&2
  exit 1
fi
echo "ok: $count keys; each one missing is reported"
