"""A standby's presence actions travel to its site's leader over PostgreSQL and come back answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from database_fixtures import _fresh_copy

from ngcc112.ami import actions
from ngcc112.ami.actions import AmiAction
from ngcc112.ami.link import AmiActionTimeout, AmiNotConnected, AmiNotLeader
from ngcc112.ami.link_items import AmiResponse
from ngcc112.ami.message import AmiMessage
from ngcc112.cluster.fanout import asyncpg_dsn
from ngcc112.cluster.relay import ActionRelay

pytestmark = pytest.mark.postgres
#: Only a bound so a broken relay fails instead of hanging; never a timed assertion.
PATIENCE = 20.0


class LeaderLink:
    """The leader's side of the link: answers what it is sent, as Asterisk would."""

    def __init__(self, *, members: int = 0, fenced: str | None = None) -> None:
        self.sent: list[AmiAction] = []
        self.members = members
        self.fenced = fenced
        self.connected = True
        self.failure: Exception | None = None

    async def send(self, action: AmiAction, timeout: float | None = None) -> AmiResponse:
        self.sent.append(action)
        if self.failure is not None:
            raise self.failure
        response = AmiMessage.from_pairs([("Response", "Success"), ("Message", "Added interface to queue")])
        assert response is not None
        items = tuple(
            AmiMessage.from_pairs([("Event", "QueueMember"), ("Interface", f"PJSIP/op{i}"), ("Name", "Operator " * 20)])
            for i in range(self.members)
        )
        return AmiResponse(response, tuple(item for item in items if item is not None))


@pytest.fixture
async def dsn(migrated_postgres: str | None, tmp_path: Path) -> AsyncIterator[str]:
    async for url in _fresh_copy(("postgresql", migrated_postgres), tmp_path):
        yield asyncpg_dsn(url)


@pytest.fixture
async def pair(dsn: str) -> AsyncIterator[tuple[ActionRelay, LeaderLink, ActionRelay]]:
    leader_link = LeaderLink(members=300)
    standby_link = LeaderLink(fenced="a standby")
    leader = ActionRelay(dsn, "node-a", "main", leader_link, action_timeout=2.0, status_every=0.05)  # type: ignore[arg-type]
    standby = ActionRelay(dsn, "node-b", "main", standby_link, action_timeout=2.0, status_every=0.05)  # type: ignore[arg-type]
    for relay in (leader, standby):
        await relay.start()
    try:
        async with asyncio.timeout(PATIENCE):
            await leader.wait_up()
            await standby.wait_up()
            while not standby.connected:  # the leader's status note arrived
                await asyncio.sleep(0.01)
        yield standby, leader_link, leader
    finally:
        for relay in (leader, standby):
            await relay.stop()


async def test_the_leader_sends_a_standbys_queue_add_and_the_answer_comes_back(pair) -> None:
    standby, leader_link, _ = pair
    async with asyncio.timeout(PATIENCE):
        answer = await standby.send(actions.queue_add("112-operators", "PJSIP/op1", "Operator 1"))
    assert answer.ok and answer.message == "Added interface to queue"
    assert [a.name for a in leader_link.sent] == ["QueueAdd"]
    assert leader_link.sent[0].get("Interface") == "PJSIP/op1"


async def test_a_list_answer_larger_than_one_notify_arrives_whole(pair) -> None:
    standby, _, _ = pair
    async with asyncio.timeout(PATIENCE):
        answer = await standby.send(actions.queue_status("112-operators"))
    assert [item.get("Interface") for item in answer.items] == [f"PJSIP/op{i}" for i in range(300)]


async def test_only_presence_actions_travel(pair) -> None:
    standby, leader_link, _ = pair
    with pytest.raises(AmiNotLeader, match="standby"):
        await standby.send(actions.hangup("PJSIP/caller-1"))
    assert leader_link.sent == []


async def test_the_leaders_link_errors_come_back_as_the_same_errors(pair) -> None:
    standby, leader_link, _ = pair
    leader_link.failure = AmiActionTimeout("no answer to QueuePause within 2 s")
    with pytest.raises(AmiActionTimeout, match="QueuePause"):
        await standby.send(actions.queue_pause("PJSIP/op1", True))
    leader_link.failure = AmiNotConnected("AMI link is down; QueuePause not sent")
    with pytest.raises(AmiNotConnected, match="link is down"):
        await standby.send(actions.queue_pause("PJSIP/op1", True))


async def test_without_a_leader_nothing_is_sent(dsn: str) -> None:
    standby = ActionRelay(dsn, "node-b", "main", LeaderLink(fenced="a standby"), action_timeout=2.0)  # type: ignore[arg-type]
    await standby.start()
    try:
        async with asyncio.timeout(PATIENCE):
            await standby.wait_up()
        assert not standby.connected
        with pytest.raises(AmiNotConnected, match="leader is not connected"):
            await standby.send(actions.queue_add("112-operators", "PJSIP/op1", "Operator 1"))
    finally:
        await standby.stop()


async def test_a_flood_of_relayed_actions_is_answered_busy_beyond_the_bound(pair, monkeypatch) -> None:
    from ngcc112.cluster import relay

    standby, leader_link, _ = pair
    monkeypatch.setattr(relay, "MAX_JOBS", 0)  # the leader is already carrying out as many as it may
    with pytest.raises(AmiNotConnected, match="busy"):
        await standby.send(actions.queue_pause("PJSIP/op1", True))
    assert leader_link.sent == []
