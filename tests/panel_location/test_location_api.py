"""The location JSON API: list, one-click accept, manual fix; who may, and what is refused."""

from __future__ import annotations

import pytest
from location_helpers import dispatch_to, els_body, locations, login, make_ticket, sip_variables


async def _ticket_with_fixes(client, services, state: str = "in_call") -> tuple[int, int, int]:
    """A ticket whose SIP fix was accepted automatically, then an AML fix waiting as candidate."""
    ticket_id = await make_ticket(services, state)
    loc = locations(client)
    sip = await loc.record_sip_fix(ticket_id, sip_variables())
    receipt = await services.aml_locations.receive_aml(els_body(), "application/x-www-form-urlencoded",
                                                       "127.0.0.1", sip.fix.time)
    assert receipt.ticket_id == ticket_id and receipt.outcome == "candidate"
    return ticket_id, sip.id, receipt.fix_id


async def test_list_shows_the_accepted_fix_first_and_the_candidate_as_new(client, services):
    ticket_id, sip_id, aml_id = await _ticket_with_fixes(client, services)
    await login(client, "op1")
    response = await client.get(f"/api/tickets/{ticket_id}/location")
    assert response.status == 200
    data = await response.json()
    assert data["ticket_id"] == ticket_id
    assert [f["id"] for f in data["fixes"]] == [sip_id, aml_id]
    accepted, candidate = data["fixes"]
    assert (accepted["source"], accepted["accepted"], accepted["radius_m"]) == ("sip", True, 50.0)
    assert (candidate["source"], candidate["accepted"], candidate["candidate"]) == ("aml", False, True)
    assert candidate["new"] is True  # arrived after the accepted one: "new position — accept?"
    assert candidate["radius_m"] == 15.0 and candidate["confidence_pct"] == 68.0
    assert data["accepted"]["id"] == sip_id and data["candidates"] == [aml_id]
    assert candidate["age_seconds"] >= 0


