"""bench/screen_pop.py --quick: a seconds-long run of operators on the real panel, its JSON in
stats.py's shape, every pop on the right socket and none missed.

No timing is asserted: the figures are read, never held to a bound (the machine is shared).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def test_quick_screen_pop_writes_every_figure_and_pops_on_the_right_socket(tmp_path: Path) -> None:
    out = tmp_path / "screen_pop.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "screen_pop.py"), "--quick", "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["name"] == "screen_pop"
    assert set(result) == {"name", "figures", "distributions", "ratios", "notes", "config"}
    figures = result["figures"]
    for key in ("screen_pop_p99_ms", "screen_pop_p50_ms", "screen_pop_wrong_client", "screen_pop_missed"):
        assert key in figures
    assert figures["screen_pop_wrong_client"] == 0
    assert figures["screen_pop_missed"] == 0
    assert isinstance(figures["screen_pop_p99_ms"], float)
    config = result["config"]
    assert config["operators"] == 5
    assert config["calls"] >= config["operators"]
    pops = result["distributions"]["screen_pop_ms"]
    assert set(pops) == {"count", "p50", "p99", "max", "mean", "unit"}
    # every call rang one operator once (they all answer), and each ring popped
    assert pops["count"] == figures["screen_pop_agent_called"] == config["calls"]
    assert result["notes"]
