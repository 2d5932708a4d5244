"""/healthz, /metrics and the OpenAPI description."""

from __future__ import annotations

import re

from panel_helpers import login

from ngcc112.panel.openapi import spec

METHODS = {"get", "post", "put", "patch", "delete"}


async def test_healthz_reports_ami_and_database(client, fake_link):
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert response.headers["Cache-Control"] == "no-store"
    assert body["ami"]["connected"] is True and body["database"]["reachable"] is True
    assert (await client.get("/readyz")).status == 200
    fake_link.set_connected(False)
    down = await client.get("/healthz")
    assert down.status == 200, "liveness: the daemon runs"
    assert (await down.json())["status"] == "degraded"
    not_ready = await client.get("/readyz")
    assert not_ready.status == 503
    assert (await not_ready.json())["ami"]["connected"] is False
    assert (await not_ready.json())["ami"]["phase"] == "backing_off"


async def test_healthz_when_the_database_is_gone(client, services):
    from sqlalchemy.ext.asyncio import create_async_engine

    await services.engine.dispose()
    services.engine = create_async_engine("sqlite+aiosqlite:////nonexistent/dir/x.db")
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["database"]["reachable"] is False and body["database"]["error"] == "error"
    assert "nonexistent" not in await response.text(), "no database details in the anonymous answer"
    assert (await client.get("/readyz")).status == 503
    metrics = await (await client.get("/metrics")).text()
    assert "ngcc112_ami_link_up 1.0" in metrics


async def test_health_answers_within_its_bound_when_the_database_hangs(client, services, monkeypatch):
    """A database that accepts and then never answers (silent): the probe gives up, the answer comes."""
    import asyncio

    from ngcc112.panel import health

    never = asyncio.Event()

    class SilentEngine:
        def connect(self):
            return self

        async def __aenter__(self):
            await never.wait()

        async def __aexit__(self, *exc):
            return False

    monkeypatch.setattr(services, "engine", SilentEngine())
    for path, status in (("/healthz", 200), ("/readyz", 503)):
        response = await asyncio.wait_for(client.get(path), health.PROBE_SECONDS + 5)
        assert response.status == status
        assert (await response.json())["database"] == {"reachable": False, "error": "no answer",
                                                       "backlog": 0}


async def test_metrics_in_prometheus_text_format(client, services):
    await login(client, "op1")
    from test_panel_screenpop import arrive

    await arrive(services, "m.1")
    async with client.ws_connect("/ws"):
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    assert "# TYPE ngcc112_ami_link_up gauge" in text
    assert "ngcc112_ami_link_up 1.0" in text
    assert 'ngcc112_ami_link_phase{phase="up"} 1.0' in text
    assert 'ngcc112_ami_link_phase{phase="backing_off"} 0.0' in text
    assert "ngcc112_ami_reconnects_total 0.0" in text
    assert 'ngcc112_tickets{state="new"} 1.0' in text
    assert "ngcc112_websocket_clients 1.0" in text
    assert "ngcc112_calls_live 0.0" in text
    assert "ngcc112_ami_events_total" in text


def _app_operations(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)
        if route.method in ("HEAD", "*"):
            continue
        if path.startswith(("/api/", "/ws/")) or path in ("/healthz", "/readyz", "/metrics", "/ws"):
            found.add((route.method, path))
    return found


def _operations(document) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items()
            for method in item if method in METHODS}


async def test_every_api_route_is_in_the_openapi_spec_and_back(client):
    served = await (await client.get("/api/openapi.json")).json()
    assert served["openapi"].startswith("3.")
    assert _app_operations(client.server.app) == _operations(served)
    assert _operations(spec()) <= _operations(served)


def test_other_modules_can_add_to_the_description():
    from aiohttp import web

    from ngcc112.panel import openapi

    app = web.Application()
    openapi.register(app, lambda: {"paths": {"/api/extra": {"get": {"responses": {"200": {}}}}},
                                   "components": {"schemas": {"Extra": {"type": "object"}}}})
    document = openapi.app_spec(app)
    assert ("GET", "/api/extra") in _operations(document)
    assert "Extra" in document["components"]["schemas"] and "Ticket" in document["components"]["schemas"]


def test_spec_references_resolve():
    document = spec()
    text = repr(document)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in document["components"]["schemas"], name
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], (method, path)


def test_path_parameters_are_declared():
    for path, item in spec()["paths"].items():
        wanted = set(re.findall(r"\{(\w+)\}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == wanted, (method, path)
