"""AMI throughput (issue 14): frames per second through ngcc112's pipeline, beside panoramisk and cacofonisk.

One recorded, mixed AMI stream (bench/ami_stream.py: the Event frames of every raw
Asterisk 22 transcript, copies renumbered, 200,000 frames; ``--quick`` 5,000), played
by a local server in its own process as fast as each client reads. Four consumers,
each in a fresh process of its own, each timed from the moment it connects and logs
in to the moment it has handled the sentinel ``UserEvent: BenchEnd``:

* ``bare``: an asyncio ``StreamReader``, ``readuntil(b"\\r\\n\\r\\n")``, counting frames
  (the ceiling: what the socket and the loop give at all);
* ``panoramisk``: ``panoramisk.Manager`` logged in, one callback on ``*``: panoramisk's
  own parsing of every frame into a ``Message`` and its dispatch;
* ``cacofonisk``: cacofonisk's ``EventHandler`` (its call tracker) on panoramisk's Manager,
  registered for its own event names as its ``AmiRunner`` does; installed apart from the
  project (``pip install --target ~/.cache/ngcc112/bench-peers cacofonisk``: the full run
  does it when it is missing, ``--quick`` only looks), that folder appended to ``sys.path``
  in its process, so the project's own panoramisk stays first;
* ``ngcc112``: the daemon's pipeline: :class:`~ngcc112.daemon.CallDaemon` with its real
  :class:`~ngcc112.ami.link.AmiLink` (login, resync, pings), protocol and parser, inbox,
  :class:`~ngcc112.ami.tracker.CallTracker` and hub; the ticket store discards what it is
  given (no database, no journal: that cost is bench/surge.py's).

Each consumer runs three times (interleaved); the figure is the median rate.
``throughput_ratio_vs_panoramisk`` = ngcc112 ÷ panoramisk, ``throughput_ratio_vs_cacofonisk``
= ngcc112 ÷ cacofonisk (null, with a note, when cacofonisk cannot be installed or run).
Run: ``.venv/bin/python bench/throughput.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ami_stream import SENTINEL, SEP  # noqa: E402
from stats import BenchResult, Distribution  # noqa: E402

SRC = HERE.parent / "src"
PEERS = Path(os.environ.get("NGCC112_BENCH_PEERS", str(Path.home() / ".cache" / "ngcc112" / "bench-peers")))
KINDS = ("bare", "panoramisk", "cacofonisk", "ngcc112")
FULL_FRAMES, QUICK_FRAMES = 200_000, 5_000
REPEATS = 3
#: Seconds one consumer may take (the slowest measured ~15 k frames/s: 200 k frames in ~15 s).
CONSUMER_TIMEOUT = 600.0
HOST = "127.0.0.1"
#: How cacofonisk is installed apart from the project (the full run does it when it is missing).
INSTALL = (".venv/bin/pip", "install", "--target")


# consumers (each runs in its own process: ``throughput.py --consume KIND --port N``) ---------


async def consume_bare(port: int) -> dict[str, Any]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(HOST, port)
    await reader.readuntil(b"\r\n")  # banner
    writer.write(b"Action: Login\r\nActionID: 1\r\nUsername: bench\r\nSecret: bench\r\nEvents: on\r\n\r\n")
    frames = 0
    while True:
        frame = await reader.readuntil(SEP)
        if frame.startswith(b"Event:"):
            frames += 1
            if frame == SENTINEL:
                break
    seconds = time.perf_counter() - started
    writer.close()
    return {"seconds": seconds, "events": frames}


async def _manager_run(port: int, register: Any) -> dict[str, Any]:
    """panoramisk's Manager, logged in; ``register(manager, done)`` adds the callbacks."""
    from panoramisk import Manager

    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    started = time.perf_counter()
    manager = Manager(loop=loop, host=HOST, port=port, username="bench", secret="bench", encoding="utf8")
    counts = register(manager, done)
    await manager.connect()
    ended = await done
    manager.close()
    return {"seconds": ended - started, **counts()}


