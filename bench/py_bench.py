"""The Python binding's figures, beside the engine's own in the same run (bench/run_python.sh).

    py_bench.py OUT.json EVAL_LATENCY_JSON BATCH.jsonl

  py_check_ns       p50 of Policies.check(dict) over the example mix (one call timed at a time,
                    perf_counter_ns; 20 rounds of the mix after a warm-up), a Decision returned
  py_check_vs_eval  py_check_ns / the engine's p50 over the same mix (eval_latency, no
                    suggestions: check's default is with, so this is the binding's whole cost)
  py_batch_per_s    Policies.check_many over the lines of BATCH.jsonl (text), 2 threads, Decisions
                    returned; median of 3
  py_jsonl_per_s    Policies.check_jsonl BATCH.jsonl -> a file, 2 threads; median of 3
  dask_scan_per_s   residency.dask.check_jsonl_files on a LocalCluster of 2 worker processes (1
                    thread each), BATCH.jsonl split into 8 files on disk; cluster start and the
                    compile excluded (the plugin compiles on registration); median of 3
"""
import json
import os
import statistics
import sys
import tempfile
import time

import residency

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    out_path, eval_json, batch = sys.argv[1:4]
    policies = residency.load_policies([os.path.join(ROOT, "policies")])
    lines = open(batch).read().splitlines()
    mix = [json.loads(line) for line in lines[:10]]  # the ten examples, as dicts
    for d in mix:
        policies.check(d)
    times = []
    for _ in range(20):
        for d in mix:
            t0 = time.perf_counter_ns()
            policies.check(d)
            times.append(time.perf_counter_ns() - t0)
    out = {"py_check_ns": round(statistics.median(times))}
    engine = json.load(open(eval_json))["nosuggest"]["p50_ns"]
    out["py_check_vs_eval"] = round(out["py_check_ns"] / engine, 1)

    def rate(f, n):
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            f()
            runs.append(n / (time.perf_counter() - t0))
        return round(statistics.median(runs))

    some = lines[:100000]
    out["py_batch_per_s"] = rate(lambda: policies.check_many(some, threads=2), len(some))
    with tempfile.TemporaryDirectory() as tmp:
        dst = os.path.join(tmp, "out.jsonl")
        out["py_jsonl_per_s"] = rate(lambda: policies.check_jsonl(batch, dst, threads=2),
                                     len(lines))
        try:
            import distributed
            import residency.dask as rdask
        except ImportError:
            print("py_bench: python3-distributed is missing: dask_scan_per_s left out",
                  file=sys.stderr)
        else:
            parts = []
            for k in range(8):
                p = os.path.join(tmp, "part-%d.jsonl" % k)
                with open(p, "w") as f:
                    f.write("\n".join(lines[k::8]) + "\n")
                parts.append(p)
            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                          dashboard_address=None, silence_logs=40) as cluster, \
                    distributed.Client(cluster) as client:
                rdask.register(client, policies)
                out["dask_scan_per_s"] = rate(
                    lambda: rdask.check_jsonl_files(client, policies, parts,
                                                    os.path.join(tmp, "decisions")),
                    len(lines))
    with open(out_path, "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")
    for k in sorted(out):
        print("  %-18s %s" % (k, out[k]))


if __name__ == "__main__":
    main()
