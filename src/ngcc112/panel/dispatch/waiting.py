"""Callers waiting in the queue, from the hub's call events; each one's priority from triage."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ngcc112.ami.events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallQueued,
    CallsResynced,
    CallWithdrawn,
)
from ngcc112.tickets.store import TicketChanged


@dataclass(frozen=True, slots=True)
class WaitingCall:
    call_id: str
    queue: str
    queued_at: datetime
    arrived_at: datetime
    position: int | None
    priority: int | None


#: Arrivals and priorities remembered for calls not (yet) in the queue.
_MEMORY = 2000


class WaitingBoard:
    """Callers waiting in the queue, from the hub's call events; priority from triage's ``scored``."""

    def __init__(self) -> None:
        self._calls: dict[str, WaitingCall] = {}
        self._arrived: OrderedDict[str, datetime] = OrderedDict()
        self._priorities: OrderedDict[str, int] = OrderedDict()

    @staticmethod
    def _remember(memory: OrderedDict[str, Any], key: str, value: Any) -> None:
        memory[key] = value
        memory.move_to_end(key)
        while len(memory) > _MEMORY:
            memory.popitem(last=False)

    def apply(self, item: object) -> bool:
        """Apply one hub item; True when the waiting list changed."""
        if isinstance(item, CallArrived):
            self._remember(self._arrived, item.call_id, item.at)
            return False
        if isinstance(item, CallQueued):
            self._calls[item.call_id] = WaitingCall(
                item.call_id,
                item.queue,
                item.at,
                self._arrived.get(item.call_id, item.at),
                item.position,
                self._priorities.get(item.call_id),
            )
            return True
        if isinstance(item, (CallConnected, CallAbandoned, CallEnded, CallWithdrawn)):
            self._arrived.pop(item.call_id, None) if isinstance(item, CallEnded) else None
            return self._calls.pop(item.call_id, None) is not None
        if isinstance(item, CallsResynced):
            gone = [c for c in self._calls if c not in item.live_call_ids]
            for call_id in gone:
                del self._calls[call_id]
            return bool(gone)
        if isinstance(item, TicketChanged) and isinstance(item.changes.get("queue_priority"), int):
            priority = item.changes["queue_priority"]
            self._remember(self._priorities, item.linkedid, priority)
            waiting = self._calls.get(item.linkedid)
            if waiting is not None and waiting.priority != priority:
                self._calls[item.linkedid] = WaitingCall(
                    waiting.call_id, waiting.queue, waiting.queued_at, waiting.arrived_at, waiting.position, priority
                )
                return True
        return False

    def calls(self) -> list[WaitingCall]:
        """Highest priority first, then longest waiting (Asterisk's own order)."""
        return sorted(self._calls.values(), key=lambda c: (-(c.priority or 0), c.queued_at))