def _is_sentinel(event: Any) -> bool:
    return bool(event.get("Event") == "UserEvent" and event.get("UserEvent") == "BenchEnd")


async def consume_panoramisk(port: int) -> dict[str, Any]:
    seen = {"events": 0}

    def register(manager: Any, done: asyncio.Future[float]) -> Any:
        def on_event(_manager: Any, event: Any) -> None:
            seen["events"] += 1
            if _is_sentinel(event) and not done.done():
                done.set_result(time.perf_counter())

        manager.register_event("*", on_event)
        return lambda: dict(seen)

    return await _manager_run(port, register)


async def consume_cacofonisk(port: int) -> dict[str, Any]:
    import logging

    sys.path.append(str(PEERS))  # appended: the project's own panoramisk stays first
    import cacofonisk  # type: ignore[import-not-found]
    import panoramisk
    from cacofonisk.handlers import EventHandler  # type: ignore[import-not-found]
    from cacofonisk.reporters import BaseReporter  # type: ignore[import-not-found]

    class CountingReporter(BaseReporter):  # type: ignore[misc]
        def __init__(self) -> None:
            self.calls = 0

        def on_b_dial(self, caller: Any, targets: Any) -> None:
            self.calls += 1

        def on_hangup(self, caller: Any, reason: Any) -> None:
            self.calls += 1

        def on_up(self, caller: Any, target: Any) -> None:
            self.calls += 1

        def on_queue_caller_abandon(self, caller: Any) -> None:
            self.calls += 1

    quiet = logging.getLogger("bench.cacofonisk")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    quiet.setLevel(logging.WARNING)  # ngcc112's daemon logs its warnings too (to /dev/null here)
    reporter = CountingReporter()
    handler = EventHandler(reporter, hostname=HOST, logger=quiet)
    seen = {"events": 0, "failures": 0}

    def register(manager: Any, done: asyncio.Future[float]) -> Any:
        def on_event(_manager: Any, event: Any) -> None:
            seen["events"] += 1
            if _is_sentinel(event):
                if not done.done():
                    done.set_result(time.perf_counter())
                return
            try:
                handler.on_event(event)
            except Exception:  # cacofonisk's asserts and KeyErrors on the streams it does not expect
                seen["failures"] += 1

        for name in EventHandler.event_handlers():  # as cacofonisk's AmiRunner does (FILTER_EVENTS)
            manager.register_event(name, on_event)
        return lambda: {
            **seen,
            "reported": reporter.calls,
            "cacofonisk": str(Path(cacofonisk.__file__).parent),
            "panoramisk": str(Path(panoramisk.__file__).parent),
        }

    return await _manager_run(port, register)


async def consume_ngcc112(port: int) -> dict[str, Any]:
    from ngcc112 import logs
    from ngcc112.ami.link import AmiLink
    from ngcc112.ami.link_items import LinkItem
    from ngcc112.ami.message import AmiMessage
    from ngcc112.daemon import CallDaemon
    from ngcc112.hub import Hub
    from ngcc112.settings import AmiSettings, Settings
    from pydantic import SecretStr

    with open(os.devnull, "w", encoding="utf-8") as devnull:
        logs.configure("json", "warning", stream=devnull)
        settings = Settings(
            database_url="sqlite+aiosqlite:///:memory:",
            journal_path="",
            # the stream waits for the daemon's resync: CoreShowChannels, then one QueueStatus per queue
            ami=AmiSettings(host=HOST, port=port, username="bench:queuestatus:2", secret=SecretStr("bench-secret")),
        )
        queues = (settings.calls.queue, settings.calls.supervisor_queue)
        ended = asyncio.Event()

        def link(receive: Any) -> AmiLink:
            def watched(item: LinkItem) -> None:
                receive(item)
                if isinstance(item, AmiMessage) and item.name == "UserEvent" and item.get("UserEvent") == "BenchEnd":
                    ended.set()

            return AmiLink(settings.ami, watched, resync_queues=queues)

        store = DiscardingStore()
        daemon = CallDaemon(settings, store, Hub(), link=link)  # type: ignore[arg-type]
        await daemon.start()
        started = time.perf_counter()
        running = asyncio.create_task(daemon.run_link())
        await ended.wait()
        await daemon.drained()
        seconds = time.perf_counter() - started
        await daemon.stop()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    return {
        "seconds": seconds,
        "events": daemon.stats.ami_events,
        "call_events": daemon.stats.call_events,
        "tickets_written": daemon.stats.tickets_written,
        "calls_opened": store.opened,
    }


