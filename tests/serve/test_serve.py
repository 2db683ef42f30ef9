"""`residency serve` on loopback: the real binary with HTTP clients, a gRPC client (Debian's
python3-grpcio), nginx with auth_request in front of a tiny upstream, hot reload under load and
kill -9 under load. Every server listens on 127.0.0.1 with a port the kernel picks; every wait is
bounded."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

CLI = os.environ["RESIDENCY_CLI"]
SRC = os.environ["RESIDENCY_SOURCE_DIR"]

CATALOGUE = """kind: catalogue
id: regions
groups:
  EU: {members: [AT, BE, DE, FR, IE, IT, NL, ES, SE, PL]}
providers:
  aws: {hq_country: US}
  ncp: {hq_country: KR}
locations:
  - {id: "ncp:KR", country: KR, site: public}
  - {id: "aws:ap-northeast-2", country: KR, city: Seoul}
  - {id: "aws:ap-northeast-1", country: JP, city: Tokyo}
  - {id: "aws:us-east-1", country: US}
"""

POLICY = """kind: policy
id: kr
basis: law
scope: {origins: [KR], user_jurisdictions: [KR]}
obligations:
  kr.ai.notify: "notify users of generative AI"
rules:
  - id: kr.cross_border
    citation: "PIPA Art. 28-8(1)"
    message: "cross-border transfer needs a basis"
    when: {classes: [personal], origins: [KR], location: {not_in: [KR]}}
    alternatives:
      - name: consent
        when: {evidence: {types: [consent.cross_border], require: [country, recipient]}}
        effect: allow
    otherwise: deny
  - id: kr.ai.notify
    citation: "AI Basic Act Art. 31"
    message: "notify users"
    when: {job: [inference], user: {jurisdictions: [KR]}}
    effect: allow_with_obligations
    obligations: [kr.ai.notify]
