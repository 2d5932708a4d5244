"""/metrics and the health details are for the center's own monitoring (issue 11, item 8).

The test client connects from 127.0.0.1; the settings decide whether that counts.
"""

from __future__ import annotations

import pytest

from ngcc112.panel.app import create_app
from ngcc112.settings import PanelSettings

TOKEN = "a-long-metrics-token-0123456789"


@pytest.fixture
async def public_client(aiohttp_client, services):
    """The panel as seen from an address outside [panel] metrics_allow, with a metrics token set."""
    panel = PanelSettings.model_validate({**dict(services.settings.panel), "metrics_allow": ("10.9.0.0/16",),
                                          "metrics_token": TOKEN})
    services.settings = services.settings.model_copy(update={"panel": panel})
    return await aiohttp_client(create_app(services))


async def test_metrics_are_refused_to_an_address_outside_the_allow_list(public_client):
    response = await public_client.get("/metrics")
    assert response.status == 403
    assert "metrics_allow" in (await response.json())["error"]
    assert "ngcc112_" not in await response.text()


@pytest.mark.parametrize("header", ["Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x", ""])
async def test_a_wrong_token_is_refused(public_client, header):
    assert (await public_client.get("/metrics", headers={"Authorization": header})).status == 403


async def test_the_metrics_token_opens_the_metrics_and_the_health_details(public_client):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    response = await public_client.get("/metrics", headers=bearer)
    assert response.status == 200 and "ngcc112_ami_link_up" in await response.text()
    details = await (await public_client.get("/healthz", headers=bearer)).json()
    assert {"status", "ami", "database", "live_calls"} <= details.keys()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_anyone_else_learns_only_the_status_and_the_role(public_client, fake_link, path):
    """A load balancer outside metrics_allow still routes by role (a single node leads)."""
    body = await (await public_client.get(path)).json()
    assert body == {"status": "ok", "role": "leader"}
    fake_link.set_connected(False)
    response = await public_client.get(path)
    assert await response.json() == {"status": "degraded", "role": "leader"}
    assert response.status == (200 if path == "/healthz" else 503)


async def test_the_default_allows_loopback_only(client):
    """The shipped default: a Prometheus on the same host scrapes without configuration."""
    assert (await client.get("/metrics")).status == 200
    assert "ami" in await (await client.get("/healthz")).json()


async def test_a_forwarded_header_does_not_make_an_outsider_local(public_client):
    response = await public_client.get("/metrics", headers={"X-Forwarded-For": "10.9.1.1"})
    assert response.status == 403  # no trusted proxy is configured: the header is ignored
