#!/usr/bin/env python3
"""bench/check_summary.py SUMMARY.json [KEYS.md]: checks that a bench/run.sh summary has every
expected key, each a number. The expected keys are the backquoted names in the first column of
the table between the `summary-keys:begin` and `summary-keys:end` markers of KEYS.md (default:
docs/benchmarks.md). Exit 0 when all are present; 1 with one line per problem on stderr
otherwise; 2 when a file cannot be read."""
import json
import math
import os
import re
import sys


def expected_keys(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- summary-keys:begin -->(.*?)<!-- summary-keys:end -->", text, re.S)
    if not m:
        raise ValueError(f"{path}: no summary-keys:begin/end markers")
    keys = []
    for line in m.group(1).splitlines():
        cell = re.match(r"\s*\|\s*`([a-z0-9_]+)`\s*\|", line)
        if cell:
            keys.append(cell.group(1))
    if not keys:
        raise ValueError(f"{path}: the summary-keys table lists no keys")
    return keys


def main(argv):
    if len(argv) not in (2, 3) or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    keys_md = argv[2] if len(argv) == 3 else os.path.join(here, "..", "docs", "benchmarks.md")
    try:
        keys = expected_keys(keys_md)
        with open(argv[1], encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, ValueError) as e:
        print(f"check_summary: {e}", file=sys.stderr)
        return 2
    if not isinstance(summary, dict):
        print(f"check_summary: {argv[1]}: not a JSON object", file=sys.stderr)
        return 2
    missing = [k for k in keys if k not in summary]
    bad = [k for k in keys if k in summary and (
        isinstance(summary[k], bool) or not isinstance(summary[k], (int, float)) or
        not math.isfinite(summary[k]))]
    for k in bad:
        print(f"check_summary: `{k}` is not a finite number: {summary[k]!r}", file=sys.stderr)
    if missing:
        print(f"check_summary: {argv[1]} lacks {len(missing)} of the {len(keys)} expected keys "
              f"(listed in {os.path.relpath(keys_md)}): {', '.join(missing)}", file=sys.stderr)
    if missing or bad:
        return 1
    print(f"check_summary: all {len(keys)} expected keys present")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
