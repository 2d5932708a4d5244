"""Tiles from an on-premises server (allowed by the CSP), tiles failing (the circle stays, a note
says why), the operator's own position picked on the map or typed (errors keep what was typed,
even while the screen-pop is re-rendered), and the dispatcher board's map."""

from __future__ import annotations

import contextlib
import re
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from location_helpers import els_body, make_ticket, sip_variables
from playwright.async_api import Page, expect

from ngcc112.sim.calls import CallScript

pytestmark = pytest.mark.browser
TILE_PNG = (Path(__file__).resolve().parents[2] / "src/ngcc112/panel/static/leaflet/images/layers.png").read_bytes()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


TILE_PORT = _port()
DEAD_PORT = _port()


@contextlib.asynccontextmanager
async def tile_server(port: int):
    """A stand-in for the on-premises tile server: every tile is the same small PNG."""
    served: list[str] = []

    async def tile(request: web.Request) -> web.Response:
        served.append(request.path)
        return web.Response(body=TILE_PNG, content_type="image/png")

    app = web.Application()
    app.router.add_get("/tiles/{z}/{x}/{y}.png", tile)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield served
    finally:
        await runner.cleanup()


async def log_in(page: Page, stack, username: str) -> None:
    await page.goto(f"{stack.url}/login")
    await page.fill("#username", username)
    await page.fill("#password", f"{username}-demo-112")
    await page.click("button[type=submit].primary")


async def log_in_and_go_ready(page: Page, stack) -> None:
    await log_in(page, stack, "op1")
    await expect(page.locator("body")).to_have_attribute("data-live", "up")
    await page.click("#go-ready")
    await expect(page.locator("#presence-state")).to_have_attribute("data-state", "ready")


async def answered_call(page: Page, stack, number: str = "081234567890") -> None:
    stack.sim.set_softphone("op1", answers=True, ring_seconds=1.0)
    await stack.sim.place_call(CallScript(number=number, name="Budi", hangup_after=None))
    await expect(page.locator("#active .caller-number")).to_have_text(number)
    # the map and the position form stay folded until wanted (the call type comes first)
    await page.locator("#active details.map-details summary").click()


async def post_aml(stack, **fields) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{stack.url}/aml/els", data=els_body(**fields), headers=FORM)
        assert response.status == 200


@pytest.mark.parametrize("tile_url", [f"http://127.0.0.1:{TILE_PORT}/tiles/{{z}}/{{x}}/{{y}}.png"], ids=["tiles-served"])
async def test_tiles_from_the_configured_server_load_under_the_csp(page: Page, stack, tile_url):
    async with tile_server(TILE_PORT) as served:
        await log_in_and_go_ready(page, stack)
        await answered_call(page, stack)
        await post_aml(stack, lat=-6.91470, lon=107.60980, accuracy=15)
        loc = page.locator("#active section.loc")
        await expect(loc.locator(".loc-fix.loc-accepted .loc-accuracy")).to_contain_text("± 15 m")
        await expect(loc.locator("img.leaflet-tile-loaded").first).to_be_visible()
        await expect(loc.locator("path.loc-circle-accepted")).to_have_count(1)
        await expect(loc.locator(".loc-tiles-failed")).to_be_hidden()
        await expect(loc.locator(".loc-no-tiles")).to_have_count(0)
        assert served
        assert page.errors == []  # type: ignore[attr-defined]  # no CSP refusal


@pytest.mark.parametrize("tile_url", [f"http://127.0.0.1:{DEAD_PORT}/tiles/{{z}}/{{x}}/{{y}}.png"], ids=["tiles-dead"])
async def test_tiles_failing_leave_the_text_and_the_circle(page: Page, stack, tile_url):
    await log_in_and_go_ready(page, stack)
    await answered_call(page, stack)
    await post_aml(stack, lat=-6.91470, lon=107.60980, accuracy=15)
    loc = page.locator("#active section.loc")
    await expect(loc.locator(".loc-fix.loc-accepted .loc-coords")).to_have_text("-6.91470, 107.60980")
    await expect(loc.locator(".loc-tiles-failed")).to_have_text(
        "Peta dasar tidak tersedia: posisi digambar di latar polos")
    await expect(loc.locator(".loc-map.loc-tiles-down")).to_have_count(1)
    await expect(loc.locator("path.loc-circle-accepted")).to_have_count(1)
    await expect(loc.locator(".leaflet-marker-icon.loc-marker-accepted")).to_have_count(1)


