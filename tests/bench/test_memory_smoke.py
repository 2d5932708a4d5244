"""bench/memory.py --quick: 50 queued calls in the daemon and in a bare tracker, its JSON in stats.py's shape.

No size is asserted: the figures are read, never held to a bound (the machine is shared).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .quick import run_quick

pytestmark = pytest.mark.timeout(300)


def test_quick_memory_writes_every_figure(tmp_path: Path) -> None:
    result = run_quick("memory", tmp_path, timeout=280)
    figures = result["figures"]
    assert isinstance(figures["rss_mb_1000_calls"], float)
    assert isinstance(figures["rss_mb_daemon_no_calls"], float)
    assert isinstance(figures["tracker_bytes_per_call"], int)
    assert isinstance(figures["daemon_rss_bytes_per_call"], int)
    assert figures["calls"] == 50
    assert figures["tickets_opened"] == 50
    assert result["config"]["calls"] == 50
