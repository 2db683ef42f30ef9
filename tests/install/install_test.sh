#!/usr/bin/env bash
# Install test: `cmake --install` the build into a temporary prefix, then, using only what was
# installed,
#   1. check the install layout (headers, libresidency.a, the CLI, the CMake package, the .pc),
#   2. configure and build examples/ out of tree with find_package(residency CONFIG REQUIRED),
#   3. run every example against the shipped policies and check what each one decided,
#   4. compile one example with nothing but `pkg-config --cflags --libs residency`, and run it.
#
# install_test.sh --build DIR --source DIR [--cmake CMAKE] [--generator G] [--cxx CXX]
#                 [--flags "EXTRA CXX FLAGS"] [--keep]
set -euo pipefail

build="" source="" cmake=cmake generator="" cxx=c++ flags="" keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --source) source=$2; shift 2 ;;
    --cmake) cmake=$2; shift 2 ;;
    --generator) generator=$2; shift 2 ;;
    --cxx) cxx=$2; shift 2 ;;
    --flags) flags=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "install_test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$build" && -n "$source" ]] || { echo "usage: install_test.sh --build DIR --source DIR" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/residency-install-test.XXXXXX")
if [[ $keep == 0 ]]; then trap 'rm -rf "$tmp"' EXIT; else echo "keeping $tmp"; fi
prefix="$tmp/prefix"
policies="$source/policies"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
step() { echo "== $* ($(date +%T))"; }

# --- 1. install ------------------------------------------------------------------------------
step "install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" > "$tmp/install.log"
for f in include/residency/policy.h include/residency/request.h include/residency/decision.h \
         include/residency/lint.h include/residency/audit.h include/residency/tagging.h \
         lib/libresidency.a bin/residency \
         lib/cmake/residency/residencyConfig.cmake \
         lib/cmake/residency/residencyConfigVersion.cmake \
         lib/cmake/residency/residencyTargets.cmake lib/pkgconfig/residency.pc; do
  [[ -e "$prefix/$f" ]] || fail "not installed: $f"
done
# No private header, no build-only target, no path into the source or build tree.
if find "$prefix/include" -type f ! -path "$prefix/include/residency/*.h" | grep -q .; then
  fail "unexpected files under include/: $(find "$prefix/include" -type f ! -name '*.h')"
fi
targets=$(cat "$prefix"/lib/cmake/residency/residencyTargets*.cmake)
for bad in residency_flags residency_re2 "$source" "$build"; do
  if grep -qF -- "$bad" <<<"$targets"; then fail "residencyTargets*.cmake mentions $bad"; fi
done
grep -q 'PkgConfig::RE2' <<<"$targets" || fail "exported link interface lacks PkgConfig::RE2"
"$prefix/bin/residency" --help > /dev/null || fail "installed CLI: --help failed"

# --- 2. examples, built against the installed package ----------------------------------------
step "configure examples/ against the installed package"
gen=()
[[ -n "$generator" ]] && gen=(-G "$generator")
# Examples at -O0: they are thin, the library is already optimised, and it keeps this test fast.
"$cmake" -S "$source/examples" -B "$tmp/examples" "${gen[@]}" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" > "$tmp/configure.log" 2>&1 \
  || { cat "$tmp/configure.log"; fail "examples: configure failed"; exit 1; }
grep -qF "from $prefix/lib/cmake/residency" "$tmp/configure.log" \
  || fail "examples did not find the package in the temporary prefix: $(grep 'residency ' "$tmp/configure.log")"
step "build examples/"
"$cmake" --build "$tmp/examples" -j 2 > "$tmp/build.log" 2>&1 \
  || { tail -50 "$tmp/build.log"; fail "examples: build failed"; exit 1; }

# run NAME [ARGS...]: runs an example, its output in $tmp/NAME.out; fails on a non-zero exit.
run() {
  local name=$1; shift
  local rc=0
  (cd "$tmp" && "$tmp/examples/$name" "$@") > "$tmp/$name.out" 2>&1 || rc=$?
  sed 's/^/    /' "$tmp/$name.out"
  [[ $rc == 0 ]] || fail "$name exited $rc"
}
# expect NAME REGEX WHAT: the example's output has a line matching REGEX.
expect() {
  grep -Eq -- "$2" "$tmp/$1.out" || fail "$1: $3 (no line matching /$2/)"
}

step "check_dataset"
run check_dataset "$policies"
expect check_dataset '^  aws:us-east-1 +deny' "Korean credit data must not be stored in the US"
expect check_dataset '^storing kr-credit-ledger at ' "the ledger must be stored somewhere allowed"
# The installed CLI and the installed library agree on the policy digest.
digest=$(sed -n 's/^policies \(sha256:[0-9a-f]*\) .*/\1/p' "$tmp/check_dataset.out")
request='{"kind": "dataset", "action": "store", "destination": "ncp:FKR",
  "dataset": {"id": "d", "location": "ncp:FKR", "partitions": [{"classes": ["public"], "origin": "KR"}]}}'
