"""The typed Decision: attributes read the C++ decision; to_dict() is the CLI's JSON; a Mapping
request is read in C++ with the parser's validation and field paths; a Decision pickles."""
import collections.abc
import json
import math
import pathlib
import pickle
import re
import types
from typing import Any, Dict, Iterator

import pytest
import yaml  # type: ignore[import]

import residency
from conftest import POLICIES, example_requests, run_cli


class FrozenRequest(Dict[str, Any]):
    pass


class ReadOnly(collections.abc.Mapping[str, Any]):
    """A Mapping that is not a dict (as a pipeline's config objects often are)."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class Yaml12Loader(yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML reads YAML 1.1, where `2.0e19` is text; the requests mean YAML 1.2's number."""


Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."))


def load(path: pathlib.Path) -> Dict[str, Any]:
    data = yaml.load(path.read_text(), Loader=Yaml12Loader)
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("path", example_requests(), ids=lambda p: getattr(p, "stem", "none"))
def test_attributes_agree_with_the_cli_json(policies: residency.Policies, cli: str,
                                            path: pathlib.Path) -> None:
    out = run_cli(cli, "check", "--policies", str(POLICIES), str(path))
    want = json.loads(out.stdout)
    d = policies.check(load(path))
    assert isinstance(d, residency.Decision)
    assert d.to_dict() == want
    assert json.loads(d.to_json()) == want
    assert d == want
    assert isinstance(d.decision, residency.Effect)
    assert d.decision == want["decision"] and d.decision.value == want["decision"]
    assert d.allowed == (want["decision"] in ("allow", "allow_with_obligations"))
    assert [r.to_dict() for r in d.reasons] == want["reasons"]
    for r, w in zip(d.reasons, want["reasons"]):
        assert (r.policy, r.rule, r.basis, r.citation, r.message) == (
            w["policy"], w["rule"], w["basis"], w["citation"], w["message"])
        assert r.effect == w["effect"] and isinstance(r.effect, residency.Effect)
        assert r.trigger == w.get("trigger", {})
        assert r.alternative == w.get("alternative", "")
    assert [o.to_dict() for o in d.obligations] == want["obligations"]
    assert [(o.id, o.policy, o.text) for o in d.obligations] == [
        (w["id"], w["policy"], w["text"]) for w in want["obligations"]]
    assert d.suggested_locations == want["suggested_locations"]
    assert d.tags == want["tags"]
    assert d.lifted == want["lifted"]
    assert [r.to_dict() for r in d.dry_run] == want["dry_run"]
    assert d.now == want["now"]
    assert d.policy_digest == want["policy_digest"]
    assert d.audit is None
    assert d["decision"] == want["decision"]
    text = repr(d)
    assert text.startswith("Decision(" + want["decision"])
    for w in want["reasons"]:
        assert w["rule"] in text


def test_any_mapping_decides_as_the_same_dict_and_as_its_text(
        policies: residency.Policies) -> None:
    for path in sorted((POLICIES.parent / "examples" / "requests").glob("*.yaml")):
        data = load(path)
        want = policies.check(path.read_text())
        assert policies.check(data) == want
        assert policies.check(ReadOnly(data)) == want
        assert policies.check(types.MappingProxyType(data)) == want
        assert policies.check(FrozenRequest(data)) == want


def test_a_mapping_error_names_the_field_path_without_a_line(
        policies: residency.Policies) -> None:
    base = load(POLICIES.parent / "examples" / "requests" / "kr-prompt-to-tokyo.yaml")
    cases = [
        (dict(base, compute=dict(base["compute"], prompt={"classes": "personal"})),
         "compute.prompt.classes"),
        (dict(base, operator={"id": {"a", "b"}}), "operator.id"),
        (dict(base, operator={"id": "x", "country": math.nan}), "operator.country"),
        (dict(base, compute=dict(base["compute"], inputs=[{"model": {1: "x"}}])),
         "compute.inputs[0].model"),
        (dict(base, colour="red"), "colour"),
        (dict(base, operator={"id": "x", "country": 10 ** 30}), "operator.country"),
    ]
    for request, path in cases:
        with pytest.raises(residency.RequestError) as e:
            policies.check(request)
        assert e.value.path == path, str(e.value)
        assert (e.value.line, e.value.column) == (0, 0)
        assert str(e.value)
    deep: Any = "x"
    for _ in range(100):
        deep = [deep]
    with pytest.raises(residency.RequestError, match="deeper"):
        policies.check(dict(base, tags=deep))
    # Text keeps its line and column.
    with pytest.raises(residency.RequestError) as t:
        policies.check(yaml.safe_dump(cases[0][0]))
    assert t.value.path == "compute.prompt.classes" and t.value.line > 0
    with pytest.raises(TypeError):
        policies.check(42)  # type: ignore[arg-type]


