"""Thin wrappers over the library: Router (routing), PolicyStore (hot reload), Policies.diff —
each compared with the library's other answers or the CLI, never a second implementation."""
import json
import pathlib
import shutil
from typing import Any, Dict

import pytest

import residency
from conftest import POLICIES, run_cli

NOW = "2026-06-30T00:00:00Z"
MODEL = {"id": "chat", "artifact": "weights", "trained_on": []}
OPERATOR = {"id": "acme-chat", "country": "KR"}


def prompt(location: str, classes: Any) -> Dict[str, Any]:
    return {"kind": "compute", "now": NOW, "operator": OPERATOR,
            "compute": {"job": "inference", "location": location,
                        "inputs": [{"model": dict(MODEL, location=location)}],
                        "user": {"jurisdiction": "KR", "provenance": "verified"},
                        "prompt": {"classes": classes}}}


@pytest.mark.parametrize("classes", [["personal"], ["public"], ["personal.health"]])
def test_router_allows_where_where_allows_and_prefers_as_check_decides(
        policies: residency.Policies, classes: Any) -> None:
    router = residency.Router(policies)
    model = router.add_model(MODEL)
    op = router.add_operator(OPERATOR)
    got = router.route("KR", "verified", classes, model=model, operator=op, now=NOW,
                       preferred="aws:ap-northeast-1")
    where = policies.where(prompt("aws:ap-northeast-1", classes), include_reserved=True)
    assert set(got["allowed"]) == {a["location"] for a in where["allowed"]}
    decided = policies.check(prompt("aws:ap-northeast-1", classes))
    assert got["preferred"] == decided.decision
    assert isinstance(got["preferred"], residency.Effect)
    assert router.route("KR", "verified", classes, model=model, operator=op,
                        now=NOW)["preferred"] is None


def test_router_refuses_what_it_cannot_route(policies: residency.Policies) -> None:
    router = residency.Router(policies)
    with pytest.raises(residency.RequestError) as e:
        router.add_model({"id": "x", "artifact": "wheels"})
    assert e.value.path == "model.artifact"
    with pytest.raises(residency.RequestError):
        router.add_operator({"id": "x", "colour": "red"})
    with pytest.raises(residency.RequestError) as unsupported:
        router.add_model({"id": {"a set"}, "artifact": "weights"})
    assert unsupported.value.path == "model.id" and unsupported.value.line == 0
    with pytest.raises(ValueError):
        router.route("Narnia", "verified", ["personal"])
    with pytest.raises(ValueError):
        router.route("KR", "verified", ["astrology"])
    with pytest.raises(ValueError):
        router.route("KR", "verified", ["personal"], model=7)
    with pytest.raises(ValueError):
        router.route("KR", preferred="mars:base-1")


def edited_copy(tmp_path: pathlib.Path, name: str, old: str, new: str) -> pathlib.Path:
    d = tmp_path / name
    shutil.copytree(POLICIES, d, ignore=shutil.ignore_patterns("tests", "schema"))
    text = (d / "kr.yaml").read_text(encoding="utf-8")
    assert old in text
    (d / "kr.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return d


def test_policy_store_reloads_atomically_and_keeps_the_last_good_set(
        tmp_path: pathlib.Path) -> None:
    d = tmp_path / "live"
    shutil.copytree(POLICIES, d, ignore=shutil.ignore_patterns("tests", "schema"))
    store = residency.PolicyStore(str(d))
    first = store.get()
    assert store.reload() is False and store.generation == 0  # nothing changed
    kr = d / "kr.yaml"
    kr.write_text(kr.read_text(encoding="utf-8") + "\n# a comment changes no decision\n",
                  encoding="utf-8")
    assert store.reload() is False
    kr.write_text(kr.read_text(encoding="utf-8").replace("otherwise: deny", "otherwise: escalate",
                                                         1), encoding="utf-8")
    assert store.reload() is True and store.generation == 1
    second = store.get()
    assert second.digest != first.digest
    kr.write_text("kind: policy\nid: [\n", encoding="utf-8")
    with pytest.raises(residency.PolicyError):
        store.reload()
    assert store.get().digest == second.digest and store.generation == 1
    assert first.digest != second.digest  # a Policies taken before stays as it was


def test_diff_equals_the_cli(cli: str, policies: residency.Policies,
                             tmp_path: pathlib.Path) -> None:
    new_dir = edited_copy(tmp_path, "new", "otherwise: deny", "otherwise: escalate")
    new = residency.load_policies(str(new_dir))
    got = policies.diff(new, now=NOW, max_evaluations=20000)
    out = run_cli(cli, "diff", "--format", "json", "--now", NOW, "--max-evaluations", "20000",
                  str(POLICIES), str(new_dir))
    assert out.returncode == 0, out.stderr
    assert got == json.loads(out.stdout)
    assert got["widened"], got  # deny -> escalate somewhere
    text = policies.diff(new, now=NOW, max_evaluations=20000, format="text")
    assert isinstance(text, str) and "widened" in text.lower()
    assert policies.diff(policies, now=NOW)["changes"] == []
    with pytest.raises(ValueError):
        policies.diff(new, format="yaml")  # type: ignore[call-overload]
