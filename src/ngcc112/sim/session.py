"""One AMI client connection: what it may read and write, what it has been sent, its security events.

A :class:`Session` is the simulator's side of one TCP client of
:class:`~ngcc112.sim.server.AmiSimulator`: its login, its event classes and
``Events`` mask, the bytes it was written (a client that stops reading is
dropped, as Asterisk's write timeout drops it) and the security events
manager.c raises about it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from ngcc112.sim.config import ALL_CLASSES, AmiUser
from ngcc112.sim.eventfilter import NO_FILTER, EventFilter
from ngcc112.sim.wire import Pairs, encode

if TYPE_CHECKING:
    from ngcc112.sim.server import AmiSimulator

log = structlog.get_logger(__name__)


#: Bytes of undelivered events a client may fall behind before it is dropped.
MAX_BACKLOG = 8 * 1024 * 1024


def event_classes(names_: tuple[str, ...]) -> frozenset[str]:
    if "all" in names_:
        return frozenset(ALL_CLASSES)
    return frozenset(names_)


class Session:
    """One AMI client connection."""

    def __init__(self, sim: AmiSimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.username = ""
        self.user: AmiUser | None = None
        self.read: frozenset[str] = frozenset()
        self.write: frozenset[str] = frozenset()
        self.event_mask: frozenset[str] = frozenset(ALL_CLASSES)
        #: The user's manager.conf ``eventfilter`` (set at login).
        self.event_filter: EventFilter = NO_FILTER
        self.closing = False
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"
        #: The client's port: how a harness pairs its end of the connection with this one.
        self.peer_port: int = peer[1]
        self.session_id = f"0x{id(self):x}"
        self.started = datetime.fromtimestamp(sim.engine.wall(), UTC)
        #: Bytes written to the client, and how many of them were events.
        self.bytes_out = 0
        self.events_out = 0
        #: Bytes read from the client whose actions have all been handled.
        self.bytes_in = 0
        self.log = log.bind(remote=self.remote)

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    def put(self, data: bytes) -> None:
        """Write to the client, counting the bytes."""
        self.writer.write(data)
        self.bytes_out += len(data)

    def send(self, pairs: Pairs) -> None:
        if self.closing or self.writer.is_closing():
            return
        self.put(encode(pairs))

    def deliver(self, cls: str, data: bytes) -> None:
        if not self.authenticated or self.closing or self.writer.is_closing():
            return
        if cls in self.read and cls in self.event_mask:
            self.put(data)
            self.events_out += 1
            self.sim.events_delivered += 1
            if self.writer.transport.get_write_buffer_size() > MAX_BACKLOG:
                # like Asterisk's write timeout: a client that stops reading is dropped
                self.log.warning("sim.client_too_slow", backlog=MAX_BACKLOG)
                self.abort()

    def set_events(self, mask: str) -> None:
        value = mask.strip().lower()
        if value in ("on", "yes", "true", "y", "t", "1") or value == "":
            self.event_mask = frozenset(ALL_CLASSES)
        elif value in ("off", "no", "false", "n", "f", "0"):
            self.event_mask = frozenset()
        else:
            self.event_mask = event_classes(tuple(c.strip() for c in value.split(",") if c.strip()))

    def may_write(self, privilege: tuple[str, ...]) -> bool:
        return not privilege or bool(self.write & set(privilege))

    def close_after_flush(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            self.writer.close()

    def abort(self) -> None:
        self.closing = True
        transport = self.writer.transport
        with contextlib.suppress(Exception):
            transport.abort()

    def security_event(self, event: str, extra: Pairs) -> Pairs:
        """The security event Asterisk raises about this session (SuccessfulAuth, InvalidPassword, RequestBadFormat)."""
        now = datetime.fromtimestamp(self.sim.engine.wall(), UTC)
        tv = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"
        session_tv = self.started.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.started.microsecond // 1000:03d}+0000"
        base: Pairs = [("Event", event), ("Privilege", "security,all"), ("EventTV", tv)]
        local = f"IPV4/TCP/{self.sim.config.host}/{self.sim.port}"
        if event == "SuccessfulAuth":
            base += [
                ("Severity", "Informational"),
                ("Service", "AMI"),
                ("EventVersion", "1"),
                ("AccountID", self.username),
                ("SessionID", self.session_id),
                ("LocalAddress", local),
                ("RemoteAddress", self.remote),
                ("UsingPassword", "0"),
                ("SessionTV", session_tv),
            ]
        elif event == "InvalidPassword":
            base += [
                ("Severity", "Error"),
                ("Service", "AMI"),
                ("EventVersion", "2"),
                ("AccountID", extra[0][1]),
                ("SessionID", self.session_id),
                ("LocalAddress", local),
                ("RemoteAddress", self.remote),
                ("SessionTV", "1970-01-01T00:00:00.000+0000"),
            ]
        else:
            base += [
                ("Severity", "Error"),
                ("Service", "AMI"),
                ("EventVersion", "1"),
                ("SessionID", self.session_id),
                ("LocalAddress", local),
                ("RemoteAddress", self.remote),
                *extra,
                ("SessionTV", session_tv),
                ("AccountID", self.username),
            ]
        return base
