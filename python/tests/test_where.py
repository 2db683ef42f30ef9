"""Policies.where: the library's AllowedLocations, equal to `residency where --format json`."""
import json
import pathlib

import pytest

import residency
from conftest import POLICIES, REQUESTS, example_requests, run_cli


@pytest.mark.parametrize("path", example_requests(), ids=lambda p: getattr(p, "stem", "none"))
def test_where_equals_cli_for_every_example_request(policies: residency.Policies, cli: str, path: pathlib.Path) -> None:
    out = run_cli(cli, "where", "--policies", str(POLICIES), "--format", "json", str(path))
    assert out.returncode in (0, 1), out.stderr
    got = policies.where(path.read_text())
    assert got == json.loads(out.stdout)
    assert out.returncode == (0 if got["allowed"] else 1)


def test_where_lists_each_location_once_with_what_checking_there_says(policies: residency.Policies) -> None:
    path = REQUESTS / "kr-prompt-to-tokyo.yaml"
    if not path.exists():
        pytest.skip("no example request kr-prompt-to-tokyo.yaml")
    text = path.read_text()
    got = policies.where(text)
    ids = [a["location"] for a in got["allowed"]]
    assert len(ids) == len(set(ids)) > 8
    assert ids[0] == "aws:ap-northeast-2"  # same provider, then Korea
    assert "aws:ap-northeast-1" not in ids  # where it was denied
    decision = policies.check(text)
    assert decision["decision"] == "deny"
    with_escalations = policies.where(text, include_escalate=True)
    assert decision["suggested_locations"] == [
        a["location"] for a in with_escalations["allowed"]][:8]
    kr = policies.where(text, countries=["KR"], providers=["aws"])
    assert [a["location"] for a in kr["allowed"]] == ["aws:ap-northeast-2"]


def test_where_errors_are_value_errors_with_a_message(policies: residency.Policies) -> None:
    path = REQUESTS / "kr-prompt-to-tokyo.yaml"
    if not path.exists():
        pytest.skip("no example request kr-prompt-to-tokyo.yaml")
    with pytest.raises(ValueError, match="provider `nco`"):
        policies.where(path.read_text(), providers=["nco"])
    with pytest.raises(ValueError, match="`dataset`: is required"):
        policies.where({"kind": "dataset", "action": "store"})


def test_where_as_an_html_page(policies: residency.Policies, cli: str) -> None:
    path = REQUESTS / "kr-prompt-to-tokyo.yaml"
    if not path.exists():
        pytest.skip("no example request kr-prompt-to-tokyo.yaml")
    page = policies.where(path.read_text(), format="html")
    assert page.startswith("<!DOCTYPE html>")
    assert '"location":"aws:ap-northeast-2"' in page
    out = run_cli(cli, "where", "--policies", str(POLICIES), "--format", "html", "-",
                  stdin=path.read_text())
    assert out.returncode == 0, out.stderr
    assert out.stdout == page  # no file name from stdin: the same heading
    with pytest.raises(ValueError, match="format must be"):
        policies.where(path.read_text(), format="svg")  # type: ignore[call-overload]