async def test_accept_one_click_makes_the_candidate_the_position(client, services):
    ticket_id, sip_id, aml_id = await _ticket_with_fixes(client, services)
    token = await login(client, "op1")
    response = await client.post(f"/api/tickets/{ticket_id}/location/accept", json={"fix_id": aml_id},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200, await response.text()
    data = await response.json()
    assert data["fix"]["id"] == aml_id and data["fix"]["accepted_by"] == "op1"
    assert data["accepted"]["id"] == aml_id
    assert data["candidates"] == [sip_id]  # the replaced automatic fix stays one click away
    audit = [a.action for a in await services.store.audit(ticket_id)]
    assert "location_accepted" in audit


async def test_accept_refusals(client, services):
    ticket_id, _sip_id, aml_id = await _ticket_with_fixes(client, services)
    other = await make_ticket(services, caller_number="089900001111")
    token = await login(client, "op1")
    headers = {"X-CSRF-Token": token}
    # a fix of another ticket
    response = await client.post(f"/api/tickets/{other}/location/accept", json={"fix_id": aml_id},
                                 headers=headers)
    assert response.status == 404
    # no fix id
    response = await client.post(f"/api/tickets/{ticket_id}/location/accept", json={"fix_id": "x"},
                                 headers=headers)
    assert response.status == 422
    # not JSON
    response = await client.post(f"/api/tickets/{ticket_id}/location/accept", data=b"[1]",
                                 headers={**headers, "Content-Type": "application/json"})
    assert response.status == 400
    # no CSRF token
    response = await client.post(f"/api/tickets/{ticket_id}/location/accept", json={"fix_id": aml_id})
    assert response.status == 403
    assert (await response.json())["code"] == "csrf"
    # nothing changed
    assert (await locations(client).accepted_fix(ticket_id)).fix.source == "sip"


async def test_manual_fix_becomes_the_accepted_position(client, services):
    ticket_id, _sip_id, _aml_id = await _ticket_with_fixes(client, services)
    token = await login(client, "op1")
    response = await client.post(f"/api/tickets/{ticket_id}/location/manual",
                                 json={"latitude": "-6,9147", "longitude": "107.6098",
                                       "address": "Jl. Asia Afrika 8, Bandung"},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200, await response.text()
    fix = (await response.json())["fix"]
    assert (fix["source"], fix["latitude"], fix["longitude"]) == ("manual", -6.9147, 107.6098)
    assert fix["accepted"] and fix["address"] == "Jl. Asia Afrika 8, Bandung" and fix["created_by"] == "op1"


async def test_manual_fix_accepts_a_pasted_pair(client, services):
    ticket_id = await make_ticket(services)
    token = await login(client, "dispatcher")
    response = await client.post(f"/api/tickets/{ticket_id}/location/manual",
                                 json={"latitude": "-6.91470, 107.60980", "longitude": ""},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200, await response.text()
    fix = (await response.json())["fix"]
    assert (fix["latitude"], fix["longitude"]) == (-6.9147, 107.6098)


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"latitude": "", "longitude": "107.6"}, "latitude", "Isi lintang, atau klik posisi penelepon di peta"),
    ({"latitude": "abc", "longitude": "107.6"}, "latitude", "Lintang harus berupa angka, mis. -6.91470"),
    ({"latitude": "107.6", "longitude": "-6.9"}, "latitude",
     "Lintang harus antara -90 dan 90 (lintang dan bujur tertukar?)"),
    ({"latitude": "-6.9", "longitude": "200"}, "longitude", "Bujur harus antara -180 dan 180"),
    ({"latitude": "-6.9", "longitude": "nan"}, "longitude", "Bujur harus berupa angka, mis. 107.60980"),
    ({"latitude": "0", "longitude": "0"}, "latitude", "0, 0 bukan tempat orang menelepon: periksa koordinatnya"),
    ({"latitude": "-6.9", "longitude": "107.6", "address": "x" * 501}, "address",
     "Alamat terlalu panjang (paling banyak 500 karakter)"),
])
async def test_manual_fix_invalid_is_422_with_the_values_kept(client, services, body, field, message):
    ticket_id = await make_ticket(services)
    token = await login(client, "op1")
    response = await client.post(f"/api/tickets/{ticket_id}/location/manual", json=body,
                                 headers={"X-CSRF-Token": token})
    assert response.status == 422
    data = await response.json()
    assert data["code"] == "invalid"
    assert data["errors"][field] == message
    for key, value in body.items():
        assert data["values"][key] == value  # exactly as typed
    assert await locations(client).fixes_for(ticket_id) == []


