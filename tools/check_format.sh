#!/usr/bin/env bash
# tools/check_format.sh [SOURCE_DIR]: clang-format --dry-run -Werror over the C/C++ files (the
# tracked *.cc and *.h in a git checkout, else every one outside build*/ folders), with the
# repository's .clang-format. Exit 1 on a file that is not formatted; 77 (ctest skip) when
# clang-format is not installed, unless the environment variable CI is set (then 1).
set -euo pipefail
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$src"
fmt=${CLANG_FORMAT:-clang-format}
if ! command -v "$fmt" >/dev/null; then
  echo "check_format: $fmt not found"
  if [ -n "${CI:-}" ] && [ "$CI" != 0 ] && [ "$CI" != false ]; then exit 1; fi
  exit 77
fi
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$src" ]; then
  git ls-files -z '*.cc' '*.h' | xargs -0 -r "$fmt" --style=file --dry-run -Werror
else
  find . \( -name 'build*' -o -name '.git' -o -name 'cmake-build*' \) -prune -o \
    \( -name '*.cc' -o -name '*.h' \) -print0 | xargs -0 -r "$fmt" --style=file --dry-run -Werror
fi
echo "check_format: all files formatted"
