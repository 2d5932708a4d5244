"""bench/surge.py --quick: a seconds-long surge on the simulator, its JSON in stats.py's shape, nothing lost.

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


def test_quick_surge_writes_every_figure_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "surge.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "surge.py"), "--quick", "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["name"] == "surge"
    assert set(result) == {"name", "figures", "distributions", "ratios", "notes", "config"}
    figures = result["figures"]
    for key in (
        "ticket_open_p99_ms_sqlite",
        "ticket_open_p99_ms_postgresql",
        "lost_tickets",
        "duplicated_tickets",
        "cpu_ms_per_call_sim",
    ):
        assert key in figures
    assert figures["lost_tickets"] == 0
    assert figures["duplicated_tickets"] == 0
    assert isinstance(figures["ticket_open_p99_ms_sqlite"], float)
    placed = figures["placed_quick_20_per_s_3_s_sqlite"]
    assert placed == 60
    sqlite = result["distributions"]["ticket_open_ms_quick_20_per_s_3_s_sqlite"]
    assert sqlite["count"] == placed
    assert set(sqlite) == {"count", "p50", "p99", "max", "mean", "unit"}
    if figures["ticket_open_p99_ms_postgresql"] is None:  # no server: said so in the notes
        assert any("PostgreSQL not measured" in note for note in result["notes"])
    else:
        assert figures["lost_tickets_quick_20_per_s_3_s_postgresql"] == 0
