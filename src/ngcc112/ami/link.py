"""The AMI link: connect, log in, keep alive, reconnect, resync.

One :class:`AmiLink` owns one Asterisk connection at a time and runs as a
supervisor (after aioesphomeapi's ``reconnect_logic``): an explicit
:class:`LinkPhase` that every transition goes through (logged, visible in
``/readyz`` and ``/metrics``), capped exponential backoff after *any* failure
but a refused login, the first failure logged as a warning and repeats at
debug level, a Ping watchdog that drops a half-open connection after two
missed pings and is itself supervised (a watchdog that dies drops the
connection instead of leaving it unwatched), and on every (re)connect a resync
(``CoreShowChannels`` + ``QueueStatus``) handed to the sink as a
:class:`Snapshot` in the same ordered stream as live events.

Every wait the link makes on its own (the backoff, the watchdog's tick) goes
through one injected ``sleep``, so tests fire the timers instead of waiting.

The sink is one synchronous callback; it must not block (the daemon puts
items on a queue consumed by one task).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, cast
from datetime import datetime, timezone

import structlog
from panoramisk.actions import Action as PanoramiskAction

from ngcc112.ami import actions
from ngcc112.ami.actions import AmiAction

# the link's errors live beside it; callers import them from here
from ngcc112.ami.link_errors import AmiActionTimeout as AmiActionTimeout
from ngcc112.ami.link_errors import AmiAuthError as AmiAuthError
from ngcc112.ami.link_errors import AmiError as AmiError
from ngcc112.ami.link_errors import AmiNotConnected as AmiNotConnected
from ngcc112.ami.link_errors import AmiNotLeader as AmiNotLeader
from ngcc112.ami.link_errors import AmiUnreachableError as AmiUnreachableError
from ngcc112.ami.link_items import AmiResponse, LinkItem, LinkState, QueueSnapshot, Relay, Snapshot
from ngcc112.ami.link_status import LOGGED_IN, LinkPhase, LinkStatus
from ngcc112.ami.message import AmiMessage
from ngcc112.ami.protocol import AmiProtocol
from ngcc112.backoff import capped_delay
from ngcc112.settings import AmiSettings
from ngcc112.tasks import cancel_all

log = structlog.get_logger(__name__)


Sleep = Callable[[float], Awaitable[None]]


class AmiLink:
    """Supervises one AMI connection; see the module docstring."""

    def __init__(
        self,
        settings: AmiSettings,
        sink: Callable[[LinkItem], None],
        *,
        resync_queues: tuple[str, ...] = (),
        startup_attempts: int = 3,
        clock: Callable[[], datetime] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._sink = sink
        self._resync_queues = resync_queues
        self._startup_attempts = startup_attempts
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._sleep = sleep
        self._protocol: AmiProtocol | None = None
        self._lost: asyncio.Future[Exception | None] | None = None
        self._booted = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: list[Callable[[AmiMessage], None]] = []
        self._stopping = False
        #: Why this node may not act on Asterisk (cluster mode: a standby, or a leader that lost
        #: its lock); None when it may.
        self._fenced: str | None = None
        self._cut = False
        self._may_act = asyncio.Event()  # set while not fenced: a fenced link does not reconnect
        self._may_act.set()
        self._relay: Relay | None = None
        self.status = LinkStatus()
        self.log = log.bind(ami_host=settings.host, ami_port=settings.port)

    # public -------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """Logged in to Asterisk; on a fenced node with a relay, whether the relay's end is."""
        if self._fenced is not None and self._relay is not None:
            return self._relay.connected
        return self.status.connected

    async def run(self) -> None:
        """Keep the link up until :meth:`stop`. Raises only for fatal errors.

        :class:`AmiAuthError` at any time, and :class:`AmiUnreachableError` when
        no connection could be made in the first ``startup_attempts`` tries (a
        wrong host or port shows at start, not as a daemon that waits forever).
        Once a session has been up, every other failure is retried.
        """
        attempt = 0
        ever_connected = False
        while not self._stopping:
            await self._may_act.wait()
            self._enter(LinkPhase.CONNECTING)
            try:
                await self._session()
                ever_connected = True
                attempt = 0
                if self._stopping:
                    break
                reason = self.status.last_error or "connection closed"
                self.log.warning("ami.link_lost", reason=reason)
            except AmiAuthError as exc:
                self.status.last_error = str(exc)
                self._enter(LinkPhase.FAILED)
                raise
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure but a refused login is retried
                text = _describe(exc)
                self.status.last_error = text
                if not ever_connected and attempt + 1 >= self._startup_attempts:
                    self._enter(LinkPhase.FAILED)
                    raise AmiUnreachableError(
                        f"cannot reach Asterisk AMI at {self._settings.host}:{self._settings.port}: {text}"
                    ) from None
                expected = isinstance(exc, (OSError, asyncio.TimeoutError, ConnectionError, AmiError))
                if not expected:
                    self.log.exception("ami.session_failed", error=text, attempt=attempt + 1)
                else:
                    emit = self.log.warning if attempt == 0 else self.log.debug
                    emit("ami.connect_failed", error=text, attempt=attempt + 1)
            if self._stopping:
                break
            delay = capped_delay(attempt, self._settings.reconnect_min, self._settings.reconnect_max)
            attempt += 1
            self.status.reconnects += 1
            self._enter(LinkPhase.BACKING_OFF)
            self.log.debug("ami.reconnect_in", seconds=delay)
            await self._sleep(delay)
        self._enter(LinkPhase.STOPPED)

    async def stop(self) -> None:
        """Log off politely and close; idempotent."""
        self._stopping = True
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send_on(protocol, actions.logoff()), 1.0)
            protocol.close()
        await cancel_all(list(self._tasks))

    def fence(self, reason: str, *, keep_listening: bool = False) -> None:
        """Stop acting on Asterisk at once: every action is refused (:class:`AmiNotLeader`) or relayed.

        Without ``keep_listening`` the connection is cut and not made again (a standby). With it
        the link goes on reading events (into the journal) and sends nothing at all — no Ping,
        no reconnect: a dropped connection waits for :meth:`unfence`. Synchronous on purpose:
        the leadership calls it the moment its lock is in doubt, before anything else runs.
        """
        self._fenced = reason
        self._may_act.clear()
        self._cut = not keep_listening
        if self._cut:
            self._stopping = True
            if self._protocol is not None and not self._protocol.closed:
                self._protocol.transport.abort()
        self.log.warning("ami.fenced", reason=reason, listening=keep_listening)

    def relay_through(self, relay: Relay | None) -> None:
        """While fenced, hand actions to ``relay`` instead of refusing them (None: refuse again)."""
        self._relay = relay

    def unfence(self) -> None:
        """This node may act again (it holds its site's leadership); :meth:`run` may be called."""
        self._fenced = None
        if self._cut:  # a fence that cut the connection lets run() connect again
            self._stopping = False
        self._cut = False
        self._may_act.set()

    @property
    def fenced(self) -> str | None:
        return self._fenced

    async def send(self, action: AmiAction, timeout: float | None = None) -> AmiResponse:
        """Send one action and wait (bounded) for its complete answer."""
        if self._fenced is not None:
            if self._relay is not None:
                return await self._relay.send(action, timeout)
            raise AmiNotLeader(f"{action.name} not sent: {self._fenced}")
        protocol = self._protocol
        if protocol is None or protocol.closed or self.status.phase not in LOGGED_IN:
            raise AmiNotConnected(f"AMI link is down; {action.name} not sent")
        return await self._send_on(protocol, action, timeout)

    def listen(self, listener: Callable[[AmiMessage], None]) -> Callable[[], None]:
        """Also hand every event to ``listener`` (synchronous, must not block).

        For the few users that need raw events the tracker has no use for, such as
        ``OriginateResponse`` for callbacks. Returns a function that stops it.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def drop(self) -> None:
        """Abort the current connection (the supervisor reconnects)."""
        if self._protocol is not None and not self._protocol.closed:
            self._protocol.transport.abort()

    # one connection -----------------------------------------------------------
    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self._booted.clear()
        session = self.status.session + 1

        def on_lost(exc: Exception | None) -> None:
            if self._lost is not None and not self._lost.done():
                self._lost.set_result(exc)

        def on_event(event: AmiMessage) -> None:
            if event.name == "FullyBooted":
                self._booted.set()
            elif event.name == "Shutdown":
                self.status.last_error = f"Asterisk shut down (restart: {event.get('Restart')})"
            self._sink(event)
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:  # a listener's bug must not cut the link
                    self.log.exception("ami.listener_failed", ami_event=event.name)

        _, protocol = await asyncio.wait_for(
            loop.create_connection(
                lambda: AmiProtocol(on_event, on_lost, self._clock),
                self._settings.host,
                self._settings.port,
            ),
            timeout=self._settings.action_timeout,
        )
        self._protocol = protocol
        try:
            answer = await self._send_on(
                protocol, actions.login(self._settings.username, self._settings.secret.get_secret_value())
            )
            if not answer.ok:
                raise AmiAuthError(
                    f"Asterisk refused the AMI login for user {self._settings.username!r}: "
                    f"{answer.message or answer.response.name}"
                )
            self.status.session, self.status.since = session, self._clock()
            self.status.asterisk_banner = protocol.banner or ""
            self._enter(LinkPhase.RESYNCING)
            self.log.info("ami.connected", session=session, asterisk=protocol.version)
            self._sink(LinkState(up=True, at=self._clock(), session=session))
            watchdog = self._spawn(self._watchdog(protocol))
            watchdog.add_done_callback(lambda task: self._watchdog_ended(task, protocol))
            # Asterisk sends FullyBooted right after login when it is up; resync then.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._booted.wait(), self._settings.action_timeout)
            await self._resync(protocol, session)
            self._enter(LinkPhase.UP)
            resync_on_boot = self._spawn(self._resync_on_reboot(protocol, session))
            exc = await self._lost
            watchdog.cancel()
            resync_on_boot.cancel()
            if exc is not None:
                self.status.last_error = _describe(exc)
        finally:
            self.status.malformed_frames += protocol.malformed_frames
            if not protocol.closed:
                protocol.close()
            if self.status.phase in LOGGED_IN:
                self._enter(
                    LinkPhase.STOPPED if self._stopping else LinkPhase.BACKING_OFF,
                    reason=self.status.last_error or "connection closed",
                )
                self._sink(LinkState(up=False, at=self._clock(), session=session, reason=self.status.last_error))

    async def _resync(self, protocol: AmiProtocol, session: int) -> None:
        def channels_in_stream(answer: AmiResponse) -> None:
            channels = tuple(m for m in answer.items if m.name == "CoreShowChannel")
            self._sink(Snapshot(at=self._clock(), channels=channels, session=session))
            self.log.info("ami.resynced", session=session, channels=len(channels))

        await self._send_on(protocol, actions.core_show_channels(), on_complete=channels_in_stream)
        items: list[AmiMessage] = []
        for queue in self._resync_queues or (None,):
            status = await self._send_on(protocol, actions.queue_status(queue))
            items.extend(status.items)
        self._sink(QueueSnapshot(at=self._clock(), items=tuple(items), session=session))

    async def _resync_on_reboot(self, protocol: AmiProtocol, session: int) -> None:
        """A later FullyBooted on a live link means Asterisk reloaded: resync."""
        while True:
            self._booted.clear()
            await self._booted.wait()
            self.log.info("ami.fully_booted_again", session=session)
            try:
                await self._resync(protocol, session)
            except (AmiError, ConnectionError, asyncio.TimeoutError) as exc:
                self.log.warning("ami.resync_failed", error=_describe(exc))

    async def _watchdog(self, protocol: AmiProtocol) -> None:
        """Every ``ping_interval``: was the last Ping answered? Two misses drop the link."""
        interval = self._settings.ping_interval
        missed = 0
        pending: asyncio.Future[AmiResponse] | None = None
        while not protocol.closed:
            await self._sleep(interval)
            if self._fenced is not None:  # a fenced node sends nothing, not even a Ping
                pending, missed = None, 0
                continue
            if pending is not None:
                answered = pending.done() and not pending.cancelled() and pending.exception() is None
                if not answered:
                    pending.cancel()
                    missed += 1
                    self.log.warning("ami.ping_missed", missed=missed)
                    if missed >= 2:
                        self.status.last_error = "no answer to two pings"
                        protocol.transport.abort()
                        return
                else:
                    missed = 0
            pending = asyncio.ensure_future(self._send_on(protocol, actions.ping(), timeout=interval))
            pending.add_done_callback(_consume)

    def _watchdog_ended(self, task: asyncio.Task[None], protocol: AmiProtocol) -> None:
        """Supervision: a watchdog that died of a bug must not leave the link unwatched."""
        failure = None if task.cancelled() else task.exception()
        if failure is None:
            return
        self.status.watchdog_failures += 1
        self.status.last_error = f"watchdog failed: {_describe(failure)}"
        self.log.error("ami.watchdog_failed", error=_describe(failure))
        if not protocol.closed:
            protocol.transport.abort()

    def _enter(self, phase: LinkPhase, **why: object) -> None:
        if phase is self.status.phase:
            return
        self.log.debug("ami.link_phase", phase=phase.value, was=self.status.phase.value, **why)
        self.status.phase, self.status.phase_since = phase, self._clock()

    async def _send_on(
        self,
        protocol: AmiProtocol,
        action: AmiAction,
        timeout: float | None = None,
        on_complete: Callable[[AmiResponse], None] | None = None,
    ) -> AmiResponse:
        request = PanoramiskAction(action.as_dict(), as_list=action.as_list)
        if on_complete is not None:
            protocol.completion_hooks[request.id] = lambda result: on_complete(self._convert(action, result))
        future = protocol.send(request, as_list=action.as_list)
        try:
            result = await asyncio.wait_for(future, timeout or self._settings.action_timeout)
        except asyncio.TimeoutError:
            protocol.responses.pop(request.id, None)
            raise AmiActionTimeout(
                f"no answer to {action.name} within {timeout or self._settings.action_timeout} s"
            ) from None
        return self._convert(action, result)

    def _convert(self, action: AmiAction, result: object) -> AmiResponse:
        messages: list[Mapping[str, Any]] = result if isinstance(result, list) else [cast(Mapping[str, Any], result)]
        converted = [m for m in (AmiMessage.from_mapping(x, self._clock()) for x in messages) if m]
        if not converted:
            raise AmiError(f"empty answer to {action.name}")
        return AmiResponse(response=converted[0], items=tuple(converted[1:]))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _consume(future: asyncio.Future[AmiResponse]) -> None:
    """Retrieve a finished ping's outcome so asyncio never reports it as unhandled."""
    if not future.cancelled():
        future.exception()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return text
