"""Run one benchmark's ``--quick`` form as ``make bench`` does (its own process) and read its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: The keys of every benchmark's JSON (bench/stats.py's BenchResult).
SHAPE = {"name", "figures", "distributions", "ratios", "notes", "config"}
#: The keys of every distribution in it.
DISTRIBUTION = {"count", "p50", "p99", "max", "mean", "unit"}


def run_quick(name: str, folder: Path, *, timeout: float) -> dict[str, Any]:
    """``bench/<name>.py --quick --json …``: its result, after checking it exited 0 and has the shape."""
    out = folder / f"{name}.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick", "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert result["name"] == name
    assert set(result) == SHAPE
    return result
