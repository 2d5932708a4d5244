"""Screen-pop latency with 100 operators: AgentCalled on the AMI socket → the ringing operator's websocket.

The whole center runs in this process, as ``ngcc112 run`` runs it (``ngcc112.app.serve``:
daemon, triage, wrap-up, panel on 127.0.0.1, SQLite), against the AMI simulator with the
shipped manager.conf eventfilter. ``--operators`` operators (users ``op1`` … with the
softphones ``PJSIP/op1`` …, all sharing one argon2 hash made once) log in through the
panel's real login (``POST /api/session``), go Ready (``POST /api/me/presence``: QueueAdd
to the simulator) and hold the live websocket (``GET /ws``) as the browser does; on each
``call`` message the client fetches ``/api/me/state`` as panel.js does.

Calls come from the simulator: bursts of one call per operator placed at once (every
operator rung within the same moment), then a steady stream. The simulator's event
writer is wrapped: the monotonic time right after each ``AgentCalled`` frame is written to
the daemon's AMI socket is noted with the frame's ``Linkedid`` and ``Interface``. Measured:

* pop latency: that moment → the operator's websocket client (same process, same clock)
  receives the first ``call`` message whose ``ringing`` is that call;
* state latency: that moment → the ``/api/me/state`` the pop triggered has answered;
* wrong client: a pop for a call on a socket whose operator was not the one rung (must be 0);
* missed: an AgentCalled whose operator's socket never got the pop (must be 0);
* resyncs: sockets the panel closed as too slow (1013) or told to resync.

Prints figures; asserts nothing (machines are shared and noisy). Everything shares one
event loop (simulator, daemon, panel, 100 clients), so the figures include the clients'
own CPU. Run: ``.venv/bin/python bench/screen_pop.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stats import BenchResult, Distribution, percentile  # noqa: E402  (bench/stats.py, beside this file)

import aiohttp  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from ngcc112 import logs, names  # noqa: E402
from ngcc112.ami.needed_events import NEEDED  # noqa: E402
from ngcc112.ami.events import OperatorRinging  # noqa: E402
from ngcc112.app import serve  # noqa: E402
from ngcc112.panel.live import Client  # noqa: E402
from ngcc112.panel.state import PANEL  # noqa: E402
from ngcc112.services import Services  # noqa: E402
from ngcc112.settings import AmiSettings, CallFlowSettings, PanelSettings, Settings  # noqa: E402
from ngcc112.sim import AmiSimulator, AmiUser, CallScript, PlacedCall, SimulatorConfig  # noqa: E402
from ngcc112.sim.wire import Pairs  # noqa: E402

PASSWORD = "screen-pop-bench-112"
AMI_SECRET = "screen-pop-secret"
#: Seconds a step may take before the run is given up (a hang, not a slow machine).
STEP_TIMEOUT = 120.0
#: Seconds after the last call ended that a pop may still arrive before it counts as missed.
LATE_POP_SECONDS = 5.0
#: Logins in flight at once (argon2 runs on the panel's few password threads).
LOGIN_CONCURRENCY = 4


#: What was measured and changed (issue 14: profile, fix, report); bench/run.py copies these into RESULTS.md.
NOTES = [
    "Before (panel/live.py as on main at aefd212 and cef157a), 100 operators, 600 calls, three runs on a shared "
    "2-core machine: pop p50 29-50 ms, p99 351-436 ms (bursts p99 355-442 ms, steady 25/s p99 26-43 ms). The "
    "stages put it between the hub publish and the socket's queue (p99 428 ms): the panel's live consumer handled "
    "one hub item per loop turn, so a burst of 100 rings (and every other event of 100 calls) waited a whole turn "
    "of everything else per item.",
    "Fix (panel/live.py): the consumer handles up to 32 hub items per loop turn (CONSUME_BATCH). After, six "
    "runs: pop p50 4.5-17 ms, p99 55-210 ms (bursts p99 127-257 ms, steady p99 3.6-10 ms); with --no-fetch "
    "(no /api/me/state per pop) p99 41 ms. 0 wrong client, 0 missed, 0 sockets dropped in every run.",
    "After the lead's changes (the hot path of issue 14: heap frozen after start-up, batched ticket writes and "
    "triage; a page's ticket wait woken by the store's commit instead of polling every 50 ms; events read "
    "without panoramisk's Message), make bench on a quiet machine: pop p50 1.9 ms, p99 63.6 ms (steady 25/s p99 "
    "1.6 ms, bursts p99 63.9 ms; stages p99: AMI -> hub 15.7, hub -> socket queue 19.8, queue -> written 13.3, "
    "written -> client 29.4 ms).",
    "Still missed (target p99 <= 25 ms) in the bursts only, where all 100 operators are rung within the same "
    "millisecond. Profile (pyinstrument over a whole run, 49 s wall, the one event loop busy 13.8 s, the rest "
    "idle in epoll): the panel's HTTP requests 2.96 s (/api/me/state 1.86 s, of it desk_view 1.77 s: the ticket "
    "view 0.88 s, the caller's history 0.45 s), the simulator placing calls 1.76 s, the live hub 1.11 s, socket "
    "reads 1.05 s, the ticket store 1.02 s, websocket writes 0.66 s, the tracker 0.41 s, wrap-up 0.32 s, triage "
    "0.56 s. A burst is one loop doing all of that for 100 calls at once, with the 100 clients' own CPU in the "
    "same process. Next: a cheaper /api/me/state (the pops' own fetches are the largest part of a burst), and the "
    "clients in a process of their own so the figure is the panel's, not the harness's.",
    "Some state fetches (1-94 of 600, the more the busier the machine) came before the ticket was written (the "
    "daemon publishes the ring first and writes after): the ticket's own TicketChanged then tells the desk again "
    "and the page fetches it then.",
]


@dataclass(frozen=True, slots=True)
class Plan:
    operators: int
    bursts: int
    steady_calls: int
    steady_rate: float
    #: The operator's softphone: rings this long, then the operator talks this long and hangs up.
    ring_seconds: float = 0.3
    talk_seconds: float = 1.0
    #: After-call work (the wrap-up pause) before the operator takes calls again.
    wrapup_seconds: float = 1.0
    #: Each client fetches /api/me/state on its pop, as panel.js does (False: the pops alone).
    fetch_state: bool = True

    @property
    def calls(self) -> int:
        return self.operators * self.bursts + self.steady_calls


FULL = Plan(operators=100, bursts=3, steady_calls=300, steady_rate=25.0)
QUICK = Plan(operators=5, bursts=1, steady_calls=5, steady_rate=5.0)


#: The pop's stages, in order (see :meth:`Outcome.match`).
STAGES = ("ami_to_hub", "hub_to_socket_queue", "socket_queue_to_written", "written_to_client")


@dataclass(frozen=True, slots=True)
class Called:
    """An AgentCalled frame written to the daemon's socket: the call, the member rung, when."""

    linkedid: str
    interface: str
    at: float
    phase: str


