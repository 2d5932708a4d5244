"""The fault table's harness stays runnable: one small fault on the simulator, nothing lost."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

FAULTS = Path(__file__).resolve().parents[1] / "bench" / "faults.py"


@pytest.mark.postgres
async def test_a_sigkill_mid_surge_loses_and_duplicates_nothing(tmp_path):
    spec = importlib.util.spec_from_file_location("ngcc112_faults", FAULTS)
    assert spec is not None and spec.loader is not None
    faults = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = faults  # its dataclasses look their module up there
    spec.loader.exec_module(faults)
    try:
        row = await faults.run_fault("smoke", faults.sigkill_mid_surge, calls=12, rate=6.0, work=tmp_path)
    except OSError as exc:  # no PostgreSQL here
        pytest.skip(f"PostgreSQL is needed for the fault table: {exc}")
    assert (row.calls, row.lost, row.duplicated) == (12, 0, 0)
    assert row.tickets == 12
