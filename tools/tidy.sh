#!/usr/bin/env bash
# tools/tidy.sh [BUILD_DIR] [FILE...]: clang-tidy with the repository's .clang-tidy
# (readability-function-cognitive-complexity, readability-braces-around-statements) over lib/
# (or the named files), using BUILD_DIR/compile_commands.json (default build; the top
# CMakeLists.txt exports it). Prints the findings and a count per check; exit 1 when there is any.
# Not part of CI yet: lib/ has many findings (docs/DEVELOPING.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift $(($# ? 1 : 0))
if [ ! -f "$build/compile_commands.json" ]; then
  echo "tidy: no $build/compile_commands.json (configure the build first)" >&2
  exit 2
fi
files=("$@")
if ((${#files[@]} == 0)); then
  mapfile -t files < <(cd "$root" && find lib -name '*.cc' | sort)
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd "$root" && clang-tidy -p "$build" --quiet "${files[@]}") >"$log" 2>/dev/null || true
grep -E "warning: .*\[readability-" "$log" || true
echo "tidy: ${#files[@]} files"
for c in readability-function-cognitive-complexity readability-braces-around-statements; do
  echo "tidy: $c: $(grep -c "\[$c\]" "$log" || true)"
done
! grep -qE "warning: .*\[readability-" "$log"
