"""python/examples/guard_shard.py: the loader's guard opens allowed shards, refuses the others."""
import os
import pathlib
import subprocess
import sys

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