"""

DATASET = {"kind": "dataset", "destination": "aws:ap-northeast-1",
           "dataset": {"id": "d", "partitions": [{"classes": ["personal"], "origin": "KR"}]}}


def write_policies(d, otherwise="deny"):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "regions.yaml"), "w") as f:
        f.write(CATALOGUE)
    with open(os.path.join(d, "kr.yaml"), "w") as f:
        f.write(POLICY.replace("otherwise: deny", "otherwise: " + otherwise))


class Server:
    def __init__(self, tmp, policies, *extra, audit=None):
        self.tmp = tmp
        self.log_path = os.path.join(tmp, "serve-%d.log" % time.monotonic_ns())
        args = [CLI, "serve", "--policies", policies, "--http", "127.0.0.1:0",
                "--grpc", "127.0.0.1:0", "--watch-interval", "0.2", "--drain-timeout", "5"]
        if audit:
            args += ["--audit-log", audit[0], "--audit-key", audit[1], "--audit-sync"]
        args += list(extra)
        self.log = open(self.log_path, "w")
        env = dict(os.environ)
        # Under the ASan leg: gRPC keeps process-lifetime allocations that LeakSanitizer would
        # report at exit; the service's own code is leak-checked by serve_test and
        # serve_wire_test.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        self.http_port = self.grpc_port = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for ev in self.events():
                if ev.get("event") == "listening":
                    if ev["proto"] == "http":
                        self.http_port = ev["port"]
                    else:
                        self.grpc_port = ev["port"]
                if ev.get("event") == "ready":
                    self.audit_log = ev.get("audit_log")
                    return
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited: " + open(self.log_path).read())
            time.sleep(0.05)
        raise RuntimeError("serve did not become ready: " + open(self.log_path).read())

    def events(self):
        out = []
        with open(self.log_path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def request(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        finally:
            c.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="residency_serve_")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def policies(tmp):
    p = os.path.join(tmp, "policies")
    write_policies(p)
    return p


@pytest.fixture
def key(tmp):
    kdir = os.path.join(tmp, "keys")
    subprocess.run([CLI, "audit", "keygen", "--name", "gw", "--out", kdir], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(kdir, "gw.pem"), os.path.join(kdir, "gw.vkey")


def gateway_headers(classes="personal"):
    return {"X-Residency-User-Jurisdiction": "KR", "X-Residency-User-Provenance": "verified",
            "X-Residency-Prompt-Classes": classes}


# ---------------------------------------------------------------------------------------------
# HTTP API


def test_check_is_byte_identical_to_the_cli(tmp, policies):
    s = Server(tmp, policies)
    try:
        body = json.dumps(DATASET).encode()
        status, headers, out = s.request("POST", "/v1/check", body)
        assert status == 200, out
        now = json.loads(out)["now"]
        req = os.path.join(tmp, "req.json")
        with open(req, "wb") as f:
            f.write(body)
        cli = subprocess.run([CLI, "check", "--policies", policies, "--now", now, req],
                             capture_output=True)
        assert cli.stdout == out
        assert json.loads(out)["decision"] == "deny"

        # Batch: one line per request, as `residency check --batch`.
        lines = body + b"\n{bad json\n" + body + b"\n"
        status, _, out = s.request("POST", "/v1/check/batch", lines)
        assert status == 200
        got = out.decode().splitlines()
        assert len(got) == 3
        assert json.loads(got[0])["decision"] == "deny" and json.loads(got[1])["line"] == 2
        batch = os.path.join(tmp, "batch.jsonl")
        with open(batch, "wb") as f:
            f.write(lines)
        now = json.loads(got[0])["now"]
        cli = subprocess.run([CLI, "check", "--policies", policies, "--now", now, "--batch",
                              batch], capture_output=True)
        assert cli.stdout.decode().splitlines()[0] == got[0]
        assert cli.stdout.decode().splitlines()[2] == got[2]
    finally:
        assert s.stop() == 0


def test_language_of_texts_per_request_and_per_service(tmp):
    d = os.path.join(tmp, "pol-ko")
    write_policies(d)
    kr = os.path.join(d, "kr.yaml")
    with open(kr, encoding="utf-8") as f:
        text = f.read()
    line = '    message: "cross-border transfer needs a basis"\n'
    assert line in text
    text = text.replace(line, line + '    i18n: {ko: {message: "국외 이전에는 근거가 필요합니다"}}\n')
    with open(kr, "w", encoding="utf-8") as f:
        f.write(text)
    ko, en = "국외 이전에는 근거가 필요합니다", "cross-border transfer needs a basis"
    body = json.dumps(DATASET).encode()
    s = Server(tmp, d)
    try:
        _, _, out = s.request("POST", "/v1/check", body)
        assert en in out.decode() and ko not in out.decode()
        status, _, out = s.request("POST", "/v1/check", body, {"X-Residency-Lang": "ko"})
        assert status == 200 and ko in out.decode() and en not in out.decode()
        assert json.loads(out)["decision"] == "deny"
        status, _, out = s.request("POST", "/v1/check/batch", body + b"\n",
                                   {"x-residency-lang": "ko"})
        assert status == 200 and ko in out.decode()
        status, _, out = s.request("POST", "/v1/check", body, {"x-residency-lang": "KO"})
        assert status == 400 and b"x-residency-lang" in out
        status, h, out = s.request("GET", "/v1/authz", None,
                                   {**gateway_headers(), "x-residency-lang": "ko",
                                    "X-Residency-Destination": "aws:ap-northeast-1"})
        assert status == 403 and ko in out.decode() and h["x-residency-decision"] == "deny"
    finally:
        assert s.stop() == 0
    # The service's default language (--lang), which a request may still override.
    s = Server(tmp, d, "--lang", "ko")
    try:
        _, _, out = s.request("POST", "/v1/check", body)
        assert ko in out.decode()
        _, _, out = s.request("POST", "/v1/check", body, {"x-residency-lang": "en"})
        assert en in out.decode()
    finally:
        assert s.stop() == 0
    bad = subprocess.run([CLI, "serve", "--policies", d, "--http", "127.0.0.1:0", "--lang", "KO"],
                         capture_output=True, timeout=30)
    assert bad.returncode == 2 and b"language code" in bad.stderr


def test_trusted_clock_refuses_a_request_now(tmp, policies):
    s = Server(tmp, policies)
    try:
        req = dict(DATASET, now="2020-01-01T00:00:00Z")
        status, _, out = s.request("POST", "/v1/check", json.dumps(req))
        assert status == 400 and b"service's clock" in out
    finally:
        s.stop()
    s = Server(tmp, policies, "--request-now", "honour")
    try:
        status, _, out = s.request("POST", "/v1/check", json.dumps(req))
        assert status == 200 and json.loads(out)["now"].startswith("2020-01-01")
    finally:
        s.stop()


def test_health_ready_metrics_tag(tmp, policies):
    s = Server(tmp, policies, "--tagging", os.path.join(SRC, "policies", "tagging.yaml"))
    try:
        assert s.request("GET", "/healthz")[0] == 200
        assert s.request("GET", "/readyz")[0] == 200
        s.request("GET", "/v1/authz", headers=dict(gateway_headers(),
                  **{"X-Residency-Destination": "aws:ap-northeast-1"}))
        status, headers, out = s.request("GET", "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        text = out.decode()
        assert 'residency_decisions_total{effect="deny"} 1' in text
        assert "residency_decision_seconds_bucket{le=\"+Inf\"} 1" in text
        status, _, out = s.request("POST", "/v1/tag",
                                   json.dumps({"payload": "call me at 010-1234-5678"}))
        assert status == 200, out
        assert any("personal" in t for t in json.loads(out)["tags"]), out
        assert s.request("GET", "/nope")[0] == 404
        assert s.request("GET", "/v1/check")[0] == 405
    finally:
        s.stop()


def test_authz_over_http(tmp, policies):
    s = Server(tmp, policies)
    try:
        h = dict(gateway_headers(), **{"X-Residency-Destination": "ncp:KR"})
        status, headers, _ = s.request("GET", "/v1/authz/some/path", headers=h)
        assert status == 200
        assert headers["x-residency-decision"] == "allow_with_obligations"
        assert headers["x-residency-location"] == "ncp:KR"
        h["X-Residency-Destination"] = "aws:ap-northeast-1"
        status, headers, out = s.request("GET", "/v1/authz", headers=h)
        assert status == 403 and headers["x-residency-decision"] == "deny"
        assert headers["x-residency-location"] in ("ncp:KR", "aws:ap-northeast-2")
        assert json.loads(out)["decision"] == "deny"
        # No destination: the service routes it (the user's country first).
        status, headers, _ = s.request("GET", "/v1/authz", headers=gateway_headers())
        assert status == 200 and headers["x-residency-routed"] == "true"
        assert headers["x-residency-location"] == "ncp:KR"
    finally:
        s.stop()


def test_routing_by_served_models_that_reload(tmp, policies):
    models = os.path.join(tmp, "models.yaml")

    def write_models(deployments):
        with open(models, "w") as f:
            f.write("models:\n  - id: chat\n    artifact: weights\n    trained_on: []\n"
                    "    deployments: %s\n" % json.dumps(deployments))

    write_models(["aws:ap-northeast-1", "aws:ap-northeast-2"])
    s = Server(tmp, policies, "--models", models)
    try:
        h = dict(gateway_headers(), **{"X-Residency-Model": "chat"})
        status, headers, _ = s.request("GET", "/v1/authz", headers=h)
        assert status == 200 and headers["x-residency-location"] == "aws:ap-northeast-2"
        # Nothing personal: the first deployment.
        status, headers, _ = s.request("GET", "/v1/authz", headers=dict(
            h, **{"X-Residency-Prompt-Classes": "public"}))
        assert status == 200 and headers["x-residency-location"] == "aws:ap-northeast-1"
        # A model the service does not serve is not routed.
        status, headers, body = s.request("GET", "/v1/authz", headers=dict(
            h, **{"X-Residency-Model": "other"}))
        assert status == 403 and b"not among the served models" in body
        # The models file changes; SIGHUP reloads it.
        write_models(["aws:ap-northeast-1", "aws:us-east-1"])
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not any(e.get("what") == "models" and e["ok"] for e in s.events()):
            assert time.monotonic() < deadline, "no models reload logged"
            time.sleep(0.05)
        status, headers, body = s.request("GET", "/v1/authz", headers=h)
        assert status == 403 and headers["x-residency-routed"] == "nowhere"
        assert json.loads(body)["decision"] == "deny"
        # A broken models file keeps the last good one.
        with open(models, "w") as f:
            f.write("models: [\n")
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not any(e.get("what") == "models" and not e["ok"] for e in s.events()):
            assert time.monotonic() < deadline, "no failed models reload logged"
            time.sleep(0.05)
        status, headers, _ = s.request("GET", "/v1/authz", headers=dict(
            h, **{"X-Residency-Prompt-Classes": "public"}))
        assert status == 200 and headers["x-residency-location"] == "aws:ap-northeast-1"
    finally:
        assert s.stop() == 0


def test_bad_input_gets_4xx_never_allow(tmp, policies):
    s = Server(tmp, policies, "--max-body-bytes", "65536", "--max-header-bytes", "8192",
               "--idle-timeout", "1")
    try:
        assert s.request("POST", "/v1/check", b"{not json")[0] == 400
        assert s.request("POST", "/v1/check", b"x" * 100000)[0] == 413
        status, _, _ = s.request("GET", "/v1/authz", headers=dict(
            gateway_headers(), **{"X-Residency-Destination": "ncp:KR", "X-Big": "a" * 20000}))
        assert 400 <= status < 500
        # A slow client: half a request line, then silence. It is disconnected, never answered
        # with an allow.
        sock = socket.create_connection(("127.0.0.1", s.http_port), timeout=10)
        sock.sendall(b"GET /v1/authz HTTP/1.1\r\nHost: x\r\nX-Residency-Destin")
        start = time.monotonic()
        data = b""
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pytest.fail("slow client was not disconnected")
        sock.close()
        assert time.monotonic() - start < 9
        assert not data.startswith(b"HTTP/1.1 200")
    finally:
        s.stop()


def test_a_body_dripping_past_the_deadline_is_cut_off(tmp, policies):
    s = Server(tmp, policies, "--deadline", "1", "--idle-timeout", "5")
    try:
        body = json.dumps(DATASET).encode()
        sock = socket.create_connection(("127.0.0.1", s.http_port), timeout=10)
        sock.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                     % len(body))
        start = time.monotonic()
        data, closed = b"", False
        for i in range(len(body)):  # a byte every 0.2 s: never idle, always late
            try:
                sock.sendall(body[i:i + 1])
            except OSError:
                closed = True
                break
            time.sleep(0.2)
            sock.setblocking(False)
            try:
                chunk = sock.recv(4096)
                data += chunk
                if not chunk:
                    closed = True
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
            sock.setblocking(True)
        sock.close()
        # Cut off soon after the deadline, without an answer (so without an allow); the idle
        # timeout alone (5 s) would never have closed it.
        assert closed and data == b""
        assert time.monotonic() - start < 3
        # A request on time is answered.
        assert s.request("POST", "/v1/check", body)[0] == 200
    finally:
        s.stop()


def drip_until_closed(sock, data, every=0.2):
    """Sends `data` a byte every `every` s; (closed, bytes received, seconds) when the server
    closes the connection, or (False, ..., ...) once all is sent."""
    start = time.monotonic()
    got = b""
    for i in range(len(data)):
        try:
            sock.sendall(data[i:i + 1])
        except OSError:
            return True, got, time.monotonic() - start
        time.sleep(every)
        sock.setblocking(False)
        try:
            chunk = sock.recv(4096)
            got += chunk
            if not chunk:
                return True, got, time.monotonic() - start
        except BlockingIOError:
            pass
        except OSError:
            return True, got, time.monotonic() - start
        sock.setblocking(True)
    return False, got, time.monotonic() - start


def test_headers_dripping_past_the_deadline_are_cut_off(tmp, policies):
    s = Server(tmp, policies, "--deadline", "1", "--idle-timeout", "5")
    try:
        headers = (b"POST /v1/check HTTP/1.1\r\nHost: x\r\n" +
                   b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 8) for i in range(40)) +
                   b"Content-Length: 2\r\n\r\n{}")
        # A new connection that drips its request line and headers (never idle for the idle
        # timeout): cut off by the idle timeout plus the deadline, with nothing answered.
        sock = socket.create_connection(("127.0.0.1", s.http_port), timeout=10)
        closed, got, took = drip_until_closed(sock, headers)
        sock.close()
        assert closed and got == b"" and took < 9, (closed, got, took)
        # On a kept-alive connection: the request line is on time, its headers drip; the
        # deadline counts from the request line.
        body = json.dumps(DATASET).encode()
        sock = socket.create_connection(("127.0.0.1", s.http_port), timeout=10)
        sock.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        first = b""
        while b"\r\n\r\n" not in first or not first.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, first
            first += chunk
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(b"POST /v1/check HTTP/1.1\r\n")
        closed, got, took = drip_until_closed(sock, headers[len(b"POST /v1/check HTTP/1.1\r\n"):])
        sock.close()
        assert closed and got == b"" and took < 3, (closed, got, took)
        # A request on time is answered.
        assert s.request("POST", "/v1/check", body)[0] == 200
    finally:
        s.stop()


# ---------------------------------------------------------------------------------------------
# gRPC: Envoy ext_authz v3


def grpc_modules(tmp):
    out = os.path.join(tmp, "pb")
    os.makedirs(out, exist_ok=True)
    proto = os.path.join(SRC, "lib", "serve", "proto")
    files = ["envoy/config/core/v3/base.proto", "envoy/type/v3/http_status.proto",
             "google/rpc/status.proto", "envoy/service/auth/v3/external_auth.proto"]
    subprocess.run(["protoc", "-I", proto, "--python_out", out] + files, check=True)
    sys.path.insert(0, out)
    from envoy.service.auth.v3 import external_auth_pb2
    return external_auth_pb2


def grpc_check(port, pb, headers, context, body=None):
    import grpc
    req = pb.CheckRequest()
    http = req.attributes.request.http
    http.method = "POST"
    for k, v in headers.items():
        http.headers[k.lower()] = v
    if body is not None:
        http.body = body
    for k, v in context.items():
        req.attributes.context_extensions[k] = v
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
        call = ch.unary_unary("/envoy.service.auth.v3.Authorization/Check",
                              request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=pb.CheckResponse.FromString)
        return call(req, timeout=10)


def hdrs(options):
    return {o.header.key: o.header.value for o in options}


def test_grpc_ext_authz(tmp, policies):
    pb = grpc_modules(tmp)
    s = Server(tmp, policies, "--tagging", os.path.join(SRC, "policies", "tagging.yaml"))
    try:
        base = {"x-residency-user-jurisdiction": "KR", "x-residency-user-provenance": "verified"}
        # allow: a Korean location.
        r = grpc_check(s.grpc_port, pb, dict(base, **{"x-residency-prompt-classes": "personal"}),
                       {"destination": "ncp:KR"})
        assert r.status.code == 0 and r.WhichOneof("http_response") == "ok_response"
        h = hdrs(r.ok_response.headers)
        assert h["x-residency-decision"] == "allow_with_obligations"
        assert h["x-residency-location"] == "ncp:KR"
        # deny: the body carries a phone number (tagger → personal) and goes to Tokyo.
        r = grpc_check(s.grpc_port, pb, base, {"destination": "aws:ap-northeast-1"},
                       body="my number is 010-1234-5678")
        assert r.status.code == 7 and r.WhichOneof("http_response") == "denied_response"
        assert r.denied_response.status.code == 403
        assert hdrs(r.denied_response.headers)["x-residency-decision"] == "deny"
        assert json.loads(r.denied_response.body)["decision"] == "deny"
        # the same body without personal data is allowed in Tokyo.
        r = grpc_check(s.grpc_port, pb, base, {"destination": "aws:ap-northeast-1"},
                       body="what is the capital of France?")
        assert r.status.code == 0, r
        # no destination: routed (personal data of a Korean user: a Korean location).
        r = grpc_check(s.grpc_port, pb, dict(base, **{"x-residency-prompt-classes": "personal"}),
                       {})
        assert r.status.code == 0, r
        h = hdrs(r.ok_response.headers)
        assert h["x-residency-routed"] == "true" and h["x-residency-location"] == "ncp:KR"
        # bad input: a request kind the gateway does not map.
        r = grpc_check(s.grpc_port, pb, base, {"destination": "ncp:KR", "kind": "training"})
        assert r.status.code == 3 and r.denied_response.status.code == 400
        # a raw garbage message: the server answers an error, never an allow.
        import grpc
        with grpc.insecure_channel("127.0.0.1:%d" % s.grpc_port) as ch:
            call = ch.unary_unary("/envoy.service.auth.v3.Authorization/Check",
                                  request_serializer=lambda b: b,
                                  response_deserializer=pb.CheckResponse.FromString)
            with pytest.raises(grpc.RpcError):
                call(b"\xff\xff\xff\xff", timeout=10)
    finally:
        s.stop()


def test_grpc_escalate_and_dry_run(tmp):
    pb = grpc_modules(tmp)
    p = os.path.join(tmp, "esc")
    write_policies(p, otherwise="escalate")
    h = {"x-residency-user-jurisdiction": "KR", "x-residency-prompt-classes": "personal"}
    tokyo = {"destination": "aws:ap-northeast-1"}
    s = Server(tmp, p)
    try:
        r = grpc_check(s.grpc_port, pb, h, tokyo)
        assert r.status.code == 7
        assert hdrs(r.denied_response.headers)["x-residency-decision"] == "escalate"
    finally:
        s.stop()
    s = Server(tmp, p, "--escalate", "allow")
    try:
        r = grpc_check(s.grpc_port, pb, h, tokyo)
        assert r.status.code == 0
        assert hdrs(r.ok_response.headers)["x-residency-decision"] == "escalate"
    finally:
        s.stop()
    d = os.path.join(tmp, "deny")
    write_policies(d)
    s = Server(tmp, d, "--dry-run")
    try:
        r = grpc_check(s.grpc_port, pb, h, tokyo)
        assert r.status.code == 0
        got = hdrs(r.ok_response.headers)
        assert got["x-residency-decision"] == "deny" and got["x-residency-dry-run"] == "true"
    finally:
        s.stop()


# ---------------------------------------------------------------------------------------------
# Operations: hot reload under load, kill -9 under load, graceful shutdown


class Load:
    """Threads sending /v1/authz on keep-alive connections, recording every answer."""

    def __init__(self, port, destination="ncp:KR", threads=3):
        self.port = port
        self.destination = destination
        self.stop_flag = threading.Event()
        self.answers = []  # (status, decision, audit)
        self.errors = []
        self.lock = threading.Lock()
        self.per_thread = [[] for _ in range(threads)]  # decisions, in each thread's order
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, i):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(gateway_headers(), **{"X-Residency-Destination": self.destination})
        while not self.stop_flag.is_set():
            try:
                c.request("GET", "/v1/authz", headers=h)
                r = c.getresponse()
                r.read()
                a = (r.status, r.getheader("x-residency-decision"),
                     r.getheader("x-residency-audit"))
            except Exception as e:  # noqa: BLE001 - every failure is recorded
                with self.lock:
                    self.errors.append(repr(e))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                if self.stop_flag.wait(0.01):
                    break
                continue
            with self.lock:
                self.answers.append(a)
            self.per_thread[i].append(a[1])
        c.close()

    def finish(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=20)


def test_hot_reload_under_load(tmp, policies):
    s = Server(tmp, policies)
    try:
        load = Load(s.http_port, destination="aws:ap-northeast-1")
        time.sleep(0.5)
        write_policies(policies, otherwise="escalate")  # file change → reload
        deadline = time.monotonic() + 10
        while not any(e.get("event") == "reload" and e["ok"] for e in s.events()):
            assert time.monotonic() < deadline, "no reload after a file change"
            time.sleep(0.05)
        time.sleep(0.3)
        with open(os.path.join(policies, "kr.yaml"), "a") as f:
            f.write("  - {id: broken\n")  # a compile error: the escalate snapshot stays
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not any(e.get("event") == "reload" and not e["ok"] for e in s.events()):
            assert time.monotonic() < deadline, "no failed reload logged"
            time.sleep(0.05)
        time.sleep(0.3)
        load.finish()
        assert load.errors == []
        assert all(st == 403 for st, _, _ in load.answers)  # deny, then escalate (as deny)
        for decisions in load.per_thread:
            assert decisions[0] == "deny" and decisions[-1] == "escalate"
            # In each thread's order: once escalate came, it stayed (the failed reload kept the
            # snapshot).
            first = decisions.index("escalate")
            assert set(decisions[first:]) == {"escalate"}
        metrics = s.request("GET", "/metrics")[2].decode()
        assert 'residency_reloads_total{result="error"} 1' in metrics
    finally:
        assert s.stop() == 0


def audit_records(log_dir):
    out = subprocess.run([CLI, "audit", "show", log_dir], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]


def test_kill_9_under_load_then_restart(tmp, policies, key):
    audit_dir = os.path.join(tmp, "audit")
    s = Server(tmp, policies, audit=(audit_dir, key[0]))
    load = Load(s.http_port, destination="ncp:KR")
    time.sleep(1.0)
    # Kill only once a checkpoint is signed: a log with no checkpoint at all has nothing signed and
    # rightly fails verification ("no valid checkpoint yet"); on a busy machine the first one can
    # take longer than the second above.
    deadline = time.monotonic() + 30
    while True:
        v = subprocess.run([CLI, "audit", "verify", "--key", key[1], "--open", s.audit_log],
                           capture_output=True, text=True)
        if v.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert v.returncode == 0, "no checkpoint within 30 s: " + v.stdout + v.stderr
    s.proc.kill()  # SIGKILL under load
    s.proc.wait()
    load.finish()
    allowed = [a for st, d, a in load.answers if st == 200]
    assert len(allowed) >= 10, "too few requests answered before the kill: %d" % len(allowed)
    first_log = s.audit_log
    s.log.close()

    s2 = Server(tmp, policies, audit=(audit_dir, key[0]))
    try:
        assert s2.request("GET", "/v1/authz", headers=dict(
            gateway_headers(), **{"X-Residency-Destination": "ncp:KR"}))[0] == 200
    finally:
        assert s2.stop() == 0
    v = subprocess.run([CLI, "audit", "verify", "--key", key[1], s2.audit_log],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr
    v = subprocess.run([CLI, "audit", "verify", "--key", key[1], "--open", first_log],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr  # cut short by kill -9, but valid
    records = audit_records(first_log)
    by_index = {r.get("index"): r for r in records}
    log_id = os.path.basename(first_log)
    for a in allowed:
        lid, idx = a.split("/")
        assert lid == log_id
        r = by_index.get(int(idx))
        assert r is not None, "allow %s has no record" % a
        assert r.get("decision", "").startswith("allow"), r


# ---------------------------------------------------------------------------------------------
# nginx auth_request in front of a tiny upstream


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not os.path.exists("/usr/sbin/nginx"), reason="nginx is not installed")
def test_nginx_auth_request(tmp, policies):
    s = Server(tmp, policies)
    prefix = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(prefix, "logs"))
    gw, up = free_port(), free_port()
    conf = """
