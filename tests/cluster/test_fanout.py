"""Two nodes on one real PostgreSQL: events cross once, never come back, and a lost listener heals by resync."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from database_fixtures import create_postgres_database, drop_postgres_database
from ngcc112.ami.events import OperatorRinging
from ngcc112.backoff import Backoff
from ngcc112.cluster.fanout import ClusterResync, Fanout, asyncpg_dsn, fanout_wanted
from ngcc112.cluster.wire import Codec, Envelope
from ngcc112.hub import Hub, Subscription

AT = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
#: Only a bound so a broken fan-out fails instead of hanging; never a timed assertion.
PATIENCE = 30.0


async def _no_wait(delay: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
async def dsn() -> AsyncIterator[str]:
    url = await create_postgres_database("ngcc112_fanout")
    if url is None:
        pytest.skip("PostgreSQL not available")
    yield asyncpg_dsn(url)
    await drop_postgres_database(url)


@contextlib.asynccontextmanager
async def node(dsn: str, name: str, site: str = "main") -> AsyncIterator[tuple[Hub, Fanout]]:
    hub = Hub()
    fanout = Fanout(hub, dsn, name, Codec(), backoff=Backoff(first=0.01, cap=0.1), sleep=_no_wait, site=site)
    await fanout.start()
    try:
        yield hub, fanout
    finally:
        await fanout.stop()


def ringing(call_id: str) -> OperatorRinging:
    return OperatorRinging(call_id, AT, "112", "PJSIP/op1", "Operator 1")


async def next_item(subscription: Subscription) -> Any:
    return await asyncio.wait_for(subscription.get(), PATIENCE)


async def test_an_event_crosses_once_and_is_never_echoed(dsn: str) -> None:
    async with node(dsn, "a") as (hub_a, _), node(dsn, "b") as (hub_b, fanout_b):
        seen_a, seen_b = hub_a.subscribe(), hub_b.subscribe()
        hub_a.publish(ringing("call-1"))
        assert await next_item(seen_a) == ringing("call-1")
        assert await next_item(seen_b) == ringing("call-1")
        # B's own next event reaches A after anything B might have echoed: A sees only it
        hub_b.publish(ringing("call-2"))
        assert await next_item(seen_b) == ringing("call-2")
        assert await next_item(seen_a) == ringing("call-2")
        hub_a.publish(ringing("call-3"))
        assert await next_item(seen_a) == ringing("call-3")
        assert await next_item(seen_b) == ringing("call-3")
        assert seen_a.queue.empty() and seen_b.queue.empty()
        assert fanout_b.received == 2 and fanout_b.sent == 1


async def test_what_the_codec_does_not_carry_stays_local(dsn: str) -> None:
    async with node(dsn, "a") as (hub_a, _), node(dsn, "b") as (hub_b, _):
        seen_b = hub_b.subscribe()
        hub_a.publish("only for a")
        hub_a.publish(ringing("call-1"))
        assert await next_item(seen_b) == ringing("call-1")


async def test_another_sites_calls_stay_there_and_its_ticket_changes_reach_every_board(dsn: str) -> None:
    from ngcc112.tickets.store import TicketChanged

    changed = TicketChanged(7, "call-9", "escalated", AT, "escalated", {"state": "escalated"})
    async with node(dsn, "a", "kota") as (hub_a, _), node(dsn, "b", "kabupaten") as (hub_b, fanout_b):
        seen_b = hub_b.subscribe()
        hub_a.publish(ringing("call-9"))  # site kota's Asterisk rings a kota operator
        hub_a.publish(changed)  # one database, one dispatcher board
        assert await next_item(seen_b) == changed
        assert seen_b.queue.empty() and fanout_b.received == 1


async def test_a_killed_listener_reconnects_and_asks_for_a_resync(dsn: str) -> None:
    async with node(dsn, "a") as (hub_a, _), node(dsn, "b") as (hub_b, fanout_b):
        seen_b = hub_b.subscribe()
        killer = await asyncpg.connect(dsn)
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", fanout_b.listener_pid())
        finally:
            await killer.close()
        marker = await next_item(seen_b)
        assert isinstance(marker, ClusterResync) and marker.reason == "reconnected"
        hub_a.publish(ringing("after"))
        assert await next_item(seen_b) == ringing("after")
        assert fanout_b.reconnects == 1


async def test_a_skipped_sequence_number_asks_for_a_resync(dsn: str) -> None:
    async with node(dsn, "b") as (hub_b, _):
        seen_b = hub_b.subscribe()
        codec = Codec()
        sender = await asyncpg.connect(dsn)
        try:
            for seq in (1, 3):
                payload = codec.encode(Envelope("a", seq, ringing(f"call-{seq}")))
                await sender.execute("SELECT pg_notify('ngcc112_events', $1)", payload)
        finally:
            await sender.close()
        assert await next_item(seen_b) == ringing("call-1")
        marker = await next_item(seen_b)
        assert isinstance(marker, ClusterResync) and (marker.reason, marker.origin) == ("gap", "a")
        assert await next_item(seen_b) == ringing("call-3")


class _Cluster:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled


class _Settings:
    def __init__(self, url: str, cluster: _Cluster | None) -> None:
        self.database_url = url
        if cluster is not None:
            self.cluster = cluster


def test_fanout_is_wanted_only_in_cluster_mode_on_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    pg, lite = "postgresql+asyncpg://x@h/db", "sqlite+aiosqlite:///x.db"
    assert fanout_wanted(_Settings(pg, _Cluster(True)))
    assert not fanout_wanted(_Settings(pg, _Cluster(False)))
    assert not fanout_wanted(_Settings(lite, _Cluster(True)))
    monkeypatch.setenv("NGCC112_CLUSTER", "1")
    assert fanout_wanted(_Settings(pg, None))
    monkeypatch.setenv("NGCC112_CLUSTER", "0")
    assert not fanout_wanted(_Settings(pg, None))
