"""Decisions at scale on Dask distributed (docs/pipelines.md).

The policies are compiled once per worker process: `register(client, policies)` installs a worker
plugin that compiles them when a worker starts (and on every worker that joins later), and each
task looks them up by digest. Tasks ship the policy sources, never a compiled set.

    import residency, residency.dask
    from distributed import Client
    client = Client("tcp://scheduler:8786")
    policies = residency.load_policies(["policies"])
    residency.dask.register(client, policies)
    summary = residency.dask.check_jsonl_files(client, policies, paths, out_dir)

Three shapes of input:
  * check_bag: a dask.bag of requests (dicts or JSON/YAML text) -> a bag of decision dicts;
  * check_jsonl_files: JSON-lines files on storage every worker can read -> decision files in
    `out_dir` and a summary (counts by decision, by rule, by location); optionally a signed
    audit log per worker, verified together;
  * check_dataframe: a dask.dataframe of dataset manifests, one request built per row through a
    column mapping -> the frame with `decision`, `rules` and `obligations` columns.
`summarize(bag)` counts a bag of decisions the same way as check_jsonl_files.
"""
from __future__ import annotations

import os
import pickle
import threading
from collections import Counter
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import residency

__all__ = [
    "PoliciesPlugin",
    "register",
    "check_bag",
    "summarize",
    "check_jsonl_files",
    "check_dataframe",
    "close_audit_logs",
]

# digest -> compiled Policies, in each worker process (and in the client, for local schedulers).
_compiled: Dict[str, "residency.Policies"] = {}
_lock = threading.Lock()


class _PolicyRef:
    """The sources of a policy set and its digest: cheap to ship, compiled where first used."""

    def __init__(self, policies: "residency.Policies") -> None:
        self.digest = policies.digest
        self.state = pickle.dumps(policies)  # Policies pickle by their sources

    def get(self) -> "residency.Policies":
        with _lock:
            compiled = _compiled.get(self.digest)
            if compiled is None:
                compiled = pickle.loads(self.state)  # compiles; refuses another digest
                _compiled[self.digest] = compiled
            return compiled


try:  # the plugin base class, when distributed is installed
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - distributed is optional for `import residency.dask`
    _WorkerPlugin = object  # type: ignore[assignment,misc]


class PoliciesPlugin(_WorkerPlugin):
    """Compiles a policy set once in each worker process, when the worker starts."""

    def __init__(self, policies: "residency.Policies") -> None:
        self.ref = _PolicyRef(policies)
        self.name = "residency-policies-" + policies.digest.split(":")[-1][:16]

    def setup(self, worker: Any) -> None:
        self.ref.get()


def register(client: Any, policies: "residency.Policies") -> str:
    """Installs PoliciesPlugin on every worker of `client` (and those that join later).

    Returns the plugin's name. Tasks work without it too (each process then compiles on its first
    task); with it, no task pays for the compile.
    """
    plugin = PoliciesPlugin(policies)
    client.register_worker_plugin(plugin, name=plugin.name)
    return plugin.name


def _check_partition(requests: Iterable[Any], ref: _PolicyRef, now: Optional[str],
                     suggest: bool) -> List[Any]:
    return ref.get().check_many(list(requests), now=now, suggest=suggest, threads=1,
                                errors="return")


def check_bag(bag: Any, policies: "residency.Policies", now: Optional[str] = None,
              suggest: bool = True) -> Any:
    """A bag of Decisions, one per request of `bag`, in order (they pickle as their JSON).

    A request that cannot be decided stands in the bag as its residency.RequestError (treat it as
    a deny). Lazy, as every bag: compute() it, or summarize() it.
    """
    ref = _PolicyRef(policies)
    return bag.map_partitions(_check_partition, ref, now, suggest)


