"""Reconciling the tracker's book with Asterisk's own view after a (re)connect.

``CoreShowChannels`` lists the live channels: the ones we knew that are gone ended while
the link was down, the 112 calls among the ones we did not know are adopted (answered too,
when a caller leg shares a bridge with a member leg). ``QueueStatus`` gives the waiting
callers' queue and position and every member. Pure and synchronous.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from ngcc112.ami.calls import Call, CallBook, Channel, duration, int_or_none, member_interface, member_state
from ngcc112.ami.events import CallConnected, CallEnded, CallQueued, CallsResynced, MembersResynced, TrackerEvent
from ngcc112.ami.message import AmiMessage

log = structlog.get_logger(__name__)


def resync(book: CallBook, at: datetime, channels: list[AmiMessage]) -> list[TrackerEvent]:
    """End the calls whose channels Asterisk no longer has; adopt the 112 calls we did not know."""
    events: list[TrackerEvent] = []
    live = {m.get("Uniqueid"): m for m in channels if m.get("Uniqueid") and m.get("Uniqueid") not in book.ended}

    # 1. Channels we knew that Asterisk no longer has ended while we were away.
    for uniqueid in [u for u in book.channels if u not in live]:
        channel = book.channels.pop(uniqueid)
        book.remember_ended(uniqueid)
        call = book.calls.get(channel.linkedid)
        if call is None or channel.role != "caller":
            continue
        call.caller_legs.discard(uniqueid)
        if not call.caller_legs:
            del book.calls[call.linkedid]
            log.debug("tracker.call_ended_unobserved", call_id=call.call_id)
            events.append(
                CallEnded(
                    call_id=call.call_id,
                    at=at,
                    cause=None,
                    cause_text="ended while the AMI link was down",
                    unobserved=True,
                )
            )

    # 2. Channels Asterisk has that we do not know: adopt the 112 calls among them.
    groups: dict[str, list[AmiMessage]] = {}
    for message in live.values():
        groups.setdefault(message.get("Linkedid") or message.get("Uniqueid"), []).append(message)
    for linkedid, group in groups.items():
        events.extend(_adopt_group(book, at, linkedid, group))
    events.append(CallsResynced(at=at, live_call_ids=frozenset(c.call_id for c in book.calls.values())))
    return events


def resync_queues(book: CallBook, at: datetime, items: list[AmiMessage]) -> list[TrackerEvent]:
    """``QueueStatus``: the queue and wait of callers not yet seen joining, and every member."""
    events: list[TrackerEvent] = []
    for entry in items:
        if entry.name != "QueueEntry" or entry.get("Queue") not in book.queues:
            continue
        channel = book.channels.get(entry.get("Uniqueid"))
        call = book.calls.get(channel.linkedid) if channel else None
        if call is None or call.queued_at is not None or call.connected:
            continue
        wait = timedelta(seconds=int_or_none(entry.get("Wait")) or 0)
        call.queue, call.queued_at = entry.get("Queue"), at - wait
        events.append(
            CallQueued(
                call_id=call.call_id,
                at=at - wait,
                queue=call.queue,
                position=int_or_none(entry.get("Position")),
                channel=entry.get("Channel"),
            )
        )
    members = tuple(
        member_state(m, in_queue=True, at=at)
        for m in items
        if m.name == "QueueMember" and m.get("Queue") in book.queues
    )
    events.append(MembersResynced(at=at, members=members))
    return events


def _adopt_group(book: CallBook, at: datetime, linkedid: str, group: list[AmiMessage]) -> list[TrackerEvent]:
    events: list[TrackerEvent] = []
    group.sort(key=lambda m: duration(m.get("Duration")), reverse=True)

    def is_caller(m: AmiMessage) -> bool:
        return book.is_entry(m.get("Context"), m.get("Exten")) or (
            m.get("Application") == "Queue" and m.get("ApplicationData").split(",")[0] in book.queues
        )

    call = book.calls.get(linkedid)
    callers = [m for m in group if is_caller(m)]
    if call is None and not callers:
        for m in group:  # not a 112 call (yet): follow its channels all the same
            book.channels.setdefault(m.get("Uniqueid"), Channel(m.get("Uniqueid"), linkedid, m.get("Channel"), "other"))
        return events
    for m in group:
        uniqueid = m.get("Uniqueid")
        if uniqueid in book.channels:
            continue
        channel = Channel(uniqueid, linkedid, m.get("Channel"), "member")
        book.channels[uniqueid] = channel
        if m in callers:
            if call is None:
                events.extend(book.open_call(m, channel, adopted=True, at=at - duration(m.get("Duration"))))
                call = book.calls[linkedid]
            else:
                events.extend(book.join_as_caller(call, channel, m))
    if call is not None and not call.connected:
        events.extend(_connected_while_away(book, at, call, group))
    return events


def _connected_while_away(book: CallBook, at: datetime, call: Call, group: list[AmiMessage]) -> list[TrackerEvent]:
    """A caller bridged to a member leg was answered while we were away."""
    bridges = {m.get("BridgeId") for m in group if m.get("Uniqueid") in call.caller_legs and m.get("BridgeId")}
    for m in group:
        channel = book.channels.get(m.get("Uniqueid"))
        if channel is None or channel.role == "caller" or m.get("BridgeId") not in bridges:
            continue
        call.connected = True
        interface = member_interface(m.get("Channel"))
        return [
            CallConnected(
                call_id=call.call_id,
                at=at,
                queue=call.queue or "",
                interface=interface,
                member_name=interface.rpartition("/")[2],
                waited_seconds=None,
            )
        ]
    return []