class StampingSimulator(AmiSimulator):
    """The simulator, noting when each AgentCalled frame left for a client."""

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(config)
        self.called: list[Called] = []
        self.phase = ""
        #: (call id, interface) → when the ring was published on the hub / offered to the socket's queue.
        self.published: dict[tuple[str, str], float] = {}
        self.offered: dict[tuple[str, str], float] = {}
        self.written: dict[tuple[str, str], float] = {}

    def _broadcast(self, cls: str, pairs: Pairs) -> None:
        delivered = self.events_delivered
        super()._broadcast(cls, pairs)
        if pairs and pairs[0] == ("Event", "AgentCalled") and self.events_delivered > delivered:
            at = time.monotonic()  # the frame is in the socket's buffer: written
            fields = dict(pairs)
            self.called.append(Called(fields.get("Linkedid", ""), fields.get("Interface", ""), at, self.phase))


@dataclass
class Operator:
    """One operator's browser: a cookie jar, a CSRF token, the live socket, what it was told."""

    username: str
    interface: str
    http: aiohttp.ClientSession
    token: str = ""
    #: call id → monotonic time its pop arrived (the first ``call`` message ringing it).
    pops: dict[str, float] = field(default_factory=dict)
    #: call id → monotonic time the state fetched on its pop answered, and whether it had the ticket.
    fetched: dict[str, tuple[float, bool]] = field(default_factory=dict)
    messages: int = 0
    resyncs: int = 0
    reconnects: int = 0
    fetches: set[asyncio.Task[None]] = field(default_factory=set)


