#!/usr/bin/env bash
# fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]: runs every libFuzzer target built in BUILD_DIR (or
# only the named ones, e.g. segment_fuzzer) for SECONDS each (default 30), one at a time, seeded
# from its corpus; fails on the first crash. RESIDENCY_FUZZ_KEEP=DIR keeps each run's corpus and
# log in DIR/NAME{,.log}.
set -euo pipefail
build=$(cd "$1" && pwd)
secs=${2:-30}
shift $(($# < 2 ? $# : 2))
only=("$@")
keep=${RESIDENCY_FUZZ_KEEP:-}
here=$(cd "$(dirname "$0")" && pwd)
found=0
for bin in "$build"/fuzz/*_fuzzer; do
  [ -x "$bin" ] || continue
  found=1
  name=$(basename "$bin")
  if ((${#only[@]})) && [[ " ${only[*]} " != *" $name "* ]]; then continue; fi
  if [ -n "$keep" ]; then
    mkdir -p "$keep/$name"
    work=$(cd "$keep/$name" && pwd)
  else
    work=$(mktemp -d)
  fi
  seeds=()
  for d in "$here/corpus/${name%_fuzzer}" "$here/corpus/${name%_fuzzer}"*; do
    [ -d "$d" ] && seeds+=("$d")
  done
  # Parsers of files the project ships are seeded from those files directly.
  case "$name" in
    policy_fuzzer) seeds+=("$here/../policies" "$here/../policies/tests") ;;
    request_fuzzer) seeds+=("$here/../examples/requests") ;;
  esac
  if [[ "$name" == policy_fuzzer || "$name" == request_fuzzer ]]; then
    if [ -d "$here/../../shared/testdata/yaml-test-suite" ]; then
      seeds+=("$here/../../shared/testdata/yaml-test-suite")
    elif [ -n "${CI:-}" ] && [ "${CI}" != 0 ] && [ "${CI}" != false ]; then
      echo "fuzz: $name: no $here/../../shared/testdata/yaml-test-suite (CI is set: it must be present)" >&2
      exit 1
    else
      echo "fuzz: $name: skipping absent seeds $here/../../shared/testdata/yaml-test-suite"
    fi
  fi
  echo "fuzz: $name for ${secs}s (seeds: ${seeds[*]:-none})"
  log="$work.log"
  set +e
  (cd "$work" && "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work" "${seeds[@]}") >"$log" 2>&1
  rc=$?
  set -e
  grep -E "^#[0-9]+.*(DONE|pulse)" "$log" | tail -1 || true
  grep -E "^stat::number_of_executed_units|SUMMARY|ERROR" "$log" || true
  if [ "$rc" != 0 ]; then
    echo "fuzz: $name failed (exit $rc); log: $log" >&2
    tail -30 "$log" >&2
    # The input itself, so a failure on a machine that is gone can be replayed from its log.
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
      [ -f "$a" ] || continue
      echo "fuzz: input $(basename "$a") ($(wc -c <"$a") bytes), base64:" >&2
      head -c 4096 "$a" | base64 -w 0 >&2
      echo >&2
    done
    exit 1
  fi
  [ -n "$keep" ] || rm -rf "$work" "$log"
done
[ "$found" = 1 ] || echo "fuzz: no libFuzzer targets in $build/fuzz"
