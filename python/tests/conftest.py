"""Shared fixtures: the source tree, the shipped policies, the CLI, a compiled snapshot.

Run from the build tree (ctest `python_tests` sets these):
    PYTHONPATH=build/python RESIDENCY_CLI=build/tools/residency/residency \
        /usr/bin/python3 -m pytest python/tests
"""
import os
import pathlib
import subprocess
from typing import Any, List, Optional

import pytest

import residency

SOURCE_DIR = pathlib.Path(
    os.environ.get("RESIDENCY_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
POLICIES = SOURCE_DIR / "policies"
REQUESTS = SOURCE_DIR / "examples" / "requests"


@pytest.fixture(scope="session")
def policies() -> residency.Policies:
    return residency.load_policies([str(POLICIES)])


@pytest.fixture(scope="session")
def cli() -> str:
    """Path of the residency CLI built beside the module, or skip."""
    path = os.environ.get("RESIDENCY_CLI")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("RESIDENCY_CLI is not set to the built residency CLI")
    return path


def run_cli(cli: str, *args: str,
            stdin: Optional[str] = None) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([cli, *args], input=stdin, capture_output=True, text=True, timeout=120)


def example_requests() -> List[Any]:
    """The example request files, for parametrize; one skipped case when there are none."""
    files: List[Any] = sorted(REQUESTS.glob("*.yaml"))
    return files or [pytest.param(None, marks=pytest.mark.skip("no example requests"))]


def example_texts() -> List[str]:
    """The example requests' texts; skips the test when there are none."""
    texts = [p.read_text() for p in sorted(REQUESTS.glob("*.yaml"))]
    if not texts:
        pytest.skip("no example requests")
    return texts
