"""The AMI TCP server: accepting clients, login, permissions, dispatching actions, event delivery, the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import structlog

from ngcc112 import names
from ngcc112.ami.needed_events import NEEDED
from ngcc112.clock import SYSTEM_CLOCK, Clock
from ngcc112.settings import Settings
from ngcc112.sim.actions import ACTIONS, QUEUE_ACTIONS, cli_words
from ngcc112.sim.calls import CallScript, PlacedCall
from ngcc112.sim.config import AmiUser, SimulatorConfig
from ngcc112.sim.engine import Engine
from ngcc112.sim.eventfilter import EventFilter
from ngcc112.sim.model import Softphone
from ngcc112.sim.queue_actions import queue_show
from ngcc112.sim.replies import error
from ngcc112.sim.session import Session, event_classes
from ngcc112.sim.surge import SurgePlan, run_surge
from ngcc112.sim.traffic import generate_calls
from ngcc112.sim.wire import BANNER, ActionParser, Pairs, encode, header

log = structlog.get_logger(__name__)

_MODULE_DESCRIPTIONS = {
    "app_queue.so": "True Call Queueing",
    "res_pjsip.so": "Basic SIP resource",
    "chan_pjsip.so": "PJSIP Channel Driver",
    "func_talkdetect.so": "Talk detection dialplan function",
    "res_geolocation.so": "res_geolocation Module for Asterisk",
    "res_pjsip_geolocation.so": "res_pjsip_geolocation Module for Asterisk",
}


class AmiSimulator:
    """A simulated Asterisk 22 speaking AMI over TCP. See :mod:`ngcc112.sim`.

    Its time is ``clock``: the host's by default, a :class:`~ngcc112.clock.VirtualClock`
    for runs whose results must not depend on the machine (see :mod:`ngcc112.sim.driver`).
    """

    def __init__(self, config: SimulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.clock = clock or SYSTEM_CLOCK
        self.engine = Engine(self.config, self._broadcast, self.clock)
        self.sessions: set[Session] = set()
        #: Every action clients sent: (username or "", headers as a dict).
        self.received_actions: list[tuple[str, dict[str, str]]] = []
        #: Events written to any client so far (a harness compares it with what arrived).
        self.events_delivered = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[object]] = set()
        self._boot_wall = 0.0
        self._reloaded_wall = 0.0
        self._fresh_boot = False
        self._restarting = False
        self.log = log.bind(component="sim")

    # -- lifecycle --------------------------------------------------------

    async def start(self) -> None:
        self.engine.start_clock()
        self._boot_wall = self.engine.wall() - self.config.initial_uptime
        self._reloaded_wall = self._boot_wall
        await self._listen(self.config.port)
        if self.config.rate_per_minute > 0:
            self.spawn(generate_calls(self, self.config.rate_per_minute, random.Random(self.config.seed)))
        self.log.info("sim.started", host=self.config.host, port=self.port)

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._on_client, self.config.host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.engine.cancel_all()
        for session in list(self.sessions):
            session.abort()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        handlers = list(self._handlers)
        if handlers:
            _done, pending = await asyncio.wait(handlers, timeout=1.0)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self.log.info("sim.stopped")

    async def stop_listening(self) -> None:
        """Refuse new connections (AMI unreachable); connected clients stay connected."""
        await self._close_listener()

    async def listen_again(self) -> None:
        """Accept connections again, on the same port."""
        if self._server is None:
            await self._listen(self.port)

    async def drop_clients(self) -> None:
        """Cut every client connection abruptly (no Shutdown, no FIN handshake)."""
        for session in list(self.sessions):
            session.abort()
        await asyncio.sleep(0)

    async def restart(self) -> None:
        """Like ``core restart now``: calls hung up, Shutdown, close, boot again."""
        self._restarting = True
        self.engine.restart_hangup_all()
        self._broadcast(
            "system", [("Event", "Shutdown"), ("Privilege", "system,all"), ("Shutdown", "Cleanly"), ("Restart", "True")]
        )
        await self._close_listener()
        for session in list(self.sessions):
            session.close_after_flush()
        await self.engine.cancel_all()
        self.engine.reset_state()
        await self.engine.sleep(0.4)  # Asterisk booting again
        self._boot_wall = self.engine.wall()
        self._reloaded_wall = self._boot_wall
        self._fresh_boot = True
        await self._listen(self.port)
        self._restarting = False
        self.log.info("sim.restarted", port=self.port)

    async def wait_idle(self) -> None:
        await self.engine.wait_idle()

    # -- calls ------------------------------------------------------------

    async def place_call(self, script: CallScript) -> PlacedCall:
        """Start a simulated caller; while the simulator restarts the call fails at once."""
        if self._restarting:
            placed = PlacedCall(script)
            placed._finish("failed")
            return placed
        return self.engine.place(script)

    def place_from_originate(self, script: CallScript, action_id: str) -> PlacedCall:
        return self.engine.place(script, originate_action_id=action_id)

    def set_softphone(
        self,
        endpoint: str,
        *,
        answers: bool = True,
        ring_seconds: float = 0.5,
        talk_seconds: float | None = None,
        registered: bool | None = None,
    ) -> None:
        """How operator ``endpoint``'s softphone reacts when the queue rings it."""
        self.engine.softphones[endpoint] = Softphone(answers, ring_seconds, talk_seconds)
        if registered is not None or endpoint not in self.engine.registered:
            self.engine.set_registered(endpoint, True if registered is None else registered)
        self.engine.dispatch_all()

    def spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        """Run ``coro`` beside the calls (kept until it ends, cancelled when the simulator stops)."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- CLI (Command action) ---------------------------------------------

    def cli(self, cmd: str) -> list[str] | None:
        words = cli_words(cmd)
        lowered = [w.lower() for w in words]
        if lowered == ["core", "show", "version"]:
            return [
                f"Asterisk {self.config.asterisk_version} built by root @ vm on a x86_64 running "
                "Linux on 2026-11-28 05:11:34 UTC"
            ]
        if lowered[:2] == ["queue", "show"] and "app_queue.so" in self.config.modules_loaded:
            if len(words) == 2:
                lines: list[str] = []
                for name in self.engine.queues:
                    lines.extend(queue_show(self, name))
                return lines
            return queue_show(self, words[2])
        if lowered[:3] == ["module", "show", "like"] and len(words) >= 4:
            pattern = words[3]
            found = sorted(m for m in self.config.modules_loaded if pattern in m)
            lines = [f"{'Module':<30} {'Description':<40} {'Use Count':<10} {'Status':<11} Support Level"]
            for module in found:
                desc = _MODULE_DESCRIPTIONS.get(module, module.removesuffix(".so"))
                lines.append(f"{module:<30} {desc:<40} {0:<10} {'Running':<11} {'core':>12}")
            lines.append(f"{len(found)} modules loaded")
            return lines
        if lowered == ["core", "restart", "now"]:
            self.spawn(self.restart())
            return []
        return None

    # -- sessions ---------------------------------------------------------

    def _broadcast(self, cls: str, pairs: Pairs) -> None:
        if not self.sessions:
            return
        data = encode(self._stamped(pairs))
        for session in list(self.sessions):
            if session.event_filter.passes(pairs):
                session.deliver(cls, data)

    def _stamped(self, pairs: Pairs) -> Pairs:
        """With ``timestampevents``: ``Timestamp`` right after ``Privilege``, as manager.c adds it."""
        if not self.config.timestamp_events:
            return pairs
        at = 2 if len(pairs) > 1 and pairs[1][0] == "Privilege" else 1
        return [*pairs[:at], ("Timestamp", f"{self.engine.wall():.6f}"), *pairs[at:]]

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        session = Session(self, reader, writer)
        self.sessions.add(session)
        session.log.info("sim.client_connected")
        parser = ActionParser()
        try:
            session.put(BANNER)
            while not session.closing:
                data = await reader.read(65536)
                if not data:
                    break
                for pairs in parser.feed(data):
                    await self._process(session, pairs)
                    if session.closing:
                        break
                session.bytes_in += len(data)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # only stop() cancels a connection handler; asyncio's stream callback would
            # report a re-raised cancellation as an error, so the handler just ends
            session.abort()
        finally:
            self.sessions.discard(session)
            self._handlers.discard(task)
            if not session.closing:
                session.close_after_flush()
            session.log.info("sim.client_gone", user=session.username)

    async def _process(self, session: Session, pairs: Pairs) -> None:
        action = header(pairs, "Action")
        self.received_actions.append((session.username, {k: v for k, v in pairs}))
        if not action:
            self._security(session, "RequestBadFormat", [("RequestType", "NONE")])
            session.send(error(pairs, "Missing action in request"))
            return
        key = action.lower()
        if key == "login":
            self._login(session, pairs)
            return
        if key == "challenge":
            session.send(error(pairs, "Must specify AuthType"))
            return
        if not session.authenticated and key != "logoff":
            session.send(error(pairs, "Permission denied"))
            return
        spec = ACTIONS.get(key)
        if spec is not None and key in QUEUE_ACTIONS and "app_queue.so" not in self.config.modules_loaded:
            spec = None
        if spec is None or spec.handler is None:
            session.send(
                error(pairs, f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands.")
            )
            self._security(session, "RequestBadFormat", [("RequestType", f"Action: {action}")])
            return
        if not session.may_write(spec.privilege):
            session.send(error(pairs, "Permission denied"))
            return
        await spec.handler(self, session, pairs)

    def _security(self, session: Session, event: str, extra: Pairs) -> None:
        self._broadcast("security", session.security_event(event, extra))

    def _login(self, session: Session, pairs: Pairs) -> None:
        username, secret = header(pairs, "Username"), header(pairs, "Secret")
        user = self.config.users.get(username)
        if user is None or user.secret != secret:
            self._security(session, "InvalidPassword", [("AccountID", username)])
            session.send(error(pairs, "Authentication failed"))
            session.log.info("sim.login_failed", user=username)
            session.close_after_flush()
            return
        session.username, session.user = username, user
        session.read, session.write = event_classes(user.read), event_classes(user.write)
        session.event_filter = EventFilter.of(user.eventfilter)
        events = header(pairs, "Events")
        session.set_events(events if any(k.lower() == "events" for k, _ in pairs) else "on")
        session.log = session.log.bind(user=username)
        aid = header(pairs, "ActionID")
        session.send(
            [("Response", "Success"), *([("ActionID", aid)] if aid else []), ("Message", "Authentication accepted")]
        )
        uptime = int(self.engine.wall() - self._boot_wall)
        reload_ = int(self.engine.wall() - self._reloaded_wall)
        if self._fresh_boot:  # the boot's own manager event (the other is written to the session)
            self._fresh_boot = False
            self._security(session, "SuccessfulAuth", [])
            session.deliver(
                "system",
                encode(
                    self._stamped(
                        [
                            ("Event", "FullyBooted"),
                            ("Privilege", "system,all"),
                            ("Status", "Fully Booted"),
                            ("Uptime", str(uptime)),
                            ("LastReload", str(reload_)),
                        ]
                    )
                ),
            )
        else:
            session.deliver(
                "system",
                encode(
                    [
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Uptime", str(uptime)),
                        ("LastReload", str(reload_)),
                        ("Status", "Fully Booted"),
                    ]
                ),
            )
            self._security(session, "SuccessfulAuth", [])
        session.log.info("sim.login")


async def run_simulator(
    settings: Settings, port: int, rate: float, surge: SurgePlan | None = None, placed: Path | None = None
) -> None:
    """``ngcc112 sim``: serve AMI for ``settings.ami.username`` until cancelled.

    With ``surge``: once a client has logged in, place the surge (one JSON line per call
    in ``placed``), wait until every call has ended, say so on stdout, and go on serving
    (a benchmark reads the line, then stops the simulator when its client has caught up).
    """
    # the shipped manager.conf's filter: the daemon is sent only the events it acts on
    user = AmiUser(secret=settings.ami.secret.get_secret_value(), read=("all",), write=("all",), eventfilter=NEEDED)
    config = SimulatorConfig(
        host=settings.ami.host, port=port, users={settings.ami.username: user}, rate_per_minute=rate
    )
    sim = AmiSimulator(config)
    await sim.start()
    for endpoint in names.SAMPLE_OPERATORS:
        sim.set_softphone(endpoint, answers=True, ring_seconds=2.0, talk_seconds=45.0)
    print(
        f"ngcc112 sim: AMI listening on {config.host}:{sim.port} (user {settings.ami.username}, {rate:g} calls/min)",
        file=sys.stdout,
        flush=True,
    )
    try:
        if surge is not None:
            await _surge(sim, surge, placed)
        await asyncio.Event().wait()
    finally:
        await sim.stop()


async def _surge(sim: AmiSimulator, plan: SurgePlan, placed: Path | None) -> None:
    while not any(session.authenticated for session in sim.sessions):
        await asyncio.sleep(0.05)
    with contextlib.ExitStack() as files:
        out = files.enter_context(placed.open("w", encoding="utf-8")) if placed is not None else None
        records = await run_surge(sim, plan, out)
    await sim.wait_idle()
    print(f"ngcc112 sim: surge done: {len(records)} calls placed, all ended", file=sys.stdout, flush=True)