def _count_partition(decisions: Iterable[Any]) -> List[Dict[str, "Counter[str]"]]:
    by_decision: "Counter[str]" = Counter()
    by_rule: "Counter[str]" = Counter()
    by_location: "Counter[str]" = Counter()
    for d in decisions:
        if not isinstance(d, residency.Decision):
            by_decision["error"] += 1
            continue
        by_decision[d.decision.value] += 1
        for r in d.reasons:
            by_rule[r.rule] += 1
            by_location[r.trigger.get("location", "")] += 1
    return [{"by_decision": by_decision, "by_rule": by_rule, "by_location": by_location}]


def _merge(parts: Iterable[Mapping[str, Mapping[str, int]]]) -> Dict[str, Dict[str, int]]:
    out: Dict[str, "Counter[str]"] = {"by_decision": Counter(), "by_rule": Counter(),
                               "by_location": Counter()}
    for p in parts:
        for key in out:
            out[key].update(p.get(key, {}))
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def summarize(decisions: Any) -> Dict[str, Dict[str, int]]:
    """Counts a bag of decisions (check_bag's): by decision (`error` for a request that could not
    be decided), by rule (reasons), by location (the location each reason's trigger names; ""
    for a rule that decides alike everywhere)."""
    return _merge(decisions.map_partitions(_count_partition).compute())


# (audit_dir, key_file) -> the open AuditLog of this worker process.
_audit_logs: Dict[Tuple[str, str], "residency.AuditLog"] = {}


def _audit_log(audit_dir: str, key_file: str) -> "residency.AuditLog":
    with _lock:
        log = _audit_logs.get((audit_dir, key_file))
        if log is None:
            log = residency.AuditLog(audit_dir, key_file)
            _audit_logs[(audit_dir, key_file)] = log
        return log


def close_audit_logs() -> List[str]:
    """Closes this process's audit logs (the final signed checkpoint); their directories."""
    with _lock:
        dirs = []
        for log in _audit_logs.values():
            dirs.append(log.log_dir)
            log.close()
        _audit_logs.clear()
        return dirs


def _check_file(src: str, dst: str, ref: _PolicyRef, now: Optional[str], suggest: bool,
                threads: int, audit: Optional[Tuple[str, str]]) -> Dict[str, Any]:
    log = _audit_log(*audit) if audit else None
    summary = ref.get().check_jsonl(src, dst, now=now, suggest=suggest, threads=threads, audit=log)
    summary["src"], summary["dst"] = src, dst
    return summary


def check_jsonl_files(client: Any, policies: "residency.Policies", paths: Sequence[Any],
                      out_dir: Any, now: Optional[str] = None, suggest: bool = True,
                      threads: int = 1, progress: bool = False, audit_dir: Any = None,
                      audit_key: Any = None) -> Dict[str, Any]:
    """Decides each JSON-lines file of `paths` on the cluster into `out_dir`/<its name>.

    Every worker must see `paths` and `out_dir` (shared storage). Each file is one task running
    Policies.check_jsonl (`threads` C++ threads in it). With `progress`, distributed's progress bar
    follows the tasks. With `audit_dir` and `audit_key` (an Ed25519 PEM every worker can read),
    each worker process records its decisions in a log of its own under `audit_dir`, closed when
    the scan ends: `residency audit verify --key KEY.vkey AUDIT_DIR` (or residency.audit_verify)
    verifies them together. Returns {'lines', 'decided', 'errors', 'by_decision', 'by_rule',
    'by_location', 'files': [each file's summary], 'audit_logs': [log directories]}.
    """
    if (audit_dir is None) != (audit_key is None):
        raise ValueError("audit_dir and audit_key go together")
    audit = (os.fspath(audit_dir), os.fspath(audit_key)) if audit_dir is not None else None
    if audit:
        os.makedirs(audit[0], exist_ok=True)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    ref = _PolicyRef(policies)
    sources = [os.fspath(p) for p in paths]
    names = [os.path.basename(p) for p in sources]
    if len(set(names)) != len(names):
        raise ValueError("two input files have the same name; their outputs would collide")
    futures = [client.submit(_check_file, src, os.path.join(out_dir, name), ref, now, suggest,
                             threads, audit, pure=False)
               for src, name in zip(sources, names)]
    if progress:
        from distributed import progress as _progress
        _progress(futures)  # type: ignore[no-untyped-call]
    try:
        files = client.gather(futures)
    finally:
        # Every worker closes its log, also when a task failed: what was recorded verifies.
        closed = client.run(close_audit_logs) if audit else {}
    total: Dict[str, Any] = dict(_merge(files))
    for key in ("lines", "decided", "errors"):
        total[key] = sum(f[key] for f in files)
    total["files"] = files
    total["audit_logs"] = sorted(d for dirs in closed.values() for d in dirs)
    return total


