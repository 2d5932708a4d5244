"""The dispatcher's and the agencies' JSON API: the SOP's second half, and every refusal."""

from __future__ import annotations

from dispatch_helpers import login, make_ticket

from ngcc112.tickets.store import TicketChanged


def h(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


async def test_board_needs_a_login_and_the_dispatcher_or_admin_role(client, other_client, services):
    response = await client.get("/api/dispatch/board")
    assert response.status == 401
    assert (await response.json())["code"] == "login"
    for username in ("op1", "agency"):
        second = await other_client()
        await login(second, username)
        response = await second.get("/api/dispatch/board")
        assert response.status == 403, username
        assert (await response.json())["code"] == "role"
    for username in ("dispatcher", "admin"):
        second = await other_client()
        await login(second, username)
        assert (await second.get("/api/dispatch/board")).status == 200


async def test_board_lists_escalated_tickets_and_incidents_with_each_agency_status(client, services):
    escalated = await make_ticket(services)
    await make_ticket(services, state="closed")
    token = await login(client, "dispatcher")
    board = await (await client.get("/api/dispatch/board")).json()
    assert [t["id"] for t in board["escalated"]] == [escalated]
    assert board["escalated"][0]["address"] == "Jl. Merdeka 1, Bandung"
    assert board["escalated"][0]["wait_seconds"] >= 29
    response = await client.post(f"/api/dispatch/tickets/{escalated}/dispatch",
                                 json={"agencies": ["damkar", "psc119"], "instructions": "Kebakaran dapur"},
                                 headers=h(token))
    assert response.status == 200, await response.text()
    board = await (await client.get("/api/dispatch/board")).json()
    assert board["escalated"] == []
    [incident] = board["incidents"]
    assert incident["id"] == escalated and incident["state"] == "dispatched"
    assert [(d["agency"], d["status"]) for d in incident["dispatches"]] == [("damkar", "sent"), ("psc119", "sent")]


async def test_dispatch_refusals_csrf_role_input_and_state(client, other_client, services):
    ticket = await make_ticket(services)
    new_ticket = await make_ticket(services, state="new", verdict=None)
    token = await login(client, "dispatcher")
    url = f"/api/dispatch/tickets/{ticket}/dispatch"
    no_csrf = await client.post(url, json={"agencies": ["damkar"]})
    assert no_csrf.status == 403 and (await no_csrf.json())["code"] == "csrf"
    empty = await client.post(url, json={"agencies": [], "instructions": "tetap"}, headers=h(token))
    assert empty.status == 422
    body = await empty.json()
    assert body["errors"] == {"agencies": "Pilih minimal satu OPD / Instansi"}
    assert body["values"] == {"agencies": [], "instructions": "tetap"}
    unknown = await client.post(url, json={"agencies": ["nasa"], "instructions": "x"}, headers=h(token))
    assert unknown.status == 422
    assert "nasa" in (await unknown.json())["errors"]["agencies"]
    bad = await client.post(url, data="not json", headers={**h(token), "Content-Type": "application/json"})
    assert bad.status == 400
    refused = await client.post(f"/api/dispatch/tickets/{new_ticket}/dispatch", json={"agencies": ["damkar"]},
                                headers=h(token))
    assert refused.status == 409
    assert (await refused.json())["error"] == "a ticket in state 'new' cannot go to 'dispatched'; it can go to: " \
        "classified, in_call"
    missing = await client.post("/api/dispatch/tickets/999999/dispatch", json={"agencies": ["damkar"]},
                                headers=h(token))
    assert missing.status == 404
    operator = await other_client()
    op_token = await login(operator, "op1")
    assert (await operator.post(url, json={"agencies": ["damkar"]}, headers=h(op_token))).status == 403
    ok = await client.post(url, json={"agencies": ["damkar"]}, headers=h(token))
    assert ok.status == 200
    again = await client.post(url, json={"agencies": ["damkar"]}, headers=h(token))
    assert again.status == 422
    assert "already dispatched" in (await again.json())["errors"]["agencies"]


async def _dispatched(client, services, agencies=("damkar",)) -> tuple[int, dict[str, int], str]:
    ticket = await make_ticket(services)
    token = await login(client, "dispatcher")
    data = await (await client.post(f"/api/dispatch/tickets/{ticket}/dispatch",
                                    json={"agencies": list(agencies), "instructions": "Segera"},
                                    headers=h(token))).json()
    return ticket, {d["agency"]: d["id"] for d in data["dispatches"]}, token


async def test_agency_sees_only_its_own_dispatches(client, other_client, services):
    ticket, ids, _token = await _dispatched(client, services, ("damkar", "psc119"))
    undispatched = await make_ticket(services)
    damkar = await other_client()
    token = await login(damkar, "agency")
    listing = await (await damkar.get("/api/agency/dispatches")).json()
    assert listing["agency"]["code"] == "damkar"
    assert [d["id"] for d in listing["open"]] == [ids["damkar"]]
    assert listing["open"][0]["ticket"]["address"] == "Jl. Merdeka 1, Bandung"
    mine = await damkar.get(f"/api/agency/dispatches/{ids['damkar']}")
    assert mine.status == 200
    assert (await mine.json())["can_acknowledge"] is True
    # another agency's dispatch: the same answer as for one that does not exist
    for path in (f"/api/agency/dispatches/{ids['psc119']}", "/api/agency/dispatches/999999"):
        response = await damkar.get(path)
        assert response.status == 404, path
        assert (await response.json())["code"] == "not_found"
    for action, body in (("acknowledge", None), ("status", {"status": "on_scene"}),
                         ("report", {"report": "selesai"})):
        response = await damkar.post(f"/api/agency/dispatches/{ids['psc119']}/{action}", json=body or {},
                                     headers=h(token))
        assert response.status == 404, action
    # tickets, dispatched to it or not, are the 112 center's pages: refused by role
    for tid in (ticket, undispatched):
        assert (await damkar.get(f"/api/dispatch/tickets/{tid}")).status == 403
    assert (await damkar.get("/api/reports")).status == 403
    # the other agency's user sees only theirs
    psc = await other_client()
    await login(psc, "agency2")
    listing = await (await psc.get("/api/agency/dispatches")).json()
    assert [d["id"] for d in listing["open"]] == [ids["psc119"]]


async def test_agency_acknowledges_updates_reports_and_the_ticket_follows(client, other_client, services):
    ticket, ids, dispatcher_token = await _dispatched(client, services)
    agency = await other_client()
    token = await login(agency, "agency")
    url = f"/api/agency/dispatches/{ids['damkar']}"
    ack = await agency.post(f"{url}/acknowledge", headers=h(token))
    assert ack.status == 200
    assert (await ack.json())["dispatch"]["status"] == "acknowledged"
    twice = await agency.post(f"{url}/acknowledge", headers=h(token))
    assert twice.status == 409
    assert (await twice.json())["error"] == f"dispatch #{ids['damkar']} is already acknowledged"
    bad = await agency.post(f"{url}/status", json={"status": "teleported"}, headers=h(token))
    assert bad.status == 422 and (await bad.json())["errors"] == {"status": "Pilih status dari daftar"}
    no_reason = await agency.post(f"{url}/status", json={"status": "cannot_handle", "reason": " "},
                                  headers=h(token))
    assert no_reason.status == 422
    assert (await no_reason.json())["errors"] == {"reason": "Tulis mengapa instansi tidak dapat menangani"}
    assert (await agency.post(f"{url}/status", json={"status": "en_route"}, headers=h(token))).status == 200
    scene = await agency.post(f"{url}/status", json={"status": "on_scene"}, headers=h(token))
    assert scene.status == 200
    assert (await scene.json())["dispatch"]["ticket_state"] == "on_scene"
    back = await agency.post(f"{url}/status", json={"status": "en_route"}, headers=h(token))
    assert back.status == 409
    assert "cannot go to en_route" in (await back.json())["error"]
    assert (await agency.post(f"{url}/status", json={"status": "handled"}, headers=h(token))).status == 200
    empty = await agency.post(f"{url}/report", json={"report": "  "}, headers=h(token))
    assert empty.status == 422
    assert (await empty.json())["values"] == {"report": "  "}
    report = await agency.post(f"{url}/report", json={"report": "Api padam, 1 korban dibawa ke RS"},
                               headers=h(token))
    assert report.status == 200
    assert (await report.json())["dispatch"]["ticket_state"] == "reported"
    again = await agency.post(f"{url}/report", json={"report": "lagi"}, headers=h(token))
    assert again.status == 409
    # the dispatcher closes a reported ticket without an override reason
    close = await client.post(f"/api/dispatch/tickets/{ticket}/close", json={}, headers=h(dispatcher_token))
    assert close.status == 200, await close.text()
    data = await close.json()
    assert data["ticket"]["state"] == "closed"
    trail = [(a["actor"], a["action"], a["from_state"], a["to_state"]) for a in data["audit"]
             if a["actor"] != "op1"]
    assert trail == [
        ("dispatcher", "dispatch", "escalated", "dispatched"),
        ("agency", "acknowledge", "dispatched", "dispatched"),
        ("agency", "dispatch_status", "dispatched", "dispatched"),
        ("agency", "dispatch_status", "dispatched", "on_scene"),
        ("agency", "dispatch_status", "on_scene", "on_scene"),
        ("agency", "field_report", "on_scene", "reported"),
        ("dispatcher", "close", "reported", "closed"),
    ]
    closed = await client.post(f"/api/dispatch/tickets/{ticket}/close", json={}, headers=h(dispatcher_token))
    assert closed.status == 409
    after = await agency.post(f"{url}/status", json={"status": "handled"}, headers=h(token))
    assert after.status == 409 and "closed" in (await after.json())["error"]


async def test_close_before_every_report_needs_an_override_reason(client, other_client, services):
    ticket, ids, token = await _dispatched(client, services, ("damkar", "psc119"))
    url = f"/api/dispatch/tickets/{ticket}/close"
    response = await client.post(url, json={"override_reason": ""}, headers=h(token))
    assert response.status == 422
    assert (await response.json())["errors"] == {
        "override_reason": "Tulis alasan menutup sebelum semua instansi melapor"}
    agency = await other_client()
    agency_token = await login(agency, "agency")
    assert (await agency.post(url, json={"override_reason": "x"}, headers=h(agency_token))).status == 403
    response = await client.post(url, json={"override_reason": "Penelepon membatalkan, tidak ada kebakaran"},
                                 headers=h(token))
    assert response.status == 200
    data = await response.json()
    close = data["audit"][-1]
    assert close["action"] == "close" and close["actor"] == "dispatcher"
    assert close["changes"]["override_reason"] == "Penelepon membatalkan, tidak ada kebakaran"
    assert {u["agency"] for u in close["changes"]["unreported"]} == {"damkar", "psc119"}


async def test_dispatcher_records_an_agency_report_on_its_behalf(client, services):
    ticket, ids, token = await _dispatched(client, services)
    url = f"/api/dispatch/dispatches/{ids['damkar']}"
    assert (await client.post(f"{url}/status", json={"status": "handled"}, headers=h(token))).status == 200
    response = await client.post(f"{url}/report", json={"report": "Dilaporkan lewat radio"}, headers=h(token))
    assert response.status == 200
    data = await (await client.get(f"/api/dispatch/tickets/{ticket}")).json()
    assert data["ticket"]["state"] == "reported"
    assert data["audit"][-1]["changes"]["on_behalf_of"] == "damkar"
    assert data["needs_override"] is False


async def test_ticket_read_shows_the_audit_trail_and_what_may_be_done(client, other_client, services):
    ticket = await make_ticket(services)
    await login(client, "dispatcher")
    data = await (await client.get(f"/api/dispatch/tickets/{ticket}")).json()
    assert data["can_dispatch"] and data["can_close"] and data["needs_override"]
    assert {a["code"] for a in data["agencies"]} >= {"damkar", "psc119", "polisi"}
    assert data["audit"][0]["to_state"] == "escalated"
    assert (await client.get("/api/dispatch/tickets/999999")).status == 404
    admin = await other_client()
    await login(admin, "admin")
    view = await (await admin.get(f"/api/dispatch/tickets/{ticket}")).json()
    assert view["can_dispatch"] is False and view["can_close"] is False


async def test_changes_reach_the_hub_after_commit(client, services):
    received: list[TicketChanged] = []
    subscription = services.hub.subscribe()
    ticket, ids, token = await _dispatched(client, services)
    while not subscription.queue.empty():
        item = subscription.queue.get_nowait()
        if isinstance(item, TicketChanged):
            received.append(item)
    subscription.close()
    assert [(c.ticket_id, c.action, c.state) for c in received] == [(ticket, "dispatch", "dispatched")]
