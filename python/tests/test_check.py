"""Policies.check: decisions as dicts, equal to `residency check`; input errors; `now`; threads."""
import copy
import datetime
import json
import pathlib
import threading
from typing import Any

import pytest

import residency
from conftest import POLICIES, example_requests, run_cli

NOW = "2026-06-30T00:00:00Z"

CREDIT_LEDGER = {
    "kind": "dataset",
    "action": "store",
    "now": NOW,
    "destination": "ncp:FKR",
    "operator": {"id": "kr-bank", "country": "KR", "sectors": ["kr_financial"]},
    "dataset": {
        "id": "kr-credit-ledger",
        "location": "ncp:FKR",
        "partitions": [{"classes": ["personal.credit"], "origin": "KR", "subjects": 2400000}],
    },
}


def at(request: Any, destination: str) -> Any:
    r = copy.deepcopy(request)
    r["destination"] = destination
    return r



@pytest.mark.parametrize("path", example_requests(), ids=lambda p: getattr(p, "stem", "none"))
def test_check_equals_cli_for_every_example_request(policies: residency.Policies, cli: str, path: pathlib.Path) -> None:
    out = run_cli(cli, "check", "--policies", str(POLICIES), str(path))
    assert out.returncode in (0, 1, 3), out.stderr
    expected = json.loads(out.stdout)
    assert policies.check(path.read_text(encoding="utf-8")) == expected


def test_dict_request_equals_cli_on_stdin(policies: residency.Policies, cli: str) -> None:
    text = json.dumps(CREDIT_LEDGER)
    out = run_cli(cli, "check", "--policies", str(POLICIES), "-", stdin=text)
    assert policies.check(CREDIT_LEDGER) == json.loads(out.stdout)


def test_decision_shape(policies: residency.Policies) -> None:
    d = policies.check(CREDIT_LEDGER)
    # A kr_financial operator keeping credit data on a Korean cloud (not on its premises):
    # kr.fin.cloud_report allows it with the report to the supervisor as an obligation.
    assert d["decision"] == "allow_with_obligations", d
    assert [o["id"] for o in d["obligations"]] == ["kr.fin.cloud_report"], d
    for key in ("reasons", "obligations", "suggested_locations", "tags", "lifted", "dry_run"):
        assert isinstance(d[key], list)
    assert d["now"] == NOW
    assert d["policy_digest"] == policies.digest
    assert "KR:personal.credit" in d["tags"]


def test_credit_data_stays_in_korea(policies: residency.Policies) -> None:
    abroad = policies.check(at(CREDIT_LEDGER, "aws:us-east-1"))
    home = policies.check(CREDIT_LEDGER)
    assert abroad["decision"] == "deny"
    assert abroad["reasons"] and all(r["effect"] for r in abroad["reasons"])
    assert abroad["suggested_locations"], abroad
    assert home["decision"] == "allow_with_obligations", home
    # A suggested location is one the same request may use.
    suggested = policies.check(at(CREDIT_LEDGER, abroad["suggested_locations"][0]))
    assert suggested["decision"] != "deny"


def test_suggest_false_leaves_suggestions_empty(policies: residency.Policies) -> None:
    d = policies.check(at(CREDIT_LEDGER, "aws:us-east-1"), suggest=False)
    assert d["decision"] == "deny" and d["suggested_locations"] == []


def test_unknown_location_fails_closed(policies: residency.Policies) -> None:
    d = policies.check(at(CREDIT_LEDGER, "nowhere:moon-1"))
    assert d["decision"] == "deny"


def test_unknown_key_is_value_error_naming_it(policies: residency.Policies) -> None:
    bad = dict(CREDIT_LEDGER, destinaton="aws:us-east-1")
    with pytest.raises(ValueError, match="destinaton"):
        policies.check(bad)


def test_wrong_type_and_bad_text_are_value_errors(policies: residency.Policies) -> None:
    with pytest.raises(ValueError):
        policies.check(dict(CREDIT_LEDGER, kind=3))
    with pytest.raises(ValueError):
        policies.check('{"kind": "dataset", "kind": "model"}')  # duplicate key
    with pytest.raises(ValueError):
        policies.check({"kind": "dataset", "dataset": {"partitions": [{"subjects": float("nan")}]}})
    with pytest.raises(TypeError):
        policies.check(["not", "a", "request"])  # type: ignore[arg-type]


def test_audit_is_an_audit_log_or_none(policies: residency.Policies, tmp_path: pathlib.Path) -> None:
    assert policies.check(CREDIT_LEDGER, audit=None)["decision"] == policies.check(CREDIT_LEDGER)["decision"]
    for wrong in ("audit.log", 0, policies):
        with pytest.raises(TypeError, match="audit must be an AuditLog or None, not " + type(wrong).__name__):
            policies.check(CREDIT_LEDGER, audit=wrong)  # type: ignore[arg-type]
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(CREDIT_LEDGER) + "\n", encoding="utf-8")
    with pytest.raises(TypeError, match="audit must be an AuditLog or None, not str"):
        policies.check_jsonl(src, tmp_path / "out.jsonl", audit="audit.log")  # type: ignore[arg-type]


def test_now_is_used_only_when_the_request_has_none(policies: residency.Policies) -> None:
    bare = {k: v for k, v in CREDIT_LEDGER.items() if k != "now"}
    assert policies.check(bare, now="2027-01-02T03:04:05Z")["now"] == "2027-01-02T03:04:05Z"
    aware = datetime.datetime(2027, 1, 2, 12, 0, tzinfo=datetime.timezone.utc)
    assert policies.check(bare, now=aware)["now"] == "2027-01-02T12:00:00Z"
    assert policies.check(CREDIT_LEDGER, now="2027-01-02T03:04:05Z")["now"] == NOW
    with pytest.raises(ValueError):
        policies.check(bare, now="yesterday")
    with pytest.raises(ValueError):
        policies.check(bare, now=datetime.datetime(2027, 1, 2))


def test_threads_get_the_same_answers(policies: residency.Policies) -> None:
    requests = [at(CREDIT_LEDGER, loc) for loc in ("ncp:FKR", "aws:us-east-1", "aws:ap-northeast-2")]
    expected = [policies.check(r) for r in requests]
    results, errors = [], []

    def work() -> None:
        try:
            for _ in range(50):
                results.append([policies.check(r) for r in requests])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 200
    assert all(r == expected for r in results)


def test_lang_ko_gives_korean_texts_and_the_same_decision(policies: residency.Policies) -> None:
    ledger = at(CREDIT_LEDGER, "aws:ap-northeast-1")
    en = policies.check(ledger)
    ko = policies.check(ledger, lang="ko")
    assert ko["decision"] == en["decision"] == "deny"
    assert ko["suggested_locations"] == en["suggested_locations"]
    by_rule = {r["rule"]: r for r in ko["reasons"]}
    assert "전자금융감독규정" in by_rule["kr.fin.localisation"]["citation"]
    assert by_rule["kr.fin.localisation"]["message"] != {r["rule"]: r for r in en["reasons"]}["kr.fin.localisation"]["message"]
    explained = policies.explain(ledger, format="text", lang="ko")
    assert "전자금융감독규정" in explained
    with pytest.raises(ValueError, match="language code"):
        policies.check(ledger, lang="Korean")
