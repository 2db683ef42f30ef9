"""python/examples: the loader guard (guard_shard.py) and the data-lake scan (scan_inventory.py)."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

from conftest import POLICIES

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def test_guard_shard_example() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLES / "guard_shard.py"),
                          "--policies", str(POLICIES)],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert out.returncode == 0, out.stdout + out.stderr
    log = out.stdout + out.stderr
    assert "opened kr-chat-2026q2/shard-00000" in log
    assert "opened jp-chat-2026/shard-00001" in log
    assert "jp-chat-2026: obligation jp.consent_information" in log
    assert "refused cn-ecommerce-2026/shard-00000" in log
    assert "refused unknown-bucket/shard-00000" in log  # unknown location: fail closed


def test_scan_inventory_example(tmp_path: pathlib.Path) -> None:
    """python/examples/scan_inventory.py: generate, scan on a LocalCluster, report."""
    pytest.importorskip("distributed", reason="python3-distributed is not installed (CI has it)")
    pytest.importorskip("matplotlib", reason="python3-matplotlib is not installed (CI has it)")
    out = subprocess.run([sys.executable, str(EXAMPLES / "scan_inventory.py"),
                          "--policies", str(POLICIES), "--manifests", "5000", "--workers", "2",
                          "--out", str(tmp_path / "scan")],
                         capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "5000 manifests decided" in out.stdout
    decisions = sorted((tmp_path / "scan" / "decisions").glob("*.jsonl"))
    assert len(decisions) == 8
    assert sum(len(p.read_text().splitlines()) for p in decisions) == 5000
    page = (tmp_path / "scan" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "http://" not in page and "https://" not in page
    # The table's totals add up to the manifests.
    totals = re.findall(r"<td>(\d+)</td></tr>", page)
    assert sum(int(t) for t in totals) == 5000
    assert "<td>KR</td>" in page
