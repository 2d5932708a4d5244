"""The intake: validated, classified, escalated or closed in one transaction with its audit rows."""

from __future__ import annotations

import re

import pytest
from panel_helpers import login
from test_panel_screenpop import arrive, connected, emit, ringing

from ngcc112.tickets import intake_form
from ngcc112.tickets.store import TicketChanged

GOOD = {"verdict": "normal", "caller_name": "Budi Santoso", "callback_number": "0812-3456-7890",
        "address": "Jl. Merdeka 1, Bandung", "latitude": "-6.9147", "longitude": "107.6098",
        "category": "fire", "description": "Rumah terbakar, dua orang di dalam"}


async def answered_ticket(client, services, call_id: str = "t.1", interface: str = "PJSIP/op1") -> int:
    await arrive(services, call_id)
    await emit(services, ringing(call_id, interface))
    await emit(services, connected(call_id, interface))
    return (await services.store.by_linkedid(call_id)).id


async def test_complete_normal_call_escalates_with_audit(client, services):
    token = await login(client, "op1")
    ticket_id = await answered_ticket(client, services)
    subscription = services.hub.subscribe()
    response = await client.post(f"/api/tickets/{ticket_id}/complete", json=GOOD,
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["state"] == "escalated"
    ticket = await services.store.get(ticket_id)
    assert (ticket.state, ticket.verdict, ticket.category) == ("escalated", "normal", "fire")
    assert ticket.intake["callback_number"] == "081234567890"
    assert ticket.intake["latitude"] == -6.9147 and ticket.classified_at is not None
    audit = [(a.actor, a.action, a.from_state, a.to_state) for a in await services.store.audit(ticket_id)
             if a.actor == "op1"]
    assert audit == [("op1", "classify", "in_call", "classified"),
                     ("op1", "escalate", "classified", "escalated")]
    published = []
    while not subscription.queue.empty():
        item = subscription.queue.get_nowait()
        if isinstance(item, TicketChanged):
            published.append((item.action, item.state))
    assert published == [("classify", "classified"), ("escalate", "escalated")]
    full = await (await client.get(f"/api/tickets/{ticket_id}")).json()
    assert [a["action"] for a in full["audit"]][-2:] == ["classify", "escalate"]


@pytest.mark.parametrize("verdict", ["ghost", "prank", "information"])
async def test_other_verdicts_are_closed_with_a_note(client, services, verdict):
    token = await login(client, "op1")
    ticket_id = await answered_ticket(client, services)
    response = await client.post(f"/api/tickets/{ticket_id}/complete",
                                 json={"verdict": verdict, "note": "silent line, no answer"},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200
    ticket = await services.store.get(ticket_id)
    assert (ticket.state, ticket.verdict, ticket.note) == ("closed", verdict, "silent line, no answer")
    assert ticket.closed_at is not None


async def test_bad_input_is_422_with_every_field_and_changes_nothing(client, services):
    token = await login(client, "op1")
    ticket_id = await answered_ticket(client, services)
    before = len(await services.store.audit(ticket_id))
    bad = {"verdict": "normal", "caller_name": "Budi", "callback_number": "call me maybe",
           "latitude": "95", "longitude": "", "category": "aliens", "description": ""}
    response = await client.post(f"/api/tickets/{ticket_id}/complete", json=bad,
                                 headers={"X-CSRF-Token": token})
    assert response.status == 422
    body = await response.json()
    assert set(body["errors"]) == {"callback_number", "latitude", "category", "description"}
    assert body["errors"]["latitude"] == "Lintang harus antara -90 dan 90"
    assert body["values"]["callback_number"] == "call me maybe" and body["values"]["caller_name"] == "Budi"
    ticket = await services.store.get(ticket_id)
    assert (ticket.state, ticket.verdict, ticket.intake) == ("in_call", None, {})
    assert len(await services.store.audit(ticket_id)) == before
    missing_note = await client.post(f"/api/tickets/{ticket_id}/complete", json={"verdict": "prank"},
                                     headers={"X-CSRF-Token": token})
    assert set((await missing_note.json())["errors"]) == {"note"}
    no_verdict = await client.post(f"/api/tickets/{ticket_id}/complete", json={},
                                   headers={"X-CSRF-Token": token})
    assert set((await no_verdict.json())["errors"]) == {"verdict"}
    half = await client.post(f"/api/tickets/{ticket_id}/complete",
                             json={**GOOD, "longitude": ""}, headers={"X-CSRF-Token": token})
    assert set((await half.json())["errors"]) == {"longitude"}


async def test_refusals(client, other_client, services):
    token = await login(client, "op1")
    ticket_id = await answered_ticket(client, services)
    url = f"/api/tickets/{ticket_id}/complete"
    assert (await client.post(url, json=GOOD)).status == 403  # no CSRF token
    assert (await client.post("/api/tickets/999/complete", json=GOOD,
                              headers={"X-CSRF-Token": token})).status == 404
    assert (await client.post(url, data="{", headers={"X-CSRF-Token": token,
                                                      "Content-Type": "application/json"})).status == 400
    second = await other_client()
    token2 = await login(second, "op2")
    mine = await second.post(url, json=GOOD, headers={"X-CSRF-Token": token2})
    assert mine.status == 403 and "another operator" in (await mine.json())["detail"]
    agency = await other_client()
    token3 = await login(agency, "agency")
    assert (await agency.post(url, json=GOOD, headers={"X-CSRF-Token": token3})).status == 403
    assert (await agency.get(f"/api/tickets/{ticket_id}")).status == 403
    done = await client.post(url, json=GOOD, headers={"X-CSRF-Token": token})
    assert done.status == 200
    again = await client.post(url, json=GOOD, headers={"X-CSRF-Token": token})
    assert again.status == 409
    body = await again.json()
    assert "escalated" in body["detail"]
    assert body["error"] == "Tindakan ini tidak bisa dilakukan untuk tiket ini sekarang"
    await second.close()
    await agency.close()


async def test_step_by_step_endpoints(client, services):
    token = await login(client, "op1")
    headers = {"X-CSRF-Token": token}
    ticket_id = await answered_ticket(client, services)
    draft = await client.post(f"/api/tickets/{ticket_id}/intake", json={"caller_name": "Sri"},
                              headers=headers)
    assert draft.status == 200
    more = await client.post(f"/api/tickets/{ticket_id}/intake", json={"address": "Pasar Baru"},
                             headers=headers)
    assert more.status == 200
    ticket = await services.store.get(ticket_id)
    assert ticket.state == "in_call"
    assert (ticket.intake["caller_name"], ticket.intake["address"]) == ("Sri", "Pasar Baru")
    early = await client.post(f"/api/tickets/{ticket_id}/escalate", json={}, headers=headers)
    assert early.status == 409
    classified = await client.post(f"/api/tickets/{ticket_id}/classify", json={
        "verdict": "prank", "note": "laughing kids"}, headers=headers)
    assert (await classified.json())["state"] == "classified"
    wrong = await client.post(f"/api/tickets/{ticket_id}/escalate", json={}, headers=headers)
    assert wrong.status == 409  # only a normal call goes to the dispatchers
    no_note = await client.post(f"/api/tickets/{ticket_id}/close", json={}, headers=headers)
    assert no_note.status == 422
    closed = await client.post(f"/api/tickets/{ticket_id}/close", json={"note": "kids again"},
                               headers=headers)
    assert (await closed.json())["state"] == "closed"
    # a normal call: classify, then escalate
    other = await answered_ticket(client, services, "t.2")
    await client.post(f"/api/tickets/{other}/classify", json=GOOD, headers=headers)
    refused = await client.post(f"/api/tickets/{other}/close", json={"note": "x"}, headers=headers)
    assert refused.status == 409  # an operator does not close a real emergency
    escalated = await client.post(f"/api/tickets/{other}/escalate", json={}, headers=headers)
    assert (await escalated.json())["state"] == "escalated"
    listing = await (await client.get("/api/tickets?limit=5")).json()
    assert {t["id"] for t in listing["tickets"]} == {ticket_id, other}
    assert (await client.get("/api/tickets?limit=many")).status == 422


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def test_html_form_keeps_what_was_typed_and_then_escalates(client, services):
    await login(client, "op1")
    ticket_id = await answered_ticket(client, services)
    page = await (await client.get("/")).text()
    assert f'action="/tickets/{ticket_id}/intake"' in page
    form = {**GOOD, "latitude": "abc", "description": "", "csrf_token": _token(page), "action": "submit"}
    response = await client.post(f"/tickets/{ticket_id}/intake", data=form, allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/")  # post/redirect/get
    html = await (await client.get("/")).text()
    assert 'id="error-summary"' in html and 'href="#latitude"' in html
    assert 'value="abc"' in html and 'value="Jl. Merdeka 1, Bandung"' in html
    assert "Isi angka, mis. -6.2000" in html and "Jelaskan apa yang terjadi" in html
    assert 'aria-invalid="true"' in html
    assert (await services.store.get(ticket_id)).state == "in_call"
    form.update(latitude="-6.9147", description="Rumah terbakar")
    done = await client.post(f"/tickets/{ticket_id}/intake", data=form, allow_redirects=False)
    assert done.status == 303
    assert (await services.store.get(ticket_id)).state == "escalated"
    after = await (await client.get("/")).text()
    assert "Tiket diserahkan ke dispatcher" in after
    assert 'id="intake"' not in after


async def test_html_form_draft_and_refusal(client, services):
    await login(client, "op1")
    ticket_id = await answered_ticket(client, services)
    page = await (await client.get("/")).text()
    saved = await client.post(f"/tickets/{ticket_id}/intake", allow_redirects=False,
                              data={"caller_name": "Ani", "verdict": "prank", "note": "tertawa",
                                    "action": "save", "csrf_token": _token(page)})
    assert saved.status == 303
    html = await (await client.get("/")).text()
    assert 'value="Ani"' in html and re.search(r'value="prank" id="verdict-prank"[^>]* checked', html)
    assert ">tertawa</textarea>" in html
    ticket = await services.store.get(ticket_id)
    assert (ticket.state, ticket.verdict) == ("in_call", None)
    await client.post(f"/tickets/{ticket_id}/intake", allow_redirects=False,
                      data={"verdict": "prank", "note": "tertawa", "csrf_token": _token(page)})
    ticket = await services.store.get(ticket_id)
    assert (ticket.state, ticket.verdict, ticket.note) == ("closed", "prank", "tertawa")
    assert "draft_verdict" not in ticket.intake and ticket.intake["caller_name"] == "Ani"
    no_token = await client.post(f"/tickets/{ticket_id}/intake", data={"caller_name": "Ani"})
    assert no_token.status == 403
    missing = await client.post("/tickets/4242/intake", data={**GOOD, "csrf_token": _token(page)},
                                allow_redirects=False)
    assert (missing.status, missing.headers["Location"]) == (303, "/")  # post/redirect/get
    html = await (await client.get("/")).text()
    assert 'id="desk-error"' in html and "Tidak ditemukan" in html


def test_validation_without_the_web():
    data = intake_form.validate_intake({**GOOD, "latitude": "-6,9147"})
    assert data.latitude == -6.9147 and data.callback_number == "081234567890"
    assert intake_form.validate_intake({"caller_name": "x"}, final=False).caller_name == "x"
    with pytest.raises(intake_form.IntakeInvalid) as caught:
        intake_form.validate_intake({"verdict": "normal", "address": "a\nb", "caller_name": "x" * 161})
    assert set(caught.value.errors) == {"address", "caller_name", "category", "description"}
    coordinates_only = intake_form.validate_intake({**GOOD, "address": ""})
    assert coordinates_only.address == "" and coordinates_only.longitude == 107.6098
