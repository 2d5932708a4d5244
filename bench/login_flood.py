"""Login flood: parallel bad logins against the real panel; the event loop's lag and /healthz meanwhile.

The panel (``ngcc112.panel.app.create_app`` on a migrated SQLite database with the demo
users) is served by aiohttp's test server in this process, so the flood, the panel and the
measurements share one event loop, as the daemon's calls would. Measured while
``--logins`` bad logins (unknown usernames and a real one, each from its own address
through a trusted proxy's X-Forwarded-For, so no throttle refuses them before the
password check) are in flight:

* event-loop lag: a ticker asks to sleep 5 ms and records how late it wakes up;
* /healthz latency: one probe after another, each timed;
* a real operator's login during the flood: how long until it gets in (honouring
  Retry-After when the panel says it is busy).

Prints figures; asserts nothing (machines are shared and noisy). tests/security/test_login_flood.py
runs the same flood with a generous bound. Run: `.venv/bin/python bench/login_flood.py [--logins 40]`
(also part of `make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stats import BenchResult, Distribution, percentile  # noqa: E402  (bench/stats.py, beside this file)

TICK_SECONDS = 0.005
#: A tick this late (ms) counts as a stall: the issue's target is a lag under 100 ms.
STALL_MS = 100.0
#: The proxy the flood comes through (the test server's peer is 127.0.0.1).
PROXY = "127.0.0.1/32"


@dataclass
class FloodResult:
    logins: int
    seconds: float = 0.0
    #: HTTP status → how many of the bad logins got it.
    answers: Counter[int] = field(default_factory=Counter)
    #: Refusals (429) that carried a Retry-After header.
    retry_after: int = 0
    lag_ms: list[float] = field(default_factory=list)
    healthz_ms: list[float] = field(default_factory=list)
    healthz_status: Counter[int] = field(default_factory=Counter)
    #: The real operator's login during the flood: seconds until 200, and its tries.
    real_login_seconds: float | None = None
    real_login_tries: int = 0

    @property
    def stalled_seconds(self) -> float:
        """How long the loop was stalled in total: the sum of the lags over :data:`STALL_MS`."""
        return sum(lag for lag in self.lag_ms if lag > STALL_MS) / 1000

    def summary(self) -> str:
        lag, health = self.lag_ms, self.healthz_ms
        answers = ", ".join(f"{n}× {status}" for status, n in sorted(self.answers.items()))
        real = (
            "not tried"
            if self.real_login_seconds is None
            else f"in after {self.real_login_seconds:.2f} s ({self.real_login_tries} tries)"
        )
        return (
            f"login flood: {self.logins} parallel bad logins answered in {self.seconds:.2f} s ({answers}; "
            f"{self.retry_after} refusals with Retry-After)\n"
            f"  event-loop lag, ms: p50 {percentile(lag, 50):.1f}  p95 {percentile(lag, 95):.1f}  "
            f"max {max(lag, default=float('nan')):.1f}  ({len(lag)} ticks of {TICK_SECONDS * 1000:.0f} ms; "
            f"stalled over {STALL_MS:.0f} ms for {self.stalled_seconds:.2f} s in all)\n"
            f"  /healthz latency, ms: p50 {percentile(health, 50):.1f}  p95 {percentile(health, 95):.1f}  "
            f"max {max(health, default=float('nan')):.1f}  ({len(health)} probes, "
            f"status {dict(self.healthz_status)})\n"
            f"  a real operator's login during the flood: {real}"
        )


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        await asyncio.sleep(TICK_SECONDS)
        lags.append(max(0.0, loop.time() - started - TICK_SECONDS) * 1000)


async def _prober(client, result: FloodResult, stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        async with client.get("/healthz") as response:
            await response.read()
            result.healthz_status[response.status] += 1
        result.healthz_ms.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02)


async def _csrf(client) -> str:
    async with client.get("/api/session") as response:
        return (await response.json())["csrf_token"]


async def _bad_login(client, token: str, n: int, result: FloodResult) -> None:
    username = "op1" if n % 2 else f"nobody{n}"  # a real operator's name and unknown ones
    async with client.post(
        "/api/session",
        json={"username": username, "password": f"guess-{n}-wrong"},
        headers={"X-CSRF-Token": token, "X-Forwarded-For": f"198.51.100.{n % 250 + 1}"},
    ) as response:
        await response.read()
        result.answers[response.status] += 1
        if response.status == 429 and response.headers.get("Retry-After", "").isdigit():
            result.retry_after += 1


async def _real_login(session_factory, result: FloodResult, deadline: float) -> None:
    """op2 at its own desk logs in during the flood, retrying as Retry-After says."""
    started = time.perf_counter()
    async with session_factory() as client:
        while time.perf_counter() < deadline:
            result.real_login_tries += 1
            token = await _csrf(client)
            async with client.post(
                "/api/session",
                json={"username": "op2", "password": "op2-demo-112"},
                headers={"X-CSRF-Token": token, "X-Forwarded-For": "192.0.2.77"},
            ) as response:
                await response.read()
                if response.status == 200:
                    result.real_login_seconds = time.perf_counter() - started
                    return
                if response.status != 429:
                    raise RuntimeError(f"the real login got {response.status}")
                wait = float(response.headers.get("Retry-After", "1"))
            await asyncio.sleep(min(wait, max(0.0, deadline - time.perf_counter())))


async def run_flood(
    work: Path, *, logins: int = 40, real_login: bool = True, quiet_seconds: float = 0.0
) -> FloodResult:
    """Serve the panel on a fresh SQLite database in ``work`` and flood it with ``logins`` bad
    logins; with ``quiet_seconds`` the loop lag is measured first without a flood (printed)."""
    import aiohttp
    from aiohttp.test_utils import TestClient, TestServer

    from ngcc112.app import build
    from ngcc112.panel.app import create_app
    from ngcc112.settings import PanelSettings, Settings
    from ngcc112.tickets.db import make_engine, make_sessions, upgrade
    from ngcc112.tickets.users import seed_demo_users

    url = f"sqlite+aiosqlite:///{work / 'flood.db'}"
    await upgrade(url)
    engine = make_engine(url)
    await seed_demo_users(make_sessions(engine))
    await engine.dispose()
    settings = Settings(database_url=url, panel=PanelSettings(cookie_secret="flood-bench", trusted_proxies=(PROXY,)))
    services = await build(settings, migrate=False)
    result = FloodResult(logins=logins)
    client = TestClient(TestServer(create_app(services)))
    await client.start_server()
    try:
        if quiet_seconds > 0:
            quiet: list[float] = []
            stop = asyncio.Event()
            ticker = asyncio.create_task(_ticker(quiet, stop))
            await asyncio.sleep(quiet_seconds)
            stop.set()
            await ticker
            print(
                f"  quiet loop lag, ms: p50 {percentile(quiet, 50):.1f}  p95 {percentile(quiet, 95):.1f}  "
                f"max {max(quiet):.1f}"
            )
        token = await _csrf(client)
        stop = asyncio.Event()
        watchers = [
            asyncio.create_task(_ticker(result.lag_ms, stop)),
            asyncio.create_task(_prober(client, result, stop)),
        ]
        started = time.perf_counter()
        flood = [asyncio.create_task(_bad_login(client, token, n, result)) for n in range(logins)]
        real = None
        if real_login:
            base = client.make_url("/")

            def session_factory() -> aiohttp.ClientSession:
                return aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))

            real = asyncio.create_task(_real_login(session_factory, result, started + 120))
        await asyncio.gather(*flood)
        result.seconds = time.perf_counter() - started
        if real is not None:
            await real
        stop.set()
        await asyncio.gather(*watchers)
    finally:
        await client.close()
        await services.engine.dispose()
    return result


def as_result(result: FloodResult, logins: int) -> BenchResult:
    """The flood in bench/stats.py's shape, for bench/run.py."""
    return BenchResult(
        name="login_flood",
        figures={
            "login_flood_loop_lag_max_ms": max(result.lag_ms, default=float("nan")),
            "login_flood_stalled_seconds": result.stalled_seconds,
            "login_flood_real_login_seconds": result.real_login_seconds,
        },
        distributions={
            "event-loop lag during the flood": Distribution.of(result.lag_ms),
            "/healthz latency during the flood": Distribution.of(result.healthz_ms),
        },
        notes=result.summary().splitlines(),
        config={"logins": logins, "tick_ms": TICK_SECONDS * 1000},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run (8 logins)")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON (bench/stats.py's shape)")
    args = parser.parse_args()
    from ngcc112 import logs

    logs.configure("console", "error", stream=sys.stderr)
    logins = 8 if args.quick else args.logins
    with tempfile.TemporaryDirectory() as folder:
        result = asyncio.run(run_flood(Path(folder), logins=logins, quiet_seconds=0.2 if args.quick else 1.0))
    as_result(result, logins).write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
