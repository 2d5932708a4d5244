"""Calling an abandoned caller back: one Originate per click, audited, its result recorded."""

from __future__ import annotations

import asyncio

from dispatch_helpers import login, make_ticket, settle

from ngcc112 import names


def h(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


async def _audit(services, ticket_id: int, *actions: str) -> list:
    return [a for a in await services.store.audit(ticket_id) if a.action in actions]


async def _wait_for_audit(services, ticket_id: int, action: str) -> list:
    for _ in range(100):
        found = await _audit(services, ticket_id, action)
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {action} audit row")


async def test_callback_originates_once_from_the_users_softphone_and_records_the_result(client, services, link):
    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True, caller_number="0857 1111-2222")
    token = await login(client, "dispatcher2")
    response = await client.post(f"/api/dispatch/tickets/{ticket}/callback", json={"request_id": "click-1"},
                                 headers=h(token))
    assert response.status == 202, await response.text()
    callback = (await response.json())["callback"]
    assert (callback["number"], callback["interface"], callback["outcome"]) == ("085711112222", "PJSIP/disp1",
                                                                              "queued")
    [originate] = link.sent
    assert originate.name == "Originate"
    assert (originate.get("Channel"), originate.get("Context"), originate.get("Exten"), originate.get("Async")) == \
        ("PJSIP/disp1", names.OPERATOR_CONTEXT, "085711112222", "true")
    assert originate.get("ActionID") == callback["action_id"]
    [row] = await _audit(services, ticket, "callback")
    assert row.actor == "dispatcher2"
    assert row.changes["action_id"] == callback["action_id"] and row.changes["number"] == "085711112222"

    # the same click again, and a second click while the first still rings: refused, nothing sent
    again = await client.post(f"/api/dispatch/tickets/{ticket}/callback", json={"request_id": "click-1"},
                              headers=h(token))
    assert again.status == 409 and (await again.json())["code"] == "duplicate"
    pending = await client.post(f"/api/dispatch/tickets/{ticket}/callback", json={"request_id": "click-2"},
                                headers=h(token))
    assert pending.status == 409 and (await pending.json())["code"] == "pending"
    assert len(link.sent) == 1

    # Asterisk reports the outcome with the same ActionID; another ActionID is not ours
    link.originate_response("someone-else", ok=True)
    link.originate_response(callback["action_id"], ok=True, reason="4")
    [result] = await _wait_for_audit(services, ticket, "callback_result")
    assert result.changes == {"action_id": callback["action_id"], "result": "success", "reason": "4",
                              "reason_text": "answered",
                              # answered: the intake opens for the one who called back
                              "interface": "PJSIP/disp1", "placed_by": "dispatcher2", "intake_opened": True}
    assert len(link.sunk) == 2  # the daemon's own sink still got every event
    board = await (await client.get("/api/dispatch/board")).json()
    [candidate] = [c for c in board["callbacks"] if c["id"] == ticket]
    assert [c["action"] for c in candidate["callbacks"]] == ["callback", "callback_result"]
    # now a new click places a new callback
    response = await client.post(f"/api/dispatch/tickets/{ticket}/callback", json={"request_id": "click-3"},
                                 headers=h(token))
    assert response.status == 202
    assert len(link.sent) == 2


async def test_callback_refusals(client, other_client, services, link):
    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True)
    withheld = await make_ticket(services, state="new", verdict=None, abandoned=True, caller_number=None, intake={})
    token = await login(client, "dispatcher2")
    url = f"/api/dispatch/tickets/{ticket}/callback"
    assert (await client.post(url, json={})).status == 403  # no CSRF token
    link.connected_ = False
    down = await client.post(url, json={}, headers=h(token))
    assert down.status == 503
    assert (await down.json())["error"].startswith("Asterisk tidak terhubung")
    assert await _audit(services, ticket, "callback") == [] and link.sent == []
    link.connected_ = True
    no_number = await client.post(f"/api/dispatch/tickets/{withheld}/callback", json={}, headers=h(token))
    assert no_number.status == 409 and (await no_number.json())["code"] == "number"
    assert (await client.post("/api/dispatch/tickets/999999/callback", json={}, headers=h(token))).status == 404
    plain = await other_client()
    plain_token = await login(plain, "dispatcher")
    no_phone = await plain.post(url, json={}, headers=h(plain_token))
    assert no_phone.status == 409 and (await no_phone.json())["code"] == "interface"
    agency = await other_client()
    agency_token = await login(agency, "agency")
    assert (await agency.post(url, json={}, headers=h(agency_token))).status == 403
    link.refuse = "Originate failed"
    refused = await client.post(url, json={}, headers=h(token))
    assert refused.status == 502
    [row] = await _audit(services, ticket, "callback")
    assert row.changes["outcome"] == "refused"
    assert len(link.sent) == 1


async def test_callback_from_the_board_form(client, services, link):
    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True)
    await login(client, "dispatcher2")
    html = await (await client.get("/dispatch")).text()
    assert f'action="/dispatch/tickets/{ticket}/callback"' in html
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    click = re.search(r'name="click_id" value="([^"]+)"', html).group(1)
    form = {"csrf_token": token, "click_id": click, "back": "board"}
    response = await client.post(f"/dispatch/tickets/{ticket}/callback", data=form, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/dispatch"
    html = await (await client.get("/dispatch")).text()
    assert "Telepon balik dilakukan: softphone Anda berdering lebih dulu" in html
    # the same click again is refused: back to the board (post/redirect/get), the reason on top
    resent = await client.post(f"/dispatch/tickets/{ticket}/callback", data=form, allow_redirects=False)
    assert resent.status == 303 and resent.headers["Location"] == "/dispatch"
    assert len(link.sent) == 1
    html = await (await client.get("/dispatch")).text()
    summary = html[html.index('id="error-summary"'):]
    assert "Telepon balik tidak dapat dilakukan" in summary[:summary.index("</div>")]
    assert 'id="error-summary"' not in await (await client.get("/dispatch")).text()  # shown once
    assert "Berdering…" in html
    await settle()


async def test_an_operator_calls_back_from_the_callbacks_page(client, other_client, services, link):
    import re

    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True, caller_number="081311112222")
    await make_ticket(services, state="escalated")  # not a callback candidate
    await login(client, "op1")
    data = await (await client.get("/api/dispatch/callbacks")).json()
    assert [c["id"] for c in data["callbacks"]] == [ticket]
    html = await (await client.get("/callbacks")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    click = re.search(r'name="click_id" value="([^"]+)"', html).group(1)
    assert 'name="back" value="callbacks"' in html
    response = await client.post(f"/dispatch/tickets/{ticket}/callback",
                                 data={"csrf_token": token, "click_id": click, "back": "callbacks"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/callbacks"
    [originate] = link.sent
    assert (originate.get("Channel"), originate.get("Exten")) == ("PJSIP/op1", "081311112222")
    html = await (await client.get("/callbacks")).text()
    assert "Telepon balik dilakukan" in html and "Berdering…" in html
    ws = await client.ws_connect("/ws?channel=dispatch")
    assert (await ws.receive_json())["type"] == "hello"
    await ws.close()
    agency = await other_client()
    await login(agency, "agency")
    assert (await agency.get("/callbacks")).status == 403
    assert (await agency.get("/api/dispatch/callbacks")).status == 403
