"""Policies.explain: the library's Explain, equal to `residency explain`; reasons' triggers."""
import json
import pathlib
from typing import Any, Dict, Iterator

import pytest

import residency
from conftest import POLICIES, example_requests, run_cli


@pytest.mark.parametrize("path", example_requests(), ids=lambda p: getattr(p, "stem", "none"))
def test_explain_equals_cli_for_every_example_request(policies: residency.Policies, cli: str, path: pathlib.Path) -> None:
    out = run_cli(cli, "explain", "--policies", str(POLICIES), "--format", "json", str(path))
    assert out.returncode in (0, 1, 3), out.stderr
    got = policies.explain(path.read_text())
    assert got == json.loads(out.stdout)
    assert got["decision"] == policies.check(path.read_text())
    text = run_cli(cli, "explain", "--policies", str(POLICIES), str(path))
    assert policies.explain(path.read_text(), format="text") == text.stdout


KR_TO_TOKYO = {
    "kind": "dataset", "action": "transfer", "now": "2026-06-30T00:00:00Z",
    "destination": "aws:ap-northeast-1",
    "recipient": {"id": "Tokyo KK", "country": "JP", "role": "processor"},
    "evidence": [{"type": "consent.cross_border", "recipient": "Osaka KK", "country": "JP"}],
    "dataset": {"id": "kr-customers", "location": "ncp:KR",
                "partitions": [{"classes": ["personal"], "origin": "KR", "subjects": 10}]},
}


def facts(tree: Dict[str, Any]) -> Iterator[str]:
    yield from tree.get("facts", [])
    for child in tree.get("children", []):
        yield from facts(child)


def test_a_consent_for_another_recipient_is_named(policies: residency.Policies) -> None:
    e = policies.explain(KR_TO_TOKYO)
    assert e["decision"]["decision"] == "deny"
    rule = next(r for r in e["rules"] if r["rule"] == "kr.cross_border")
    assert rule["deciding"]
    unit = rule["units"][0]
    assert (unit["artifact"], unit["tag"], unit["location"]) == (
        "kr-customers", "KR:personal", "aws:ap-northeast-1")
    lines = [f for a in unit["alternatives"] for f in facts(a["when"])]
    assert any("is bound to recipient `Osaka KK`; the request's recipient is `Tokyo KK`" in f
               for f in lines), lines


def test_reasons_name_their_trigger_and_obligations_their_text(policies: residency.Policies) -> None:
    d = policies.check(KR_TO_TOKYO)
    reason = next(r for r in d["reasons"] if r["rule"] == "kr.cross_border")
    assert reason["trigger"] == {"kind": "dataset", "artifact": "kr-customers",
                                 "tag": "KR:personal", "location": "aws:ap-northeast-1"}
    prompt = {"kind": "compute", "now": "2026-06-30T00:00:00Z",
              "operator": {"id": "acme-chat", "country": "KR"},
              "compute": {"job": "inference", "location": "ncp:KR",
                          "user": {"jurisdiction": "KR", "provenance": "verified"},
                          "prompt": {"classes": ["personal"]}}}
    served = policies.check(prompt)
    assert served["decision"] == "allow_with_obligations", served
    for o in served["obligations"]:
        assert o["text"] and o["id"] and o["policy"], o


def test_bad_arguments(policies: residency.Policies) -> None:
    with pytest.raises(residency.RequestError):
        policies.explain({"kind": "datset"})
    with pytest.raises(ValueError, match="format must be"):
        policies.explain(KR_TO_TOKYO, format="html")
