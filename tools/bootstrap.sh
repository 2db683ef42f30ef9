#!/usr/bin/env bash
# tools/bootstrap.sh demo | test [--quick] | deps
#   deps  install the Debian packages this project needs that are missing (apt-get; root or sudo)
#   demo  deps, build, lint the shipped policies, check every example request, print decisions
#   test  deps, build (warnings are errors), run the whole test suite: unit, CLI, policy tests,
#         fuzz-seed replays, clang-format (ctest -L format), clang-tidy over lib/ (tools/tidy.sh),
#         the Python package pip-installed into
#         a fresh venv and tested there; then an ASan+UBSan build of the suite (but the three
#         exhaustive diff explorations),
#         the concurrency tests under TSan and a short libFuzzer run per target (clang); --quick
#         runs only the first, normal build
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${RESIDENCY_JOBS:-$(nproc)}

PACKAGES=(cmake g++ make ninja-build pkg-config git libssl-dev libabsl-dev libre2-dev
  libyaml-cpp-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
  python3 python3-yaml python3-jsonschema python3-pytest python3-dev pybind11-dev
  libcurl4-openssl-dev nginx python3-cryptography
  clang libclang-rt-14-dev clang-format clang-tidy
  libmicrohttpd-dev libgnutls28-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  python3-grpcio python3-protobuf nginx-light wrk nghttp2-client openssl chromium
  python3-distributed python3-pandas python3-pip python3-venv python3-setuptools python3-wheel mypy
  python3-matplotlib)

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    echo "bootstrap: all packages present"
    return
  fi
  echo "bootstrap: installing ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {  # build DIR [cmake args...] [-- TARGET...]
  local dir=$1; shift
  local args=() targets=()
  while (($#)); do
    if [ "$1" = "--" ]; then shift; targets=("$@"); break; fi
    args+=("$1"); shift
  done
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${args[@]}" >/dev/null
  if ((${#targets[@]})); then
    cmake --build "$dir" -j"$jobs" --target "${targets[@]}"
  else
    cmake --build "$dir" -j"$jobs"
  fi
}

demo() {
  deps
  build build -DRESIDENCY_BUILD_PYTHON=ON -DPython3_EXECUTABLE=/usr/bin/python3
  local cli=build/tools/residency/residency
  echo
  echo "== residency lint policies"
  "$cli" lint policies
  echo
  echo "== residency check (every example request)"
  local f out rc
  for f in examples/requests/*.yaml examples/requests/*.json; do
    [ -e "$f" ] || continue
    set +e
    out=$("$cli" check --policies policies "$f")
    rc=$?
    set -e
    python3 - "$f" "$rc" "$out" <<'PY'
import json, sys
path, rc, out = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    d = json.loads(out)
except ValueError:
    print(f"{path}: exit {rc}, no decision"); sys.exit(0)
rules = ", ".join(r["rule"] for r in d["reasons"]) or "(no rule applied)"
print(f"{d['decision']:<23} {path}")
print(f"{'':<23}   rules: {rules}")
if d["obligations"]:
    print(f"{'':<23}   obligations: " + ", ".join(o["id"] for o in d["obligations"]))
if d["suggested_locations"]:
    print(f"{'':<23}   suggested: " + ", ".join(d["suggested_locations"]))
PY
  done
  echo
  echo "== residency where: where the Korean prompt denied in Tokyo may be served instead (aws)"
  "$cli" where --policies policies --provider aws examples/requests/kr-prompt-to-tokyo.yaml \
    || [ $? -eq 1 ]  # 1: allowed nowhere, still an answer
  echo
  echo "== residency test --policies policies policies/tests"
  "$cli" test --policies policies policies/tests
}

unit_tests() {  # unit_tests DIR [ctest args...]
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure -j"$jobs" "$@")
}

# The Python package as a user installs it: pip into a fresh venv (offline, the system CMake,
# reusing build/), then the Python tests against the installed package, not the build tree.
installed_python() {
  echo "== Python: pip install into a fresh venv, the tests against the installed package"
  local tmp venv
  tmp=$(mktemp -d)
  venv=$tmp/venv
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  RESIDENCY_CMAKE_BUILD_DIR="$root/build" "$venv/bin/pip" install -q --no-build-isolation \
    --no-index "$root/python"
  rm -rf "$root/python/build" "$root/python/residency.egg-info"
  (cd "$tmp" && RESIDENCY_INSTALLED_PREFIX="$venv" RESIDENCY_SOURCE_DIR="$root" \
    RESIDENCY_CLI="$root/build/tools/residency/residency" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests")
  rm -rf "$tmp"
}

test_all() {
  local quick=${1:-}
  deps
  build build -DRESIDENCY_BUILD_PYTHON=ON -DPython3_EXECUTABLE=/usr/bin/python3 -DRESIDENCY_WERROR=ON
  unit_tests build
  echo "== clang-tidy over lib/: braces, and cognitive complexity against tools/tidy_baseline.txt"
  bash tools/tidy.sh build
  installed_python
  if [ "$quick" = "--quick" ]; then return; fi
  echo "== ASan+UBSan: the whole suite"
  build build-asan -DRESIDENCY_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
  # The three exhaustive diff explorations (up to a million evaluations each) take 3-11 minutes
  # each under ASan and test the exploration's logic, which the normal leg covers; the diff code still
  # runs under ASan in DiffOutput, DiffCli and the eval_diff fuzzer.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 unit_tests build-asan \
    -E '^(DiffCatalogue|DiffWiden|DiffNarrow)\.'
  echo "== TSan: the concurrency tests"
  build build-tsan -DRESIDENCY_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug -- residency_concurrency_tests
  TSAN_OPTIONS=halt_on_error=1 unit_tests build-tsan -L concurrency
  if command -v clang++ >/dev/null; then
    echo "== libFuzzer: a short run per target"
    build build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DRESIDENCY_BUILD_FUZZERS=ON \
      -DRESIDENCY_SANITIZE=address,undefined -DRESIDENCY_BUILD_TESTS=OFF -- residency_fuzzers
    bash fuzz/run.sh build-fuzz "${RESIDENCY_FUZZ_SECONDS:-20}"
  fi
}

case "${1:-}" in
  deps) deps ;;
  demo) demo ;;
  test) shift; test_all "${1:-}" ;;
  *) sed -n 2,8p "$0"; exit 2 ;;
esac