daemon off;
master_process off;
worker_processes 1;
pid %(p)s/nginx.pid;
error_log %(p)s/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %(p)s/body; proxy_temp_path %(p)s/proxy;
  fastcgi_temp_path %(p)s/fcgi; uwsgi_temp_path %(p)s/uwsgi; scgi_temp_path %(p)s/scgi;
  map $request_uri $residency_destination {
    ~^/tokyo/ aws:ap-northeast-1;
    default   ncp:KR;
  }
  server {
    listen 127.0.0.1:%(up)d;
    location / { return 200 "upstream ok\\n"; }
  }
  server {
    listen 127.0.0.1:%(gw)d;
    location = /_residency {
      internal;
      proxy_pass http://127.0.0.1:%(serve)d/v1/authz;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Residency-Destination $residency_destination;
    }
    location / {
      auth_request /_residency;
      auth_request_set $residency_decision $upstream_http_x_residency_decision;
      auth_request_set $residency_location $upstream_http_x_residency_location;
      add_header X-Residency-Decision $residency_decision always;
      add_header X-Residency-Location $residency_location always;
      proxy_pass http://127.0.0.1:%(up)d;
    }
  }
}
""" % {"p": prefix, "gw": gw, "up": up, "serve": s.http_port}
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    ng = subprocess.Popen(["/usr/sbin/nginx", "-p", prefix, "-c", path, "-e", "stderr"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", gw), timeout=1).close()
                break
            except OSError:
                assert ng.poll() is None, ng.stderr.read()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)

        def get(path):
            c = http.client.HTTPConnection("127.0.0.1", gw, timeout=10)
            c.request("GET", path, headers=gateway_headers())
            r = c.getresponse()
            out = (r.status, r.getheader("x-residency-decision"), r.read())
            c.close()
            return out

        status, decision, body = get("/seoul/chat")
        assert status == 200 and body == b"upstream ok\n"
        assert decision == "allow_with_obligations"
        status, decision, body = get("/tokyo/chat")
        assert status == 403 and body != b"upstream ok\n"
        assert decision == "deny"
        # The service down: nginx fails closed (auth_request gives 500, not the upstream).
        s.stop()
        status, _, body = get("/seoul/chat")
        assert status >= 500 and body != b"upstream ok\n"
    finally:
        ng.terminate()
        try:
            ng.wait(timeout=10)
        except subprocess.TimeoutExpired:
            ng.kill()
            ng.wait()
        s.stop()


# ---------------------------------------------------------------------------------------------
# Configuration file, access log, TLS and mTLS


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_config_file_access_log_tls_and_mtls(tmp, policies):
    import ssl

    import grpc

    def cert(name, ca=None):
        key, crt = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".pem")
        if ca is None:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                            key, "-out", crt, "-days", "1", "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           check=True, capture_output=True)
        else:
            csr = os.path.join(tmp, name + ".csr")
            subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                            "-out", csr, "-subj", "/CN=" + name], check=True, capture_output=True)
            subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0],
                            "-CAcreateserial", "-out", crt, "-days", "1"], check=True,
                           capture_output=True)
        return key, crt

    server_key, server_crt = cert("server")
    client_key, client_crt = cert("client", ca=(server_key, server_crt))
    access = os.path.join(tmp, "access.log")
    config = os.path.join(tmp, "serve.yaml")
    with open(config, "w") as f:
        f.write("policies: %s\nhttp: 127.0.0.1:0\ngrpc: 127.0.0.1:0\ntls_cert: %s\n"
                "tls_key: %s\ntls_client_ca: %s\naccess_log: %s\nwatch_interval: 0\n"
                % (policies, server_crt, server_key, server_crt, access))
    # Server() adds --policies/--http/--grpc flags; the file gives the rest.
    s = Server(tmp, policies, "--config", config)
    try:
        ctx = ssl.create_default_context(cafile=server_crt)
        ctx.load_cert_chain(client_crt, client_key)
        c = http.client.HTTPSConnection("127.0.0.1", s.http_port, context=ctx, timeout=10)
        c.request("GET", "/healthz")
        assert c.getresponse().status == 200
        c.close()
        # Without a client certificate (mTLS): refused (403, or the handshake fails).
        bare = ssl.create_default_context(cafile=server_crt)
        try:
            c = http.client.HTTPSConnection("127.0.0.1", s.http_port, context=bare, timeout=10)
            c.request("GET", "/healthz")
            assert c.getresponse().status == 403
        except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError):
            pass
        # Plain HTTP on the TLS port: no answer either.
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            s.request("GET", "/healthz")
        pb = grpc_modules(tmp)
        creds = grpc.ssl_channel_credentials(open(server_crt, "rb").read(),
                                             open(client_key, "rb").read(),
                                             open(client_crt, "rb").read())
        req = pb.CheckRequest()
        req.attributes.request.http.headers["x-residency-user-jurisdiction"] = "KR"
        req.attributes.request.http.headers["x-residency-prompt-classes"] = "personal"
        req.attributes.context_extensions["destination"] = "ncp:KR"
        with grpc.secure_channel("127.0.0.1:%d" % s.grpc_port, creds) as ch:
            call = ch.unary_unary("/envoy.service.auth.v3.Authorization/Check",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=pb.CheckResponse.FromString)
            assert call(req, timeout=10).status.code == 0
    finally:
        assert s.stop() == 0
    lines = [json.loads(l) for l in open(access)]
    assert any(l["path"] == "/healthz" and l["status"] == 200 for l in lines)
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write("policies: x\nthreads: [1, 2]\n")
    r = subprocess.run([CLI, "serve", "--config", bad], capture_output=True, text=True)
    assert r.returncode == 2 and "bad.yaml:2:" in r.stderr, r.stderr
