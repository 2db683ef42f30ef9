#!/usr/bin/env python3
"""guard_shard: a data-loading guard a training pipeline calls before opening each shard.

The pipeline's data loader calls ``guard.open(shard)`` instead of ``open(shard.path)``. The guard
asks the residency policies whether *this training job, at this compute location*, may read
*this dataset* from where it is stored (a ``kind: compute`` request with the shard's dataset as
input). It

* returns the opened file when the decision is ``allow`` or ``allow_with_obligations``,
  logging every obligation so that the pipeline's owners see what they must do;
* raises ``PermissionError`` on ``deny`` and on ``escalate`` (a person must decide first), naming
  the rules that decided and the locations the policies suggest instead;
* fails closed: a request the engine cannot decide (ValueError) is a ``PermissionError`` too.

Decisions are cached per dataset: every shard of one dataset has the same facts.

    PYTHONPATH=build/python /usr/bin/python3 python/examples/guard_shard.py [--policies DIR]

Runs a small demo job (a Korean model trained at NAVER GAK Sejong) over shards from three
datasets and exits 0 when the guard behaved as expected.
"""
import argparse
import dataclasses
import io
import logging
import pathlib
import sys
from typing import IO, Any, Callable, Dict, List, Optional, Sequence

import residency

log = logging.getLogger("guard_shard")


@dataclasses.dataclass(frozen=True)
class Shard:
    path: str
    dataset: Dict[str, Any]  # the dataset as in a residency request (id, location, partitions, ...)


class ShardGuard:
    def __init__(self, policy_paths: Sequence[str], *, operator: Dict[str, Any], job: str,
                 location: str, purpose: Optional[str] = None, now: Optional[str] = None,
                 audit: Optional[residency.AuditLog] = None) -> None:
        self.policies = residency.load_policies(policy_paths)  # ValueError: FILE:LINE:COL: ...
        self.operator = operator
        self.job = job
        self.location = location
        self.purpose = purpose
        self.now = now          # None: the clock; a fixed RFC 3339 time for reproducible runs
        self.audit = audit      # an optional residency.AuditLog
        self._decisions: Dict[str, residency.Decision] = {}  # dataset id -> decision
        log.info("policies %s, job %s at %s", self.policies.digest, job, location)

    def request_for(self, dataset: Dict[str, Any]) -> Dict[str, Any]:
        req: Dict[str, Any] = {"kind": "compute", "operator": self.operator,
               "compute": {"job": self.job, "location": self.location,
                           "inputs": [{"dataset": dataset}]}}
        if self.purpose:
            req["purpose"] = self.purpose
        return req

    def check(self, shard: Shard) -> residency.Decision:
        """The decision for reading `shard`; raises PermissionError unless it is allowed."""
        key = shard.dataset.get("id") or shard.path
        decision = self._decisions.get(key)
        if decision is None:
            try:
                decision = self.policies.check(self.request_for(shard.dataset), now=self.now,
                                               audit=self.audit)
            except (ValueError, RuntimeError) as e:  # fail closed
                raise PermissionError(f"{shard.path}: cannot decide, refusing: {e}") from e
            self._decisions[key] = decision
            for o in decision.obligations:  # once per dataset, when first decided
                log.warning("%s: obligation %s (policy %s)", key, o.id, o.policy)
        verdict = decision.decision
        if verdict in (residency.Effect.DENY, residency.Effect.ESCALATE):
            rules = ", ".join(r.rule for r in decision.reasons if r.effect == verdict) or "?"
            hint = decision.suggested_locations
            raise PermissionError(
                f"{shard.path}: {verdict} by {rules}"
                + (f"; allowed compute locations include {', '.join(hint[:3])}" if hint else ""))
        return decision

    def open(self, shard: Shard, opener: Callable[[str, str], IO[bytes]] = open,
             mode: str = "rb") -> IO[bytes]:
        self.check(shard)
        return opener(shard.path, mode)


def demo(policy_dir: str) -> bool:
    guard = ShardGuard([policy_dir],
                       operator={"id": "naver-cloud-ai", "country": "KR"},
                       job="training", location="site:naver-gak-sejong",
                       purpose="model_training", now="2026-06-30T00:00:00Z")
    kr: Dict[str, Any] = {"id": "kr-chat-2026q2", "location": "ncp:KR",
          "partitions": [{"classes": ["personal"], "origin": "KR", "subjects": 12000000}]}
    # Japanese users' chats, with their consent to the transfer to Korea on file with the
    # dataset: allowed, with obligations the guard logs.
    jp: Dict[str, Any] = {"id": "jp-chat-2026", "location": "aws:ap-northeast-1",
          "partitions": [{"classes": ["personal"], "origin": "JP", "subjects": 40000}],
          "evidence": [{"type": "consent.cross_border", "country": "KR",
                        "not_after": "2027-01-01T00:00:00Z"}]}
    cn: Dict[str, Any] = {"id": "cn-ecommerce-2026", "location": "alibaba:cn-shanghai",
          "partitions": [{"classes": ["personal"], "origin": "CN", "subjects": 500000,
                          "cumulative_subjects": 500000, "sensitive_subjects": 0}]}
    unknown: Dict[str, Any] = {"id": "unknown-bucket", "location": "minio:basement",  # not in the catalogue
               "partitions": [{"classes": ["public"], "origin": "KR"}]}
    shards = [Shard(f"{ds['id']}/shard-{i:05d}", ds) for ds in (kr, jp, cn, unknown)
              for i in range(2)]

    # A stand-in for the real storage client: every shard is a few bytes in memory.
    def fake_open(path: str, mode: str) -> IO[bytes]:
        return io.BytesIO(f"tokens of {path}".encode())

    opened: List[str] = []
    refused: List[str] = []
    for shard in shards:
        try:
            with guard.open(shard, opener=fake_open) as f:
                f.read()
            opened.append(shard.path)
            log.info("opened %s", shard.path)
        except PermissionError as e:
            refused.append(shard.path)
            log.error("refused %s", e)
    log.info("%d shards opened, %d refused", len(opened), len(refused))
    # The demo's expectations: Korean data may be read in Korea, Japanese data with consent;
    # the Chinese export needs a CAC filing that is not on file; an unknown location fails
    # closed.
    return ({p.split("/")[0] for p in opened} == {"kr-chat-2026q2", "jp-chat-2026"}
            and {p.split("/")[0] for p in refused} == {"cn-ecommerce-2026", "unknown-bucket"})


def main(argv: Optional[Sequence[str]] = None) -> int:
    default = pathlib.Path(__file__).resolve().parents[2] / "policies"
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--policies", default=str(default), help="policy folder")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(levelname)s %(message)s")
    return 0 if demo(args.policies) else 1


if __name__ == "__main__":
    sys.exit(main())