async def test_manual_position_typed_wrong_then_picked_on_the_map(page: Page, stack):
    await log_in_and_go_ready(page, stack)
    await answered_call(page, stack)
    await post_aml(stack, lat=-6.91470, lon=107.60980, accuracy=500)
    loc = page.locator("#active section.loc")
    await expect(loc.locator(".loc-fix.loc-accepted .loc-accuracy")).to_contain_text("± 500 m")
    ticket_id = await page.locator("#active").get_attribute("data-ticket-id")

    lat = page.locator(f"#loc-latitude-{ticket_id}")
    address = page.locator(f"#loc-address-{ticket_id}")
    await lat.fill("107.6")
    await page.locator(f"#loc-longitude-{ticket_id}").fill("-6.9")
    await address.fill("Warung Bu Sri, Gang Mawar")
    # the screen-pop is re-rendered on every ticket change: what was typed stays
    await post_aml(stack, lat=-6.93000, lon=107.62000, accuracy=60)
    await expect(loc.locator(".loc-new-banner")).to_be_visible()
    await expect(lat).to_have_value("107.6")
    await expect(address).to_have_value("Warung Bu Sri, Gang Mawar")

    await loc.locator("button.loc-set").click()
    await expect(loc.locator("[data-error-for=latitude]")).to_have_text(
        "Lintang harus antara -90 dan 90 (lintang dan bujur tertukar?)")
    await expect(lat).to_have_value("107.6")
    await expect(lat).to_have_attribute("aria-invalid", "true")
    await expect(address).to_have_value("Warung Bu Sri, Gang Mawar")

    map_box = await loc.locator(".loc-map").bounding_box()
    assert map_box is not None
    # a spot away from the markers (a click on a marker is not a pick)
    await loc.locator(".loc-map").click(position={"x": map_box["width"] * 0.2, "y": map_box["height"] * 0.8})
    await expect(lat).to_have_value(re.compile(r"^-6\.9\d{5}$"))
    await expect(loc.locator(".leaflet-marker-icon.loc-marker-picked")).to_have_count(1)
    await loc.locator("button.loc-set").click()
    accepted = loc.locator(".loc-fix.loc-accepted")
    await expect(accepted.locator(".loc-source")).to_have_text("Diketik operator")
    await expect(accepted.locator(".loc-address")).to_have_text("Warung Bu Sri, Gang Mawar")
    await expect(lat).to_have_value("")
    await expect(loc.locator(".leaflet-marker-icon.loc-marker-picked")).to_have_count(0)
    fix = await stack.services.locations.accepted_fix(int(ticket_id))
    assert fix.fix.source == "manual" and fix.created_by == "op1"
    assert -7.0 < fix.fix.latitude < -6.8 and 107.5 < fix.fix.longitude < 107.7
    assert page.errors == []  # type: ignore[attr-defined]


async def test_dispatcher_board_map_shows_open_incidents(page: Page, stack):
    ticket_id = await make_ticket(stack.services, "escalated", caller_number="081377776666")
    await stack.services.locations.record_sip_fix(ticket_id, sip_variables(-6.9147, 107.6098, 35))
    await log_in(page, stack, "dispatcher")
    board = page.locator("#loc-board")
    await expect(board.locator(".loc-board-item")).to_have_count(1)
    await expect(board.locator(".loc-board-item")).to_contain_text(f"Tiket #{ticket_id}")
    await expect(board.locator(".loc-board-item")).to_contain_text("-6.91470, 107.60980 · ± 35 m")
    await expect(board.locator(".leaflet-marker-icon")).to_have_text(f"#{ticket_id}")
    await expect(board.locator("path.loc-circle-accepted")).to_have_count(1)
    # live: a new incident's position appears without reloading
    other = await make_ticket(stack.services, "escalated", caller_number="081355554444")
    await stack.services.locations.record_sip_fix(other, sip_variables(-6.95, 107.65, 80))
    await expect(board.locator(".loc-board-item")).to_have_count(2)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_dispatcher_ticket_page_follows_a_new_position_live(page: Page, stack):
    ticket_id = await make_ticket(stack.services, "escalated", caller_number="081234567890")
    await stack.services.locations.record_sip_fix(ticket_id, sip_variables(-6.9147, 107.6098, 35))
    await log_in(page, stack, "dispatcher")
    await page.goto(f"{stack.url}/dispatch/tickets/{ticket_id}")
    loc = page.locator(f"#loc-{ticket_id}")
    await expect(loc).to_have_class(re.compile(r"\bloc-large\b"))
    await expect(loc.locator(".loc-fix.loc-accepted .loc-accuracy")).to_contain_text("± 35 m")
    await expect(page.locator("#ticket-head .loc-scores")).to_be_visible()
    await post_aml(stack, lat=-6.92010, lon=107.61230, accuracy=40)  # the handset, a minute later
    await expect(loc.locator(".loc-new-banner")).to_have_text("Ada posisi baru — konfirmasi?")
    await expect(loc.locator(".leaflet-marker-icon.loc-marker-candidate")).to_have_count(1)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_agency_on_its_own_ticket_uses_the_position_page(page: Page, stack):
    from location_helpers import dispatch_to
    from ngcc112.tickets.agencies import seed_agency_member

    await seed_agency_member(stack.services.sessions, "agency", "damkar")
    ticket_id = await make_ticket(stack.services, "escalated", caller_number="081234567890")
    await stack.services.locations.record_sip_fix(ticket_id, sip_variables(-6.9147, 107.6098, 35))
    await post_aml(stack, lat=-6.92010, lon=107.61230, accuracy=40)
    await dispatch_to(stack.services, ticket_id, "damkar")
    await log_in(page, stack, "agency")
    await page.goto(f"{stack.url}/tickets/{ticket_id}/location")
    loc = page.locator(f"#loc-{ticket_id}")
    await expect(loc.locator(".loc-new-banner")).to_be_visible()
    await expect(loc.locator("path.loc-circle-accepted")).to_have_count(1)
    await loc.locator(".loc-fix.loc-new button").click()
    await expect(loc.locator(".loc-fix.loc-accepted .loc-coords")).to_have_text("-6.92010, 107.61230")
    fix = await stack.services.locations.accepted_fix(ticket_id)
    assert fix.accepted_by == "agency"
    other = await make_ticket(stack.services, "escalated", caller_number="081300000000")
    response = await page.goto(f"{stack.url}/tickets/{other}/location")
    assert response is not None and response.status == 404
    assert page.errors == []  # type: ignore[attr-defined]
