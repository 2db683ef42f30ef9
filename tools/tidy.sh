#!/usr/bin/env bash
# tools/tidy.sh [--update-baseline] [BUILD_DIR]: clang-tidy with the repository's .clang-tidy
# (readability-braces-around-statements; readability-function-cognitive-complexity at 25;
# readability-function-size at 100 lines) over every .cc in lib/, using
# BUILD_DIR/compile_commands.json (default: build; the top CMakeLists.txt exports it), on all
# cores.
#
# Fails (exit 1) on any braces finding, and on a function over the complexity or the size
# threshold that tools/tidy_baseline.txt does not list or that has grown past the figure listed
# there. The baseline holds the functions that were over a threshold when the check was turned
# on; it only shrinks: a function cut below the threshold leaves it, and one that got simpler or
# shorter should have its figure lowered (--update-baseline rewrites the file from the current
# findings; review the diff: it must not add a function or raise a figure). Exit 2 when
# clang-tidy is missing or the build is not configured.
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
note = re.compile(r"^(/\S+?):\d+:\d+: note: (\d+) lines including whitespace and comments")
cc = re.compile(r"function '(.+)' has cognitive complexity of (\d+) \(threshold (\d+)\)")
size = re.compile(r"function '(.+)' exceeds recommended size/complexity thresholds")
ansi = re.compile(r"\x1b\[[0-9;]*m")
seen, braces, other, errors, found, files = set(), [], [], [], {}, 0
sized = None  # the function-size finding whose note (its line count) comes next
for line in open(log, errors="replace"):
    line = ansi.sub("", line.rstrip("\n"))
    if re.match(r"^clang-tidy\S* .* /\S+\.cc$", line):
        files += 1
    if ": error: " in line and line not in seen:
        seen.add(line)
        errors.append(line)
    n = note.match(line)
    if n and sized:
        found[sized] = max(found.get(sized, 0), int(n.group(2)))
        sized = None
        continue
    m = warn.match(line)
    if not m or m.group(0) in seen:
        continue  # a header's finding repeats once per file that includes it
    seen.add(m.group(0))
    path = m.group(1)[len(root) + 1:] if m.group(1).startswith(root + "/") else m.group(1)
    where = f"{path}:{m.group(2)}:{m.group(3)}"
    if m.group(5) == "readability-braces-around-statements":
        braces.append(f"{where}: {m.group(4)}")
    elif m.group(5) == "readability-function-cognitive-complexity" and cc.search(m.group(4)):
        c = cc.search(m.group(4))
        key = ("complexity", path, c.group(1))
        found[key] = max(found.get(key, 0), int(c.group(2)))
    elif m.group(5) == "readability-function-size" and size.search(m.group(4)):
        sized = ("lines", path, size.search(m.group(4)).group(1))
    else:
        other.append(f"{where}: {m.group(4)} [{m.group(5)}]")
if files == 0:
    print("tidy: clang-tidy checked no file of lib/; its output:\n" + open(log).read()[:2000],
          file=sys.stderr)
    sys.exit(2)
if update:
    with open(baseline, "w") as f:
        f.write("# Functions in lib/ over a threshold when the check was turned on: cognitive\n"
                "# complexity over 25, or more than 100 lines. tools/tidy.sh fails on a function not\n"
                "# listed here or over its figure. It only shrinks. KIND FIGURE PATH FUNCTION\n")
        for (kind, path, fn), v in sorted(found.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0])):
            f.write(f"{kind} {v} {path} {fn}\n")
    print(f"tidy: wrote {len(found)} entries to {baseline}")
allowed = {}
for line in open(baseline):
    if line.strip() and not line.startswith("#"):
        kind, v, path, fn = line.split(maxsplit=3)
        allowed[(kind, path, fn.strip())] = int(v)
limits = {"complexity": "cognitive complexity", "lines": "lines"}
threshold = {"complexity": 25, "lines": 100}
bad = []
for (kind, path, fn), v in sorted(found.items()):
    key = (kind, path, fn)
    if key not in allowed:
        bad.append(f"{path}: function '{fn}' has {v} {limits[kind]} (threshold "
                   f"{threshold[kind]}); split it")
    elif v > allowed[key]:
        bad.append(f"{path}: function '{fn}' has {v} {limits[kind]}, up from {allowed[key]} in "
                   "tools/tidy_baseline.txt; simplify it")
lower = [k for k, v in allowed.items() if found.get(k, 0) < v]
for line in errors + braces + other + bad:
    print("tidy: " + line)
count = lambda kind: sum(1 for k in found if k[0] == kind)
print(f"tidy: {files} files, {len(errors)} errors, {len(braces)} braces findings, {len(other)} "
      f"other; {count('complexity')} functions over the complexity threshold and "
      f"{count('lines')} over the size threshold ({len(bad)} not allowed by the baseline)")
if lower and not update:
    print(f"tidy: {len(lower)} baseline entries are above the current figure; "
          "tools/tidy.sh --update-baseline lowers them")
sys.exit(1 if errors or braces or other or bad else 0)
EOF
