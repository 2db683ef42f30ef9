#!/usr/bin/env bash
# bench/run_serve.sh OUTDIR [--full]: `residency serve` under load on loopback, client and server
# on the same machine. Writes OUTDIR/serve.json:
#   serve_http_p50_us, serve_http_p99_us, serve_http_rps  wrk, 32 keep-alive connections, GET
#       /v1/authz (a Korean user's personal prompt for Tokyo: a deny with suggested locations)
#   serve_grpc_p99_us    h2load, 32 connections, ext_authz Check (the same request over gRPC)
#   store_2thread_scaling  PolicyStore::Get + Evaluate, 2 threads over 1 (bench/store_scaling.cc)
set -euo pipefail
out=${1:?usage: run_serve.sh OUTDIR}
build="${RESIDENCY_BENCH_BUILD:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cli="$build/tools/residency/residency"
secs=5
[ "${2:-}" = "--full" ] && secs=15
for tool in wrk h2load protoc; do
  command -v "$tool" >/dev/null || { echo "run_serve: $tool is not installed" >&2; exit 1; }
done
/usr/bin/python3 -c 'import google.protobuf' 2>/dev/null ||
  { echo "run_serve: Debian's python3-protobuf is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$build/bench/store_scaling" 1 >"$tmp/store.json"
cat "$tmp/store.json"

"$cli" serve --policies "$root/policies" --http 127.0.0.1:0 --grpc 127.0.0.1:0 --threads 2 \
  --watch-interval 0 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 1 200); do
  grep -q '"event":"ready"' "$tmp/serve.log" 2>/dev/null && break
  sleep 0.05
done
http_port=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("event")=="listening" and e["proto"]=="http": print(e["port"])' "$tmp/serve.log")
grpc_port=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("event")=="listening" and e["proto"]=="grpc": print(e["port"])' "$tmp/serve.log")

cat >"$tmp/authz.lua" <<'LUA'
wrk.method = "GET"
wrk.path = "/v1/authz"
wrk.headers["X-Residency-User-Jurisdiction"] = "KR"
wrk.headers["X-Residency-User-Provenance"] = "verified"
wrk.headers["X-Residency-Prompt-Classes"] = "personal"
wrk.headers["X-Residency-Destination"] = "aws:ap-northeast-1"
LUA
# Warm up, then measure.
wrk -t1 -c32 -d1s -s "$tmp/authz.lua" "http://127.0.0.1:$http_port" >/dev/null
wrk -t1 -c32 -d${secs}s --latency -s "$tmp/authz.lua" "http://127.0.0.1:$http_port" \
  >"$tmp/wrk.txt"
cat "$tmp/wrk.txt"

# One ext_authz CheckRequest in gRPC framing (flag byte, 4-byte length, message).
mkdir -p "$tmp/pb"
proto="$root/lib/serve/proto"
protoc -I "$proto" --python_out "$tmp/pb" envoy/config/core/v3/base.proto \
  envoy/type/v3/http_status.proto google/rpc/status.proto envoy/service/auth/v3/external_auth.proto
# Debian's python3 (with python3-protobuf), not whichever python3 is first on PATH (a pyenv or
# venv one lacks the package).
PYTHONPATH="$tmp/pb" /usr/bin/python3 - "$tmp/check.bin" <<'PY'
import struct, sys
from envoy.service.auth.v3 import external_auth_pb2 as pb
r = pb.CheckRequest()
h = r.attributes.request.http
h.method = "POST"
h.headers["x-residency-user-jurisdiction"] = "KR"
h.headers["x-residency-user-provenance"] = "verified"
h.headers["x-residency-prompt-classes"] = "personal"
r.attributes.context_extensions["destination"] = "aws:ap-northeast-1"
m = r.SerializeToString()
open(sys.argv[1], "wb").write(b"\x00" + struct.pack(">I", len(m)) + m)
PY
n=$((secs * 8000))
h2load -n 2000 -c 32 -m 1 -d "$tmp/check.bin" -H 'content-type: application/grpc' \
  -H 'te: trailers' "http://127.0.0.1:$grpc_port/envoy.service.auth.v3.Authorization/Check" \
  >/dev/null
h2load -n "$n" -c 32 -m 1 -d "$tmp/check.bin" -H 'content-type: application/grpc' \
  -H 'te: trailers' --log-file "$tmp/h2load.log" \
  "http://127.0.0.1:$grpc_port/envoy.service.auth.v3.Authorization/Check" >"$tmp/h2load.txt"
grep -E "requests:|finished in|status codes" "$tmp/h2load.txt" || true

python3 - "$out" "$tmp" <<'PY'
import json, re, sys
out, tmp = sys.argv[1], sys.argv[2]
def us(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    v = float(m.group(1))
    return v * {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]
wrk = open(f"{tmp}/wrk.txt").read()
p50 = us(re.search(r"^\s+50%\s+(\S+)", wrk, re.M).group(1))
p99 = us(re.search(r"^\s+99%\s+(\S+)", wrk, re.M).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", wrk)
lat = []
for line in open(f"{tmp}/h2load.log"):
    parts = line.split()
    if len(parts) >= 3 and parts[1] == "200":
        lat.append(int(parts[2]))
lat.sort()
grpc_p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None
store = json.load(open(f"{tmp}/store.json"))
res = {"serve_http_p50_us": round(p50, 1), "serve_http_p99_us": round(p99, 1),
       "serve_http_rps": round(rps), "serve_grpc_p99_us": grpc_p99,
       "store_2thread_scaling": store["store_2thread_scaling"]}
for k, v in res.items():
    print(k, v)
json.dump(res, open(f"{out}/serve.json", "w"))
PY
kill -TERM "$pid"
wait "$pid" || true
pid=""
