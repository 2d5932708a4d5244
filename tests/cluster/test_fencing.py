"""Fencing: a node that is not its site's leader sends nothing to Asterisk, and a fenced link stays down."""

from __future__ import annotations

import asyncio

import pytest
from ami_peers import ScriptedAsterisk

from ngcc112.ami import actions
from ngcc112.ami.link import AmiLink, AmiNotConnected, AmiNotLeader
from ngcc112.settings import AmiSettings

#: Only a bound so a hang fails instead of blocking; never a timed assertion.
PATIENCE = 30.0


async def until(predicate, what: str) -> None:
    async with asyncio.timeout(PATIENCE):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_fenced_link_refuses_every_action_and_does_not_reconnect() -> None:
    peer = ScriptedAsterisk([])
    port = await peer.start()
    link = AmiLink(AmiSettings(port=port, reconnect_min=0.01, reconnect_max=0.02), lambda item: None)
    running = asyncio.create_task(link.run())
    try:
        await until(lambda: link.connected, "the login")
        await link.send(actions.ping())  # a leader acts

        link.fence("this node lost the leadership of site 'main'")

        with pytest.raises(AmiNotLeader, match="lost the leadership"):
            await link.send(actions.ping())
        async with asyncio.timeout(PATIENCE):
            await running  # the supervisor ends instead of logging in again
        assert peer.logins == 1 and not link.connected
    finally:
        running.cancel()
        await link.stop()
        await peer.stop()


async def test_a_standby_refuses_with_a_reason_callers_already_handle() -> None:
    link = AmiLink(AmiSettings(), lambda item: None)
    link.fence("this node (b) is a standby of site 'main'")
    with pytest.raises(AmiNotConnected, match="standby"):  # AmiNotLeader is an AmiNotConnected
        await link.send(actions.ping())
    link.unfence()
    with pytest.raises(AmiNotConnected, match="link is down"):  # may act; just not connected yet
        await link.send(actions.ping())
    assert link.fenced is None


class CountingAsterisk(ScriptedAsterisk):
    """Counts the pings it is sent, and can drop every connection."""

    def __init__(self) -> None:
        super().__init__([])
        self.pings = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader, writer) -> None:  # type: ignore[no-untyped-def]
        self.writers.append(writer)
        original = reader.readuntil

        async def counted(separator: bytes = b"\n") -> bytes:
            block = await original(separator)
            self.pings += block.lower().count(b"action: ping")
            return block

        reader.readuntil = counted  # type: ignore[method-assign]
        await super().serve(reader, writer)

    def drop_all(self) -> None:
        for writer in self.writers:
            writer.transport.abort()


async def test_a_fenced_leader_keeps_reading_but_sends_nothing_not_even_a_ping_nor_a_login() -> None:
    """The watchdog's and the reconnect's waits are the link's injected sleep: the test moves them."""
    peer = CountingAsterisk()
    port = await peer.start()
    ticks: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(_seconds: float) -> None:
        await ticks.get()

    link = AmiLink(AmiSettings(port=port, reconnect_min=0.01), lambda item: None, sleep=sleep)
    running = asyncio.create_task(link.run())
    try:
        await until(lambda: link.connected, "the login")
        for _ in range(2):  # two watchdog turns: a ping each
            ticks.put_nowait(None)
        await until(lambda: peer.pings >= 1, "a ping while leading")

        link.fence("lost the leadership of site 'main'", keep_listening=True)
        pings = peer.pings
        for _ in range(5):
            ticks.put_nowait(None)
        await until(lambda: ticks.empty(), "the watchdog's turns")
        peer.drop_all()  # the connection goes; a fenced link waits instead of logging in again
        for _ in range(3):
            ticks.put_nowait(None)
        await until(lambda: ticks.empty() and not link.connected, "the backoff")
        assert peer.pings == pings and peer.logins == 1

        link.unfence()  # it leads again: it logs in again (its backoff may still want a turn of the clock)

        def logged_in_again() -> bool:
            if ticks.empty():
                ticks.put_nowait(None)
            return peer.logins == 2 and link.connected

        await until(logged_in_again, "the login after unfence")
    finally:
        running.cancel()
        await link.stop()
        await peer.stop()
