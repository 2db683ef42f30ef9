"""Policies and Tagger pickle by their sources: another process (spawn, as Dask and Ray ship
them) compiles them again, checks the digest, and decides and tags identically."""
import multiprocessing
import pickle
from typing import Any, Dict, List

import pytest

import residency
from conftest import POLICIES, example_texts


def _decide_all(policies: residency.Policies, texts: List[str]) -> List[residency.Decision]:
    # Runs in the child: the decisions, in order (each pickles as its JSON on the way back).
    return [policies.check(t) for t in texts]


def _tag_one(tagger: residency.Tagger, request: Any) -> Dict[str, Any]:
    return tagger.tag(request)


def test_policies_round_trip_in_process(policies: residency.Policies) -> None:
    copy = pickle.loads(pickle.dumps(policies))
    assert copy.digest == policies.digest
    assert copy.rule_count == policies.rule_count
    for t in example_texts():
        assert copy.check(t) == policies.check(t)


def test_a_pickled_policies_decides_identically_in_a_spawned_process(policies: residency.Policies) -> None:
    texts = example_texts()
    if not texts:
        pytest.skip("no example requests")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        theirs = pool.apply(_decide_all, (policies, texts))
    assert theirs == [policies.check(t) for t in texts]


def test_unpickling_refuses_sources_that_do_not_give_the_digest(policies: residency.Policies) -> None:
    version, sources, digest = policies.__getstate__()
    assert version == 1 and digest == policies.digest
    assert any(name.endswith("regions.yaml") for name, _ in sources)
    state = pickle.dumps(policies)
    # Another digest: the sources no longer match what was pickled.
    wrong = policies.__new__(type(policies))
    with pytest.raises(residency.PolicyError, match="not the pickled"):
        wrong.__setstate__((1, sources, "sha256:" + "0" * 64))
    # A source that no longer compiles: the compile's own error.
    broken = [(n, t.replace(b"kind: policy", b"kind: polcy", 1)) for n, t in sources]
    with pytest.raises(residency.PolicyError):
        wrong.__setstate__((1, broken, digest))
    assert pickle.loads(state).digest == digest


def test_a_pickled_tagger_tags_identically_in_a_spawned_process() -> None:
    cfg = POLICIES / "tagging.yaml"
    if not cfg.exists():
        pytest.skip("no policies/tagging.yaml")
    tagger = residency.Tagger(str(cfg))
    request = {"headers": [("accept-language", "ko-KR")], "peer": "203.0.113.7",
               "payload": "전화 010-1234-5678 로 연락 주세요"}
    copy = pickle.loads(pickle.dumps(tagger))
    assert copy.tag(request) == tagger.tag(request)
    assert copy.kernel == tagger.kernel
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.apply(_tag_one, (tagger, request)) == tagger.tag(request)
    state = tagger.__getstate__()
    bad = tagger.__new__(type(tagger))
    with pytest.raises(ValueError, match="does not match its digest"):
        bad.__setstate__((1, state[1], state[2] + b"\n# changed", state[3], state[4]))
