"""Memory (issue 14): the daemon's RSS with 1,000 calls waiting in the queue, and the tracker's bytes per call.

The calls: ``b_abandon_in_queue`` from the raw Asterisk 22 transcripts, cut before its
``HangupRequest`` (Newchannel, the dialplan, ``QueueCallerJoin``, music on hold: a
caller waiting in the queue, never answered), copied and renumbered 1,000 times
(bench/ami_stream.py); ``--quick``: 50 calls. Each measurement runs in a fresh process:

* ``daemon``: what ``ngcc112 run`` keeps for its calls — :func:`ngcc112.app.build`'s
  services on a SQLite file, the call daemon (AMI link → tracker → journal → ticket
  store) and triage started (the panel left out, as in bench/surge.py), fed over TCP by
  the stream server; RSS (``VmRSS`` of ``/proc/self/status``) once every call has its
  ticket committed, the pipeline is drained and triage is idle, against the RSS of the
  same process started and logged in with no calls: ``rss_mb_1000_calls``;
* ``tracker``: a bare :class:`~ngcc112.ami.tracker.CallTracker` fed the same frames
  through the daemon's parsing (panoramisk's ``Message.from_line``, then
  ``AmiMessage.from_mapping``): the bytes ``tracemalloc`` sees still held after the
  calls, divided by the calls (``tracker_bytes_per_call``); and, in another process
  without tracemalloc, the RSS growth per call.

Run: ``.venv/bin/python bench/memory.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ami_stream import queued_calls  # noqa: E402
from stats import BenchResult  # noqa: E402

SRC = HERE.parent / "src"
FULL_CALLS, QUICK_CALLS = 1000, 50
HOST = "127.0.0.1"
#: Seconds the daemon may take to track, write and score every call.
SETTLE_SECONDS = 300.0


def rss_kb() -> int:
    """This process's resident set (VmRSS), in kB."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


# children (each a fresh process: ``memory.py --child KIND ...``) -----------------------------


def child_tracker(calls: int) -> dict[str, Any]:
    import tracemalloc
    from datetime import datetime, timezone

    from panoramisk.message import Message

    from ngcc112 import logs
    from ngcc112.ami.message import AmiMessage
    from ngcc112.ami.tracker import CallTracker
    from ngcc112.settings import Settings

    with open(os.devnull, "w", encoding="utf-8") as devnull:
        logs.configure("json", "warning", stream=devnull)
        flow = Settings().calls
        frames = [frame.strip("\r\n") for frame in queued_calls(calls)]
        tracker = CallTracker(
            context=flow.context, extensions=flow.extensions, queues=(flow.queue, flow.supervisor_queue)
        )
        queued = 0
        gc.collect()
        before = rss_kb()
        tracemalloc.start()
        start_traced = tracemalloc.get_traced_memory()[0]
        for frame in frames:
            message = AmiMessage.from_mapping(Message.from_line(frame), datetime.now(timezone.utc))
            if message is not None:
                queued += sum(1 for event in tracker.feed(message) if type(event).__name__ == "CallQueued")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - start_traced
        tracemalloc.stop()
        after = rss_kb()
    return {
        "rss_before_kb": before,
        "rss_after_kb": after,
        "traced_bytes": held,
        "live_calls": len(tracker.live_calls),
        "queued": queued,
        "frames": len(frames),
    }


async def child_daemon(calls: int, port: int) -> dict[str, Any]:
    from ngcc112 import logs
    from ngcc112.ami.message import AmiMessage
    from ngcc112.app import build
    from ngcc112.hub import Hub
    from ngcc112.settings import AmiSettings, Settings
    from ngcc112.tickets.store import TicketChanged
    from pydantic import SecretStr

    class CountingHub(Hub):
        def __init__(self) -> None:
            super().__init__()
            self.opened: set[str] = set()
            self.wanted = asyncio.Event()

        def publish(self, item: Any) -> None:
            if isinstance(item, TicketChanged) and item.opened:
                self.opened.add(item.linkedid)
                if len(self.opened) >= calls:
                    self.wanted.set()
            super().publish(item)

    with (
        tempfile.TemporaryDirectory(prefix="ngcc112-memory-") as scratch,
        open(Path(scratch) / "daemon.log", "w", encoding="utf-8") as log_file,
    ):
        folder = Path(scratch)
        logs.configure("json", "warning", stream=log_file)
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{folder / 'memory.db'}",
            journal_path=str(folder / "journal.db"),
            # the stream waits for the daemon's resync: CoreShowChannels, then one QueueStatus per queue
            ami=AmiSettings(host=HOST, port=port, username="bench:queuestatus:2", secret=SecretStr("bench-secret")),
        )
        hub = CountingHub()
        services = await build(settings, hub=hub)
        ended = asyncio.Event()

        def watch(event: AmiMessage) -> None:
            if event.name == "UserEvent" and event.get("UserEvent") == "BenchEnd":
                ended.set()

        services.daemon.link.listen(watch)
        await services.triage.start()
        await services.daemon.start()
        gc.collect()
        idle_kb = rss_kb()
        started = time.monotonic()
        link = asyncio.create_task(services.daemon.run_link())
        try:
            await asyncio.wait_for(ended.wait(), SETTLE_SECONDS)
            await asyncio.wait_for(hub.wanted.wait(), SETTLE_SECONDS)
            await asyncio.wait_for(services.daemon.drained(), SETTLE_SECONDS)
            await asyncio.wait_for(services.triage.idle(), SETTLE_SECONDS)
            settled = time.monotonic() - started
            gc.collect()
            loaded_kb = rss_kb()
            live = len(services.daemon.tracker.live_calls)
        finally:
            await services.daemon.stop()
            await services.triage.stop()
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)
            await services.engine.dispose()
    return {
        "rss_idle_kb": idle_kb,
        "rss_loaded_kb": loaded_kb,
        "live_calls": live,
        "tickets_opened": len(hub.opened),
        "settled_s": round(settled, 3),
    }


