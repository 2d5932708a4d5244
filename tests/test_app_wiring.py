"""The composition root: one process serving the daemon, triage, the panel and the AML endpoints."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from pydantic import ValidationError

from ngcc112.app import Services, serve
from ngcc112.clock import VirtualClock
from ngcc112.settings import AmiSettings, AmlSettings, PanelSettings, Settings
from ngcc112.sim import AmiSimulator
from ngcc112.sim.calls import CallScript
from ngcc112.sim.config import SimulatorConfig


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def eventually(condition, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


AML_SECRET = "wiring-secret-0123456789"


@pytest.fixture
async def stack(tmp_path):
    # one virtual clock for Asterisk and the daemon; nothing here lets it move
    clock = VirtualClock()
    sim = AmiSimulator(SimulatorConfig(), clock=clock)
    await sim.start()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
                        ami=AmiSettings(port=sim.port, reconnect_min=0.1),
                        panel=PanelSettings(port=free_port()),
                        aml=AmlSettings(senders=(f"gateway:{AML_SECRET}",)))
    stop = asyncio.Event()
    ready: asyncio.Future[Services] = asyncio.get_running_loop().create_future()

    async def on_ready(services: Services) -> None:
        ready.set_result(services)

    task = asyncio.create_task(serve(settings, stop=stop, on_ready=on_ready, say=lambda line: None,
                                     clock=clock))
    services = await asyncio.wait_for(ready, 20)
    yield sim, settings, services
    stop.set()
    await asyncio.wait_for(task, 20)
    await sim.stop()


async def test_aml_posts_reach_the_store_without_a_session_and_get_200(stack):
    sim, settings, services = stack
    base = f"http://127.0.0.1:{settings.panel.port}"
    call = await sim.place_call(CallScript(number="081234567890", hangup_after=None))
    await eventually(lambda: services.daemon.tracker.live_calls)
    gateway = {"Authorization": f"Bearer {AML_SECRET}"}
    async with aiohttp.ClientSession() as http:
        form = {"v": "3", "device_number": "+6281234567890", "location_latitude": "-6.2",
                "location_longitude": "106.8166", "location_accuracy": "25", "time": "1795843875000"}
        async with http.post(f"{base}/aml/els", data=form, headers=gateway) as response:
            assert response.status == 200
        async with http.post(f"{base}/aml/sms", data={"from": "081234567890", "text": "garbage"},
                             headers=gateway) as response:
            assert response.status == 200
        async with http.post(f"{base}/aml/els", data=form) as response:  # [aml] senders only
            assert response.status == 401
        async with http.get(f"{base}/healthz") as response:
            assert response.status in (200, 503)
        intake = services.extras["aml_intake"]
        await intake.flush(5)
        assert intake.status()["aml_received"] == 3 and intake.status()["aml_refused"] == 1
        async with http.get(f"{base}/metrics") as response:
            metrics = await response.text()
    assert "ngcc112_aml_received_total 3.0" in metrics and "ngcc112_aml_refused_total 1.0" in metrics
    assert "ngcc112_aml_rate_limited_total 0.0" in metrics and "ngcc112_aml_spooled 0.0" in metrics
    assert intake.locations is services.extras["triage"].locations
    assert services.extras["triage"] is not None
    await sim.engine.cancel_all()
    del call


def test_bad_routing_policy_is_refused_before_anything_starts():
    # the settings themselves refuse it: serve() is never reached with a bad policy
    with pytest.raises(ValidationError, match="routing.no_speech_seconds must be a number"):
        Settings(routing={"no_speech_seconds": "ten"})


def test_bad_sla_targets_are_refused_before_anything_starts():
    with pytest.raises(ValidationError, match="intake must be seconds"):
        Settings(sla={"intake": "soon"})


async def test_the_configured_aml_window_reaches_the_running_triage(tmp_path):
    from datetime import timedelta

    from ngcc112.settings import LocationSettings

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
                        ami=AmiSettings(port=free_port(), reconnect_min=0.05),
                        location=LocationSettings(aml_window_before_seconds=5, aml_window_after_seconds=60),
                        panel=PanelSettings(port=free_port()))
    seen = {}
    stop = asyncio.Event()

    async def on_ready(services: Services) -> None:
        locations = services.extras["triage"].locations
        seen["windows"] = (locations.window_before, locations.window_after)
        stop.set()

    await serve(settings, stop=stop, on_ready=on_ready, say=lambda line: None)
    assert seen["windows"] == (timedelta(seconds=5), timedelta(seconds=60))


async def test_the_injected_clock_reaches_the_daemon_triage_and_the_call_facts(stack):
    sim, _settings, services = stack
    triage = services.extras["triage"]
    assert services.daemon.clock is sim.clock and triage.clock is sim.clock
    call = await sim.place_call(CallScript(number="081234567891", hangup_after=None))
    await eventually(lambda: services.daemon.tracker.live_calls)
    await services.daemon.drained()
    ticket = await services.store.by_linkedid(call.linkedid)
    # Asterisk's Timestamp on the events, i.e. the virtual clock, not the host's
    assert ticket.arrived_at.timestamp() == sim.clock.now()
    await sim.engine.cancel_all()