cli_digest=$("$prefix/bin/residency" check --policies "$policies" - <<<"$request" 2>/dev/null \
    | sed -n 's/.*"policy_digest": *"\(sha256:[0-9a-f]*\)".*/\1/p' || true)
[[ -n "$digest" && "$digest" == "$cli_digest" ]] \
  || fail "library digest '$digest' differs from the installed CLI's '$cli_digest'"

step "check_dataset (default policy folder)"
run check_dataset
grep -qF "policies $digest" "$tmp/check_dataset.out" || fail "default policy folder gave another digest"

step "guard_training"
run guard_training "$policies"
expect guard_training 'run at +aws:us-east-1 +deny' "a sovereign-kr job must not be placed in the US"
expect guard_training '^job runs at ' "the job must be placed somewhere allowed"
expect guard_training 'store at +aws:us-west-2 +deny' "a sovereign-kr checkpoint must not be mirrored to the US"
expect guard_training '^training finished' "every checkpoint must have an allowed copy"

step "hot_reload"
run hot_reload "$policies"
expect hot_reload '^reload +ok' "the reload with the added policy must succeed"
expect hot_reload 'current policies kept: yes' "a failed reload must keep the current policies"
expect hot_reload '^after .*deny x[0-9]+$' "the freeze must deny after the swap"
expect hot_reload 'every decision matched its snapshot' "decisions must match their snapshot"

step "verify_audit_log"
run verify_audit_log "$policies"
expect verify_audit_log '^intact: .*: valid \(' "the intact log must verify"
expect verify_audit_log '^tampered: .*: invalid' "the flipped bit must make the log invalid"

step "gateway_route"
run gateway_route "$policies"
expect gateway_route '^kr-tenant-phone: user KR \(verified\)' "the tenant must give a verified KR user"
expect gateway_route 'aws:ap-northeast-1 +deny' "a Korean prompt with personal data must not go to Tokyo"
expect gateway_route '^anonymous-card: user unknown' "an anonymous request has no user jurisdiction"
expect gateway_route 'audit log valid, records [0-9]+' "the gateway's audit log must verify"

# --- 4. pkg-config ---------------------------------------------------------------------------
step "pkg-config"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pc=$(pkg-config --cflags --libs residency) || { fail "pkg-config --cflags --libs residency failed"; pc=""; }
echo "    $pc"
[[ "$pc" == *"-I$prefix/include"* ]] || fail "pkg-config cflags lack -I$prefix/include"
[[ "$pc" == *"-L$prefix/lib"* && "$pc" == *"-lresidency"* ]] || fail "pkg-config libs lack -L$prefix/lib -lresidency"
cmake_version=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")/\1/p' "$prefix/lib/cmake/residency/residencyConfigVersion.cmake")
[[ "$(pkg-config --modversion residency)" == "$cmake_version" ]] \
  || fail "pkg-config version $(pkg-config --modversion residency) != CMake package version $cmake_version"
# shellcheck disable=SC2086  # word splitting of the flags is intended
if "$cxx" -std=c++17 $flags -o "$tmp/check_dataset_pc" "$source/examples/check_dataset.cc" $pc \
    > "$tmp/pc-build.log" 2>&1; then
  (cd "$tmp" && ./check_dataset_pc "$policies") > "$tmp/check_dataset_pc.out" 2>&1 \
    || fail "check_dataset built with pkg-config flags exited non-zero"
  grep -qF "policies $digest" "$tmp/check_dataset_pc.out" || fail "pkg-config build gave another digest"
else
  tail -30 "$tmp/pc-build.log"
  fail "check_dataset does not build with only pkg-config flags"
fi

step "done"
if [[ $failures -gt 0 ]]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "install test passed"