# the run -----------------------------------------------------------------------------------


def run_child(*args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=SETTLE_SECONDS * 2, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"memory child {args[0]} failed ({finished.returncode}): {finished.stderr.strip()[-2000:]}")
    return dict(json.loads(finished.stdout.strip().splitlines()[-1]))


def measure(calls: int) -> BenchResult:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "ami_stream.py"), "--queued-calls", str(calls)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    line = server.stdout.readline().split()
    if len(line) < 3 or line[0] != "listening":
        server.kill()
        raise RuntimeError(f"the AMI stream server did not start (exit {server.wait()})")
    port, frames = int(line[1]), int(line[2])
    try:
        daemon = run_child("daemon", "--calls", str(calls), "--port", str(port))
    finally:
        server.terminate()
        server.wait(30)
    traced = run_child("tracker", "--calls", str(calls))
    for name, outcome in (("daemon", daemon), ("tracker", traced)):
        print(f"memory: {name}: {outcome}", flush=True)
    for name, outcome in (("daemon", daemon), ("tracker", traced)):
        if outcome["live_calls"] != calls:
            raise RuntimeError(f"the {name} holds {outcome['live_calls']} calls, not {calls}")
    result = BenchResult("memory")
    mb = 1024.0
    result.figures = {
        "rss_mb_1000_calls": round(daemon["rss_loaded_kb"] / mb, 1),
        "tracker_bytes_per_call": round(traced["traced_bytes"] / calls),
        "calls": calls,
        "rss_mb_daemon_no_calls": round(daemon["rss_idle_kb"] / mb, 1),
        "daemon_rss_bytes_per_call": round((daemon["rss_loaded_kb"] - daemon["rss_idle_kb"]) * 1024 / calls),
        "tickets_opened": daemon["tickets_opened"],
        "settled_s": daemon["settled_s"],
    }
    result.notes = [
        f"{calls} callers waiting in the queue, never answered (b_abandon_in_queue cut before its HangupRequest, "
        f"{frames // calls} Event frames each, renumbered), fed over TCP by bench/ami_stream.py.",
        "rss_mb_1000_calls: VmRSS of a fresh process running app.build's services on SQLite, call daemon "
        "(link, tracker, journal, ticket store) and triage (no panel), once every call's ticket was committed, the "
        "pipeline drained and triage idle; rss_mb_daemon_no_calls: the same process with its services started, "
        "before the link connected; daemon_rss_bytes_per_call: the difference / calls.",
        "tracker_bytes_per_call: tracemalloc's bytes still held by a bare CallTracker after the calls (frames parsed "
        "as the daemon does: panoramisk Message.from_line, AmiMessage.from_mapping) / calls. (Its RSS growth says "
        "little: the parsing reuses the pages the frames' building freed.)",
    ]
    result.config = {"calls": calls, "frames": frames, "database": "sqlite", "services": "daemon + triage"}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CALLS} calls (CI's smoke run)")
    parser.add_argument("--json", metavar="PATH", help="write the result here")
    parser.add_argument("--calls", type=int, help="calls waiting in the queue (default 1,000; --quick 50)")
    parser.add_argument("--child", choices=["daemon", "tracker"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    calls = args.calls or (QUICK_CALLS if args.quick else FULL_CALLS)
    if args.child == "tracker":
        print(json.dumps(child_tracker(calls)), flush=True)
        return
    if args.child == "daemon":
        print(json.dumps(asyncio.run(child_daemon(calls, args.port))), flush=True)
        return
    measure(calls).write(args.json)


if __name__ == "__main__":
    main()
