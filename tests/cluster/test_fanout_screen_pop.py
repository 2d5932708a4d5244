"""Two panels (two nodes) on one PostgreSQL: the call rings on node A, the operator's browser is on node B."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from database_fixtures import _fresh_copy
from panel_fixtures import login

from ngcc112 import names
from ngcc112.app import Services, build
from ngcc112.ami.events import CallArrived, OperatorRinging
from ngcc112.cluster.fanout import ClusterResync
from ngcc112.hub import Hub
from ngcc112.panel.app import create_app
from ngcc112.settings import ClusterSettings, PanelSettings, Settings

pytestmark = pytest.mark.postgres
CALL = "1700000000.7"
#: Only a bound so a broken fan-out fails instead of hanging; never a timed assertion.
PATIENCE = 30.0


@pytest.fixture
async def shared_url(seeded_postgres: str | None, tmp_path: Path) -> AsyncIterator[str]:
    async for url in _fresh_copy(("postgresql", seeded_postgres), tmp_path):
        yield url


@contextlib.asynccontextmanager
async def cluster_node(url: str, name: str) -> AsyncIterator[Services]:
    """One node as ``ngcc112 run`` builds it in cluster mode (its fan-out started, as serve() does)."""
    settings = Settings(
        database_url=url,
        panel=PanelSettings(cookie_secret="test-secret"),
        cluster=ClusterSettings(enabled=True, node_name=name),
    )
    services = await build(settings, migrate=False, hub=Hub())
    assert services.fanout is not None and services.fanout.node == name
    await services.fanout.start()
    try:
        yield services
    finally:
        await services.fanout.stop()
        await services.engine.dispose()


async def next_of(ws: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(PATIENCE):
        while True:
            message = await ws.receive_json()
            if message["type"] == kind:
                return dict(message)


async def test_the_operator_on_node_b_gets_the_screen_pop_of_a_call_on_node_a(
    shared_url: str, aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
) -> None:
    async with cluster_node(shared_url, "node-a") as node_a, cluster_node(shared_url, "node-b") as node_b:
        await aiohttp_client(create_app(node_a))  # node A's panel runs too (its live hub listens)
        browser_b = await aiohttp_client(create_app(node_b))
        await login(browser_b, "op1")
        async with browser_b.ws_connect("/ws") as ws:
            await next_of(ws, "hello")
            now = datetime.now(UTC)
            arrived = CallArrived(CALL, now, f"PJSIP/caller1-{CALL}", CALL, "081234567890", "Budi", "112")
            # node A's daemon: publish at once, write the ticket after
            node_a.hub.publish(arrived)
            await node_a.store.record(arrived)
            node_a.hub.publish(OperatorRinging(CALL, now, names.OPERATOR_QUEUE, "PJSIP/op1", "op1"))
            message = await next_of(ws, "call")
            assert message["ringing"] == CALL
        state = await (await browser_b.get("/api/me/state")).json()
        ticket = state["desk"]["ringing"]["ticket"]
        assert ticket["caller_number"] == "081234567890" and ticket["caller_name"] == "Budi"


async def test_a_resync_marker_makes_the_browsers_fetch_their_state_again(
    shared_url: str, aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
) -> None:
    async with cluster_node(shared_url, "node-b") as node_b:
        browser_b = await aiohttp_client(create_app(node_b))
        await login(browser_b, "op1")
        async with browser_b.ws_connect("/ws") as ws:
            await next_of(ws, "hello")
            node_b.hub.publish(ClusterResync(datetime.now(UTC), "reconnected"))
            assert await next_of(ws, "resync") == {"type": "resync"}


async def test_no_fanout_off_cluster_mode(shared_url: str, tmp_path: Path) -> None:
    for settings in (
        Settings(database_url=shared_url),
        Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"),
    ):
        services = await build(settings, migrate=False, hub=Hub())
        try:
            assert services.fanout is None
        finally:
            await services.engine.dispose()
