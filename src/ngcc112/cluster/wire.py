"""The hub's events as compact JSON for PostgreSQL NOTIFY, and back. Pure; no I/O.

One :class:`Envelope` is one NOTIFY payload: the origin node, that node's sequence number
and one hub event, tagged by a stable name (``kind``; data: never rename). NOTIFY refuses
payloads over 8000 bytes; a :class:`~ngcc112.tickets.store.TicketChanged` too large to fit
goes as a reference instead (its ``changes`` left out, ``ref`` set): the receiver's panel
fetches the ticket's row anyway, as it does for every change. Anything else too large
raises :class:`TooLarge` (the sender logs it and publishes nothing; the receiver is told to
resync by the sequence gap).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ngcc112.ami.events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallerIdentified,
    CallQueued,
    CallsResynced,
    CallWithdrawn,
    MembersResynced,
    MemberState,
    OperatorRinging,
    OperatorRingNoAnswer,
)
from ngcc112.tickets.store import TicketChanged, jsonable

#: PostgreSQL's NOTIFY payload limit (bytes, "less than 8000" in the default build).
PAYLOAD_LIMIT = 7999

#: The events below the runtime layer that cross nodes, by their stable wire name (data: never
#: rename). The composition root adds the runtime's own (``wrap_up_changed``) with :class:`Codec`.
KINDS: dict[str, type[Any]] = {
    "call_arrived": CallArrived,
    "caller_identified": CallerIdentified,
    "call_queued": CallQueued,
    "operator_ringing": OperatorRinging,
    "operator_ring_no_answer": OperatorRingNoAnswer,
    "call_connected": CallConnected,
    "call_ended": CallEnded,
    "call_abandoned": CallAbandoned,
    "call_withdrawn": CallWithdrawn,
    "calls_resynced": CallsResynced,
    "member_state": MemberState,
    "members_resynced": MembersResynced,
    "ticket_changed": TicketChanged,
}


def crosses_sites(event: object) -> bool:
    """Whether a node of another site applies ``event``: ticket changes (one shared database,
    one dispatcher board) do; calls, operators and snapshots belong to their site's Asterisk."""
    return isinstance(event, TicketChanged)


class TooLarge(ValueError):
    """The event does not fit one NOTIFY payload even as a reference."""


class UnknownKind(ValueError):
    """The payload names an event this node does not know (a newer peer): skipped."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event as it travels: who sent it, its place in that node's order, the event."""

    origin: str
    seq: int
    event: Any
    #: True when the event was shortened to a reference (a ticket id) to fit.
    ref: bool = False
    #: The origin node's site: what its Asterisk does concerns that site's nodes only.
    site: str = "main"


class Codec:
    """Encodes and decodes the events of ``kinds`` (wire name to dataclass)."""

    def __init__(self, kinds: Mapping[str, type[Any]] | None = None, limit: int = PAYLOAD_LIMIT) -> None:
        self._kinds = dict(KINDS if kinds is None else kinds)
        self._names = {cls: name for name, cls in self._kinds.items()}
        self.limit = limit

    def carried(self, item: object) -> bool:
        """Whether ``item`` is an event the fan-out sends to the other nodes."""
        return type(item) in self._names

    def encode(self, envelope: Envelope) -> str:
        """The NOTIFY payload (at most ``limit`` bytes of UTF-8) for ``envelope``."""
        event = envelope.event
        payload = self._dump(envelope, event, ref=False)
        if len(payload.encode()) <= self.limit:
            return payload
        if isinstance(event, TicketChanged):
            payload = self._dump(envelope, dataclasses.replace(event, changes={}), ref=True)
            if len(payload.encode()) <= self.limit:
                return payload
        raise TooLarge(f"{type(event).__name__} needs more than {self.limit} bytes")

    def decode(self, payload: str) -> Envelope:
        """The envelope of a payload made by :meth:`encode`."""
        data = json.loads(payload)
        kind = data["k"]
        cls = self._kinds.get(kind)
        if cls is None:
            raise UnknownKind(kind)
        event = _build(cls, data["e"])
        return Envelope(
            data["o"], int(data["s"]), event, ref=bool(data.get("r", False)), site=str(data.get("t", "main"))
        )

    def _dump(self, envelope: Envelope, event: Any, *, ref: bool) -> str:
        data: dict[str, Any] = {
            "o": envelope.origin,
            "s": envelope.seq,
            "t": envelope.site,
            "k": self._names[type(event)],
            "e": _fields(event),
        }
        if ref:
            data["r"] = True
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _fields(event: Any) -> dict[str, Any]:
    return {f.name: _value(getattr(event, f.name)) for f in dataclasses.fields(event)}


def _value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    return jsonable(value)


def _build(cls: type[Any], data: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    values = {f.name: _typed(hints[f.name], data[f.name]) for f in dataclasses.fields(cls) if f.name in data}
    return cls(**values)


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _typed(options[0], value) if len(options) == 1 else value
    if hint is datetime:
        return datetime.fromisoformat(value)
    if origin is frozenset:
        return frozenset(value)
    if origin is tuple:
        inner = typing.get_args(hint)[0]
        return tuple(_typed(inner, v) for v in value)
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type[Any], hint), value)
    return value
