"""compile, lint, Policies: errors with positions, digests, properties, agreement with the CLI."""
import json
import pathlib
import re
import shutil

import pytest

import residency
from conftest import POLICIES, run_cli

BROKEN_POLICY = """kind: policy
id: broken
basis: corp
rules:
  - id: broken.rule
    citation: "x"
    message: "y"
    when: {location: {in: ["aws:us-east-1"]}}
    effect: sometimes
"""


def policy_dir_with(tmp_path: pathlib.Path, name: str, text: str) -> pathlib.Path:
    """A copy of the shipped policies plus one more file."""
    d = tmp_path / "policies"
    shutil.copytree(POLICIES, d, ignore=shutil.ignore_patterns("tests", "schema"))
    (d / name).write_text(text, encoding="utf-8")
    return d


def test_compile_properties(policies: residency.Policies) -> None:
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", policies.digest)
    assert policies.rule_count > 0
    assert "kr" in policies.policy_ids
    assert "ncp:KR" in policies.locations
    assert policies.digest in repr(policies)


def test_compile_accepts_one_path_or_pathlike(policies: residency.Policies) -> None:
    assert residency.load_policies(str(POLICIES)).digest == policies.digest
    assert residency.load_policies(POLICIES).digest == policies.digest


def test_compile_is_deterministic_and_sensitive(policies: residency.Policies, tmp_path: pathlib.Path) -> None:
    again = residency.load_policies([str(POLICIES)])
    assert again.digest == policies.digest
    extra = policy_dir_with(tmp_path, "zz-extra.yaml", BROKEN_POLICY.replace("sometimes", "deny"))
    changed = residency.load_policies([str(extra)])
    assert changed.digest != policies.digest
    assert changed.rule_count == policies.rule_count + 1


def test_compile_error_is_value_error_with_position(tmp_path: pathlib.Path) -> None:
    d = policy_dir_with(tmp_path, "broken.yaml", BROKEN_POLICY)
    with pytest.raises(ValueError) as e:
        residency.load_policies([str(d)])
    msg = str(e.value)
    m = re.match(r"^(.*broken\.yaml):(\d+):(\d+): error: ", msg)
    assert m, msg
    assert int(m.group(2)) == 9  # the `effect: sometimes` line, 1-based


