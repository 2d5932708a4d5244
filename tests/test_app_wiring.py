"""The composition root: one process serving the daemon, triage, the panel and the AML endpoints."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import aiohttp
import pytest
from pydantic import ValidationError

import ngcc112
from ngcc112.app import FatalError, build, serve
from ngcc112.clock import VirtualClock
from ngcc112.hub import Hub
from ngcc112.routing.presence import PresenceControl
from ngcc112.services import Services
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
        intake = services.aml_intake
        await intake.flush(5)
        assert intake.status()["aml_received"] == 3 and intake.status()["aml_refused"] == 1
        async with http.get(f"{base}/metrics") as response:
            metrics = await response.text()
    assert "ngcc112_aml_received_total 3.0" in metrics and "ngcc112_aml_refused_total 1.0" in metrics
    assert "ngcc112_aml_rate_limited_total 0.0" in metrics and "ngcc112_aml_spooled 0.0" in metrics
    assert intake.aml_locations is services.triage.aml_locations is services.aml_locations
    assert services.aml_locations.locations is services.locations
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
        aml_locations = services.triage.aml_locations
        seen["windows"] = (aml_locations.window_before, aml_locations.window_after)
        stop.set()

    await serve(settings, stop=stop, on_ready=on_ready, say=lambda line: None)
    assert seen["windows"] == (timedelta(seconds=5), timedelta(seconds=60))


async def test_the_injected_clock_reaches_the_daemon_triage_and_the_call_facts(stack):
    sim, _settings, services = stack
    triage = services.triage
    assert services.daemon.clock is sim.clock and triage.clock is sim.clock
    call = await sim.place_call(CallScript(number="081234567891", hangup_after=None))
    await eventually(lambda: services.daemon.tracker.live_calls)
    await services.daemon.drained()
    ticket = await services.store.by_linkedid(call.linkedid)
    # Asterisk's Timestamp on the events, i.e. the virtual clock, not the host's
    assert ticket.arrived_at.timestamp() == sim.clock.now()
    await sim.engine.cancel_all()


def test_every_part_is_a_typed_field_and_nothing_else():
    """No untyped bag of extras: each component has its own annotated field."""
    fields = {f.name: f.type for f in dataclasses.fields(Services)}
    assert "extras" not in fields
    assert {"locations", "aml_locations", "triage", "aml_intake", "wrapup", "backfill", "panel_app"} <= set(fields)
    assert all(kind not in ("object", "Any") and "dict[str, object]" not in kind for kind in fields.values())


async def test_the_injected_link_and_hub_are_the_ones_every_part_uses(tmp_path):
    hub = Hub()
    made: list[object] = []

    def link(receive):
        made.append(receive)
        return types.SimpleNamespace(send=None, receive=receive)

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'i.db'}")
    services = await build(settings, migrate=False, hub=hub, link=link)
    try:
        assert services.hub is hub and services.store is not None
        assert len(made) == 1 and services.daemon.link.receive is made[0]
        assert services.triage._link is services.daemon.link and services.wrapup._link is services.daemon.link
        assert services.triage._channels is services.daemon.tracker
        assert services.aml_intake.aml_locations is services.aml_locations is services.triage.aml_locations
        assert services.aml_locations.locations is services.locations
    finally:
        await services.engine.dispose()


def test_a_broken_panel_import_fails_loudly_instead_of_running_without_a_panel(tmp_path):
    """The root imports the panel like any module: an error in it stops the start with its traceback."""
    broken = tmp_path / "broken"
    (broken / "ngcc112" / "panel").mkdir(parents=True)
    source = Path(ngcc112.__file__).parent
    for item in source.iterdir():
        if item.name != "panel":
            (broken / "ngcc112" / item.name).symlink_to(item)
    for item in (source / "panel").iterdir():
        if item.name != "app.py":
            (broken / "ngcc112" / "panel" / item.name).symlink_to(item)
    (broken / "ngcc112" / "panel" / "app.py").write_text("import ngcc112_no_such_module\n")
    result = subprocess.run([sys.executable, "-c", "import ngcc112.app"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(broken)}, timeout=60)
    assert result.returncode != 0
    assert "ModuleNotFoundError: No module named 'ngcc112_no_such_module'" in result.stderr


async def test_wrap_up_runs_beside_the_daemon_without_a_panel(tmp_path):
    """serve(panel=False) still pauses the operator after a call: wrap-up belongs to the root."""
    sim = AmiSimulator(SimulatorConfig(prompt_sound=False))
    await sim.start()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'np.db'}",
                        ami=AmiSettings(port=sim.port, reconnect_min=0.1, ping_interval=30.0, action_timeout=30.0),
                        panel=PanelSettings(port=free_port()))
    stop = asyncio.Event()
    ready: asyncio.Future[Services] = asyncio.get_running_loop().create_future()

    async def on_ready(services: Services) -> None:
        ready.set_result(services)

    task = asyncio.create_task(serve(settings, stop=stop, on_ready=on_ready, panel=False, say=lambda line: None))
    try:
        services = await asyncio.wait_for(ready, 20)
        assert services.panel_app is None
        with socket.socket() as probe:  # nothing listens on the panel's port
            assert probe.connect_ex(("127.0.0.1", settings.panel.port)) != 0
        await eventually(lambda: services.daemon.link.connected)
        await PresenceControl(services.daemon.link, settings.calls.queue).ready("PJSIP/op1", "op1")
        sim.set_softphone("op1", answers=True, ring_seconds=0.3)
        call = await sim.place_call(CallScript(number="081234567892", hangup_after=6.0))
        await asyncio.wait_for(call.wait(30), 30)
        assert call.outcome == "answered"
        await eventually(lambda: [(a.get("Paused"), a.get("Reason")) for _user, a in sim.received_actions
                                  if a.get("Action") == "QueuePause"] == [("true", "wrap-up")])
        assert services.wrapup.rule.wrapping("PJSIP/op1") is not None
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await sim.stop()