class DiscardingStore:
    """The ticket store's interface, writing nothing: the pipeline up to the database."""

    def __init__(self) -> None:
        self.opened = 0

    async def answers(self, timeout: float = 5.0) -> bool:
        return True

    async def record_many(self, events: Any) -> list[Any]:
        from ngcc112.ami.events import CallArrived

        self.opened += sum(1 for event in events if isinstance(event, CallArrived))
        return []

    async def reconcile(self, resynced: Any, prefix: str = "") -> list[Any]:
        return []


CONSUMERS = {
    "bare": consume_bare,
    "panoramisk": consume_panoramisk,
    "cacofonisk": consume_cacofonisk,
    "ngcc112": consume_ngcc112,
}


# the run -----------------------------------------------------------------------------------


def cacofonisk_ready(install: bool) -> str:
    """'' when cacofonisk imports from PEERS (with ``install``, installing it there first if need be), else why not."""
    probe = [sys.executable, "-c", f"import sys; sys.path.append({str(PEERS)!r}); import cacofonisk.handlers"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return ""
    if not install:
        return f"cacofonisk not measured: not installed in {PEERS} ({' '.join(INSTALL)} {PEERS} cacofonisk)"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--timeout", "20", "--retries", "1"]
    command += ["--target", str(PEERS), "cacofonisk"]
    try:
        installed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        return "cacofonisk not measured: pip install --target timed out"
    if installed.returncode != 0 or subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        tail = (installed.stderr or installed.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"cacofonisk not measured: it could not be installed into {PEERS} ({tail[0][:200]})"
    return ""


def start_server(frames: int) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, str(HERE / "ami_stream.py"), "--frames", str(frames)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline().split()
    if len(line) < 2 or line[0] != "listening":
        server.kill()
        raise RuntimeError(f"the AMI stream server did not start (exit {server.wait()})")
    return server, int(line[1])


def run_consumer(kind: str, port: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, str(Path(__file__).resolve()), "--consume", kind, "--port", str(port)]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=CONSUMER_TIMEOUT, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"{kind} consumer failed ({finished.returncode}): {finished.stderr.strip()[-1500:]}")
    return dict(json.loads(finished.stdout.strip().splitlines()[-1]))


def measure(frames: int, repeats: int, *, install: bool) -> BenchResult:
    notes = [
        "Stream: the Event frames of every transcript in /work/shared/ami-transcripts (Asterisk 22.10.1, "
        "'Events: on', so ~60% VarSet), FullyBooted/Shutdown and action answers left out, copies renumbered "
        "(Uniqueid, Linkedid, channel names, bridge ids), then the sentinel; served by bench/ami_stream.py in its "
        "own process; every consumer in a fresh process, timed from connect + login to the sentinel handled.",
        "ngcc112 = CallDaemon with its AmiLink (login, resync, pings), AmiProtocol, inbox, CallTracker and hub; "
        "its ticket store discards the call events (no database, no journal: bench/surge.py measures those).",
        "The daemon in production reads far fewer events: Asterisk applies the ngcc user's eventfilter "
        "(ami/needed_events.py): ~14 events per queued call instead of ~78 (bench/surge.py notes); "
        "here every consumer reads everything.",
        "Profile before the fix (cProfile, 100k frames, ngcc112 consumer): ~88% of the time was "
        "AmiProtocol.data_received: AmiMessage.from_mapping 4.7 s of 9.1 s (walking panoramisk's "
        "CaseInsensitiveDict, lower-casing every key again, then from_pairs), panoramisk's Message.from_line 2.3 s; "
        "the tracker, inbox and hub ~0.65 s. Ratios then: 0.45-0.49 of panoramisk, 0.86-0.97 of cacofonisk.",
        "The change it forced (ami/protocol.py plain_event): an event that answers no action is read straight into "
        "an AmiMessage, header by header as panoramisk reads them (tests/test_ami_plain_events.py pins that both "
        "paths agree on every recorded frame); responses and list items still go through panoramisk. After it: "
        "~0.8 of panoramisk, ~1.6 of cacofonisk on this machine.",
    ]
    why_not = cacofonisk_ready(install)
    kinds = [kind for kind in KINDS if not (why_not and kind == "cacofonisk")]
    if why_not:
        notes.append(why_not)
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    details: dict[str, dict[str, Any]] = {}
    server, port = start_server(frames)
    try:
        for _ in range(repeats):
            for kind in list(kinds):
                try:
                    outcome = run_consumer(kind, port)
                except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                    if kind != "cacofonisk":
                        raise
                    notes.append(f"cacofonisk not measured: its run failed: {str(exc)[:300]}")
                    kinds.remove(kind)
                    rates.pop(kind, None)
                    continue
                rate = frames / outcome["seconds"]
                rates[kind].append(rate)
                details[kind] = outcome
                print(f"throughput: {kind}: {rate:,.0f} frames/s ({outcome})", flush=True)
    finally:
        server.terminate()
        server.wait(30)
    result = BenchResult("throughput", notes=notes)
    median = {kind: statistics.median(values) for kind, values in rates.items() if values}
    for kind in KINDS:
        result.figures[f"frames_per_s_{kind}"] = round(median[kind], 1) if kind in median else None
        if kind in rates and rates[kind]:
            result.distributions[f"frames_per_s_{kind}"] = Distribution.of(rates[kind], unit="frames/s")
    ngcc = median.get("ngcc112")
    for peer in ("panoramisk", "cacofonisk"):
        ratio = ngcc / median[peer] if ngcc is not None and peer in median else None
        key = f"throughput_ratio_vs_{peer}"
        result.figures[key] = round(ratio, 3) if ratio is not None else None
        result.ratios[key] = result.figures[key]
    caco = details.get("cacofonisk", {})
    if caco.get("failures"):
        notes.append(
            f"cacofonisk raised on {caco['failures']} of {caco['events']} events it was given (counted, skipped)."
        )
    ngcc_run = details.get("ngcc112", {})
    if ngcc_run:
        notes.append(
            f"ngcc112 tracked {ngcc_run['events']} events into {ngcc_run['call_events']} call events "
            f"({ngcc_run['calls_opened']} calls opened) per run."
        )
    result.config = {
        "frames": frames,
        "repeats": repeats,
        "consumers": list(rates),
        "cacofonisk_from": caco.get("cacofonisk"),
        "cacofonisk_panoramisk": caco.get("panoramisk"),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_FRAMES:,} frames (CI's smoke run)")
    parser.add_argument("--json", metavar="PATH", help="write the result here")
    parser.add_argument("--frames", type=int, help="frames in the stream (default 200,000; --quick 5,000)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--consume", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consume:
        print(json.dumps(asyncio.run(CONSUMERS[args.consume](args.port))), flush=True)
        return
    frames = args.frames or (QUICK_FRAMES if args.quick else FULL_FRAMES)
    measure(frames, args.repeats, install=not args.quick).write(args.json)


if __name__ == "__main__":
    main()