@dataclass
class Outcome:
    plan: Plan
    called: list[Called]
    operators: list[Operator]
    calls_placed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    login_seconds: float = 0.0
    run_seconds: float = 0.0
    dropped_clients: int = 0
    pop_ms: dict[str, list[float]] = field(default_factory=dict)
    #: The pop's stages: AMI frame → hub publish, → offered to the socket's queue, → written
    #: by the socket's writer, → received by the client.
    stage_ms: dict[str, list[float]] = field(default_factory=dict)
    published: dict[tuple[str, str], float] = field(default_factory=dict)
    offered: dict[tuple[str, str], float] = field(default_factory=dict)
    written: dict[tuple[str, str], float] = field(default_factory=dict)
    state_ms: list[float] = field(default_factory=list)
    state_without_ticket: int = 0
    wrong_client: int = 0
    missed: int = 0

    def match(self) -> None:
        """Pair every AgentCalled with the pop on its operator's socket."""
        by_interface = {op.interface: op for op in self.operators}
        rung = {(c.linkedid, c.interface) for c in self.called}
        for op in self.operators:
            self.wrong_client += sum(1 for call_id in op.pops if (call_id, op.interface) not in rung)
        for c in self.called:
            rung_op = by_interface.get(c.interface)
            popped = rung_op.pops.get(c.linkedid) if rung_op is not None else None
            if rung_op is None or popped is None:
                self.missed += 1
                continue
            latency = (popped - c.at) * 1000
            self.pop_ms.setdefault("all", []).append(latency)
            self.pop_ms.setdefault(c.phase, []).append(latency)
            key = (c.linkedid, c.interface)
            marks = [c.at, self.published.get(key), self.offered.get(key), self.written.get(key), popped]
            if None not in marks:
                for name, start, end in zip(STAGES, marks, marks[1:], strict=False):
                    self.stage_ms.setdefault(name, []).append((end - start) * 1000)  # type: ignore[operator]
            fetched = rung_op.fetched.get(c.linkedid)
            if fetched is not None:
                self.state_ms.append((fetched[0] - c.at) * 1000)
                self.state_without_ticket += 0 if fetched[1] else 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _seed_operators(url: str, count: int) -> None:
    """The operators' accounts on a migrated database: one argon2 hash made once, shared."""
    from ngcc112.tickets.db import make_engine, make_sessions, upgrade
    from ngcc112.tickets.models import User
    from ngcc112.tickets.passwords import PASSWORD_WORK, hash_password

    await upgrade(url)
    engine = make_engine(url)
    try:
        hashed = await PASSWORD_WORK.run(hash_password, PASSWORD)
        async with make_sessions(engine).begin() as session:
            for k in range(1, count + 1):
                session.add(
                    User(
                        username=f"op{k}",
                        display_name=f"Operator {k}",
                        role="operator",
                        password_hash=hashed,
                        interface=names.operator_interface(f"op{k}"),
                        active=True,
                    )
                )
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def running_center(folder: Path, plan: Plan) -> AsyncIterator[tuple[StampingSimulator, Services, str]]:
    """The simulator, then the center (``serve``) on it; yields once the daemon is logged in."""
    endpoints = {f"op{k}": True for k in range(1, plan.operators + 1)}
    user = AmiUser(secret=AMI_SECRET, read=("all",), write=("all",), eventfilter=NEEDED)
    sim = StampingSimulator(
        SimulatorConfig(port=0, users={names.AMI_USERNAME: user}, endpoints=endpoints, prompt_sound=False)
    )
    await sim.start()
    for endpoint in endpoints:
        sim.set_softphone(endpoint, ring_seconds=plan.ring_seconds, talk_seconds=plan.talk_seconds)
    url = f"sqlite+aiosqlite:///{folder / 'screen_pop.db'}"
    await _seed_operators(url, plan.operators)
    port = _free_port()
    settings = Settings(
        database_url=url,
        journal_path=str(folder / "journal.db"),
        ami=AmiSettings(
            port=sim.port, secret=SecretStr(AMI_SECRET), reconnect_min=0.1, reconnect_max=1.0, action_timeout=30.0
        ),
        panel=PanelSettings(port=port, cookie_secret=SecretStr("screen-pop-bench")),
        # model_construct: a wrap-up shorter than a sysadmin may set (5 s), so operators cycle fast
        calls=CallFlowSettings.model_construct(wrapup_seconds=plan.wrapup_seconds),
    )
    ready: asyncio.Future[Services] = asyncio.get_running_loop().create_future()

    async def on_ready(services: Services) -> None:
        _stamp_stages(sim, services)
        ready.set_result(services)

    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, on_ready=on_ready, say=lambda _line: None))
    try:
        starting: set[asyncio.Future[Any]] = {task, ready}
        done, _ = await asyncio.wait(starting, timeout=STEP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        if ready not in done:
            raise RuntimeError("ngcc112 did not start")
        services = ready.result()
        await _until(lambda: services.daemon.link.connected, "the daemon's AMI login")
        yield sim, services, f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)
        await sim.stop()


