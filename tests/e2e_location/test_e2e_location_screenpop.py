"""The caller's position and the scores on the operator's screen-pop, in a real browser:
an AML fix drawn as a marker with its uncertainty circle, a newer one offered with one click,
the pressed-5 banner (once), and a position that is only text when no tiles are configured."""

from __future__ import annotations

import re

import aiohttp
import pytest
from location_helpers import els_body
from playwright.async_api import Page, expect

from ngcc112.sim.calls import CallScript, Location
from browser_stack import log_in_and_go_ready

pytestmark = pytest.mark.browser
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def post_aml(stack, **fields) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{stack.url}/aml/els", data=els_body(**fields), headers=FORM)
        assert response.status == 200


async def answered_call(page: Page, stack, script: CallScript) -> None:
    stack.sim.set_softphone("op1", answers=True, ring_seconds=1.0)
    await stack.sim.place_call(script)
    await expect(page.locator("#active .caller-number")).to_have_text(script.number)
    # the map and the position form stay folded until wanted (the call type comes first)
    await page.locator("#active details.map-details summary").click()


async def test_aml_fix_shows_marker_circle_accuracy_and_a_new_one_is_accepted_with_one_click(page: Page, stack):
    await log_in_and_go_ready(page, stack)
    await answered_call(page, stack, CallScript(number="081234567890", name="Budi", hangup_after=None))
    await post_aml(stack, lat=-6.91470, lon=107.60980, accuracy=15)

    loc = page.locator("#active section.loc")
    accepted = loc.locator(".loc-fix.loc-accepted")
    await expect(accepted.locator(".loc-coords")).to_have_text("-6.91470, 107.60980")
    await expect(accepted.locator(".loc-accuracy")).to_contain_text("± 15 m")
    await expect(accepted.locator(".loc-source")).to_have_text("AML (ponsel)")
    await expect(accepted.locator(".loc-age")).to_have_text(re.compile(r"^(baru saja|1 menit lalu)$"))
    await expect(loc.locator(".leaflet-marker-icon.loc-marker-accepted")).to_have_count(1)
    await expect(loc.locator(".leaflet-marker-icon.loc-marker-accepted")).to_have_text("AML")
    circle = loc.locator(".leaflet-overlay-pane svg path.loc-circle-accepted")
    await expect(circle).to_have_count(1)
    box = await circle.bounding_box()
    assert box is not None and box["width"] > 10  # 15 m drawn at street zoom, not a dot

    # a newer position from the handset never replaces the accepted one by itself
    await post_aml(stack, lat=-6.92010, lon=107.61230, accuracy=40)
    await expect(loc.locator(".loc-new-banner")).to_have_text("Ada posisi baru — konfirmasi?")
    await expect(loc.locator(".leaflet-marker-icon.loc-marker-candidate")).to_have_count(1)
    await expect(loc.locator("path.loc-circle-candidate")).to_have_count(1)
    await expect(accepted.locator(".loc-coords")).to_have_text("-6.91470, 107.60980")

    await loc.locator(".loc-fix.loc-new button").click()
    await expect(loc.locator(".loc-fix.loc-accepted .loc-coords")).to_have_text("-6.92010, 107.61230")
    await expect(loc.locator(".loc-fix.loc-accepted .loc-accuracy")).to_contain_text("± 40 m")
    await expect(loc.locator(".loc-new-banner")).to_have_count(0)
    await expect(loc.locator(".leaflet-marker-icon.loc-marker-accepted")).to_have_count(1)
    ticket_id = int(await page.locator("#active").get_attribute("data-ticket-id"))
    fix = await locations_of_stack(stack).accepted_fix(ticket_id)
    assert (fix.fix.latitude, fix.accepted_by) == (-6.9201, "op1")
    assert page.errors == []  # type: ignore[attr-defined]


def locations_of_stack(stack):
    return stack.services.locations


async def test_silent_call_with_digit_5_shows_the_banner_once_with_the_scores(page: Page, stack):
    await log_in_and_go_ready(page, stack)
    await answered_call(page, stack, CallScript.silent_pressing(number="085700001111", after=None))
    banner = page.locator("#active .silent-banner")
    await expect(banner).to_have_text("Penelepon mungkin tidak bisa berbicara — menekan tombol 5")
    await expect(banner).to_have_count(1)  # the card's own banner; ours adds none
    scores = page.locator("#active .loc-scores")
    await expect(scores).to_contain_text("Mengapa sistem meragukan panggilan ini")
    await expect(scores.locator(".loc-score-ghost")).to_be_visible()
    await expect(scores.locator(".loc-score-prank")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


async def test_sip_position_without_tiles_is_text_and_a_circle_on_a_plain_background(page: Page, stack):
    await log_in_and_go_ready(page, stack)
    await answered_call(page, stack, CallScript.with_location(
        number="5551201", location=Location.circle(-6.9147, 107.6098, radius=25), hangup_after=None))
    loc = page.locator("#active section.loc")
    accepted = loc.locator(".loc-fix.loc-accepted")
    await expect(accepted.locator(".loc-coords")).to_have_text("-6.91470, 107.60980")
    await expect(accepted.locator(".loc-accuracy")).to_contain_text("± 25 m")
    await expect(accepted.locator(".loc-source")).to_have_text("SIP (jaringan)")
    await expect(loc.locator(".loc-no-tiles")).to_have_text(
        "Peta dasar belum diatur: posisi digambar di latar polos")
    await expect(loc.locator(".loc-map.loc-plain")).to_have_count(1)
    await expect(loc.locator(".leaflet-tile")).to_have_count(0)
    await expect(loc.locator("path.loc-circle-accepted")).to_have_count(1)
    await expect(loc.locator(".leaflet-marker-icon.loc-marker-accepted")).to_have_text("SIP")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_english_on_the_switch(page: Page, stack):
    await log_in_and_go_ready(page, stack)
    await page.click("form.lang button[value=en]")
    await answered_call(page, stack, CallScript(number="081234567890", name="Budi", hangup_after=None))
    await post_aml(stack, lat=-6.91470, lon=107.60980, accuracy=15)
    loc = page.locator("#active section.loc")
    await expect(loc.locator(".loc-fix.loc-accepted .loc-source")).to_have_text("AML (handset)")
    await expect(loc.locator(".loc-fix.loc-accepted .loc-status")).to_have_text("Accepted position")
    await expect(page.locator("#active .loc-scores h3")).to_have_text("Why the system doubts this call")
    await expect(loc.locator("legend")).to_have_text("Set the position yourself")
