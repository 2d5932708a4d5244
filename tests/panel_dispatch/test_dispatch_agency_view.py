"""The agency's dispatch page: map (read-only), its timeline in the center's time, the other agencies
on the incident (name and stage only), the closing reason; no field report after "cannot handle";
post/redirect/get for its forms."""

from __future__ import annotations

import re

from dispatch_helpers import login, make_ticket, redirected_back


def h(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


async def form_token(client, path: str) -> str:
    html = await (await client.get(path)).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def dispatch_two(client, services) -> tuple[int, dict[str, int], str]:
    """A ticket dispatched to damkar (the "agency" user's) and psc119 ("agency2"); the dispatcher's token."""
    ticket = await make_ticket(services)
    token = await login(client, "dispatcher")
    data = await (await client.post(f"/api/dispatch/tickets/{ticket}/dispatch",
                                    json={"agencies": ["damkar", "psc119"], "instructions": "Rahasia: kunci di pot"},
                                    headers=h(token))).json()
    return ticket, {d["agency"]: d["id"] for d in data["dispatches"]}, token


async def test_the_page_shows_timeline_other_agencies_map_and_the_closing_reason(client, other_client, services):
    ticket, ids, token = await dispatch_two(client, services)
    ambulance = await other_client()
    amb_token = await login(ambulance, "agency2")
    assert (await ambulance.post(f"/api/agency/dispatches/{ids['psc119']}/status",
                                 json={"status": "en_route", "reason": ""}, headers=h(amb_token))).status == 200
    assert (await ambulance.post(f"/api/agency/dispatches/{ids['psc119']}/report",
                                 json={"report": "Korban dibawa ke RSUD"}, headers=h(amb_token))).status == 200

    agency = await other_client()
    ag_token = await login(agency, "agency")
    page = f"/agency/dispatches/{ids['damkar']}"
    assert (await agency.post(f"/api/agency/dispatches/{ids['damkar']}/acknowledge", headers=h(ag_token))).status == 200
    html = await (await agency.get(page)).text()

    # the timeline: translated stage names, the center's time zone (Asia/Jakarta: WIB)
    timeline = html[html.index('id="timeline"'):html.index('id="other-agencies"')]
    stages = re.findall(r'<li data-stage="(\w+)"><time datetime="[^"]+" data-local="1">([^<]+)</time> · '
                        r'<strong>([^<]+)</strong>', timeline)
    assert [(s, label) for s, _t, label in stages] == [("sent", "Dikirim"), ("acknowledged", "Diterima")]
    assert all(t.endswith(" WIB") for _s, t, _l in stages)
    assert "Asia/Jakarta" in timeline

    # the other agency: name and stage, nothing of its report
    others = html[html.index('id="other-agencies"'):html.index('id="actions"')]
    assert 'data-agency="psc119" data-status="en_route"' in others
    assert "Dalam perjalanan" in others
    assert "Korban dibawa ke RSUD" not in html and "agency2" not in html
    api = await (await agency.get(f"/api/agency/dispatches/{ids['damkar']}")).json()
    assert [set(o) for o in api["other_agencies"]] == [{"agency", "agency_name", "status", "status_label"}]
    assert [s["stage"] for s in api["timeline"]] == ["sent", "acknowledged"]
    assert api["timezone"] == "Asia/Jakarta" and api["closing"] is None

    # the map: the shared one, read-only (no form to set a position, no accept buttons)
    assert f'data-loc-src="/panel/tickets/{ticket}/location?readonly=1"' in html
    assert "data-loc-manual" not in html and "/static/map.js" in html
    fragment = await agency.get(f"/panel/tickets/{ticket}/location?readonly=1")
    assert fragment.status == 200 and "data-loc-accept" not in await fragment.text()

    # the dispatcher closes before the fire brigade reported: the agency sees why
    closed = await client.post(f"/api/dispatch/tickets/{ticket}/close",
                               json={"override_reason": "Api padam, dikonfirmasi warga"}, headers=h(token))
    assert closed.status == 200, await closed.text()
    html = await (await agency.get(page)).text()
    assert 'id="closing-reason"' in html and "Api padam, dikonfirmasi warga" in html
    assert 'data-stage="closed"' in html and "Tiket ditutup" in html
    api = await (await agency.get(f"/api/agency/dispatches/{ids['damkar']}")).json()
    assert api["closing"]["reason"] == "Api padam, dikonfirmasi warga"
    assert api["closing"]["local"].endswith(" WIB")
    assert not api["can_report"] and not api["next_statuses"]


async def test_an_agency_on_its_own_sees_no_other_agency(client, other_client, services):
    ticket = await make_ticket(services)
    token = await login(client, "dispatcher")
    data = await (await client.post(f"/api/dispatch/tickets/{ticket}/dispatch", json={"agencies": ["damkar"]},
                                    headers=h(token))).json()
    agency = await other_client()
    await login(agency, "agency")
    html = await (await agency.get(f"/agency/dispatches/{data['dispatches'][0]['id']}")).text()
    assert "Tidak ada instansi lain yang dikirim" in html


async def test_no_field_report_after_cannot_handle(client, other_client, services):
    _ticket, ids, _token = await dispatch_two(client, services)
    agency = await other_client()
    token = await login(agency, "agency")
    page = f"/agency/dispatches/{ids['damkar']}"
    form = await form_token(agency, page)
    response = await agency.post(f"{page}/status", data={"csrf_token": form, "status": "cannot_handle",
                                                         "reason": "Semua unit sedang bertugas"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == page
    html = await (await agency.get(page)).text()
    assert 'id="report-form"' not in html, "the page hides the field report form"
    assert 'id="no-report-after-cannot-handle"' in html and "Semua unit sedang bertugas" in html
    assert 'data-stage="cannot_handle"' in html and "Tidak dapat menangani" in html

    # the form sent anyway (an old tab): refused by the data layer, told after the redirect
    refused = await agency.post(f"{page}/report", data={"csrf_token": form, "report": "Laporan terlambat"})
    assert redirected_back(refused, page)
    text = await refused.text()
    assert "Instansi menyatakan tidak dapat menangani penugasan ini" in text and 'id="error-summary"' in text
    # the API: 409 with the message in the user's language
    api = await agency.post(f"/api/agency/dispatches/{ids['damkar']}/report", json={"report": "Laporan"},
                            headers=h(token))
    assert api.status == 409
    body = await api.json()
    assert body["code"] == "state" and body["error"].startswith("Instansi menyatakan tidak dapat menangani")
    await agency.post("/lang", data={"csrf_token": form, "language": "en", "next": page})
    api = await agency.post(f"/api/agency/dispatches/{ids['damkar']}/report", json={"report": "Laporan"},
                            headers=h(token))
    assert api.status == 409 and (await api.json())["error"].startswith("The agency said it cannot handle")
    detail = await (await agency.get(f"/api/agency/dispatches/{ids['damkar']}")).json()
    assert detail["can_report"] is False and detail["dispatch"]["report"] is None


async def test_a_refused_agency_form_redirects_and_keeps_errors_and_typing(client, other_client, services):
    _ticket, ids, _token = await dispatch_two(client, services)
    agency = await other_client()
    await login(agency, "agency")
    page = f"/agency/dispatches/{ids['damkar']}"
    form = await form_token(agency, page)
    response = await agency.post(f"{page}/status", data={"csrf_token": form, "status": "cannot_handle",
                                                         "reason": ""}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == page
    # the page's own live refresh (still in flight from before the post) neither shows nor takes it
    live = await (await agency.get(page, headers={"X-Live-Refresh": "1"})).text()
    assert 'id="error-summary"' not in live
    html = await (await agency.get(page)).text()
    summary = html[html.index('id="error-summary"'):]
    assert 'tabindex="-1"' in html[html.index('<div class="error-summary"'):html.index('id="error-summary"') + 80]
    assert '<a href="#reason">Tulis mengapa instansi tidak dapat menangani' in summary
    assert '<option value="cannot_handle" selected>' in html, "the choice is kept"
    assert 'aria-invalid="true" aria-describedby="reason-error"' in html
    # once: a reload shows the page clean
    again = await (await agency.get(page)).text()
    assert 'id="error-summary"' not in again and "Tulis mengapa" not in again
    # a too-long field report keeps what was typed
    typed = "x" * 10001
    response = await agency.post(f"{page}/report", data={"csrf_token": form, "report": typed}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == page
    html = await (await agency.get(page)).text()
    assert typed in html and 'href="#report"' in html
    # another session does not see this one's refused form
    other = await other_client()
    await login(other, "agency")
    await agency.post(f"{page}/status", data={"csrf_token": form, "status": "nope"}, allow_redirects=False)
    assert 'id="error-summary"' not in await (await other.get(page)).text()
