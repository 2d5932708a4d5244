"""Every state-changing endpoint refuses a missing CSRF token and the wrong roles; every read
refuses the wrong roles — checked endpoint by endpoint against the OpenAPI description."""

from __future__ import annotations

import pytest
from dispatch_helpers import login, make_ticket

from ngcc112.panel import dispatch_openapi

ROLES_USERS = {"operator": "op1", "dispatcher": "dispatcher", "agency": "agency", "admin": "admin"}
#: Who may call each operation (everyone else: 403).
ALLOWED = {
    ("GET", "/api/dispatch/board"): {"dispatcher", "admin"},
    ("GET", "/api/dispatch/callbacks"): {"operator", "dispatcher", "admin"},
    ("GET", "/api/dispatch/tickets"): {"dispatcher", "admin"},
    ("GET", "/api/dispatch/tickets/{ticket_id}"): {"dispatcher", "admin"},
    ("POST", "/api/dispatch/tickets/{ticket_id}/dispatch"): {"dispatcher"},
    ("POST", "/api/dispatch/tickets/{ticket_id}/close"): {"dispatcher"},
    ("POST", "/api/dispatch/tickets/{ticket_id}/callback"): {"operator", "dispatcher"},
    ("POST", "/api/dispatch/tickets/{ticket_id}/callback/outcome"): {"operator", "dispatcher"},
    ("POST", "/api/dispatch/dispatches/{dispatch_id}/status"): {"dispatcher"},
    ("POST", "/api/dispatch/dispatches/{dispatch_id}/report"): {"dispatcher"},
    ("GET", "/api/agency/dispatches"): {"agency"},
    ("GET", "/api/agency/dispatches/{dispatch_id}"): {"agency"},
    ("POST", "/api/agency/dispatches/{dispatch_id}/acknowledge"): {"agency"},
    ("POST", "/api/agency/dispatches/{dispatch_id}/status"): {"agency"},
    ("POST", "/api/agency/dispatches/{dispatch_id}/report"): {"agency"},
    ("GET", "/api/reports"): {"dispatcher", "admin"},
    ("GET", "/api/reports/csv"): {"dispatcher", "admin"},
    ("GET", "/api/admin/users"): {"admin"},
    ("POST", "/api/admin/users"): {"admin"},
    ("POST", "/api/admin/users/{user_id}"): {"admin"},
    ("POST", "/api/admin/users/{user_id}/password"): {"admin"},
    ("GET", "/api/admin/agencies"): {"admin"},
    ("POST", "/api/admin/agencies"): {"admin"},
    ("POST", "/api/admin/agencies/{code}"): {"admin"},
}
OPERATIONS = sorted(ALLOWED)


def test_the_table_covers_every_described_operation():
    described = {(method.upper(), path) for path, ops in dispatch_openapi.PATHS.items() for method in ops
                 if path.startswith("/api/")}
    assert described == set(ALLOWED)


def _url(path: str) -> str:
    return (path.replace("{ticket_id}", "1").replace("{dispatch_id}", "1").replace("{user_id}", "1")
            .replace("{code}", "damkar"))


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=lambda v: str(v))
async def test_wrong_roles_and_missing_csrf_are_refused(method, path, other_client, services):
    await make_ticket(services)
    url = _url(path)
    for role, username in ROLES_USERS.items():
        browser = await other_client()
        token = await login(browser, username)
        if method == "GET":
            response = await browser.get(url)
            if role in ALLOWED[(method, path)]:
                assert response.status in (200, 404), (role, url, response.status)
            else:
                assert response.status == 403, (role, url)
                assert (await response.json())["code"] == "role"
            continue
        no_csrf = await browser.post(url, json={})
        assert no_csrf.status == 403, (role, url)
        assert (await no_csrf.json())["code"] == "csrf"
        if role not in ALLOWED[(method, path)]:
            response = await browser.post(url, json={}, headers={"X-CSRF-Token": token})
            assert response.status == 403, (role, url)
            assert (await response.json())["code"] == "role"


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=lambda v: str(v))
async def test_not_logged_in_is_401(method, path, client):
    response = await (client.get(_url(path)) if method == "GET" else client.post(_url(path), json={}))
    # a state change without a session has no CSRF token either: the CSRF check answers first
    assert response.status == (401 if method == "GET" else 403)
