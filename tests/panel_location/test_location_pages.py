"""The location pages, fragment and form posts (CSRF, 422 keeping what was typed), the includes
on the dispatcher's pages, the scores with reasons in both languages, the OpenAPI paths."""

from __future__ import annotations

import re

import pytest
from location_helpers import dispatch_to, els_body, locations, login, make_ticket, sip_variables

from ngcc112.panel import location_openapi
from ngcc112.panel.location.present import tile_config, tile_img_src

REASONS = [
    {"score": "ghost", "code": "no_speech", "en": "Nobody spoke for 10 s", "id": "Tidak ada suara selama 10 dtk",
     "weight": 0.6},
    {"score": "prank", "code": "repeat", "en": "3 calls from this number today",
     "id": "3 panggilan dari nomor ini hari ini", "weight": 0.3},
    {"score": "real", "code": "talked", "en": "The caller talked", "id": "Penelepon berbicara", "weight": 0.4},
]


async def _with_candidate(client, services, state: str = "in_call") -> tuple[int, int, int]:
    ticket_id = await make_ticket(services, state, ghost=0.82, prank=0.3, reasons=REASONS)
    loc = locations(client)
    sip = await loc.record_sip_fix(ticket_id, sip_variables())
    receipt = await services.aml_locations.receive_aml(els_body(), "application/x-www-form-urlencoded",
                                                       "127.0.0.1", sip.fix.time)
    return ticket_id, sip.id, receipt.fix_id


async def test_fragment_shows_every_fix_as_text_and_the_candidate_banner(client, services):
    ticket_id, sip_id, aml_id = await _with_candidate(client, services)
    await login(client, "op1")
    response = await client.get(f"/panel/tickets/{ticket_id}/location")
    assert response.status == 200
    html = await response.text()
    assert "Ada posisi baru — konfirmasi?" in html
    assert f'id="loc-fix-{sip_id}"' in html and 'data-accepted="true"' in html
    assert "-6.20000, 106.81660" in html and "± 50 m" in html and "SIP (jaringan)" in html
    assert "-6.17539, 106.82715" in html and "± 15 m" in html and "AML (ponsel)" in html
    assert "keyakinan 68%" in html
    assert re.search(r'<span class="loc-age" data-age data-at="[^"]+">(baru saja|1 menit lalu)</span>', html)
    assert "terkonfirmasi otomatis (posisi pertama)" in html
    assert f'name="fix_id" value="{aml_id}"' in html and "Konfirmasi posisi ini" in html
    assert html.index(f"loc-fix-{sip_id}") < html.index(f"loc-fix-{aml_id}")  # accepted first


async def test_fragment_in_english(client, services):
    ticket_id, _sip, _aml = await _with_candidate(client, services)
    token = await login(client, "op1")
    await client.post("/lang", data={"language": "en", "csrf_token": token, "next": "/"}, allow_redirects=False)
    html = await (await client.get(f"/panel/tickets/{ticket_id}/location")).text()
    assert "New position received — accept?" in html and "Accepted position" in html
    assert "AML (handset)" in html and "Accept this position" in html


async def test_fragment_without_fixes_says_so(client, services):
    ticket_id = await make_ticket(services)
    await login(client, "op1")
    html = await (await client.get(f"/panel/tickets/{ticket_id}/location")).text()
    assert "Belum ada posisi yang diterima" in html


async def test_page_has_map_scores_and_manual_form_without_tiles(client, services):
    ticket_id, _sip, _aml = await _with_candidate(client, services)
    await login(client, "dispatcher")
    response = await client.get(f"/tickets/{ticket_id}/location")
    assert response.status == 200
    html = await response.text()
    assert f'data-loc-ticket="{ticket_id}"' in html and 'data-tile-url=""' in html
    assert "loc-map loc-plain" in html
    assert "Peta dasar belum diatur" in html
    assert "-6.20000, 106.81660" in html  # the text is there without any script
    assert "leaflet/leaflet.js" in html and "map.js" in html
    assert 'action="/tickets/%d/location/manual"' % ticket_id in html
    # scores: bars in [0, 1] and the reasons in Bahasa Indonesia
    assert '<meter min="0" max="1" low="0.4" high="0.7" optimum="0" value="0.82">' in html
    assert "82%" in html and "30%" in html
    assert "Tidak ada suara selama 10 dtk" in html and "3 panggilan dari nomor ini hari ini" in html
    assert "Penelepon berbicara" in html and "Nobody spoke" not in html
    assert "style=" not in html.split("<main", 1)[1]  # CSP: no inline styles


