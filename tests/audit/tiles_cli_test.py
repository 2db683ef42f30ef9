"""End-to-end tests of the audit log as C2SP tiles through the CLI: continuous publication by
`residency check`, `audit tiles`, verification from a directory and over HTTP (a real nginx on
loopback), an independent reader (c2sp_reader.py, written from the C2SP texts), witnesses and
K-of-N, the tamper matrix and the monitor.

usage: tiles_cli_test.py RESIDENCY_CLI SOURCE_DIR"""
import base64
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import yaml
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import c2sp_reader as c2sp  # noqa: E402

CLI = SRC = None


def run(*args, check=None):
    p = subprocess.run([CLI] + list(args), capture_output=True, text=True, timeout=120)
    if check is not None and p.returncode != check:
        raise AssertionError("%s -> %d\n%s\n%s" % (args, p.returncode, p.stdout, p.stderr))
    return p


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


class Tiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tiles-cli-")
        t = cls.tmp
        cls.keys = os.path.join(t, "keys")
        run("audit", "keygen", "--name", "gw1", "--out", cls.keys, check=0)
        for w in ("w1", "w2"):
            run("audit", "witness-keygen", "--name", "witness-" + w, "--out",
                os.path.join(cls.keys, w), check=0)
        cls.vkey = os.path.join(cls.keys, "gw1.vkey")
        cls.w = {w: glob.glob(os.path.join(cls.keys, w, "*.vkey"))[0] for w in ("w1", "w2")}
        cls.wpem = {w: glob.glob(os.path.join(cls.keys, w, "*.pem"))[0] for w in ("w1", "w2")}
        reqs = []
        for f in sorted(glob.glob(os.path.join(SRC, "examples/requests/*.yaml"))):
            line = json.dumps(yaml.safe_load(read(f)))
            one = os.path.join(t, "one.json")
            write(one, line)
            if run("check", "--policies", os.path.join(SRC, "policies"), "--now",
                   "2026-06-30T00:00:00Z", one).returncode != 2:
                reqs.append(line)
        assert len(reqs) >= 3, reqs
        batch = os.path.join(t, "batch.jsonl")
        write(batch, "\n".join((reqs * (700 // len(reqs) + 1))[:700]) + "\n")
        cls.logs, cls.tiles = {}, {}
        for name in ("a", "b"):
            p = run("check", "--policies", os.path.join(SRC, "policies"), "--batch", batch,
                    "--now", "2026-06-30T00:00:00Z", "--audit-log", os.path.join(t, name, "logs"),
                    "--audit-key", os.path.join(cls.keys, "gw1.pem"),
                    "--audit-tiles", os.path.join(t, name, "tiles"))
            assert p.returncode != 2, p.stderr
            (log_id,) = os.listdir(os.path.join(t, name, "logs"))
            cls.logs[name] = os.path.join(t, name, "logs", log_id)
            cls.tiles[name] = os.path.join(t, name, "tiles", log_id)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def copy(self, name="a"):
        d = tempfile.mkdtemp(dir=self.tmp)
        out = os.path.join(d, "t")
        shutil.copytree(self.tiles[name], out)
        return out

    def sign(self, origin, size, root):
        """A checkpoint signed with the log's own key: what a misbehaving operator can do."""
        key = serialization.load_pem_private_key(read(os.path.join(self.keys, "gw1.pem"), "rb"),
                                                 None)
        pub = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        body = "%s\n%d\n%s\n" % (origin, size, base64.b64encode(root).decode())
        blob = c2sp.key_id("gw1", 0x01, pub) + key.sign(body.encode())
        return body + "\n" + c2sp.EM_DASH + "gw1 " + base64.b64encode(blob).decode() + "\n"

    def fork(self, name="a", extra=0):
        """A copy of the tree whose entry 0 differs (and `extra` more entries), tiles and
        checkpoint rebuilt and signed with the log key."""
        origin, size, _ = c2sp.parse_checkpoint(c2sp.parse_note(
            read(os.path.join(self.tiles[name], "checkpoint")))[0])
        entries, _ = c2sp.read_tree(lambda p: read(os.path.join(self.tiles[name], p), "rb"), size)
        entries = [b"forged " + entries[0]] + entries[1:] + [b"extra"] * extra
        out = os.path.join(tempfile.mkdtemp(dir=self.tmp), "t")
        root = c2sp.write_tree(lambda p, d: write(os.path.join(out, p), d), entries)
        write(os.path.join(out, "checkpoint"), self.sign(origin, len(entries), root))
        return out

    # --- publication ----------------------------------------------------------------------

    def test_published_tree_verifies(self):
        p = run("audit", "verify", "--key", self.vkey, self.tiles["a"], check=0)
        self.assertIn("valid (7", p.stdout)  # 700 decisions + policy_loaded + open/close...

    def test_audit_tiles_rebuilds_the_same_tree(self):
        out = os.path.join(self.tmp, "rebuilt")
        p = run("audit", "tiles", self.logs["a"], out, check=0)
        self.assertIn("published", p.stdout)
        for root, _, files in os.walk(out):
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), out)
                self.assertEqual(read(os.path.join(out, rel), "rb"),
                                 read(os.path.join(self.tiles["a"], rel), "rb"), rel)
        # Up to date already: running it again changes nothing.
        run("audit", "tiles", self.logs["a"], out, check=0)
        run("audit", "verify", "--key", self.vkey, out, check=0)

    def test_independent_reader(self):
        note = read(os.path.join(self.tiles["a"], "checkpoint"))
        origin, size, root = c2sp.verify_log_signature(note, read(self.vkey))
        self.assertTrue(origin.startswith("gw1/"))
        self.assertGreater(size, 512)
        entries, computed = c2sp.read_tree(
            lambda p: read(os.path.join(self.tiles["a"], p), "rb"), size)
        self.assertEqual(computed, root)
        # The entries are the log's leaves, byte for byte.
        raw = run("audit", "show", "--raw", self.logs["a"], check=0).stdout.split()
        self.assertEqual([base64.b64decode(x) for x in raw[:size]], entries)

    def test_prove_from_tiles(self):
        p = run("audit", "prove", "--index", "300", "--key", self.vkey, self.tiles["a"], check=0)
        proof = os.path.join(self.tmp, "p.tlog-proof")
        write(proof, p.stdout)
        q = run("audit", "verify", "--key", self.vkey, "--proof", proof, check=0)
        self.assertIn('"index":300', q.stdout)

    # --- witnesses ------------------------------------------------------------------------

    def witness(self, w, tiles, state, *extra):
        return run("audit", "witness", "--key", self.wpem[w], "--log-key", self.vkey, "--state",
                   state, *extra, tiles)

    def test_witnesses_k_of_n(self):
        t = self.copy()
        state = os.path.join(self.tmp, "kofn-state")
        self.assertEqual(self.witness("w1", t, state + "1", "--update").returncode, 0)
        args = ["audit", "verify", "--key", self.vkey, "--witness", self.w["w1"], "--witness",
                self.w["w2"]]
        p = run(*args, t, check=1)
        self.assertIn("1 of 2 needed witness cosignatures", p.stdout)
        run(*args, "--witnesses-needed", "1", t, check=0)
        self.assertEqual(self.witness("w2", t, state + "2", "--update").returncode, 0)
        run(*args, t, check=0)
        note = read(os.path.join(t, "checkpoint"))
        for w in ("w1", "w2"):
            self.assertGreater(c2sp.verify_cosignature(note, read(self.w[w])), 1600000000)
        c2sp.verify_log_signature(note, read(self.vkey))
        # A cosignature line that does not verify is a finding.
        bad = note.replace(note.split("\n")[1], str(int(note.split("\n")[1])))  # same body
        lines = bad.rstrip("\n").split("\n")
        blob = bytearray(base64.b64decode(lines[-1].split(" ")[-1]))
        blob[-1] ^= 1
        lines[-1] = lines[-1].rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(blob)).decode()
        write(os.path.join(t, "checkpoint"), "\n".join(lines) + "\n")
        p = run(*args, t, check=1)
        self.assertIn("bad cosignature", p.stdout)

    def test_fork_shown_to_two_witnesses(self):
        state1, state2 = os.path.join(self.tmp, "f-w1"), os.path.join(self.tmp, "f-w2")
        honest, forked = self.copy(), self.fork()
        self.assertEqual(self.witness("w1", honest, state1).returncode, 0)
        p = self.witness("w1", forked, state1)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("fork", p.stderr)
        honest_root = c2sp.parse_checkpoint(c2sp.parse_note(read(honest + "/checkpoint"))[0])[2]
        forked_root = c2sp.parse_checkpoint(c2sp.parse_note(read(forked + "/checkpoint"))[0])[2]
        self.assertIn(base64.b64encode(honest_root).decode(), p.stderr)
        self.assertIn(base64.b64encode(forked_root).decode(), p.stderr)
        # w2 never saw the honest log: it cosigns the fork; a 2-of-2 verifier still refuses.
        self.assertEqual(self.witness("w2", forked, state2, "--update").returncode, 0)
        p = run("audit", "verify", "--key", self.vkey, "--witness", self.w["w1"], "--witness",
                self.w["w2"], "--witnesses-needed", "2", forked, check=1)
        self.assertIn("1 of 2", p.stdout)
        # The verifier holding the honest checkpoint reports the fork, naming both.
        p = run("audit", "verify", "--key", self.vkey, "--trusted-checkpoint",
                honest + "/checkpoint", forked, check=1)
        self.assertIn("equivocation", p.stdout)
        self.assertIn(base64.b64encode(honest_root).decode(), p.stdout)
        # A longer fork (history rewritten, then extended) fails the consistency proof.
        longer = self.fork(extra=3)
        p = self.witness("w1", longer, state1)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("not consistent", p.stderr)

    def test_rollback(self):
        t = self.copy()
        note = read(t + "/checkpoint")
        origin, size, _ = c2sp.parse_checkpoint(c2sp.parse_note(note)[0])
        entries, _ = c2sp.read_tree(lambda p: read(os.path.join(t, p), "rb"), size)
        old_root = c2sp.mth([c2sp.leaf_hash(e) for e in entries[:size - 5]])
        state = os.path.join(self.tmp, "rb-w1")
        self.assertEqual(self.witness("w1", t, state).returncode, 0)
        write(t + "/checkpoint", self.sign(origin, size - 5, old_root))
        p = self.witness("w1", t, state)
        self.assertEqual(p.returncode, 1)
        self.assertIn("rollback", p.stderr)
        trusted = os.path.join(self.tmp, "trusted-checkpoint")
        write(trusted, note)
        p = run("audit", "verify", "--key", self.vkey, "--trusted-checkpoint", trusted, t, check=1)
        self.assertIn("rollback", p.stdout)

    # --- tamper matrix --------------------------------------------------------------------

    def test_tamper_matrix(self):
        cases = {}
        t = self.copy()
        data = bytearray(read(t + "/tile/0/001", "rb"))
        data[40] ^= 0x01
        write(t + "/tile/0/001", bytes(data))
        cases["flipped hash"] = (t, "bit flip")
        t = self.copy()
        os.remove(t + "/tile/0/001")
        cases["missing tile"] = (t, "tile missing")
        t = self.copy()
        os.remove(t + "/tile/entries/000")
        cases["missing bundle"] = (t, "tile missing")
        t = self.copy()
        shutil.copy(os.path.join(self.tiles["b"], "tile/entries/000"), t + "/tile/entries/000")
        cases["replaced bundle"] = (t, "bit flip")
        t = self.copy()
        note = read(t + "/checkpoint")
        write(t + "/checkpoint", note.replace(note.split("\n")[1], "1", 1))
        cases["edited checkpoint"] = (t, "bad signature")
        t = self.copy()
        shutil.copy(os.path.join(self.tiles["b"], "checkpoint"), t + "/checkpoint")
        cases["other log's checkpoint"] = (t, "")
        for name, (path, kind) in cases.items():
            p = run("audit", "verify", "--key", self.vkey, path)
            self.assertEqual(p.returncode, 1, name + ": " + p.stdout + p.stderr)
            self.assertIn(kind, p.stdout, name)

    # --- over HTTP ------------------------------------------------------------------------

    def test_nginx_serves_tiles(self):
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                          else None)
        if not nginx:
            self.skipTest("nginx is not installed (Debian package nginx; CI installs it)")
        prefix = tempfile.mkdtemp(dir=self.tmp)
        for attempt in range(5):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            conf = os.path.join(prefix, "nginx.conf")
            temp = os.path.join(prefix, "temp")
            write(conf, """daemon off;
master_process off;
pid %(p)s/nginx.pid;
error_log %(p)s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %(t)s/body; proxy_temp_path %(t)s/proxy;
  fastcgi_temp_path %(t)s/fastcgi; uwsgi_temp_path %(t)s/uwsgi; scgi_temp_path %(t)s/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:%(port)d;
    root %(root)s;
    location ~ /checkpoint$ { default_type "text/plain; charset=utf-8"; add_header Cache-Control "no-cache"; }
  }
}
""" % {"p": prefix, "t": temp, "port": port, "root": os.path.dirname(self.tiles["a"])})
            os.makedirs(temp, exist_ok=True)
            proc = subprocess.Popen([nginx, "-p", prefix, "-c", conf, "-e", prefix + "/error.log"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            up = False
            for _ in range(100):
                if proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    up = True
                    break
                except OSError:
                    time.sleep(0.05)
            if up:
                break
            proc.kill()
            proc.wait()
        else:
            self.fail("nginx did not start: " + read(prefix + "/error.log"))
        try:
            url = "http://127.0.0.1:%d/%s" % (port, os.path.basename(self.tiles["a"]))
            p = run("audit", "verify", "--key", self.vkey, url, check=0)
            self.assertIn("valid", p.stdout)
            run("audit", "verify", "--key", self.vkey, "--no-entries", url + "/", check=0)
            p = run("audit", "prove", "--index", "3", "--key", self.vkey, url, check=0)
            self.assertIn("c2sp.org/tlog-proof@v1", p.stdout)
            state = os.path.join(self.tmp, "http-monitor.json")
            p = run("audit", "monitor", "--key", self.vkey, "--state", state, url, check=0)
            self.assertIn('"event":"summary"', p.stdout)
            p = run("audit", "verify", "--key", self.vkey,
                    "http://127.0.0.1:%d/no-such-log" % port)
            self.assertEqual(p.returncode, 1)
            self.assertIn("missing", p.stdout)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    # --- monitor --------------------------------------------------------------------------

    def test_monitor(self):
        state = os.path.join(self.tmp, "monitor.json")
        a = self.copy("a")
        p = run("audit", "monitor", "--key", self.vkey, "--state", state, a, self.tiles["b"],
                check=0)
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual([x["event"] for x in lines], ["summary", "summary"])
        self.assertEqual(sum(lines[0]["decisions"].values()), 700)
        self.assertGreater(lines[0]["new_records"], 700)
        p = run("audit", "monitor", "--key", self.vkey, "--state", state, a, self.tiles["b"],
                check=0)
        self.assertEqual([json.loads(x)["new_records"] for x in p.stdout.splitlines()], [0, 0])
        # The origin's tree is replaced by a fork: reported, and the state keeps the honest one.
        forked = self.fork("a")
        shutil.rmtree(a)
        shutil.copytree(forked, a)
        p = run("audit", "monitor", "--key", self.vkey, "--state", state, a, check=1)
        finding = json.loads(p.stdout.splitlines()[0])
        self.assertEqual(finding["event"], "finding")
        self.assertEqual(finding["status"], "equivocation")
        run("audit", "monitor", "--key", self.vkey, "--state", state, a, check=1)


if __name__ == "__main__":
    CLI, SRC = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
