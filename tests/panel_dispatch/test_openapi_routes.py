"""The route tables the OpenAPI description is generated from, against the router: every ``/api/``
route is described, each table row has its handler's roles, and the model a row documents for the
body (or query) is the very model the handler reads its input with."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient
from dispatch_helpers import login

from ngcc112.panel import dispatch_openapi, location_openapi, openapi
from ngcc112.panel.api_models.read import READ_WITH
from ngcc112.panel.app import create_app
from ngcc112.panel.auth import roles_of

TABLES = (*openapi.ROUTES, *dispatch_openapi.ROUTES, *location_openapi.ROUTES)
USERS = {"operator": "op1", "dispatcher": "dispatcher", "agency": "agency", "admin": "admin"}
#: Ends the session the other calls use.
LAST = "DELETE /api/session"


def _canonical(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)


def _router(app: web.Application) -> dict[str, web.AbstractRoute]:
    found = {}
    for resource in app.router.resources():
        for route in resource:
            if route.method not in ("HEAD", "*"):
                found[f"{route.method} {_canonical(resource.canonical)}"] = route
    return found


async def test_every_api_route_is_in_a_table_with_its_handlers_roles(services):
    app = create_app(services)
    routes = _router(app)
    labels = [row.label for row in TABLES]
    assert len(labels) == len(set(labels)), "a route described twice"
    served = {label for label in routes if label.split(" ", 1)[1].startswith("/api/")}
    described = {row.label for row in TABLES}
    assert served <= described
    for row in TABLES:
        assert row.label in routes, f"{row.label} is described but not routed"
        assert set(roles_of(routes[row.label].handler)) == set(row.roles), row.label


async def test_each_handler_reads_the_model_its_route_documents(aiohttp_client, services):
    read: dict[str, object] = {}

    @web.middleware
    async def note_the_model(request: web.Request, handler):  # type: ignore[no-untyped-def]
        try:
            return await handler(request)
        finally:
            resource = request.match_info.route.resource
            if resource is not None:
                read[f"{request.method} {_canonical(resource.canonical)}"] = request.get(READ_WITH)

    app = create_app(services)
    app.middlewares.insert(0, note_the_model)
    first = await aiohttp_client(app)
    others = [TestClient(first.server) for _ in range(len(USERS) - 1)]
    for other in others:
        await other.start_server()
    browsers = {role: (browser, await login(browser, username))
                for (role, username), browser in zip(USERS.items(), [first, *others])}
    try:
        for row in sorted(TABLES, key=lambda r: r.label == LAST):
            if not row.path.startswith("/api/"):
                continue
            browser, token = browsers[row.roles[0] if row.roles else "admin"]
            url = re.sub(r"\{\w+_id\}", "999999", row.path).replace("{code}", "nope")
            response = await browser.request(row.method, url, json={}, headers={"X-CSRF-Token": token})
            assert response.status < 500, (row.label, await response.text())
            assert read.get(row.label) is (row.body or row.query), row.label
    finally:
        for other in others:
            await other.close()
