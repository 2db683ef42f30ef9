"""The module's exceptions: residency.Error and its kinds, each with a message and the fields a
caller needs (diagnostics of a policy error, the field and position of a request error)."""
import pathlib
from typing import Callable, List

import pytest

import residency
from conftest import POLICIES
from test_policies import BROKEN_POLICY, policy_dir_with

GOOD = {
    "kind": "dataset",
    "action": "store",
    "now": "2026-06-30T00:00:00Z",
    "destination": "ncp:KR",
    "dataset": {"id": "d", "partitions": [{"classes": ["personal"], "origin": "KR",
                                           "subjects": 10}]},
}


def test_the_hierarchy_keeps_the_builtins_callers_already_catch() -> None:
    assert issubclass(residency.Error, Exception)
    for kind, builtin in ((residency.PolicyError, ValueError),
                          (residency.RequestError, ValueError),
                          (residency.AuditError, RuntimeError)):
        assert issubclass(kind, residency.Error)
        assert issubclass(kind, builtin)
        assert kind.__module__ == "residency"
        assert kind.__doc__


def test_policy_error_carries_every_diagnostic(tmp_path: pathlib.Path) -> None:
    d = policy_dir_with(tmp_path, "broken.yaml", BROKEN_POLICY)
    with pytest.raises(residency.PolicyError) as e:
        residency.load_policies([str(d)])
    assert str(e.value).startswith(str(d / "broken.yaml") + ":9:")
    errors = [x for x in e.value.diagnostics if x["severity"] == "error"]
    assert errors
    first = errors[0]
    assert first["file"] == str(d / "broken.yaml")
    assert (first["line"], first["code"]) == (9, "bad-value")
    assert first["column"] > 0 and first["message"]


def test_request_error_names_the_field_and_position(policies: residency.Policies) -> None:
    bad = dict(GOOD, dataset={"id": "d", "partitions": [{"classes": ["personal"],
                                                         "origin": "KR", "subject": 3}]})
    with pytest.raises(residency.RequestError) as e:
        policies.check(bad)
    assert e.value.path == "dataset.partitions[0].subject"
    assert (e.value.line, e.value.column) == (0, 0)  # a dict goes in as JSON: no position
    assert "unknown key" in str(e.value)
    yaml = ("kind: dataset\naction: store\ndestination: ncp:KR\ndataset:\n  id: d\n"
            "  partitions:\n    - {classes: [personal], origin: KR, subjects: many}\n")
    with pytest.raises(residency.RequestError) as y:
        policies.check(yaml)
    assert y.value.path == "dataset.partitions[0].subjects"
    assert y.value.line == 7 and y.value.column > 1
    with pytest.raises(residency.RequestError) as s:
        policies.where("kind: dataset\ndataset: {id: [\n")
    assert s.value.path == "" and s.value.line > 0


def test_an_undecidable_request_is_a_request_error_too(policies: residency.Policies) -> None:
    # Parses, but Evaluate refuses it: a dataset request with no location to check.
    req = {"kind": "dataset", "action": "store",
           "dataset": {"id": "d", "partitions": [{"classes": ["personal"], "origin": "KR"}]}}
    with pytest.raises(residency.RequestError) as e:
        policies.check(req)
    assert "needs `destination` or `dataset.location`" in str(e.value)
    assert (e.value.path, e.value.line) == ("", 0)


def test_missing_files_are_file_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        residency.Tagger(str(tmp_path / "tagging.yaml"))
    with pytest.raises(FileNotFoundError):
        residency.load_policies(str(tmp_path / "policies"))


def test_audit_errors_are_audit_errors_with_a_message(tmp_path: pathlib.Path) -> None:
    with pytest.raises(residency.AuditError) as e:
        residency.AuditLog(str(tmp_path / "audit"), str(tmp_path / "missing.pem"))
    assert str(e.value).startswith("audit log: ")
    assert "missing.pem" in str(e.value)


def test_every_error_has_a_message(policies: residency.Policies) -> None:
    calls: List[Callable[[], object]] = [
                 lambda: policies.check("{}"), lambda: policies.check("kind: dataset\n"),
                 lambda: policies.check("---\n---\n"), lambda: policies.where({"kind": "x"})]
    for call in calls:
        with pytest.raises(residency.Error) as e:
            call()
        assert str(e.value).strip()


def test_no_public_name_shadows_a_builtin() -> None:
    import builtins

    assert not set(residency.__all__) & set(dir(builtins)), residency.__all__


def test_the_former_names_still_work_and_say_what_replaced_them(
        policies: residency.Policies) -> None:
    with pytest.warns(DeprecationWarning, match="load_policies"):
        old = residency.compile([str(POLICIES)])
    assert old.digest == policies.digest
