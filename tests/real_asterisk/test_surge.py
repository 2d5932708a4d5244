"""The quick surge of bench/asterisk_surge.py on a real Asterisk: every call has exactly one ticket.

The bench starts a lab of its own (Asterisk, ``ngcc112 run`` on SQLite, SIPp at 5 calls/s for 4 s);
this checks its JSON and what it counted, never its timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "asterisk_surge.py"


def test_quick_surge_gives_every_call_exactly_one_ticket(asterisk_build: Path, tmp_path: Path) -> None:
    out = tmp_path / "surge.json"
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["name"] == "asterisk_surge"
    assert {"figures", "distributions", "ratios", "notes", "config"} <= set(result)
    figures = result["figures"]
    for key in ("real_asterisk_ticket_open_p99_ms", "cpu_ms_per_call", "real_asterisk_lost_tickets",
                "real_asterisk_duplicated_tickets"):
        assert key in figures, key
    assert figures["calls_sqlite"] == 20  # 5 calls/s for 4 s, each one Asterisk reported
    assert figures["real_asterisk_lost_tickets"] == 0
    assert figures["real_asterisk_duplicated_tickets"] == 0
    assert result["distributions"]["ticket_open_ms_sqlite"]["count"] == 20
    # the eventfilter at work: the daemon got a fraction of what Asterisk sent
    assert figures["ami_events_per_call_sqlite"] < figures["asterisk_events_per_call_sqlite"] / 2