def _request_of_row(row: Mapping[str, Any], columns: Mapping[str, str],
                    defaults: Mapping[str, Any]) -> Dict[str, Any]:
    def get(field: str) -> Any:
        column = columns.get(field)
        if column is not None:
            return row[column]
        return defaults.get(field)

    classes = get("classes")
    if isinstance(classes, str):
        classes = [c for c in classes.replace(",", ";").split(";") if c]
    partition: Dict[str, Any] = {"classes": list(classes or []), "origin": get("origin")}
    subjects = get("subjects")
    if subjects is not None and subjects == subjects:  # not NaN
        partition["subjects"] = float(subjects)
    dataset: Dict[str, Any] = {"id": str(get("id")), "partitions": [partition]}
    if get("location"):
        dataset["location"] = get("location")
    request: Dict[str, Any] = {"kind": "dataset", "action": get("action") or "store",
                               "dataset": dataset}
    if get("destination"):
        request["destination"] = get("destination")
    if get("now"):
        request["now"] = get("now")
    return request


def _check_frame(frame: Any, ref: _PolicyRef, columns: Mapping[str, str],
                 defaults: Mapping[str, Any], now: Optional[str]) -> Any:
    requests = [_request_of_row(row, columns, defaults)
                for row in frame.to_dict(orient="records")]
    decisions = ref.get().check_many(requests, now=now, suggest=False, threads=1, errors="return")
    out = frame.copy()
    ok = [d if isinstance(d, residency.Decision) else None for d in decisions]
    out["decision"] = [d.decision.value if d else "error" for d in ok]
    out["rules"] = [";".join(r.rule for r in d.reasons) if d else str(e)
                    for d, e in zip(ok, decisions)]
    out["obligations"] = [";".join(o.id for o in d.obligations) if d else "" for d in ok]
    return out


def check_dataframe(frame: Any, policies: "residency.Policies", columns: Mapping[str, str],
                    defaults: Optional[Mapping[str, Any]] = None,
                    now: Optional[str] = None) -> Any:
    """A dask.dataframe of dataset manifests, each row decided as a dataset request.

    `columns` maps request fields to column names: `id`, `location`, `destination`, `origin`,
    `classes` (a list, or a string separated by `;` or `,`), `subjects`, `action`, `now`;
    `defaults` gives values for fields without a column (`{"action": "store"}`). Returns the frame
    with three more columns: `decision` (`error` when the row cannot be decided), `rules` and
    `obligations` (ids joined by `;`; for an error, its message in `rules`).
    """
    import pandas as pd  # type: ignore[import]

    known = {"id", "location", "destination", "origin", "classes", "subjects", "action", "now"}
    unknown = (set(columns) | set(defaults or {})) - known
    if unknown:
        raise ValueError("unknown request fields in the column mapping: "
                         + ", ".join(sorted(unknown)))
    ref = _PolicyRef(policies)
    meta = frame._meta.assign(decision=pd.Series(dtype=str), rules=pd.Series(dtype=str),
                              obligations=pd.Series(dtype=str))
    return frame.map_partitions(_check_frame, ref, dict(columns), dict(defaults or {}), now,
                                meta=meta)