def test_compile_missing_path_is_file_not_found(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as e:
        residency.load_policies([str(missing)])
    assert e.value.filename == str(missing)


def test_lint_shipped_policies_have_no_errors() -> None:
    diags = residency.lint([str(POLICIES)])
    assert [d for d in diags if d["severity"] == "error"] == []


def test_lint_reports_error_dicts(tmp_path: pathlib.Path) -> None:
    d = policy_dir_with(tmp_path, "broken.yaml", BROKEN_POLICY)
    diags = residency.lint([str(d)])
    errors = [x for x in diags if x["severity"] == "error"]
    assert errors, diags
    assert set(errors[0]) == {"file", "line", "column", "severity", "code", "message"}
    assert errors[0]["file"].endswith("broken.yaml")
    assert errors[0]["line"] == 9 and errors[0]["column"] > 0


def test_lint_single_file_finds_catalogue_beside_it() -> None:
    diags = residency.lint([str(POLICIES / "kr.yaml")])
    assert not any(d["code"] == "no-catalogue" for d in diags), diags


def test_lint_equals_cli_json(cli: str, tmp_path: pathlib.Path) -> None:
    d = policy_dir_with(tmp_path, "broken.yaml", BROKEN_POLICY)
    for path in (POLICIES, d):
        out = run_cli(cli, "lint", "--format", "json", str(path))
        assert out.returncode in (0, 1), out.stderr
        assert residency.lint([str(path)]) == json.loads(out.stdout)["diagnostics"]


def test_lint_checks_a_folders_tests_subfolder_like_the_cli(cli: str, tmp_path: pathlib.Path) -> None:
    d = policy_dir_with(tmp_path, "extra.yaml", "")
    (d / "extra.yaml").unlink()
    (d / "tests").mkdir()
    (d / "tests" / "t_test.yaml").write_text(
        "kind: tests\ncases:\n  - name: n\n    requets: {}\n    want: {decision: allow}\n")
    diags = residency.lint([str(d)])
    errors = [x for x in diags if x["severity"] == "error"]
    assert ("unknown-key", 4) in [(x["code"], x["line"]) for x in errors], diags
    assert all(x["file"].endswith("t_test.yaml") for x in errors), diags
    out = run_cli(cli, "lint", "--format", "json", str(d))
    assert out.returncode == 1, out.stderr
    assert diags == json.loads(out.stdout)["diagnostics"]


def test_lint_reads_the_requests_of_test_files_like_the_cli(cli: str,
                                                           tmp_path: pathlib.Path) -> None:
    d = policy_dir_with(tmp_path, "extra.yaml", "")
    (d / "extra.yaml").unlink()
    (d / "tests").mkdir()
    (d / "tests" / "t_test.yaml").write_text(
        "kind: tests\ncases:\n  - name: n\n    request:\n      kind: dataset\n"
        "      dataset: {id: d, partitions: [{classes: [personal], origin: KR, subjetcs: 1}]}\n"
        "    want: {decision: allow}\n")
    diags = residency.lint([str(d)])
    bad = [x for x in diags if x["code"] == "bad-request"]
    line6 = (d / "tests" / "t_test.yaml").read_text().splitlines()[5]
    assert [(x["line"], x["column"]) for x in bad] == [(6, line6.index("subjetcs") + 1)], diags
    assert "dataset.partitions[0].subjetcs" in bad[0]["message"]
    out = run_cli(cli, "lint", "--format", "json", str(d))
    assert out.returncode == 1 and diags == json.loads(out.stdout)["diagnostics"]


def test_policies_test_runs_the_shipped_tests_as_the_cli(cli: str,
                                                         policies: residency.Policies) -> None:
    run = policies.test(POLICIES / "tests")
    out = run_cli(cli, "test", "--policies", str(POLICIES), str(POLICIES / "tests"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("%d passed, 0 failed" % run["passed"])
    assert run["failed"] == 0 and run["files_run"] > 0 and run["passed"] == len(run["cases"])
    assert all(c["passed"] and c["mismatches"] == [] for c in run["cases"])


def test_policies_test_reports_failures_and_refuses_what_cannot_run(
        policies: residency.Policies, tmp_path: pathlib.Path) -> None:
    t = tmp_path / "t_test.yaml"
    t.write_text("kind: tests\ncases:\n  - name: wrong\n    request: {kind: dataset, "
                 "destination: \"ncp:KR\", dataset: {id: d, partitions: [{classes: [public], "
                 "origin: KR}]}}\n    want: {decision: deny}\n")
    run = policies.test(str(t))
    assert (run["passed"], run["failed"]) == (0, 1)
    case = run["cases"][0]
    assert case["name"] == "wrong" and case["line"] == 3 and not case["passed"]
    assert "want decision deny" in case["mismatches"][0] and case["got"].startswith("allow")
    t.write_text("kind: tests\ncases:\n  - name: bad\n    request: {kind: datset}\n"
                 "    want: {decision: deny}\n")
    with pytest.raises(residency.PolicyError) as e:
        policies.test(str(t))
    assert e.value.diagnostics[0]["code"] == "bad-request"
    with pytest.raises(FileNotFoundError):
        policies.test(str(tmp_path / "missing"))


def test_compile_releases_the_gil() -> None:
    """Another Python thread runs while compile() is in C++ (py::gil_scoped_release).

    The main thread waits for the worker to enter compile(). Were the GIL held there, the main
    thread could run only after the whole compile (about its duration after t0); with the GIL
    released it runs right away. Several tries, so that one scheduling hiccup cannot fail it.
    """
    import threading
    import time

    results = []
    for _ in range(5):
        started = threading.Event()
        times = {}

        def work() -> None:
            times["t0"] = time.monotonic()
            started.set()
            residency.load_policies([str(POLICIES)])
            times["t1"] = time.monotonic()

        t = threading.Thread(target=work)
        t.start()
        started.wait()
        first = time.monotonic()  # the main thread is running again
        t.join()
        duration = times["t1"] - times["t0"]
        results.append((first - times["t0"], duration))
        if first - times["t0"] < duration / 2:
            return
    pytest.fail(f"the main thread never ran during compile(): (waited, compile) = {results}")
