"""The hub's events shared between nodes through PostgreSQL LISTEN/NOTIFY.

A :class:`Fanout` subscribes to the local hub and sends each carried event (see
:mod:`ngcc112.cluster.wire`) on channel :data:`CHANNEL`, on a connection of its own; it
LISTENs on another connection and publishes the other nodes' events into the local hub.
An event it published itself is recognised when its own subscription hands it back (by
identity) and is never sent again: no echo loops. NOTIFY is not durable: whenever events
may have been missed (the listener's connection was lost, a node's sequence skipped, the
fan-out's own subscription overflowed) it publishes :class:`ClusterResync` on the local hub,
and the panel reloads its boards from the database: gaps are healed, not guessed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # ships no type information
import structlog
from sqlalchemy.engine import make_url

from ngcc112.backoff import Backoff
from ngcc112.cluster.wire import Codec, TooLarge, UnknownKind, crosses_sites
from ngcc112.cluster.wire import Envelope as Envelope
from ngcc112.hub import Hub, Subscription
from ngcc112.tasks import cancel_all

log = structlog.get_logger(__name__)

#: The NOTIFY channel every node of one database shares.
CHANNEL = "ngcc112_events"
#: Hub events the sender may have waiting (a NOTIFY round trip each) before it counts as
#: fallen behind: it resubscribes, and the other nodes see the sequence gap and resync.
OUTBOX_MAX = 1000
_TRUE = ("1", "true", "yes", "on")


def fanout_wanted(settings: Any) -> bool:
    """Cluster mode on, on PostgreSQL: ``[cluster] enabled`` where the settings have it, else ``NGCC112_CLUSTER``."""
    cluster = getattr(settings, "cluster", None)
    enabled = bool(cluster.enabled) if cluster is not None else os.environ.get("NGCC112_CLUSTER", "").lower() in _TRUE
    return enabled and str(settings.database_url).startswith("postgresql")


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+asyncpg://…``) as asyncpg's own DSN."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class ClusterResync:
    """On the local hub: events of other nodes may have been missed; reload from the database."""

    at: datetime
    #: ``reconnected`` (the listener's connection came back), ``gap`` (a node's sequence
    #: skipped) or ``fell_behind`` (this node's sender dropped events: the others see a gap).
    reason: str
    #: The node whose events were missed, when known.
    origin: str | None = None


Connect = Callable[[], Awaitable[asyncpg.Connection]]


class Fanout:
    def __init__(
        self,
        hub: Hub,
        dsn: str,
        node: str,
        codec: Codec,
        *,
        channel: str = CHANNEL,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        outbox_max: int = OUTBOX_MAX,
        site: str = "main",
    ) -> None:
        self._hub = hub
        self.site = site
        self._dsn = dsn
        self.node = node
        self._codec = codec
        self._channel = channel
        self._now = now
        self._backoff = backoff or Backoff(first=0.5, cap=30.0)
        self._send_backoff = dataclasses.replace(self._backoff)
        self._sleep = sleep
        self._outbox_max = outbox_max
        self._log = log.bind(node=node, channel=channel)
        self._seq = 0
        self._last_seq: dict[str, int] = {}
        #: Remote events this node published, by identity, until its own subscription hands them back.
        self._remote: dict[int, object] = {}
        self._subscription: Subscription | None = None
        self._sender: asyncpg.Connection | None = None
        self._listener: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Counters for tests and ``/metrics``-style logging.
        self.sent = 0
        self.received = 0
        self.resyncs = 0
        self.reconnects = 0

    async def start(self) -> None:
        self._subscription = self._hub.subscribe(maxsize=self._outbox_max)
        self._sender = await asyncpg.connect(self._dsn)
        await self._listen()
        self._tasks = [
            asyncio.create_task(self._send_loop(), name=f"ngcc112-fanout-send-{self.node}"),
            asyncio.create_task(self._watch_listener(), name=f"ngcc112-fanout-listen-{self.node}"),
        ]
        self._log.info("fanout.started")

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []
        if self._subscription is not None:
            self._subscription.close()
        for conn in (self._listener, self._sender):
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5.0)
        self._log.info("fanout.stopped", sent=self.sent, received=self.received)

    def listener_pid(self) -> int | None:
        """The listening connection's backend pid (for tests that cut it)."""
        return self._listener.get_server_pid() if self._listener is not None else None

    # sending ------------------------------------------------------------------------
    async def _send_loop(self) -> None:
        while True:
            assert self._subscription is not None  # set in start(); narrows the type
            item = await self._subscription.get()
            if self._subscription.overflowed:
                self._log.error("fanout.fell_behind")
                self._subscription.close()
                self._subscription = self._hub.subscribe(maxsize=self._outbox_max)
                self._remote.clear()
                self._publish(ClusterResync(self._now(), "fell_behind", self.node))
            if self._remote.pop(id(item), None) is item or not self._codec.carried(item):
                continue
            self._seq += 1
            try:
                payload = self._codec.encode(Envelope(self.node, self._seq, item, site=self.site))
            except TooLarge as exc:  # its sequence number is skipped: the others resync
                self._log.error("fanout.event_too_large", event=type(item).__name__, error=str(exc))
                continue
            await self._notify(payload)

    async def _notify(self, payload: str) -> None:
        while True:
            try:
                if self._sender is None or self._sender.is_closed():
                    self._sender = await asyncpg.connect(self._dsn)
                await self._sender.execute("SELECT pg_notify($1, $2)", self._channel, payload)
                self.sent += 1
                self._send_backoff.reset()
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                delay = self._send_backoff.next()
                self._log.warning("fanout.notify_failed", error=str(exc) or type(exc).__name__, retry_in=delay)
                await self._sleep(delay)

    # listening ----------------------------------------------------------------------
    async def _listen(self) -> None:
        self._lost.clear()
        conn = await asyncpg.connect(self._dsn)
        conn.add_termination_listener(self._on_terminated)
        await conn.add_listener(self._channel, self._on_notify)
        self._listener = conn

    def _on_terminated(self, conn: object) -> None:
        self._lost.set()

    async def _watch_listener(self) -> None:
        while True:
            await self._lost.wait()
            self._log.warning("fanout.listener_lost")
            while True:
                delay = self._backoff.next()
                await self._sleep(delay)
                try:
                    await self._listen()
                    break
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    self._log.warning("fanout.listen_failed", error=str(exc) or type(exc).__name__, retry_in=delay)
            self._backoff.reset()
            self.reconnects += 1
            self._log.info("fanout.listener_back", reconnects=self.reconnects)
            self._last_seq.clear()
            self._publish(ClusterResync(self._now(), "reconnected"))

    def _on_notify(self, conn: object, pid: int, channel: str, payload: str) -> None:
        try:
            envelope = self._codec.decode(payload)
        except UnknownKind as exc:
            self._log.warning("fanout.unknown_kind", kind=str(exc))
            return
        except (ValueError, KeyError, TypeError) as exc:
            self._log.error("fanout.bad_payload", error=str(exc), size=len(payload))
            return
        if envelope.origin == self.node:
            return
        last = self._last_seq.get(envelope.origin)
        self._last_seq[envelope.origin] = envelope.seq
        if last is not None and envelope.seq != last + 1:
            self._log.warning("fanout.gap", origin=envelope.origin, expected=last + 1, got=envelope.seq)
            self._publish(ClusterResync(self._now(), "gap", envelope.origin))
        if envelope.site != self.site and not crosses_sites(envelope.event):
            return  # another site's Asterisk: not this site's calls or operators
        self.received += 1
        self._remote[id(envelope.event)] = envelope.event
        self._hub.publish(envelope.event)

    def _publish(self, marker: ClusterResync) -> None:
        self.resyncs += 1
        self._log.info("fanout.resync", reason=marker.reason, origin=marker.origin)
        self._hub.publish(marker)
