"""What the AMI link hands out: the items of its one ordered stream and the answer to an action.

The stream carries live events (:class:`~ngcc112.ami.message.AmiMessage`), the resync's
:class:`Snapshot` and :class:`QueueSnapshot` exactly where their answers ended on the wire,
and a :class:`LinkState` marker whenever the link goes up or down. :class:`Relay` is what a
fenced link hands its actions to instead (cluster mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ngcc112.ami.actions import AmiAction
from ngcc112.ami.message import AmiMessage


@dataclass(frozen=True, slots=True)
class AmiResponse:
    """The answer to one action: the response and, for list actions, its items."""

    response: AmiMessage
    items: tuple[AmiMessage, ...] = ()

    @property
    def ok(self) -> bool:
        return self.response.success

    @property
    def message(self) -> str:
        return self.response.get("Message")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """``CoreShowChannels`` on (re)connect: the channels Asterisk has.

    It enters the event stream exactly where its answer ended on the wire, so
    every event before it is older and every event after it newer.
    """

    at: datetime
    channels: tuple[AmiMessage, ...]
    #: The connection this snapshot belongs to (1 for the first).
    session: int


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """``QueueStatus`` on (re)connect: queue members and waiting callers."""

    at: datetime
    items: tuple[AmiMessage, ...]
    session: int


@dataclass(frozen=True, slots=True)
class LinkState:
    """A marker in the stream: the link went up (after login) or down."""

    up: bool
    at: datetime
    session: int
    reason: str = ""


LinkItem = AmiMessage | Snapshot | QueueSnapshot | LinkState


class Relay(Protocol):
    """Who sends a fenced node's actions instead (cluster mode: the site's leader, by way of PostgreSQL)."""

    @property
    def connected(self) -> bool: ...

    async def send(self, action: AmiAction, timeout: float | None = None) -> AmiResponse: ...
