"""The server-rendered pages: board, ticket (dispatch, close), agency pages; forms keep what was typed."""

from __future__ import annotations

import re

from dispatch_helpers import login, make_ticket, redirected_back


async def form_token(client, path: str) -> str:
    html = await (await client.get(path)).text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def test_board_page_shows_every_section_in_indonesian(client, services):
    escalated = await make_ticket(services)
    await make_ticket(services, state="new", verdict=None, abandoned=True, caller_number="085711112222")
    await login(client, "dispatcher")
    response = await client.get("/dispatch")
    assert response.status == 200
    html = await response.text()
    for text in ("Panggilan menunggu di antrean", "Operator", "Diserahkan ke dispatcher, menunggu diteruskan",
                 "Kejadian yang sudah diteruskan", "Panggilan terputus untuk ditelepon balik"):
        assert text in html
    assert f'id="escalated-{escalated}"' in html
    assert "085711112222" in html
    assert "/static/dispatch.js" in html


async def test_pages_refuse_the_wrong_roles(client, other_client, services):
    ticket = await make_ticket(services)
    response = await client.get("/dispatch", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login")
    agency = await other_client()
    await login(agency, "agency")
    for path in ("/dispatch", f"/dispatch/tickets/{ticket}", "/reports", "/admin/users", "/admin/agencies"):
        assert (await agency.get(path)).status == 403, path
    operator = await other_client()
    await login(operator, "op1")
    for path in ("/dispatch", "/agency", "/admin/users"):
        assert (await operator.get(path)).status == 403, path
    dispatcher = await other_client()
    await login(dispatcher, "dispatcher")
    assert (await dispatcher.get("/agency")).status == 403
    assert (await dispatcher.get("/admin/agencies")).status == 403


async def test_dispatch_form_errors_keep_what_was_typed_and_success_redirects(client, services):
    ticket = await make_ticket(services)
    await login(client, "dispatcher")
    page = f"/dispatch/tickets/{ticket}"
    token = await form_token(client, page)
    no_csrf = await client.post(f"{page}/dispatch", data={"agencies": "damkar"})
    assert no_csrf.status == 403
    response = await client.post(f"{page}/dispatch", data={"csrf_token": token, "instructions": "Bawa tangga"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == page  # never a page on the POST URL
    html = await (await client.get(page)).text()
    assert 'id="error-summary"' in html and '<a href="#agencies-error">Pilih minimal satu OPD / Instansi</a>' in html
    assert ">Bawa tangga</textarea>" in html
    response = await client.post(f"{page}/dispatch", data=[("csrf_token", token), ("agencies", "damkar"),
                                                            ("agencies", "polisi"), ("instructions", "Bawa tangga")],
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == page
    html = await (await client.get(page)).text()
    assert "Diteruskan ke OPD/Instansi" in html  # the flash
    assert 'id="dispatch-damkar" data-status="sent"' in html and 'id="dispatch-polisi"' in html
    assert 'id="agency-damkar"' not in html  # no longer offered
    assert "Jejak audit" in html and "dispatcher" in html


async def test_close_form_needs_a_reason_before_reports_and_a_refusal_shows_its_reason(client, services):
    ticket = await make_ticket(services)
    new_ticket = await make_ticket(services, state="new", verdict=None)
    await login(client, "dispatcher")
    page = f"/dispatch/tickets/{ticket}"
    token = await form_token(client, page)
    response = await client.post(f"{page}/close", data={"csrf_token": token, "override_reason": ""})
    assert response.status == 200 and str(response.url).endswith(page)  # redirected to the GET page
    assert "Tulis alasan menutup sebelum semua instansi melapor" in await response.text()
    refused = await client.post(f"/dispatch/tickets/{new_ticket}/dispatch",
                                data={"csrf_token": token, "agencies": "damkar", "instructions": "cepat"})
    assert refused.status == 200 and str(refused.url).endswith(f"/dispatch/tickets/{new_ticket}")
    html = await refused.text()
    assert 'id="error-summary"' in html
    assert "Tindakan ini tidak bisa dilakukan untuk tiket ini sekarang: a ticket in state &#39;new&#39; cannot go to" in html
    response = await client.post(f"{page}/close", data={"csrf_token": token, "override_reason": "Salah sambung"},
                                 allow_redirects=False)
    assert response.status == 303
    html = await (await client.get(page)).text()
    assert 'data-state="closed"' in html and "Salah sambung" in html
    assert 'id="close-form"' not in html


async def test_agency_pages_show_only_their_dispatch_and_its_actions(client, other_client, services):
    ticket = await make_ticket(services)
    other = await make_ticket(services)
    token = await login(client, "dispatcher")
    ids = {}
    for tid, code in ((ticket, "damkar"), (other, "psc119")):
        data = await (await client.post(f"/api/dispatch/tickets/{tid}/dispatch", json={"agencies": [code]},
                                        headers={"X-CSRF-Token": token})).json()
        ids[code] = data["dispatches"][0]["id"]
    agency = await other_client()
    await login(agency, "agency")
    html = await (await agency.get("/agency")).text()
    assert f'id="agency-dispatch-{ids["damkar"]}"' in html
    assert f'id="agency-dispatch-{ids["psc119"]}"' not in html
    assert (await agency.get(f"/agency/dispatches/{ids['psc119']}")).status == 404
    page = f"/agency/dispatches/{ids['damkar']}"
    form = await form_token(agency, page)
    assert (await agency.post(f"/agency/dispatches/{ids['psc119']}/acknowledge",
                              data={"csrf_token": form})).status == 404
    response = await agency.post(f"{page}/acknowledge", data={"csrf_token": form}, allow_redirects=False)
    assert response.status == 303
    response = await agency.post(f"{page}/status", data={"csrf_token": form, "status": "cannot_handle",
                                                         "reason": ""})
    assert redirected_back(response, page)
    assert "Tulis mengapa instansi tidak dapat menangani" in await response.text()
    response = await agency.post(f"{page}/report", data={"csrf_token": form, "report": ""})
    assert redirected_back(response, page) and "Tulis laporan lapangan" in await response.text()
    again = await agency.post(f"{page}/acknowledge", data={"csrf_token": form})
    assert redirected_back(again, page)
    assert "already acknowledged" in await again.text()
    response = await agency.post(f"{page}/status", data={"csrf_token": form, "status": "on_scene"},
                                 allow_redirects=False)
    assert response.status == 303
    html = await (await agency.get(page)).text()
    assert 'id="dispatch-status" data-status="on_scene"' in html


async def test_the_english_switch_applies_to_the_dispatch_pages(client, services):
    await make_ticket(services)
    await login(client, "dispatcher")
    token = await form_token(client, "/dispatch")
    response = await client.post("/lang", data={"csrf_token": token, "language": "en", "next": "/dispatch"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/dispatch"
    html = await (await client.get("/dispatch")).text()
    assert "Escalated, awaiting dispatch" in html and "Diserahkan ke dispatcher, menunggu diteruskan" not in html
    api = await client.post("/api/dispatch/tickets/1/dispatch", json={"agencies": []},
                            headers={"X-CSRF-Token": token})
    assert (await api.json())["errors"] == {"agencies": "Choose at least one agency"}
