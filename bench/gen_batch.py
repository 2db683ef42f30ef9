#!/usr/bin/env python3
"""bench/gen_batch.py OUT.jsonl [--lines N] [REQUEST.yaml ...]: writes a `residency check --batch`
input: the example requests (default: examples/requests/*.yaml) as one JSON line each, repeated
round-robin to N lines (default 200,000). Deterministic: the same inputs give the same bytes."""
import argparse
import glob
import json
import os
import re
import sys

import yaml

NUMERIC = {"subjects", "sensitive_subjects", "cumulative_subjects", "retention_hours",
           "training_flops"}
FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def fix(node, key=None):
    # PyYAML (YAML 1.1) reads `2.0e19` as text; the request format wants a number there.
    if isinstance(node, dict):
        return {k: fix(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [fix(v) for v in node]
    if key in NUMERIC and isinstance(node, str) and FLOAT.fullmatch(node):
        return float(node)
    return node


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=200000)
    ap.add_argument("requests", nargs="*")
    a = ap.parse_intermixed_args()
    paths = a.requests or sorted(glob.glob(os.path.join(here, "..", "examples", "requests",
                                                       "*.yaml")))
    if not paths:
        sys.exit("gen_batch: no requests")
    lines = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            lines.append(json.dumps(fix(yaml.safe_load(f)), separators=(",", ":"),
                                    ensure_ascii=False))
    with open(a.out, "w", encoding="utf-8") as f:
        for i in range(a.lines):
            f.write(lines[i % len(lines)])
            f.write("\n")


if __name__ == "__main__":
    main()
