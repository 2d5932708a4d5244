"""bench/throughput.py --quick: every consumer on a seconds-long stream, its JSON in stats.py's shape.

No timing is asserted: the figures are read, never held to a bound (the machine is shared).
cacofonisk is installed apart from the project; where it cannot be, its figures are null
and the notes say why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .quick import DISTRIBUTION, run_quick

pytestmark = pytest.mark.timeout(420)


def test_quick_throughput_writes_every_figure(tmp_path: Path) -> None:
    result = run_quick("throughput", tmp_path, timeout=400)
    figures = result["figures"]
    for kind in ("bare", "panoramisk", "ngcc112"):
        assert isinstance(figures[f"frames_per_s_{kind}"], float)
        rates = result["distributions"][f"frames_per_s_{kind}"]
        assert set(rates) == DISTRIBUTION
        assert rates["count"] == 3
        assert rates["unit"] == "frames/s"
    assert isinstance(figures["throughput_ratio_vs_panoramisk"], float)
    assert result["ratios"]["throughput_ratio_vs_panoramisk"] == figures["throughput_ratio_vs_panoramisk"]
    assert "frames_per_s_cacofonisk" in figures
    assert "throughput_ratio_vs_cacofonisk" in result["ratios"]
    if figures["frames_per_s_cacofonisk"] is None:
        assert figures["throughput_ratio_vs_cacofonisk"] is None
        assert any("cacofonisk not measured" in note for note in result["notes"])
    else:
        assert isinstance(figures["throughput_ratio_vs_cacofonisk"], float)
    assert result["config"]["frames"] == 5000