def test_check_many_gives_decisions_in_order(policies: residency.Policies) -> None:
    paths = sorted((POLICIES.parent / "examples" / "requests").glob("*.yaml"))
    requests = [load(p) for p in paths] * 5
    many = policies.check_many(requests, threads=2)
    assert all(isinstance(d, residency.Decision) for d in many)
    assert many == [policies.check(r) for r in requests]


def test_a_decision_pickles_as_its_json(policies: residency.Policies) -> None:
    for path in sorted((POLICIES.parent / "examples" / "requests").glob("*.yaml")):
        d = policies.check(load(path))
        back = pickle.loads(pickle.dumps(d))
        assert isinstance(back, residency.Decision)
        assert back == d and back.to_json() == d.to_json()
        assert [r.trigger for r in back.reasons] == [r.trigger for r in d.reasons]
        assert back.decision is d.decision
    state = pickle.dumps(policies.check(load(paths_first())))
    with pytest.raises(ValueError, match="decision JSON"):
        pickle.loads(state.replace(b"policy_digest", b"policy_digesT"))


def paths_first() -> pathlib.Path:
    return sorted((POLICIES.parent / "examples" / "requests").glob("*.yaml"))[0]


def test_a_mapping_is_written_exactly_escapes_and_numbers_included(
        policies: residency.Policies) -> None:
    import json as js
    odd_id = 'x"\\\n\u00e9\x01\u4e2d\U0001F600'
    request = {"kind": "model", "action": "deploy", "now": "2026-06-30T00:00:00Z",
               "destination": "aws:eu-central-1",
               "model": {"id": odd_id, "artifact": "weights", "location": "aws:us-east-1",
                         "training_flops": 2.5e26,
                         "trained_on": [{"id": "d", "partitions": [
                             {"classes": ["personal"], "origin": "US", "subjects": 3.0,
                              "cumulative_subjects": 1e-7}]}]}}
    mine = policies.check(request)
    assert mine == policies.check(js.dumps(request))
    assert mine.to_json() == policies.check(js.dumps(request)).to_json()


def test_a_mapping_escapes_each_special_character_wherever_it_sits(
        policies: residency.Policies) -> None:
    # The writer scans eight bytes at a time: a character that needs escaping (or a multibyte
    # one) at any offset within or after a word must come out exactly as json.dumps writes it.
    import json as js
    for special in ['"', '\\', '\n', '\x01', '\x1f', ' ', '\x7f', '\u00e9', '\U0001F600']:
        for at in range(0, 20):
            odd_id = "m" * at + special + "n" * (19 - at)
            request = {"kind": "model", "action": "deploy", "now": "2026-06-30T00:00:00Z",
                       "destination": "aws:eu-central-1",
                       "model": {"id": odd_id, "artifact": "weights",
                                 "location": "aws:us-east-1", "trained_on": [
                                     {"id": odd_id, "partitions": [
                                         {"classes": ["personal"], "origin": "KR"}]}]}}
            mine = policies.check(request)
            theirs = policies.check(js.dumps(request))
            assert mine.to_json() == theirs.to_json(), (special, at)
            assert odd_id in mine.to_json() or js.dumps(odd_id)[1:-1] in mine.to_json(), (
                special, at)


def test_a_mapping_reads_str_subclasses_and_non_ascii_text_like_plain_str(
        policies: residency.Policies) -> None:
    # ASCII str is read in place; a str subclass or non-ASCII text goes through CPython's UTF-8.
    import json as js

    class Text(str):
        pass

    for model_id in [Text("chat-large"), "chat-lärge", Text("모델-7b"), "chat-large"]:
        request = {Text("kind"): Text("model"), "action": "deploy",
                   "now": "2026-06-30T00:00:00Z", "destination": Text("aws:eu-central-1"),
                   "model": {"id": model_id, "artifact": "weights",
                             "location": "aws:us-east-1", "trained_on": [
                                 {"id": "d", "partitions": [
                                     {"classes": [Text("personal")], "origin": "KR"}]}]}}
        mine = policies.check(request)
        assert mine.to_json() == policies.check(js.dumps(request)).to_json(), model_id
        assert str(model_id) in mine.to_json()
