"""Operator presence ↔ queue membership in Asterisk.

Asterisk is the truth: an operator is *ready* when their softphone interface
is an unpaused member of the operators' queue, *on break* when it is a paused
member, *logged out* when it is not a member. The panel asks for a change
through :class:`PresenceControl` (``QueueAdd`` / ``QueuePause`` /
``QueueRemove``) and shows what :class:`PresenceBoard` learned from the
``MemberState`` / ``MembersResynced`` events Asterisk then reports — so a
change made elsewhere (CLI, another browser, Asterisk restart) shows too.

An ``Error`` answer that means "already so" (``Already there``, ``Not there``)
is the state we wanted, not a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Protocol

from ngcc112.ami import actions
from ngcc112.ami.actions import AmiAction
from ngcc112.ami.events import MembersResynced, MemberState


class Presence(StrEnum):
    READY = "ready"
    BREAK = "break"
    LOGGED_OUT = "logged_out"


#: Break reasons the panel offers (the reason is sent to Asterisk as typed).
BREAK_REASONS: tuple[str, ...] = ("rest", "meal", "briefing", "training", "other")
MAX_REASON = 60


@dataclass(frozen=True, slots=True)
class MemberPresence:
    """One operator interface as Asterisk last reported it."""

    interface: str
    member_name: str
    presence: Presence
    pause_reason: str
    #: AST_DEVICE_* number (1 not in use, 2 in use, 5 unavailable, 6 ringing …) or None.
    device_status: int | None
    at: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "interface": self.interface,
            "member_name": self.member_name,
            "presence": self.presence.value,
            "pause_reason": self.pause_reason,
            "device_status": self.device_status,
            "at": self.at.isoformat(),
        }


def logged_out(interface: str, at: datetime | None = None) -> MemberPresence:
    return MemberPresence(
        interface, interface.rpartition("/")[2], Presence.LOGGED_OUT, "", None, at or datetime.now(timezone.utc)
    )


def _from_member(member: MemberState) -> MemberPresence:
    if not member.in_queue:
        presence = Presence.LOGGED_OUT
    else:
        presence = Presence.BREAK if member.paused else Presence.READY
    return MemberPresence(
        member.interface,
        member.member_name,
        presence,
        member.pause_reason if presence is Presence.BREAK else "",
        member.status,
        member.at,
    )


class PresenceBoard:
    """What Asterisk says about every member of one queue; fed from the hub, in order."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self._members: dict[str, MemberPresence] = {}
        #: False until a ``MembersResynced`` arrived: until then absence proves nothing.
        self.synced = False
        self.version = 0

    def apply(self, event: MemberState | MembersResynced) -> list[MemberPresence]:
        """Apply one event; return the interfaces whose presence changed."""
        if isinstance(event, MembersResynced):
            return self._resync(event)
        if event.queue != self.queue:
            return []
        return self._put(_from_member(event))

    def _put(self, fresh: MemberPresence) -> list[MemberPresence]:
        old = self._members.get(fresh.interface)
        if fresh.presence is Presence.LOGGED_OUT:
            self._members.pop(fresh.interface, None)
        else:
            self._members[fresh.interface] = fresh
        self.version += 1
        if old is not None and (old.presence, old.pause_reason, old.device_status) == (
            fresh.presence,
            fresh.pause_reason,
            fresh.device_status,
        ):
            return []
        if old is None and fresh.presence is Presence.LOGGED_OUT:
            return []
        return [fresh]

    def _resync(self, event: MembersResynced) -> list[MemberPresence]:
        seen = {m.interface: _from_member(m) for m in event.members if m.queue == self.queue}
        changed: list[MemberPresence] = []
        for interface in list(self._members):
            if interface not in seen:
                changed += self._put(logged_out(interface, event.at))
        for fresh in seen.values():
            changed += self._put(fresh)
        self.synced = True
        return changed

    def get(self, interface: str) -> MemberPresence:
        return self._members.get(interface) or logged_out(interface)

    def members(self) -> list[MemberPresence]:
        return sorted(self._members.values(), key=lambda m: m.interface)

    def counts(self) -> dict[str, int]:
        out = {p.value: 0 for p in (Presence.READY, Presence.BREAK)}
        for member in self._members.values():
            out[member.presence.value] += 1
        return out


