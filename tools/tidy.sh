#!/usr/bin/env bash
# tools/tidy.sh [--update-baseline] [BUILD_DIR]: clang-tidy with the repository's .clang-tidy
# (readability-braces-around-statements, readability-function-cognitive-complexity at 25) over
# every .cc in lib/, using BUILD_DIR/compile_commands.json (default: build; the top
# CMakeLists.txt exports it), on all cores.
#
# Fails (exit 1) on any braces finding, and on a function over the complexity threshold that
# tools/tidy_baseline.txt does not list or that has grown past the score listed there. The
# baseline holds the functions that were over the threshold when the check was turned on; it
# only shrinks: a function cut below the threshold leaves it, and one that got simpler should
# have its score lowered (--update-baseline rewrites the file from the current findings; review
# the diff: it must not add a function or raise a score). Exit 2 when clang-tidy is missing or
# the build is not configured.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
update=0
if [ "${1:-}" = "--update-baseline" ]; then
  update=1
  shift
fi
build=$(cd "${1:-$root/build}" && pwd)
baseline=$root/tools/tidy_baseline.txt
if ! command -v run-clang-tidy >/dev/null || ! command -v clang-tidy >/dev/null; then
  echo "tidy: clang-tidy (run-clang-tidy) not found; install clang-tidy" >&2
  exit 2
fi
if [ ! -f "$build/compile_commands.json" ]; then
  echo "tidy: no $build/compile_commands.json (configure the build first)" >&2
  exit 2
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# run-clang-tidy takes regular expressions over the compile database's file names.
(cd "$root" && run-clang-tidy -p "$build" -j "$(nproc)" -quiet "^$root/lib/.*\.cc$") \
  >"$log" 2>&1 || true
python3 - "$root" "$log" "$baseline" "$update" <<'EOF'
import re, sys
root, log, baseline, update = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
warn = re.compile(r"^(/\S+?):(\d+):(\d+): warning: (.*) \[(readability-[a-z-]+)\]$")
cc = re.compile(r"function '(.+)' has cognitive complexity of (\d+) \(threshold (\d+)\)")
ansi = re.compile(r"\x1b\[[0-9;]*m")
seen, braces, other, errors, scores, files = set(), [], [], [], {}, 0
for line in open(log, errors="replace"):
    line = ansi.sub("", line.rstrip("\n"))
    if re.match(r"^clang-tidy\S* .* /\S+\.cc$", line):
        files += 1
    if ": error: " in line and line not in seen:
        seen.add(line)
        errors.append(line)
    m = warn.match(line)
    if not m or m.group(0) in seen:
        continue  # a header's finding repeats once per file that includes it
    seen.add(m.group(0))
    path = m.group(1)[len(root) + 1:] if m.group(1).startswith(root + "/") else m.group(1)
    where = f"{path}:{m.group(2)}:{m.group(3)}"
    if m.group(5) == "readability-braces-around-statements":
        braces.append(f"{where}: {m.group(4)}")
    elif m.group(5) == "readability-function-cognitive-complexity":
        c = cc.search(m.group(4))
        if c:
            key = (path, c.group(1))
            scores[key] = max(scores.get(key, 0), int(c.group(2)))
    else:
        other.append(f"{where}: {m.group(4)} [{m.group(5)}]")
if files == 0:
    print("tidy: clang-tidy checked no file of lib/; its output:\n" + open(log).read()[:2000],
          file=sys.stderr)
    sys.exit(2)
if update:
    with open(baseline, "w") as f:
        f.write("# Functions in lib/ over the cognitive-complexity threshold (25) when the check was\n"
                "# turned on, with their score: tools/tidy.sh fails on a function not listed here or\n"
                "# over its score. It only shrinks. SCORE PATH FUNCTION\n")
        for (path, fn), s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])):
            f.write(f"{s} {path} {fn}\n")
    print(f"tidy: wrote {len(scores)} functions to {baseline}")
allowed = {}
for line in open(baseline):
    if line.strip() and not line.startswith("#"):
        s, path, fn = line.split(maxsplit=2)
        allowed[(path, fn.strip())] = int(s)
bad = []
for (path, fn), s in sorted(scores.items()):
    if (path, fn) not in allowed:
        bad.append(f"{path}: function '{fn}' has cognitive complexity {s} (threshold 25); split it")
    elif s > allowed[(path, fn)]:
        bad.append(f"{path}: function '{fn}' has cognitive complexity {s}, up from "
                   f"{allowed[(path, fn)]} in tools/tidy_baseline.txt; simplify it")
lower = [k for k, s in allowed.items() if scores.get(k, 0) < s]
for line in errors + braces + other + bad:
    print("tidy: " + line)
print(f"tidy: {files} files, {len(errors)} errors, {len(braces)} braces findings, {len(other)} "
      f"other, {len(scores)} functions over the complexity threshold ({len(bad)} not allowed by "
      f"the baseline)")
if lower and not update:
    print(f"tidy: {len(lower)} baseline entries are above the current score; "
          "tools/tidy.sh --update-baseline lowers them")
sys.exit(1 if errors or braces or other or bad else 0)
EOF
