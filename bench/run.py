"""Benchmarks for the call pipeline. Prints figures; asserts nothing (machines are shared and noisy).

1. tracker: every recorded transcript fed to the pure tracker, repeated — AMI events per second.
2. pipeline: a surge of 112 calls through the simulator (its own process) → TCP → link → tracker →
   SQLite; ticket-open latency (Newchannel as stamped by the simulated Asterisk → ticket
   committed: events carry Asterisk's Timestamp) as percentiles.
3. memory: tracker bytes per live call (tracemalloc), 2,000 calls held open.
4. login flood (bench/login_flood.py): 40 parallel bad logins against the panel; the event loop's lag
   and /healthz latency meanwhile.

Run with `make bench` (or `.venv/bin/python bench/run.py [--calls N]`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ngcc112.ami.message import AmiMessage, parse_frame
from ngcc112.ami.tracker import CallTracker
from ngcc112.hub import Hub
from ngcc112.sim.replay import Transcript
from ngcc112.settings import AmiSettings, Settings
from ngcc112.tickets.db import make_engine, make_sessions, upgrade
from ngcc112.tickets.store import TicketChanged, TicketStore

TRANSCRIPTS = Path(__file__).resolve().parent.parent.parent / "shared" / "ami-transcripts"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def new_tracker() -> CallTracker:
    return CallTracker(context="from-pstn", extensions=["112"], queues=["ngcc112-operators"])


def bench_tracker(rounds: int) -> None:
    messages: list[AmiMessage] = []
    for path in sorted(TRANSCRIPTS.glob("*.jsonl")):
        for frame in Transcript.load(path).events():
            message = parse_frame(frame.raw.decode("utf-8", "replace"))
            if message is not None:
                messages.append(message)
    best = float("inf")
    for _ in range(rounds):
        tracker = new_tracker()
        started = time.perf_counter()
        for message in messages:
            tracker.feed(message)
        best = min(best, time.perf_counter() - started)
    print(f"tracker: {len(messages)} recorded AMI events; best of {rounds}: "
          f"{len(messages) / best:,.0f} events/s ({best / len(messages) * 1e6:.1f} µs/event)")


def bench_memory(calls: int) -> None:
    tracker = new_tracker()
    at = datetime.now(timezone.utc)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(calls):
        uid = f"1795843000.{n}"
        tracker.feed(AmiMessage.from_pairs([
            ("Event", "Newchannel"), ("Channel", f"PJSIP/trunk-{n:08x}"), ("Uniqueid", uid), ("Linkedid", uid),
            ("Context", "from-pstn"), ("Exten", "112"), ("CallerIDNum", f"0812{n:08d}"), ("CallerIDName", "Caller"),
        ], at + timedelta(milliseconds=n)))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(f"memory: {calls} live calls in the tracker: {grown / calls:,.0f} bytes per call")


async def bench_pipeline(calls: int) -> None:
    """The simulator runs in its own process (as Asterisk would); the surge comes as AMI Originates."""
    import os
    import socket

    from ngcc112.ami import actions
    from ngcc112.ami.link import AmiLink
    from ngcc112.daemon import CallDaemon

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, NGCC112_AMI_PORT=str(port), NGCC112_LOG_LEVEL="error")
    sim = await asyncio.create_subprocess_exec(sys.executable, "-m", "ngcc112.cli", "sim", "--rate", "0",
                                               env=env, stdout=asyncio.subprocess.DEVNULL)
    try:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            await upgrade(url)
            engine = make_engine(url)
            hub = Hub()
            store = TicketStore(make_sessions(engine), hub.publish)
            settings = Settings(database_url=url, ami=AmiSettings(port=port, reconnect_min=0.1))
            daemon = CallDaemon(settings, store, hub)
            await daemon.start()
            link = asyncio.create_task(daemon.run_link())
            admin = AmiLink(AmiSettings(port=port, reconnect_min=0.1), lambda item: None)
            admin_task = asyncio.create_task(admin.run())
            while not (daemon.link.connected and admin.connected):
                await asyncio.sleep(0.05)
            subscription = hub.subscribe(maxsize=1_000_000)
            started = time.perf_counter()
            for n in range(calls):
                await admin.send(actions.originate("Local/112@from-pstn", context="ngcc-test", exten="wait",
                                                   caller_id=f"<0812{n:08d}>"))
            latencies: list[float] = []
            while len(latencies) < calls:
                change = await asyncio.wait_for(subscription.get(), 60)
                if isinstance(change, TicketChanged) and change.opened:
                    latencies.append((datetime.now(timezone.utc) - change.at).total_seconds() * 1000)
            elapsed = time.perf_counter() - started
            await daemon.drained()
            print(f"pipeline: a surge of {calls} calls (AMI Originate, simulator in its own process) → "
                  f"{calls} tickets in {elapsed:.2f} s ({calls / elapsed:,.0f} tickets/s, "
                  f"{daemon.stats.ami_events} AMI events)")
            print(f"  Newchannel (Asterisk's Timestamp) → ticket committed, ms: "
                  f"p50 {percentile(latencies, 50):.1f}  p95 {percentile(latencies, 95):.1f}  p99 {percentile(latencies, 99):.1f}  "
                  f"max {max(latencies):.1f}  mean {statistics.mean(latencies):.1f}")
            await admin.stop()
            admin_task.cancel()
            await daemon.stop()
            link.cancel()
            await engine.dispose()
    finally:
        sim.terminate()
        await sim.wait()


def bench_login_flood(logins: int) -> None:
    from login_flood import run_flood  # bench/login_flood.py, beside this file

    with tempfile.TemporaryDirectory() as folder:
        result = asyncio.run(run_flood(Path(folder), logins=logins))
    print(result.summary())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--logins", type=int, default=40, help="parallel bad logins in the login flood")
    args = parser.parse_args()
    from ngcc112 import logs

    logs.configure("console", "error", stream=sys.stderr)
    bench_tracker(args.rounds)
    bench_memory(2000)
    asyncio.run(bench_pipeline(args.calls))
    bench_login_flood(args.logins)
    return 0


if __name__ == "__main__":
    sys.exit(main())