# -- asking Asterisk ----------------------------------------------------------------


class PresenceError(Exception):
    """Asterisk refused the change; the message is Asterisk's, for the operator."""


class _Response(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def message(self) -> str: ...


class Link(Protocol):
    async def send(self, action: AmiAction, timeout: float | None = None) -> _Response: ...


#: Error messages that mean the member already is where we wanted it.
ALREADY_IN = ("already there",)
ALREADY_OUT = ("not there", "interface not found")


def _already(response: _Response, phrases: Iterable[str]) -> bool:
    text = (response.message or "").lower()
    return any(phrase in text for phrase in phrases)


def check_reason(reason: str) -> str:
    """A pause reason safe to send: one line, at most :data:`MAX_REASON` characters."""
    reason = (reason or "").strip()
    if any(c in reason for c in "\r\n\x00"):
        raise ValueError("the break reason must be on one line")
    if len(reason) > MAX_REASON:
        raise ValueError(f"the break reason must be at most {MAX_REASON} characters")
    return reason


class PresenceControl:
    """Sends presence changes for operator interfaces to Asterisk.

    ``AmiNotConnected`` and ``AmiActionTimeout`` from the link pass through
    (the panel answers 503); any other refusal raises :class:`PresenceError`.
    """

    def __init__(self, link: Link, queue: str) -> None:
        self._link = link
        self.queue = queue

    async def _send(self, action: AmiAction, already: Sequence[str]) -> bool:
        """Send; True when Asterisk did it, False when it already was so."""
        response = await self._link.send(action)
        if response.ok:
            return True
        if _already(response, already):
            return False
        raise PresenceError(response.message or f"Asterisk refused {action.name}")

    async def ready(self, interface: str, member_name: str) -> None:
        """Join the queue unpaused (QueueAdd); when already a member, unpause."""
        added = await self._send(actions.queue_add(self.queue, interface, member_name), ALREADY_IN)
        if not added:
            await self._send(actions.queue_pause(interface, False, queue=self.queue), ())

    async def pause(self, interface: str, member_name: str, reason: str) -> None:
        """Stay in the queue but take no calls (QueuePause with a reason); join paused if out."""
        reason = check_reason(reason)
        action = actions.queue_pause(interface, True, queue=self.queue, reason=reason or None)
        if not await self._send(action, ALREADY_OUT):
            await self._send(actions.queue_add(self.queue, interface, member_name, paused=True), ALREADY_IN)
            await self._send(action, ())

    async def logout(self, interface: str) -> None:
        """Leave the queue (QueueRemove); not being a member is already logged out."""
        await self._send(actions.queue_remove(self.queue, interface), ALREADY_OUT)

    async def snapshot(self) -> MembersResynced:
        """Ask Asterisk for every member of the queue now (QueueStatus), as a resync event."""
        response = await self._link.send(actions.queue_status(self.queue))
        at = datetime.now(timezone.utc)
        members = tuple(
            MemberState(
                at=at,
                queue=item.get("Queue"),
                interface=item.get("Interface") or item.get("Location"),
                member_name=item.get("MemberName") or item.get("Name"),
                in_queue=True,
                paused=item.get("Paused") == "1",
                pause_reason=item.get("PausedReason") or item.get("Reason"),
                status=int(item.get("Status")) if item.get("Status").isdigit() else None,
                last_pause=int(item.get("LastPause")) if item.get("LastPause").isdigit() else None,
            )
            for item in getattr(response, "items", ())
            if item.name == "QueueMember" and item.get("Queue") == self.queue
        )
        return MembersResynced(at=at, members=members)

    async def set(self, presence: Presence | str, interface: str, member_name: str, reason: str = "") -> None:
        presence = Presence(presence)
        if presence is Presence.READY:
            await self.ready(interface, member_name)
        elif presence is Presence.BREAK:
            await self.pause(interface, member_name, reason)
        else:
            await self.logout(interface)
