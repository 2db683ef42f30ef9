#!/usr/bin/env bash
# bench/install_peers.sh [hyperscan] [cedar]: installs the peers the benchmarks compare against
# (default: both), when missing, and fails (exit 1, one line per peer on stderr) when one cannot
# be had:
#   Hyperscan  Debian `libhyperscan-dev` (found with pkg-config `libhs`; x86-64 only)
#   Node, npm  Debian `nodejs` and `npm` (skipped when `node` and `npm` are already on PATH)
#   Cedar      npm `@cedar-policy/cedar-wasm` at the version in bench/cedar/package.json,
#              installed into bench/.cedar/ (git-ignored)
# apt-get runs as root or through sudo. Called by bench/run.sh before it builds anything.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
failed=0
want=("$@")
((${#want[@]})) || want=(hyperscan cedar)
wants() { [[ " ${want[*]} " == *" $1 "* ]]; }

apt_install() {  # apt_install PACKAGE...
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "install_peers: not root and no sudo to install $*" >&2
      return 1
    fi
    sudo="sudo -n"
  fi
  local log
  log=$(mktemp)
  $sudo apt-get update -qq >"$log" 2>&1 || true
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" \
      >>"$log" 2>&1; then
    tail -n 5 "$log" | sed 's/^/install_peers:   /' >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

if ! wants hyperscan; then
  :
elif pkg-config --exists libhs 2>/dev/null; then
  echo "install_peers: Hyperscan $(pkg-config --modversion libhs) present"
else
  echo "install_peers: installing Hyperscan (Debian libhyperscan-dev)"
  if ! apt_install libhyperscan-dev || ! pkg-config --exists libhs 2>/dev/null; then
    echo "install_peers: Hyperscan is missing and could not be installed (apt-get install" \
      "libhyperscan-dev); tag_vs_hyperscan cannot be measured" >&2
    failed=1
  fi
fi

if ! wants cedar; then
  exit $failed
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install_peers: installing Node.js and npm (Debian nodejs, npm)"
  apt_install nodejs npm || true
fi
cedar_dir="$here/.cedar"
cedar_js="$cedar_dir/node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm.js"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install_peers: node/npm are missing and could not be installed (apt-get install nodejs" \
    "npm); the Cedar peer cannot run" >&2
  failed=1
elif [ -f "$cedar_js" ] && cmp -s "$here/cedar/package.json" "$cedar_dir/package.json"; then
  echo "install_peers: Cedar (cedar-wasm) present in bench/.cedar"
else
  echo "install_peers: installing @cedar-policy/cedar-wasm with npm into bench/.cedar"
  mkdir -p "$cedar_dir"
  cp "$here/cedar/package.json" "$cedar_dir/package.json"
  if ! (cd "$cedar_dir" && timeout 300 npm install --no-audit --no-fund --loglevel=error \
        >/dev/null) || [ ! -f "$cedar_js" ]; then
    echo "install_peers: npm install of @cedar-policy/cedar-wasm failed; the Cedar peer cannot" \
      "run" >&2
    failed=1
  fi
fi
exit $failed