def _stamp_stages(sim: StampingSimulator, services: Services) -> None:
    """Note when each ring was published on the hub (by the daemon's tracker), offered to the
    ringing operator's socket queue (by the panel's live hub) and written by that socket's
    writer: where a slow pop spent its time."""
    publish = services.hub.publish

    def published(item: object) -> None:
        if isinstance(item, OperatorRinging):
            sim.published.setdefault((item.call_id, item.interface), time.monotonic())
        publish(item)

    services.hub.publish = published  # type: ignore[method-assign]
    assert services.panel_app is not None
    clients = services.panel_app[PANEL].live.clients
    send = clients.send

    def offered(client: Client, message: dict[str, Any]) -> None:
        ringing = message.get("ringing")
        if message.get("type") == "call" and ringing and client.interface:
            sim.offered.setdefault((ringing, client.interface), time.monotonic())
            if client.id not in wrapped:
                wrapped.add(client.id)
                _stamp_writes(sim, client)
        send(client, message)

    wrapped: set[int] = set()

    clients.send = offered  # type: ignore[method-assign]


def _stamp_writes(sim: StampingSimulator, client: Client) -> None:
    """Note when the socket's writer has handed each ring's message to the connection."""
    send_json = client.ws.send_json
    interface = client.interface or ""

    async def written(data: Any, *args: Any, **kwargs: Any) -> None:
        await send_json(data, *args, **kwargs)
        ringing = data.get("ringing") if isinstance(data, dict) else None
        if ringing and data.get("type") == "call":
            sim.written.setdefault((ringing, interface), time.monotonic())

    client.ws.send_json = written  # type: ignore[method-assign]


