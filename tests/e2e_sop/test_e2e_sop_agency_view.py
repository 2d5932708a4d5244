"""The agency's page in a real browser, on the simulator and the real daemon: the caller's position on
the (read-only) map, the dispatch's timeline, the other agency on the incident, a refused form coming
back by post/redirect/get with the focus on its errors, no field report after "cannot handle", and the
dispatcher's closing reason, each arriving live."""

from __future__ import annotations

import re

import aiohttp
import pytest
from playwright.async_api import expect

from ngcc112.sim.calls import CallScript, Location
from browser_stack import log_in, until

pytestmark = pytest.mark.browser


async def dispatcher_session(stack) -> tuple[aiohttp.ClientSession, dict[str, str]]:
    http = aiohttp.ClientSession(base_url=stack.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    token = (await (await http.get("/api/session")).json())["csrf_token"]
    login = await http.post("/api/session", json={"username": "dispatcher", "password": "dispatcher-demo-112"},
                            headers={"X-CSRF-Token": token})
    assert login.status == 200, await login.text()
    return http, {"X-CSRF-Token": (await login.json())["csrf_token"]}


async def test_the_agency_page_shows_map_timeline_other_agencies_and_the_closing_reason(stack, new_page):
    # a caller with a SIP position hangs up; the dispatcher takes the intake and sends two agencies
    call = await stack.sim.place_call(CallScript(number="081277776666", name="Rina", hangup_after=2.0,
                                                 location=Location.circle(-6.9147, 107.6098, radius=20)))

    async def ended():
        ticket = await stack.services.store.by_linkedid(call.linkedid)
        return ticket if ticket is not None and ticket.ended_at else None

    ticket = await until(ended)
    http, headers = await dispatcher_session(stack)
    try:
        done = await http.post(f"/api/tickets/{ticket.id}/complete", headers=headers, json={
            "verdict": "normal", "caller_name": "Rina", "category": "fire", "address": "Jl. Braga 5, Bandung",
            "description": "Asap dari gudang"})
        assert done.status == 200, await done.text()
        sent = await http.post(f"/api/dispatch/tickets/{ticket.id}/dispatch", headers=headers,
                               json={"agencies": ["damkar", "psc119"], "instructions": "Gudang terbakar"})
        assert sent.status == 200, await sent.text()
        ids = {d["agency"]: d["id"] for d in (await sent.json())["dispatches"]}
        # the ambulance reports by radio; the dispatcher records it on its behalf
        moving = await http.post(f"/api/dispatch/dispatches/{ids['psc119']}/status", headers=headers,
                                 json={"status": "en_route", "reason": ""})
        assert moving.status == 200, await moving.text()

        agency = await new_page()
        await log_in(agency, stack, "agency", "/agency")
        # the channel's greeting refreshes the list once: a click while its rows are being
        # replaced can be lost, so click once the page shows what the channel last said
        await expect(agency.locator("body")).to_have_attribute("data-live-refreshed", re.compile(r"[0-9]+"))
        await agency.locator(f"#agency-dispatch-{ids['damkar']} a").click()
        page_url = f"{stack.url}/agency/dispatches/{ids['damkar']}"
        await expect(agency).to_have_url(page_url)
        await expect(agency.locator("body")).to_have_attribute("data-live", "up")

        # the map, read-only: the caller's position drawn and listed, nothing to accept or set
        await expect(agency.locator(".loc-map.leaflet-container")).to_be_visible()
        await expect(agency.locator(".loc-fix .loc-coords")).to_have_text("-6.91470, 107.60980")
        await expect(agency.locator("form[data-loc-manual]")).to_have_count(0)
        await expect(agency.locator("form[data-loc-accept]")).to_have_count(0)
        # the timeline in the center's time; the other agency's stage
        await expect(agency.locator("#timeline li[data-stage='sent'] strong")).to_have_text("Dikirim")
        await expect(agency.locator("#timeline li[data-stage='sent'] time")).to_contain_text("WIB")
        await expect(agency.locator("#other-agencies li[data-agency='psc119']")).to_have_attribute(
            "data-status", "en_route")
        await expect(agency.locator("#other-agencies li[data-agency='psc119'] strong")).to_have_text(
            "Dalam perjalanan")

        # acknowledging: the timeline grows
        await agency.click("#acknowledge")
        await expect(agency.locator("#timeline li[data-stage='acknowledged']")).to_be_visible()
        # the ambulance arrives meanwhile: told live, no reload
        await http.post(f"/api/dispatch/dispatches/{ids['psc119']}/status", headers=headers,
                        json={"status": "on_scene", "reason": ""})
        await expect(agency.locator("#other-agencies li[data-agency='psc119']")).to_have_attribute(
            "data-status", "on_scene")

        # "cannot handle" without a reason: back on the page's own URL, the focus on the errors
        await agency.select_option("#status", "cannot_handle")
        await agency.click("#status-submit")
        await expect(agency.locator("#error-summary")).to_be_focused()
        await expect(agency.locator("#error-summary")).to_contain_text("Tulis mengapa instansi tidak dapat menangani")
        assert agency.url == page_url, "post/redirect/get: never left on the POST's URL"
        await expect(agency.locator("#status")).to_have_value("cannot_handle")
        await expect(agency.locator("body")).to_have_attribute("data-live", "up")
        await agency.fill("#reason", "Semua unit sedang memadamkan kebakaran lain")
        await agency.click("#status-submit")
        await expect(agency.locator("#dispatch-status")).to_have_attribute("data-status", "cannot_handle")
        # no field report after "cannot handle": the form is gone, the reason stands as the report
        await expect(agency.locator("#report-form")).to_have_count(0)
        await expect(agency.locator("#no-report-after-cannot-handle")).to_be_visible()
        await expect(agency.locator("#timeline li[data-stage='cannot_handle'] strong")).to_have_text(
            "Tidak dapat menangani")

        # the dispatcher closes before the ambulance reported: the reason reaches the agency live
        closed = await http.post(f"/api/dispatch/tickets/{ticket.id}/close", headers=headers,
                                 json={"override_reason": "Api padam oleh warga, ambulans kembali"})
        assert closed.status == 200, await closed.text()
        await expect(agency.locator("#closing-reason")).to_contain_text("Api padam oleh warga, ambulans kembali")
        await expect(agency.locator("#timeline li[data-stage='closed'] strong")).to_have_text("Tiket ditutup")
        await expect(agency.locator("#status-form")).to_have_count(0)
        # the navigation marks where the agency is
        await expect(agency.locator("#topnav a[aria-current='page']")).to_have_attribute("href", "/agency")
    finally:
        await http.close()
