"""residency.dask on a real distributed.LocalCluster of 2 worker processes: the same decisions as
Policies.check, policies compiled once per worker by the plugin, summaries that add up."""
import json
import os
import pathlib
from typing import Any, Dict, Iterator, List

import pytest

import residency
from conftest import example_texts

distributed = pytest.importorskip(
    "distributed", reason="python3-distributed is not installed (CI installs it)")
pd = pytest.importorskip("pandas", reason="python3-pandas is not installed (CI installs it)")
import dask.bag as db  # noqa: E402
import dask.dataframe as dd  # noqa: E402

import residency.dask as rdask  # noqa: E402

NOW = "2026-06-30T00:00:00Z"


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _compiled_digests() -> List[str]:
    return sorted(rdask._compiled)


def test_the_plugin_compiles_once_per_worker(client: Any, policies: residency.Policies) -> None:
    name = rdask.register(client, policies)
    assert name.startswith("residency-policies-")
    per_worker = client.run(_compiled_digests)
    assert len(per_worker) == 2
    assert all(d == [policies.digest] for d in per_worker.values())
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2  # two processes, not threads



def test_a_bag_decides_as_check_does(client: Any, policies: residency.Policies) -> None:
    texts = example_texts() * 20 + ['{"kind": "datset"}']
    bag = db.from_sequence(texts, npartitions=6)  # type: ignore[attr-defined]
    got = rdask.check_bag(bag, policies).compute()
    assert got[:-1] == [policies.check(t) for t in texts[:-1]]
    assert isinstance(got[-1], residency.RequestError)
    summary = rdask.summarize(rdask.check_bag(bag, policies))
    assert summary["by_decision"]["error"] == 1
    assert sum(summary["by_decision"].values()) == len(texts)
    want_rules: Dict[str, int] = {}
    for d in got[:-1]:
        for r in d["reasons"]:
            want_rules[r["rule"]] = want_rules.get(r["rule"], 0) + 1
    assert summary["by_rule"] == dict(sorted(want_rules.items()))


def test_jsonl_files_on_the_cluster(client: Any, policies: residency.Policies, tmp_path: pathlib.Path) -> None:
    lines = [json.dumps({"kind": "dataset", "action": "transfer", "now": NOW,
                         "destination": dest,
                         "dataset": {"id": f"d{i}", "location": "ncp:KR",
                                     "partitions": [{"classes": ["personal"], "origin": "KR",
                                                     "subjects": 10}]}})
             for i, dest in enumerate(["ncp:KR", "aws:ap-northeast-1", "aws:us-east-1"] * 500)]
    paths = []
    for k in range(4):
        p = tmp_path / f"part-{k}.jsonl"
        p.write_text("\n".join(lines[k::4]) + "\n")
        paths.append(p)
    out = tmp_path / "decisions"
    summary = rdask.check_jsonl_files(client, policies, paths, out)
    assert summary["lines"] == len(lines)
    assert summary["errors"] == 0
    assert summary["by_decision"]["allow"] == 500
    assert summary["by_decision"]["deny"] == 1000
    assert summary["by_rule"]["kr.cross_border"] == 1000
    assert summary["by_location"]["aws:us-east-1"] >= 500
    for p in paths:
        local = tmp_path / ("local-" + p.name)
        policies.check_jsonl(p, local)
        assert (out / p.name).read_text() == local.read_text()
    # Audited: a log per worker process, closed at the end, verified together.
    keys = tmp_path / "keys"
    vkey = residency.audit_keygen("dask", str(keys))
    audited = rdask.check_jsonl_files(client, policies, paths, tmp_path / "decisions2",
                                      audit_dir=tmp_path / "audit", audit_key=keys / "dask.pem")
    assert audited["decided"] == len(lines)
    assert 1 <= len(audited["audit_logs"]) <= 2
    report = residency.audit_verify(str(tmp_path / "audit"), [vkey])
    assert report["ok"] is True, report
    assert len(report["logs"]) == len(audited["audit_logs"])
    # every decision is a record (plus each log's own policy/open/close records)
    assert sum(log["records"] for log in report["logs"]) >= len(lines)
    with pytest.raises(ValueError, match="go together"):
        rdask.check_jsonl_files(client, policies, paths, out, audit_dir=tmp_path / "a")
    with pytest.raises(ValueError, match="same name"):
        rdask.check_jsonl_files(client, policies, [paths[0], paths[0]], out)


def test_a_dataframe_of_manifests(client: Any, policies: residency.Policies) -> None:
    frame = pd.DataFrame({
        "dataset_id": ["a", "b", "c", "d"],
        "region": ["ncp:KR", "ncp:KR", "ncp:KR", "ncp:KR"],
        "target": ["ncp:KR", "aws:us-east-1", "nhn:kr1", "nowhere:x"],
        "subject_origin": ["KR", "KR", "KR", "KR"],
        "data_classes": ["personal", "personal", "public;personal", "personal"],
        "people": [10, 10, 10, 10],
    })
    ddf = dd.from_pandas(frame, npartitions=2)  # type: ignore[attr-defined]
    got = rdask.check_dataframe(
        ddf, policies,
        columns={"id": "dataset_id", "location": "region", "destination": "target",
                 "origin": "subject_origin", "classes": "data_classes", "subjects": "people"},
        defaults={"action": "transfer", "now": NOW}).compute()
    assert list(got["decision"]) == ["allow", "deny", "allow", "deny"]
    assert "kr.cross_border" in got["rules"].iloc[1]
    assert "residency.unknown_location" in got["rules"].iloc[3]
    with pytest.raises(ValueError, match="unknown request fields"):
        rdask.check_dataframe(ddf, policies, columns={"dataset": "dataset_id"})
