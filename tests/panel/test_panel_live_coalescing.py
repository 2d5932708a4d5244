"""The panel's per-socket queue: a newer presence replaces the one a browser behind has waiting,
every other message is delivered in order, and a browser that stays stalled is still dropped
(docs/backpressure.md, "The panel")."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from datetime import datetime, timezone

from ngcc112 import names
from ngcc112.ami.events import MembersResynced, MemberState
from ngcc112.hub import Hub
from ngcc112.panel import live as live_module
from ngcc112.panel.live import Clients, LiveHub, coalesce
from ngcc112.panel.operator.calls import CallBoard
from ngcc112.routing.presence import PresenceBoard

QUEUE = names.OPERATOR_QUEUE
NOW = datetime.now(timezone.utc)


class _GatedSocket:
    """A browser that reads only when the test lets it: every send waits for ``gate``."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.in_flight = asyncio.Event()
        self.received: list[dict[str, Any]] = []
        self.closed = False
        self.close_code: int | None = None

    async def send_json(self, message: dict[str, Any]) -> None:
        self.in_flight.set()
        await self.gate.wait()
        self.received.append(message)

    async def close(self, *, code: int, message: bytes = b"") -> None:
        self.close_code = code
        self.closed = True


def _presence(interface: str, state: str) -> dict[str, Any]:
    return {"type": "presence", "interface": interface, "presence": state}


async def _client(clients: Clients, ws: _GatedSocket) -> Any:
    client = clients.add(ws, user_id=1, role="operator", interface="PJSIP/op1", describe=lambda member: {})  # type: ignore[arg-type]
    clients.send(client, {"type": "hello", "client": client.id})
    await asyncio.wait_for(ws.in_flight.wait(), 10)  # the writer holds "hello": the rest waits
    return client


async def _delivered(ws: _GatedSocket, count: int) -> None:
    async def enough() -> None:
        while len(ws.received) < count:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(enough(), 10)  # a hang's guard, not a speed bound


def test_a_newer_presence_replaces_the_waiting_one_in_its_place() -> None:
    queue = deque([_presence("PJSIP/op1", "ready"), {"type": "call", "ringing": "c.1"}])
    assert coalesce(queue, _presence("PJSIP/op1", "break"))
    assert list(queue) == [_presence("PJSIP/op1", "break"), {"type": "call", "ringing": "c.1"}]
    assert not coalesce(queue, _presence("PJSIP/op2", "ready"))  # another member: news
    assert not coalesce(queue, {"type": "call", "ringing": "c.1"})  # desk messages: every one is told


async def test_a_browser_behind_gets_the_newest_presence_and_every_other_message_in_order() -> None:
    clients = Clients("test")
    ws = _GatedSocket()
    client = await _client(clients, ws)
    clients.send(client, _presence("PJSIP/op1", "ready"))
    clients.send(client, {"type": "call", "ringing": "c.1", "active": None})
    for state in ("ringing", "in_call", "break"):
        clients.send(client, _presence("PJSIP/op1", state))
    clients.send(client, {"type": "call", "ringing": "c.1", "active": None})
    clients.send(client, {"type": "call", "ringing": None, "active": "c.1"})
    assert len(client.waiting) == 4
    ws.gate.set()
    await _delivered(ws, 5)
    assert ws.received == [
        {"type": "hello", "client": client.id},
        _presence("PJSIP/op1", "break"),
        {"type": "call", "ringing": "c.1", "active": None},
        {"type": "call", "ringing": "c.1", "active": None},
        {"type": "call", "ringing": None, "active": "c.1"},
    ]
    assert not client.dropped and clients.dropped == 0
    await clients.remove(client)


async def test_a_presence_sent_after_the_waiting_one_was_written_is_not_folded() -> None:
    clients = Clients("test")
    ws = _GatedSocket()
    ws.gate.set()
    client = clients.add(ws, user_id=1, role="operator", interface="PJSIP/op1", describe=lambda member: {})  # type: ignore[arg-type]
    clients.send(client, _presence("PJSIP/op1", "ready"))
    await _delivered(ws, 1)
    clients.send(client, _presence("PJSIP/op1", "break"))
    await _delivered(ws, 2)
    assert ws.received == [_presence("PJSIP/op1", "ready"), _presence("PJSIP/op1", "break")]
    await clients.remove(client)


async def test_a_stalled_browser_with_too_many_distinct_messages_is_still_dropped() -> None:
    clients = Clients("test")
    ws = _GatedSocket()
    client = await _client(clients, ws)
    for n in range(live_module.CLIENT_QUEUE + 1):
        clients.send(client, {"type": "call", "ringing": f"c.{n}", "active": None})

    async def closed() -> None:
        while not ws.closed:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(closed(), 10)
    assert client.dropped and ws.close_code == live_module.WS_TRY_AGAIN
    assert clients.dropped == 1 and len(clients) == 0


async def test_a_room_watcher_stays_when_a_resync_changes_more_members_than_its_queue_holds() -> None:
    """Asterisk back after a restart: every operator's presence changed at once; a dispatcher's
    desk socket is told "board" once, not once per member (it would overflow and be dropped)."""
    hub = Hub()
    live = LiveHub(hub, PresenceBoard(QUEUE), CallBoard())
    ws = _GatedSocket()
    watcher = live.add(ws, user_id=9, role="dispatcher", interface=None, describe=lambda member: {})  # type: ignore[arg-type]
    live.send(watcher, {"type": "hello", "client": watcher.id})
    await asyncio.wait_for(ws.in_flight.wait(), 10)
    members = tuple(
        MemberState(
            at=NOW,
            queue=QUEUE,
            interface=f"PJSIP/op{n}",
            member_name=f"op{n}",
            in_queue=True,
            paused=False,
            pause_reason="",
            status=1,
        )
        for n in range(1, 2 * live_module.CLIENT_QUEUE)
    )
    await live.handle(MembersResynced(at=NOW, members=members))
    assert not watcher.dropped and live.dropped_clients == 0
    ws.gate.set()
    await _delivered(ws, 2)
    assert ws.received == [{"type": "hello", "client": watcher.id}, {"type": "board"}]
    await live.stop()
