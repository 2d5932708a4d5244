"""bench/screen_pop.py --quick: a seconds-long run of operators on the real panel, its JSON in
stats.py's shape, every pop on the right socket and none missed.

No timing is asserted: the figures are read, never held to a bound (the machine is shared).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .quick import DISTRIBUTION, run_quick

pytestmark = pytest.mark.timeout(120)


def test_quick_screen_pop_writes_every_figure_and_pops_on_the_right_socket(tmp_path: Path) -> None:
    result = run_quick("screen_pop", tmp_path, timeout=110)
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
    assert set(pops) == DISTRIBUTION
    # every call rang one operator once (they all answer), and each ring popped
    assert pops["count"] == figures["screen_pop_agent_called"] == config["calls"]
    assert result["notes"]
