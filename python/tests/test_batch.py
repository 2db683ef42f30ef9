"""Policies.check_many and Policies.check_jsonl: the library's batch calls, equal to check."""
import json
import pathlib
from typing import List

import pytest

import residency
from conftest import POLICIES, example_texts, run_cli

NOW = "2026-06-30T00:00:00Z"



def test_check_many_equals_check_in_order(policies: residency.Policies) -> None:
    texts = example_texts() * 30
    many = policies.check_many(texts, threads=3)
    assert many == [policies.check(t) for t in texts]
    assert policies.check_many(texts, threads=1) == many
    assert policies.check_many([]) == []
    # dicts too, and any iterable
    as_json = (json.dumps(d) for d in [{"kind": "dataset", "action": "store", "now": NOW,
                                        "destination": "ncp:KR",
                                        "dataset": {"id": "d", "partitions": [
                                            {"classes": ["personal"], "origin": "KR"}]}}])
    first = policies.check_many(as_json)[0]
    assert isinstance(first, residency.Decision) and first.decision == "allow"


def test_check_many_names_the_request_that_cannot_be_decided(policies: residency.Policies) -> None:
    texts = example_texts()[:2] + ['{"kind": "datset"}'] + example_texts()[:1]
    with pytest.raises(residency.RequestError, match=r"^requests\[2\]: ") as e:
        policies.check_many(texts)
    assert e.value.path == "kind"
    got = policies.check_many(texts, errors="return")
    assert isinstance(got[2], residency.RequestError)
    assert got[2].path == "kind"
    assert got[3] == policies.check(texts[3])
    # Past the first blocks, on several threads: the first bad one is named, whichever thread
    # decided it; later ones do not replace it.
    long = example_texts() * 100
    long[700] = '{"kind": "datset"}'
    long[950] = '{"kind": "modle"}'
    with pytest.raises(residency.RequestError, match=r"^requests\[700\]: "):
        policies.check_many(long, threads=2)
    got_long = policies.check_many(long, threads=2, errors="return")
    assert [i for i, d in enumerate(got_long) if isinstance(d, residency.RequestError)] == [700, 950]
    assert got_long[699] == policies.check(long[699])
    with pytest.raises(ValueError, match="errors must be"):
        policies.check_many(texts, errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threads must be"):
        policies.check_many(texts, threads=0)


def test_check_jsonl_equals_the_cli_batch(policies: residency.Policies, cli: str, tmp_path: pathlib.Path) -> None:
    lines = [json.dumps({"kind": "dataset", "action": "transfer", "now": NOW,
                         "destination": dest,
                         "dataset": {"id": f"d{i}", "location": "ncp:KR",
                                     "partitions": [{"classes": ["personal"], "origin": "KR",
                                                     "subjects": 10}]}})
             for i, dest in enumerate(["ncp:KR", "aws:ap-northeast-1", "aws:us-east-1"] * 3000)]
    lines.insert(5, "")
    lines.insert(9, "{not json")
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    dst = tmp_path / "out.jsonl"
    seen: List[int] = []
    summary = policies.check_jsonl(src, dst, threads=2, progress=seen.append)
    assert summary["lines"] == len(lines)
    assert summary["errors"] == 2
    assert summary["decided"] == len(lines) - 2
    assert summary["by_decision"]["allow"] == 3000
    assert summary["by_decision"]["deny"] == 6000
    assert seen and seen[-1] == len(lines) and seen == sorted(seen)
    out = run_cli(cli, "check", "--policies", str(POLICIES), "--batch", str(src))
    assert out.returncode == 2  # two lines could not be decided
    assert dst.read_text() == out.stdout
    got = dst.read_text().splitlines()
    assert json.loads(got[5]) == {"error": "empty line", "line": 6}
    assert json.loads(got[0]) == policies.check(lines[0])


def test_check_jsonl_errors(policies: residency.Policies, tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        policies.check_jsonl(tmp_path / "missing.jsonl", tmp_path / "out.jsonl")
    src = tmp_path / "in.jsonl"
    src.write_text("{}\n" * 10)

    def stop(done: int) -> None:
        raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt):
        policies.check_jsonl(src, tmp_path / "out.jsonl", progress=stop)
