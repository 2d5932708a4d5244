"""What triage keeps per live call (:class:`LiveCall`), and what it needs of the call tracker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from ngcc112.routing.facts import CallerHistory, CallFacts
from ngcc112.routing.scoring import Assessment


@dataclass(eq=False)
class LiveCall:
    """One call triage follows: its facts, its history, its jobs, and what was stored and sent for it."""

    call_id: str
    facts: CallFacts
    queue: str | None = None
    history: CallerHistory | None = None
    ticket_id: int | None = None
    #: The queue priority the caller has now (the dialplan's until we change it).
    priority: int = 0
    raised: bool = False
    stored: tuple[Any, ...] | None = None
    history_number: str = ""
    history_failed_at: float | None = None
    geo: dict[str, str] = field(default_factory=dict)
    #: The dialplan has left its geolocation subroutine (a later variable, the queue, the end).
    geo_complete: bool = False
    geo_recorded: dict[str, str] = field(default_factory=dict)
    aml_checked: bool = False
    dirty: bool = False
    worker: asyncio.Task[None] | None = None
    timer: asyncio.Task[None] | None = None
    last: Assessment | None = None
    #: Found by a resync, not seen from its start: its live signals are unknown.
    adopted: bool = False
    saver: asyncio.Task[None] | None = None
    save_dirty: bool = False


class CallChannels(Protocol):
    """What triage needs of the call tracker: the caller's channel of a live call."""

    def call_channel(self, call_id: str) -> str | None: ...