async def test_manual_fix_messages_in_english_on_the_switch(client, services):
    ticket_id = await make_ticket(services)
    token = await login(client, "op1")
    await client.post("/lang", data={"language": "en", "csrf_token": token, "next": "/"},
                      allow_redirects=False)
    response = await client.post(f"/api/tickets/{ticket_id}/location/manual",
                                 json={"latitude": "-95", "longitude": "107"},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 422
    assert (await response.json())["errors"]["latitude"] == "Latitude must be between -90 and 90"


async def test_not_logged_in_is_401(client, services):
    ticket_id = await make_ticket(services)
    response = await client.get(f"/api/tickets/{ticket_id}/location")
    assert response.status == 401


async def test_unknown_ticket_is_404(client, services):
    await login(client, "admin")
    response = await client.get("/api/tickets/999999/location")
    assert response.status == 404


async def test_agency_sees_and_acts_only_on_tickets_dispatched_to_it(client, services):
    ticket_id, _sip_id, aml_id = await _ticket_with_fixes(client, services, state="escalated")
    undispatched = await make_ticket(services, "escalated", caller_number="081311112222")
    await dispatch_to(services, ticket_id, "damkar")
    token = await login(client, "agency")
    assert (await client.get(f"/api/tickets/{ticket_id}/location")).status == 200
    assert (await client.get(f"/api/tickets/{undispatched}/location")).status == 404
    response = await client.post(f"/api/tickets/{undispatched}/location/manual",
                                 json={"latitude": "-6.9", "longitude": "107.6"},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 404
    response = await client.post(f"/api/tickets/{ticket_id}/location/accept", json={"fix_id": aml_id},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200


async def test_another_agency_gets_404(client, services):
    ticket_id, _sip_id, aml_id = await _ticket_with_fixes(client, services, state="escalated")
    await dispatch_to(services, ticket_id, "damkar")
    token = await login(client, "agency2")  # PSC 119: not on this ticket
    assert (await client.get(f"/api/tickets/{ticket_id}/location")).status == 404
    assert (await client.get(f"/panel/tickets/{ticket_id}/location")).status == 404
    assert (await client.get(f"/tickets/{ticket_id}/location")).status == 404
    response = await client.post(f"/api/tickets/{ticket_id}/location/accept", json={"fix_id": aml_id},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 404
    assert (await locations(client).accepted_fix(ticket_id)).fix.source == "sip"


async def test_board_is_for_the_room_not_for_agencies(client, services):
    ticket_id, _sip_id, _aml_id = await _ticket_with_fixes(client, services, state="escalated")
    in_call = await make_ticket(services, "in_call", caller_number="081399998888")
    await locations(client).record_sip_fix(in_call, sip_variables(-7.25, 112.75, 30))
    await login(client, "dispatcher")
    data = await (await client.get("/api/location/board")).json()
    assert [(i["ticket_id"], i["source"], i["radius_m"]) for i in data["incidents"]] == \
        [(ticket_id, "sip", 50.0)]
    await client.post("/logout", data={"csrf_token": (await (await client.get("/api/session")).json())["csrf_token"]})
    await login(client, "agency")
    assert (await client.get("/api/location/board")).status == 403


async def test_scores_and_reasons_in_the_request_language(client, services):
    reasons = [{"score": "ghost", "code": "no_speech", "en": "No speech for 10 s", "id": "Tidak ada suara 10 dtk",
                "weight": 0.6},
               {"score": "prank", "code": "repeat", "en": "3 calls today", "id": "3 panggilan hari ini",
                "weight": 0.3}]
    ticket_id = await make_ticket(services, ghost=0.8, prank=0.3, reasons=reasons)
    await login(client, "op1")
    data = await (await client.get(f"/api/tickets/{ticket_id}/location")).json()
    assert data["scores"]["ghost"] == 0.8 and data["scores"]["prank"] == 0.3
    assert [r["text"] for r in data["scores"]["reasons"]] == ["Tidak ada suara 10 dtk", "3 panggilan hari ini"]


async def test_a_closed_ticket_keeps_its_position(client, services):
    ticket_id, _sip_id, aml_id = await _ticket_with_fixes(client, services, state="closed")
    token = await login(client, "dispatcher")
    headers = {"X-CSRF-Token": token}
    response = await client.post(f"/api/tickets/{ticket_id}/location/accept", json={"fix_id": aml_id},
                                 headers=headers)
    assert response.status == 409
    assert (await response.json())["error"] == "Tiket sudah ditutup: posisinya tidak bisa diubah lagi"
    response = await client.post(f"/api/tickets/{ticket_id}/location/manual",
                                 json={"latitude": "-6.9", "longitude": "107.6"}, headers=headers)
    assert response.status == 409
    assert (await client.get(f"/api/tickets/{ticket_id}/location")).status == 200  # still readable
    assert (await locations(client).accepted_fix(ticket_id)).fix.source == "sip"


async def test_operator_and_admin_may_act(client, services):
    ticket_id, _sip_id, aml_id = await _ticket_with_fixes(client, services)
    token = await login(client, "admin")
    response = await client.post(f"/api/tickets/{ticket_id}/location/accept", json={"fix_id": aml_id},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200
    assert (await response.json())["fix"]["accepted_by"] == "admin"
