"""Scan a data-lake inventory on Dask and write a one-page report for the compliance team.

    PYTHONPATH=build/python /usr/bin/python3 python/examples/scan_inventory.py \
        --manifests 1000000 --workers 2 --out /tmp/scan

1. generates an inventory of dataset manifests (one request per line: a dataset of one origin and
   data class, stored somewhere, to be copied to a training region) in OUT/inventory/, 8 files;
2. decides every manifest on a Dask LocalCluster (`--workers` processes; residency.dask compiles
   the policies once per worker) into OUT/decisions/, a decision line per manifest;
3. counts decisions by jurisdiction (the data's origin) on the cluster, next to the counts by rule
   and location the scan returns, and writes OUT/report.html: a table and two charts (matplotlib,
   Debian's python3-matplotlib), images inline, nothing loaded from the network.

On a real lake, step 1 is your inventory export and the cluster is `Client("tcp://...")`
(docs/pipelines.md).
"""
import argparse
import base64
import html
import io
import json
import pathlib
import random
import sys
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

import residency
import residency.dask as rdask

NOW = "2026-06-30T00:00:00Z"
# (origin, weight), where the data comes from; (class, weight); where it is stored; where it goes.
ORIGINS = [("KR", 40), ("JP", 15), ("US", 15), ("DE", 8), ("FR", 5), ("CN", 5), ("IN", 6),
           ("SG", 6)]
CLASSES = [("personal", 55), ("public", 25), ("personal.health", 6), ("personal.credit", 6),
           ("pseudonymized", 8)]
HOME = {"KR": "ncp:KR", "JP": "aws:ap-northeast-1", "US": "aws:us-east-1",
        "DE": "aws:eu-central-1", "FR": "aws:eu-west-3", "CN": "alibaba:cn-shanghai",
        "IN": "aws:ap-south-1", "SG": "aws:ap-southeast-1"}
TRAINING = ["site:naver-gak-sejong", "ncp:KR", "aws:ap-northeast-2", "aws:us-east-1",
            "aws:eu-central-1"]


def pick(rng: random.Random, weighted: Sequence[Tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def generate(out: pathlib.Path, n: int, files: int = 8) -> List[pathlib.Path]:
    """N manifests as JSON lines in `files` files; the same inventory for the same N."""
    rng = random.Random(20261207)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / ("part-%02d.jsonl" % k) for k in range(files)]
    handles = [p.open("w") for p in paths]
    try:
        for i in range(n):
            origin = pick(rng, ORIGINS)
            request = {
                "kind": "dataset", "action": "transfer", "now": NOW,
                "destination": rng.choice(TRAINING),
                "dataset": {"id": "lake-%07d" % i, "location": HOME[origin],
                            "partitions": [{"classes": [pick(rng, CLASSES)], "origin": origin,
                                            "subjects": rng.randrange(1, 2000000)}]},
            }
            handles[i % files].write(json.dumps(request, separators=(",", ":")) + "\n")
    finally:
        for h in handles:
            h.close()
    return paths


def by_jurisdiction(inventory: str, decisions: str) -> Dict[str, Dict[str, int]]:
    """Decisions by the origin of the data, reading a manifest file and its decisions in step."""
    counts: Dict[str, Counter[str]] = {}
    with open(inventory) as fin, open(decisions) as fdec:
        for request_line, decision_line in zip(fin, fdec):
            origin = json.loads(request_line)["dataset"]["partitions"][0]["origin"]
            d = json.loads(decision_line)
            counts.setdefault(origin, Counter())[d.get("decision", "error")] += 1
    return {k: dict(v) for k, v in counts.items()}


def chart(title: str, labels: List[str], series: Dict[str, List[int]]) -> str:
    """A horizontal stacked bar chart as a base64 PNG (matplotlib, no display)."""
    import matplotlib  # type: ignore[import]
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import]

    colours = {"allow": "#2da44e", "allow_with_obligations": "#d4a72c", "escalate": "#8250df",
               "deny": "#cf222e", "error": "#57606a", "reasons": "#0969da"}
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(labels) + 1.2))
    left = [0] * len(labels)
    for name, values in series.items():
        ax.barh(labels, values, left=left, label=name, color=colours.get(name))
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def report(path: pathlib.Path, summary: Dict[str, Any], juris: Dict[str, Dict[str, int]],
           policies: "residency.Policies", seconds: float) -> None:
    effects = ["allow", "allow_with_obligations", "escalate", "deny", "error"]
    origins = sorted(juris, key=lambda o: -sum(juris[o].values()))  # most data first
    by_origin = chart("Decisions by jurisdiction of the data", origins,
                      {e: [juris[o].get(e, 0) for o in origins] for e in effects})
    by_count: List[Tuple[str, int]] = list(summary["by_rule"].items())
    rules = sorted(by_count, key=lambda kv: -kv[1])[:12]
    by_rule = chart("Rules deciding (reasons)", [r for r, _ in rules],
                    {"reasons": [n for _, n in rules]})
    rows = "".join("<tr><td>%s</td>%s<td>%d</td></tr>" % (
        html.escape(o), "".join("<td>%d</td>" % juris[o].get(e, 0) for e in effects),
        sum(juris[o].values())) for o in origins)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Data-lake residency scan</title>
<style>body{{font:14px/1.4 system-ui,sans-serif;margin:24px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #d0d7de;padding:4px 8px;text-align:right}} th{{background:#f6f8fa}}
td:first-child{{text-align:left}}</style></head><body>
<h1>Data-lake residency scan</h1>
<p>{summary["lines"]:,} manifests, {summary["decided"]:,} decided, {summary["errors"]:,} could
not be decided (treated as deny), in {seconds:.1f} s under policy set
{html.escape(policies.digest)} at {NOW}.</p>
<table id="by-jurisdiction"><tr><th>jurisdiction</th>{"".join("<th>%s</th>" % e for e in effects)}
<th>total</th></tr>{rows}</table>
<p><img alt="decisions by jurisdiction" src="data:image/png;base64,{by_origin}"></p>
<p><img alt="rules deciding" src="data:image/png;base64,{by_rule}"></p>
</body></html>
"""
    path.write_text(page)


def main(argv: Optional[Sequence[str]] = None) -> int:
    root = pathlib.Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--policies", default=str(root / "policies"))
    ap.add_argument("--manifests", type=int, default=1000000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="scan-out")
    args = ap.parse_args(argv)
    import distributed

    out = pathlib.Path(args.out)
    policies = residency.load_policies([args.policies])
    print("generating %d manifests in %s/inventory" % (args.manifests, out), flush=True)
    inventory = generate(out / "inventory", args.manifests)
    cluster = distributed.LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=40)
    with cluster, distributed.Client(cluster) as client:  # type: ignore[no-untyped-call]
        rdask.register(client, policies)
        t0 = time.perf_counter()
        summary = rdask.check_jsonl_files(client, policies, inventory, out / "decisions")
        seconds = time.perf_counter() - t0
        parts = client.gather([client.submit(by_jurisdiction, str(p),
                                             str(out / "decisions" / p.name), pure=False)
                               for p in inventory])
    juris: Dict[str, Dict[str, int]] = {}
    for part in parts:
        for origin, counts in part.items():
            for effect, n in counts.items():
                juris.setdefault(origin, {})[effect] = juris.get(origin, {}).get(effect, 0) + n
    report(out / "report.html", summary, juris, policies, seconds)
    print("%d manifests decided in %.1f s (%.0f/s): %s" % (
        summary["decided"], seconds, summary["lines"] / seconds, summary["by_decision"]))
    print("report: %s" % (out / "report.html"))
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
