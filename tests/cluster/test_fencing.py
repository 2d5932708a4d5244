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
