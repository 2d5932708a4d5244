"""The surge mode: calls placed by the simulator itself at a steady rate, each recorded as it leaves."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from ngcc112.settings import AmiSettings, Settings
from ngcc112.sim.server import run_simulator
from ngcc112.sim.surge import PlacedRecord, SurgePlan, run_surge

pytestmark = pytest.mark.timeout(30)


async def test_surge_places_at_a_steady_rate_and_records_each_newchannel(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    out = io.StringIO()
    start_wall = sim.engine.wall()
    surge = asyncio.ensure_future(run_surge(sim, SurgePlan(rate=4.0, calls=10, hold=2.0), out))
    await drive.until(surge.done)
    records = surge.result()
    assert len(records) == 10
    # caller i is placed at i / rate, on the simulator's clock
    assert [round(r.sent_at - start_wall, 6) for r in records] == [i / 4.0 for i in range(10)]
    assert len({r.number for r in records}) == 10
    # the file holds the same records, one JSON line each
    assert [PlacedRecord.parse(line) for line in out.getvalue().splitlines()] == records
    await drive.idle(sim)
    arrived = {m["Uniqueid"]: m for m in client.messages if m.get("Event") == "Newchannel"}
    for record in records:
        frame = arrived[record.uniqueid]
        # the frame's Timestamp is the time it was written: the sent_at of its record
        assert float(frame["Timestamp"]) == pytest.approx(record.sent_at, abs=1e-6)
        assert frame["Linkedid"] == record.uniqueid
        assert frame["CallerIDNum"] == record.number
    hangups = [m for m in client.messages if m.get("Event") == "Hangup" and m["Uniqueid"] in arrived]
    assert len(hangups) == 10


async def test_surge_callers_hang_up_after_the_hold(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    surge = asyncio.ensure_future(run_surge(sim, SurgePlan(rate=1.0, calls=1, hold=3.0)))
    await drive.until(surge.done)
    (record,) = surge.result()
    await drive.idle(sim)
    answer = next(m for m in client.messages if m.get("Event") == "Newstate" and m["Uniqueid"] == record.uniqueid
                  and m["ChannelState"] == "6")
    hangup = next(m for m in client.messages if m.get("Event") == "Hangup" and m["Uniqueid"] == record.uniqueid)
    assert float(hangup["Timestamp"]) - float(answer["Timestamp"]) == pytest.approx(3.0, abs=1e-6)


@pytest.mark.parametrize("plan", [{"rate": 0.0, "calls": 1}, {"rate": 1.0, "calls": 0},
                                  {"rate": 1.0, "calls": 1, "hold": -1.0}])
def test_a_surge_plan_that_cannot_run_is_refused(plan: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SurgePlan(**plan)  # type: ignore[arg-type]


async def test_ngcc112_sim_surge_waits_for_a_client_then_writes_placed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command's path on the host's clock: placed after the login, a line per call, a line when done."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        unused_tcp_port = probe.getsockname()[1]
    placed = tmp_path / "placed.jsonl"
    settings = Settings(ami=AmiSettings(host="127.0.0.1", username="ngcc", secret="ngcc-secret"))
    server = asyncio.create_task(
        run_simulator(settings, unused_tcp_port, 0.0, SurgePlan(rate=50.0, calls=5, hold=0.0), placed)
    )
    try:
        reader, writer = await _connect(unused_tcp_port)
        writer.write(b"Action: Login\r\nUsername: ngcc\r\nSecret: ngcc-secret\r\n\r\n")
        seen = b""
        while seen.count(b"Event: Hangup\r\n") < 5:
            seen += await asyncio.wait_for(reader.read(65536), 20.0)
        writer.close()
        while "surge done: 5 calls placed" not in capsys.readouterr().out:
            await asyncio.sleep(0.01)
        lines = placed.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 5
        for record in map(PlacedRecord.parse, lines):
            assert f"Uniqueid: {record.uniqueid}\r\n".encode() in seen
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for _ in range(200):
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
    raise AssertionError(f"the simulator never listened on {port}")
