"""tag / Tagger and the audit functions: agreement with the CLI, fail-closed errors, tampering."""
import json
import pathlib
from typing import Any, Dict, List, Tuple

import pytest

import residency
from conftest import POLICIES, run_cli

TAGGING = POLICIES / "tagging.yaml"

TAG_REQUESTS: List[Dict[str, Any]] = [
    {"tenant": "acme-kr", "payload": "제 전화번호는 010-1234-5678 입니다"},
    {"peer": "198.51.100.7", "payload": "mail anna.schmidt@example.de please"},
    {"headers": {"x-user-country": "JP"}, "payload": "card 4111 1111 1111 1111"},
    {"payload": ["no personal ", "data here"]},
    {},
]


def test_tag_equals_cli(cli: str, tmp_path: pathlib.Path) -> None:
    lines = tmp_path / "in.jsonl"
    lines.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in TAG_REQUESTS),
                     encoding="utf-8")
    out = run_cli(cli, "tag", "--config", str(TAGGING), str(lines))
    assert out.returncode == 0, out.stderr
    expected = [json.loads(l) for l in out.stdout.splitlines()]
    tagger = residency.Tagger(str(TAGGING))
    for req, exp in zip(TAG_REQUESTS, expected, strict=True):
        got = tagger.tag(req)
        assert {k: v for k, v in got.items() if k != "classes"} == exp
        assert residency.tag(str(TAGGING), req) == got


def test_tag_semantics() -> None:
    r = residency.tag(str(TAGGING), TAG_REQUESTS[0])
    assert r["user"] == {"jurisdiction": "KR", "provenance": "verified"}
    assert "kr_phone" in r["detectors"]
    assert "personal" in r["classes"] and "KR:personal" in r["tags"]
    claimed = residency.tag(str(TAGGING), TAG_REQUESTS[2])
    assert claimed["user"]["provenance"] == "claimed"
    assert "card" in claimed["detectors"] and "personal.financial" in claimed["classes"]
    empty = residency.tag(str(TAGGING), {})
    assert empty["tags"] == [] and empty["user"]["jurisdiction"] is None


def test_tag_input_errors() -> None:
    tagger = residency.Tagger(str(TAGGING))
    with pytest.raises(ValueError, match="payloads"):
        tagger.tag({"payloads": "x"})
    with pytest.raises(ValueError, match="peer"):
        tagger.tag({"peer": "not-an-ip"})
    with pytest.raises(TypeError):
        tagger.tag({"payload": [1, 2]})
    with pytest.raises(ValueError):
        residency.Tagger(str(POLICIES / "kr.yaml"))  # not a tagging file


def test_forced_scalar_kernel_gives_the_same_tags() -> None:
    best = residency.Tagger(str(TAGGING))
    scalar = residency.Tagger(str(TAGGING), kernel="scalar")
    assert scalar.kernel == "scalar"
    for req in TAG_REQUESTS:
        assert scalar.tag(req) == best.tag(req)


@pytest.fixture
def audited(policies: residency.Policies,
            tmp_path: pathlib.Path) -> Tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """Keys, and a closed log with three audited decisions; returns (vkey file, audit dir)."""
    vkey = residency.audit_keygen("py1", str(tmp_path / "keys"))
    audit_dir = tmp_path / "audit"
    with residency.AuditLog(str(audit_dir), str(tmp_path / "keys" / "py1.pem"),
                            durability="sync") as log:
        assert log.origin.startswith("py1/")
        indexes = []
        for dest in ("ncp:FKR", "aws:us-east-1", "aws:ap-northeast-2"):
            d = policies.check(
                {"kind": "dataset", "action": "store", "now": "2026-06-30T00:00:00Z",
                 "destination": dest, "operator": {"id": "kr-bank", "country": "KR"},
                 "dataset": {"id": "ds", "location": "ncp:FKR", "partitions": [
                     {"classes": ["personal"], "origin": "KR", "subjects": 10}]}},
                audit=log, principal="alice@example.com")
            assert d["audit"]["log"] == log.log_dir
            indexes.append(d["audit"]["index"])
        assert indexes == sorted(set(indexes))
        log_dir = log.log_dir
    assert log.closed
    with pytest.raises(RuntimeError):
        policies.check("{}", audit=log)  # a closed log cannot record: refused
    assert vkey.startswith("py1+")
    return tmp_path / "keys" / "py1.vkey", audit_dir, pathlib.Path(log_dir)


def test_audit_verify_valid_then_tampered(audited: Tuple[pathlib.Path, pathlib.Path, pathlib.Path], cli: str) -> None:
    vkey_file, audit_dir, log_dir = audited
    report = residency.audit_verify(str(audit_dir), [str(vkey_file)])
    assert report["ok"] is True
    [log] = report["logs"]
    assert log["status"] == "valid" and log["records"] >= 3 and log["checkpoints"] >= 1
    # Same report as the CLI.
    out = run_cli(cli, "audit", "verify", "--format", "json", "--key", str(vkey_file),
                  str(audit_dir))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == report

    # A vkey string works as well as the file; a different key does not verify.
    assert residency.audit_verify(str(audit_dir), vkey_file.read_text().strip())["ok"]
    other = residency.audit_keygen("py1", str(audit_dir.parent / "other"))
    wrong = residency.audit_verify(str(audit_dir), [other])
    assert wrong["ok"] is False and wrong["logs"][0]["status"] != "valid"

    segment = sorted(log_dir.glob("seg-*"))[0]
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x01
    segment.write_bytes(bytes(data))
    tampered = residency.audit_verify([str(audit_dir)], [str(vkey_file)])
    assert tampered["ok"] is False
    assert tampered["logs"][0]["status"] == "invalid"
    assert tampered["logs"][0]["findings"]


def test_audit_verify_cannot_run_is_value_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError):
        residency.audit_verify(str(tmp_path), ["not-a-key-file"])