async def test_scores_in_english_and_not_scored_yet(client, services):
    scored = await make_ticket(services, ghost=0.82, prank=0.3, reasons=REASONS)
    unscored = await make_ticket(services, caller_number="081200000001")
    token = await login(client, "op1")
    await client.post("/lang", data={"language": "en", "csrf_token": token, "next": "/"}, allow_redirects=False)
    html = await (await client.get(f"/tickets/{scored}/location")).text()
    assert "Nobody spoke for 10 s" in html and "Tidak ada suara" not in html
    assert "Why the system doubts this call" in html
    html = await (await client.get(f"/tickets/{unscored}/location")).text()
    assert html.count("Not scored yet") == 2


async def test_form_accept_with_csrf_redirects(client, services):
    ticket_id, _sip, aml_id = await _with_candidate(client, services)
    token = await login(client, "op1")
    response = await client.post(f"/tickets/{ticket_id}/location/accept",
                                 data={"csrf_token": token, "fix_id": str(aml_id)}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/tickets/{ticket_id}/location"
    assert (await locations(client).accepted_fix(ticket_id)).id == aml_id


async def test_form_accept_without_csrf_is_403(client, services):
    ticket_id, _sip, aml_id = await _with_candidate(client, services)
    await login(client, "op1")
    response = await client.post(f"/tickets/{ticket_id}/location/accept", data={"fix_id": str(aml_id)},
                                 allow_redirects=False)
    assert response.status == 403
    assert (await locations(client).accepted_fix(ticket_id)).fix.source == "sip"


async def test_form_manual_refused_goes_back_to_the_page_with_what_was_typed(client, services):
    ticket_id = await make_ticket(services)
    token = await login(client, "op1")
    response = await client.post(f"/tickets/{ticket_id}/location/manual",
                                 data={"csrf_token": token, "latitude": "-6,9x", "longitude": "107.6",
                                       "address": "Gang Mawar <3>"}, allow_redirects=False)
    assert response.status == 303  # post/redirect/get: never a page left on the POST URL
    assert response.headers["Location"] == f"/tickets/{ticket_id}/location"
    html = await (await client.get(response.headers["Location"])).text()
    assert "Perbaiki isian yang ditandai" in html
    assert 'value="-6,9x"' in html and 'value="107.6"' in html and 'value="Gang Mawar &lt;3&gt;"' in html
    assert "Lintang harus berupa angka, mis. -6.91470" in html
    assert 'aria-invalid="true"' in html
    assert await locations(client).fixes_for(ticket_id) == []


async def test_form_manual_stores_and_goes_back(client, services):
    ticket_id = await make_ticket(services)
    token = await login(client, "op1")
    response = await client.post(f"/tickets/{ticket_id}/location/manual",
                                 data={"csrf_token": token, "latitude": "-6.9147", "longitude": "107.6098",
                                       "address": "Jl. Braga", "next": "/dispatch/tickets/%d" % ticket_id},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == f"/dispatch/tickets/{ticket_id}"
    fix = await locations(client).accepted_fix(ticket_id)
    assert (fix.fix.source, fix.address, fix.created_by) == ("manual", "Jl. Braga", "op1")
    response = await client.post(f"/tickets/{ticket_id}/location/manual",
                                 data={"csrf_token": token, "latitude": "-6.9", "longitude": "107.6",
                                       "next": "https://evil.example/"}, allow_redirects=False)
    assert response.headers["Location"] == "/"  # never another site


async def test_pages_refused_for_the_wrong_agency(client, services):
    ticket_id, _sip, aml_id = await _with_candidate(client, services, state="escalated")
    await dispatch_to(services, ticket_id, "damkar")
    token = await login(client, "agency2")
    response = await client.post(f"/tickets/{ticket_id}/location/accept",
                                 data={"csrf_token": token, "fix_id": str(aml_id)}, allow_redirects=False)
    assert response.status == 404
    response = await client.post(f"/tickets/{ticket_id}/location/manual",
                                 data={"csrf_token": token, "latitude": "-6.9", "longitude": "107.6"},
                                 allow_redirects=False)
    assert response.status == 404


async def test_dispatcher_ticket_page_includes_scores_and_large_map(client, services):
    ticket_id, _sip, _aml = await _with_candidate(client, services, state="escalated")
    await login(client, "dispatcher")
    html = await (await client.get(f"/dispatch/tickets/{ticket_id}")).text()
    assert 'class="loc loc-large"' in html and f'data-loc-src="/panel/tickets/{ticket_id}/location"' in html
    assert "Tidak ada suara selama 10 dtk" in html
    assert "leaflet/leaflet.js" in html


async def test_dispatcher_board_includes_the_board_map(client, services):
    await login(client, "dispatcher")
    html = await (await client.get("/dispatch")).text()
    assert 'data-loc-board="/api/location/board"' in html and "Kejadian terbuka di peta" in html


def test_tile_settings_and_csp():
    assert not tile_config("").enabled
    assert not tile_config("javascript:alert(1)/{z}/{x}/{y}").enabled
    assert not tile_config("https://tiles.example/no-placeholders.png").enabled
    config = tile_config("https://tiles.pemda.go.id:8443/osm/{z}/{x}/{y}.png")
    assert config.enabled and config.origin == "https://tiles.pemda.go.id:8443"
    assert tile_img_src("") == "img-src 'self' data:"
    assert tile_img_src("https://tiles.pemda.go.id:8443/osm/{z}/{x}/{y}.png") == \
        "img-src 'self' data: https://tiles.pemda.go.id:8443"
    assert tile_img_src("https://{s}.tile.local/{z}/{x}/{y}.png") == "img-src 'self' data: https://*.tile.local"


@pytest.mark.parametrize("tile_url", ["http://127.0.0.1:9/{z}/{x}/{y}.png"])
async def test_tile_url_reaches_the_map(client, services, tile_url):
    ticket_id = await make_ticket(services)
    await login(client, "op1")
    html = await (await client.get(f"/tickets/{ticket_id}/location")).text()
    assert 'data-tile-url="http://127.0.0.1:9/{z}/{x}/{y}.png"' in html
    assert "loc-plain" not in html and "Peta dasar belum diatur" not in html


async def test_openapi_describes_every_location_api_route(client, services):
    spec = await (await client.get("/api/openapi.json")).json()
    for path, operations in location_openapi.PATHS.items():
        assert spec["paths"][path].keys() >= operations.keys()
    for name in location_openapi.SCHEMAS:
        assert name in spec["components"]["schemas"]
    from ngcc112.panel.location import api as location_api

    registered = set()
    for route in location_api.routes:
        path = route.path.replace(":\\d+", "")  # type: ignore[attr-defined]
        if path.startswith("/api/"):
            registered.add((path, route.method.lower()))  # type: ignore[attr-defined]
    described = {(path, method) for path, ops in location_openapi.PATHS.items() for method in ops}
    assert registered == described
    refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', str(location_openapi.PATHS).replace("'", '"'))
    assert set(refs) <= set(spec["components"]["schemas"])


async def test_a_refused_accept_goes_back_to_the_page_and_says_why_once(client, services):
    ticket_id, _sip, aml_id = await _with_candidate(client, services, state="closed")
    token = await login(client, "dispatcher")
    response = await client.post(f"/tickets/{ticket_id}/location/accept",
                                 data={"csrf_token": token, "fix_id": str(aml_id)}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == f"/tickets/{ticket_id}/location"
    page = await client.get(response.headers["Location"])
    assert page.status == 200 and "Tiket sudah ditutup: posisinya tidak bisa diubah lagi" in await page.text()
    again = await (await client.get(response.headers["Location"])).text()
    assert "Tiket sudah ditutup" not in again  # told once; a reload is clean
