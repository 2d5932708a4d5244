"""bench/memory.py --quick: 50 queued calls in the daemon and in a bare tracker, its JSON in stats.py's shape.

No size is asserted: the figures are read, never held to a bound (the machine is shared).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def test_quick_memory_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "memory.py"), "--quick", "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["name"] == "memory"
    assert set(result) == {"name", "figures", "distributions", "ratios", "notes", "config"}
    figures = result["figures"]
    assert isinstance(figures["rss_mb_1000_calls"], float)
    assert isinstance(figures["rss_mb_daemon_no_calls"], float)
    assert isinstance(figures["tracker_bytes_per_call"], int)
    assert isinstance(figures["daemon_rss_bytes_per_call"], int)
    assert figures["calls"] == 50
    assert figures["tickets_opened"] == 50
    assert result["config"]["calls"] == 50