async def _until(check: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _log_in(op: Operator, limit: asyncio.Semaphore) -> None:
    """The panel's login, then Ready: what the operator does at the start of a shift."""
    async with limit:
        while True:
            async with op.http.get("/api/session") as response:
                token = (await response.json())["csrf_token"]
            async with op.http.post(
                "/api/session",
                json={"username": op.username, "password": PASSWORD},
                headers={"X-CSRF-Token": token},
            ) as response:
                if response.status == 429:  # the password threads are busy: as the page, try again
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                if response.status != 200:
                    raise RuntimeError(f"{op.username}'s login got {response.status}: {await response.text()}")
                op.token = str((await response.json())["csrf_token"])
                break
    async with op.http.post(
        "/api/me/presence", json={"presence": "ready"}, headers={"X-CSRF-Token": op.token}
    ) as response:
        if response.status != 200:
            raise RuntimeError(f"{op.username} could not go ready: {response.status} {await response.text()}")


async def _fetch_state(op: Operator, call_id: str) -> None:
    """What panel.js does on a ``call`` message: fetch the desk."""
    async with op.http.get("/api/me/state", headers={"Accept": "application/json"}) as response:
        state = await response.json()
    ringing = (state.get("desk") or {}).get("ringing") or {}
    op.fetched[call_id] = (time.monotonic(), bool(ringing.get("ticket")))


async def _listen(op: Operator, connected: asyncio.Event, stop: asyncio.Event, fetch: bool) -> None:
    """Hold the live socket; note each pop; reconnect (as live.js does) when the panel closes it."""
    while not stop.is_set():
        async with op.http.ws_connect("/ws") as ws:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                now = time.monotonic()
                data = message.json()
                op.messages += 1
                kind = data.get("type")
                if kind == "hello":
                    connected.set()
                elif kind == "resync":
                    op.resyncs += 1
                elif kind == "call":
                    ringing = data.get("ringing")
                    if ringing and ringing not in op.pops:
                        op.pops[ringing] = now
                        if not fetch:
                            continue
                        task = asyncio.create_task(_fetch_state(op, ringing))
                        op.fetches.add(task)
                        task.add_done_callback(op.fetches.discard)
            if ws.close_code == 1013:
                op.resyncs += 1
        if not stop.is_set():
            op.reconnects += 1
            await asyncio.sleep(0.05)


def _queue_free(sim: AmiSimulator, plan: Plan) -> bool:
    """Every operator in the queue, unpaused, and no call left in the simulator."""
    queue = sim.engine.queues.get(names.OPERATOR_QUEUE)
    if queue is None:
        return False
    members = [m for m in queue.members.values() if m.dynamic]
    return len(members) == plan.operators and not any(m.paused for m in members) and not sim.engine.core.calls


def _script(n: int) -> CallScript:
    return CallScript(number=f"0812{n:08d}", name=f"Penelepon {n}", hangup_after=None)


async def _burst(sim: StampingSimulator, plan: Plan, n: int, first: int) -> list[PlacedCall]:
    sim.phase = "burst"
    calls = [await sim.place_call(_script(first + k)) for k in range(plan.operators)]
    await asyncio.wait_for(asyncio.gather(*(c.ended for c in calls)), STEP_TIMEOUT)
    await _until(lambda: _queue_free(sim, plan), f"the operators free after burst {n + 1}")
    return calls


async def _steady(sim: StampingSimulator, plan: Plan, first: int) -> list[PlacedCall]:
    sim.phase = "steady"
    calls = []
    started = time.monotonic()
    for k in range(plan.steady_calls):
        await asyncio.sleep(max(0.0, started + k / plan.steady_rate - time.monotonic()))
        calls.append(await sim.place_call(_script(first + k)))
    await asyncio.wait_for(asyncio.gather(*(c.ended for c in calls)), STEP_TIMEOUT)
    return calls


async def run(plan: Plan, folder: Path) -> Outcome:
    async with running_center(folder, plan) as (sim, services, base):
        cookies = [aiohttp.CookieJar(unsafe=True) for _ in range(plan.operators)]
        ops = [
            Operator(f"op{k}", names.operator_interface(f"op{k}"), aiohttp.ClientSession(base, cookie_jar=jar))
            for k, jar in enumerate(cookies, start=1)
        ]
        outcome = Outcome(plan, sim.called, ops, published=sim.published, offered=sim.offered, written=sim.written)
        stop = asyncio.Event()
        listeners: list[asyncio.Task[None]] = []
        try:
            started = time.monotonic()
            limit = asyncio.Semaphore(LOGIN_CONCURRENCY)
            await asyncio.wait_for(asyncio.gather(*(_log_in(op, limit) for op in ops)), STEP_TIMEOUT)
            connected = [asyncio.Event() for _ in ops]
            listeners = [
                asyncio.create_task(_listen(op, c, stop, plan.fetch_state))
                for op, c in zip(ops, connected, strict=True)
            ]
            await asyncio.wait_for(asyncio.gather(*(c.wait() for c in connected)), STEP_TIMEOUT)
            await _until(lambda: _queue_free(sim, plan), "every operator ready in the queue")
            outcome.login_seconds = time.monotonic() - started
            started = time.monotonic()
            placed: list[PlacedCall] = []
            for n in range(plan.bursts):
                placed += await _burst(sim, plan, n, len(placed))
            placed += await _steady(sim, plan, len(placed))
            outcome.run_seconds = time.monotonic() - started

            def popped() -> bool:
                seen = {op.interface: op.fetched if plan.fetch_state else op.pops for op in ops}
                return all(c.interface in seen and c.linkedid in seen[c.interface] for c in sim.called)

            with contextlib.suppress(RuntimeError):
                await _until(popped, "the last pops", timeout=LATE_POP_SECONDS)
            outcome.calls_placed = len(placed)
            for call in placed:
                outcome.outcomes[call.outcome] = outcome.outcomes.get(call.outcome, 0) + 1
            if services.panel_app is not None:
                outcome.dropped_clients = services.panel_app[PANEL].live.dropped_clients
        finally:
            stop.set()
            for op in ops:
                for task in list(op.fetches):
                    task.cancel()
            for listener in listeners:
                listener.cancel()
            for listener in listeners:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener
            for op in ops:
                await op.http.close()
    outcome.match()
    return outcome


def result_of(outcome: Outcome, quick: bool) -> BenchResult:
    plan = outcome.plan
    pops = outcome.pop_ms.get("all", [])
    result = BenchResult("screen_pop")
    result.figures = {
        "screen_pop_p99_ms": percentile(pops, 99),
        "screen_pop_p50_ms": percentile(pops, 50),
        "screen_pop_max_ms": max(pops, default=float("nan")),
        "screen_pop_wrong_client": outcome.wrong_client,
        "screen_pop_missed": outcome.missed,
        "screen_pop_agent_called": len(outcome.called),
        "screen_pop_state_p99_ms": percentile(outcome.state_ms, 99),
        "screen_pop_state_without_ticket": outcome.state_without_ticket,
        "screen_pop_resyncs": sum(op.resyncs for op in outcome.operators),
        "screen_pop_dropped_clients": outcome.dropped_clients,
    }
    result.distributions = {
        "screen_pop_ms": Distribution.of(pops),
        **{f"screen_pop_ms_{phase}": Distribution.of(v) for phase, v in outcome.pop_ms.items() if phase != "all"},
        **{f"screen_pop_stage_ms_{name}": Distribution.of(outcome.stage_ms.get(name, [])) for name in STAGES},
        "screen_pop_state_fetched_ms": Distribution.of(outcome.state_ms),
    }
    result.config = {
        "operators": plan.operators,
        "calls": outcome.calls_placed,
        "bursts": plan.bursts,
        "steady_calls": plan.steady_calls,
        "steady_rate_per_s": plan.steady_rate,
        "ring_s": plan.ring_seconds,
        "talk_s": plan.talk_seconds,
        "wrapup_s": plan.wrapup_seconds,
        "fetch_state": plan.fetch_state,
        "quick": quick,
    }
    outcomes = ", ".join(f"{n} {name}" for name, n in sorted(outcome.outcomes.items()))
    messages = [op.messages for op in outcome.operators]
    resyncs = sum(op.resyncs for op in outcome.operators)
    result.notes = [
        *NOTES,
        f"{plan.operators} operators logged in through POST /api/session, went Ready (QueueAdd to the simulator) "
        f"and held GET /ws; {outcome.calls_placed} calls ({outcomes}): {plan.bursts} burst(s) of one call per "
        f"operator placed at once, then {plan.steady_calls} at {plan.steady_rate:g}/s; {len(outcome.called)} "
        f"AgentCalled frames written in {outcome.run_seconds:.1f} s (logins and Ready took "
        f"{outcome.login_seconds:.1f} s).",
        "Latency = the operator's websocket client receiving the first `call` message ringing the call - the "
        "monotonic time right after the simulator wrote the AgentCalled frame to the daemon's socket; one process, "
        "one event loop (simulator, daemon + triage + wrap-up + panel on SQLite, every client), so the clients' "
        "own CPU is in it. State = the same start to the /api/me/state the pop made the client fetch (panel.js).",
        f"Wrong client {outcome.wrong_client}, missed {outcome.missed}; sockets resynced {resyncs}, "
        f"dropped by the panel as too slow {outcome.dropped_clients}; websocket messages per operator: "
        f"max {max(messages, default=0)}, total {sum(messages)}.",
    ]
    return result


async def main_async(quick: bool, fetch_state: bool = True) -> BenchResult:
    plan = dataclasses.replace(QUICK if quick else FULL, fetch_state=fetch_state)
    with tempfile.TemporaryDirectory(prefix="ngcc112-screen-pop-") as folder:
        outcome = await run(plan, Path(folder))
    pops = outcome.pop_ms.get("all", [])
    print(
        f"screen_pop: {plan.operators} operators, {outcome.calls_placed} calls: {Distribution.of(pops).line()}; "
        f"wrong {outcome.wrong_client} missed {outcome.missed}",
        flush=True,
    )
    return result_of(outcome, quick)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.operators} operators, {QUICK.calls} calls")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON (bench/stats.py's shape)")
    parser.add_argument(
        "--no-fetch", action="store_true", help="the clients do not fetch /api/me/state on a pop (the pops alone)"
    )
    args = parser.parse_args()
    logs.configure("console", "error", stream=sys.stderr)
    asyncio.run(main_async(args.quick, fetch_state=not args.no_fetch)).write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
