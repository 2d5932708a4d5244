"""Callbacks close the loop: an answered callback opens the abandoned call's intake on the desk of
who called back; the outcome (reached / no answer / dismissed) is recorded, audited and shown, and a
row with a final outcome no longer offers "call back"."""

from __future__ import annotations

import asyncio
import re

from dispatch_helpers import login, make_ticket, redirected_back


def h(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


async def _audit(services, ticket_id: int, action: str) -> list:
    return [a for a in await services.store.audit(ticket_id) if a.action == action]


async def _until(check, what: str):
    for _ in range(200):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_an_answered_callback_pops_the_intake_on_the_callers_desk_and_it_can_be_completed(
        client, services, link):
    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True, caller_number="085711113333",
                               category=None, intake={})
    token = await login(client, "op1")
    placed = await client.post(f"/api/dispatch/tickets/{ticket}/callback", json={"request_id": "op1-click"},
                               headers=h(token))
    assert placed.status == 202, await placed.text()
    desk = (await (await client.get("/api/me/state")).json())["desk"]
    assert desk["active"] is None, "nothing pops before the softphone answers"

    link.originate_response((await placed.json())["callback"]["action_id"], ok=True, reason="4")

    async def popped():
        state = (await (await client.get("/api/me/state")).json())["desk"]
        return state["active"] if state["active"] and state["active"]["ticket"] else None

    active = await _until(popped, "the intake on op1's desk")
    assert active["ticket"]["id"] == ticket and active["ticket"]["state"] == "new"
    html = await (await client.get("/")).text()
    assert f'data-ticket-id="{ticket}"' in html and 'name="verdict"' in html, "the intake form is on the desk"
    [result] = await _audit(services, ticket, "callback_result")
    assert (result.changes["intake_opened"], result.changes["interface"]) == (True, "PJSIP/op1")
    stored = await services.store.get(ticket)
    assert (stored.operator_interface, stored.answered_at) == ("PJSIP/op1", None), \
        "taken by op1; the 112 call itself stays unanswered in the reports"
    # a panel restart forgets the desks: the intake is found again in the database
    from ngcc112.panel.state import PANEL

    assert client.app[PANEL].calls.clear_active("PJSIP/op1", stored.linkedid)
    again = (await (await client.get("/api/me/state")).json())["desk"]["active"]
    assert again is not None and again["ticket"]["id"] == ticket

    # another operator cannot take it; op1 completes it
    other = await login_other(client, "op2")
    body = {"verdict": "information", "caller_name": "Bu Sari", "note": "Tanya jadwal"}
    refused = await other.post(f"/api/tickets/{ticket}/complete", json=body, headers=h(other.token))
    assert refused.status == 403
    done = await client.post(f"/api/tickets/{ticket}/complete", json=body, headers=h(token))
    assert done.status == 200, await done.text()
    assert (await services.store.get(ticket)).state == "closed"
    await other.close()


async def login_other(client, username: str):
    from aiohttp.test_utils import TestClient

    other = TestClient(client.server)
    await other.start_server()
    other.token = await login(other, username)
    return other


async def test_outcomes_are_recorded_shown_and_close_the_loop(client, services, link):
    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True, caller_number="085711114444")
    token = await login(client, "dispatcher2")
    html = await (await client.get("/callbacks")).text()
    row = html[html.index(f'id="callback-{ticket}"'):]
    row = row[:row.index("</tr>")]
    assert f'action="/dispatch/tickets/{ticket}/callback"' in row
    assert f'id="dismiss-{ticket}"' in row and f'id="reached-{ticket}"' not in row, "nothing placed yet"

    # no answer: recorded, and it may be tried again
    placed = await client.post(f"/api/dispatch/tickets/{ticket}/callback", json={"request_id": "a"},
                               headers=h(token))
    link.originate_response((await placed.json())["callback"]["action_id"], ok=False, reason="3")
    await _until(lambda: _audit(services, ticket, "callback_result"), "the result")
    form = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = await client.post(f"/dispatch/tickets/{ticket}/callback/outcome",
                                 data={"csrf_token": form, "outcome": "no_answer", "back": "callbacks"},
                                 allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/callbacks"
    html = await (await client.get("/callbacks")).text()
    row = html[html.index(f'id="callback-{ticket}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-outcome="no_answer"' in row and "Tidak dijawab" in row and "Hasil dicatat" in html
    assert "Telepon balik lagi" in row, "a no answer may be retried"
    listing = (await (await client.get("/api/dispatch/callbacks")).json())["callbacks"]
    [item] = [c for c in listing if c["id"] == ticket]
    assert (item["outcome"], item["loop_closed"]) == ("no_answer", False)

    # tried again, reached: the loop is closed
    placed = await client.post(f"/api/dispatch/tickets/{ticket}/callback", json={"request_id": "b"},
                               headers=h(token))
    assert placed.status == 202
    reached = await client.post(f"/api/dispatch/tickets/{ticket}/callback/outcome", json={"outcome": "reached"},
                                headers=h(token))
    assert reached.status == 200 and (await reached.json())["outcome"] == "reached"
    html = await (await client.get("/callbacks")).text()
    row = html[html.index(f'id="callback-{ticket}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-outcome="reached"' in row and "Tersambung" in row
    assert f'action="/dispatch/tickets/{ticket}/callback"' not in row and "Tidak perlu ditelepon balik" in row
    assert "/callback/outcome" not in row
    # the data layer refuses a further callback and a further outcome
    again = await client.post(f"/api/dispatch/tickets/{ticket}/callback", json={"request_id": "c"},
                              headers=h(token))
    assert again.status == 409 and (await again.json())["code"] == "outcome"
    twice = await client.post(f"/api/dispatch/tickets/{ticket}/callback/outcome", json={"outcome": "dismissed"},
                              headers=h(token))
    assert twice.status == 409 and (await twice.json())["error"] == "Hasil telepon balik ini sudah dicatat"
    # the page form too: back to the list, the refusal told at the top
    refused = await client.post(f"/dispatch/tickets/{ticket}/callback/outcome",
                                data={"csrf_token": form, "outcome": "dismissed"})
    assert redirected_back(refused, "/callbacks")
    text = await refused.text()
    assert 'id="error-summary"' in text and "Hasil telepon balik ini sudah dicatat" in text
    audit = await _audit(services, ticket, "callback_outcome")
    assert [(a.actor, a.changes["outcome"]) for a in audit] == [("dispatcher2", "no_answer"),
                                                                ("dispatcher2", "reached")]


async def test_dismissing_and_bad_outcomes(client, services):
    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True, caller_number="085711115555")
    answered = await make_ticket(services, state="escalated")
    token = await login(client, "op1")
    bad = await client.post(f"/api/dispatch/tickets/{ticket}/callback/outcome", json={"outcome": "maybe"},
                            headers=h(token))
    assert bad.status == 422 and (await bad.json())["errors"] == {"outcome": "Pilih hasil dari daftar"}
    not_abandoned = await client.post(f"/api/dispatch/tickets/{answered}/callback/outcome",
                                      json={"outcome": "dismissed"}, headers=h(token))
    assert not_abandoned.status == 409
    assert (await client.post("/api/dispatch/tickets/99999/callback/outcome", json={"outcome": "dismissed"},
                              headers=h(token))).status == 404
    dismissed = await client.post(f"/api/dispatch/tickets/{ticket}/callback/outcome",
                                  json={"outcome": "dismissed"}, headers=h(token))
    assert dismissed.status == 200
    row = (await (await client.get("/callbacks")).text())
    row = row[row.index(f'id="callback-{ticket}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-outcome="dismissed"' in row and "Diabaikan" in row
    assert f'action="/dispatch/tickets/{ticket}/callback"' not in row


async def test_agencies_and_admins_may_not_record_outcomes(client, other_client, services):
    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True)
    for username in ("agency", "admin"):
        browser = await other_client()
        token = await login(browser, username)
        response = await browser.post(f"/api/dispatch/tickets/{ticket}/callback/outcome",
                                      json={"outcome": "dismissed"}, headers=h(token))
        assert response.status == 403, username
    assert await _audit(services, ticket, "callback_outcome") == []


async def test_no_answer_frees_the_desk_of_who_called_back(client, services, link):
    ticket = await make_ticket(services, state="new", verdict=None, abandoned=True, caller_number="085711116666")
    token = await login(client, "op1")
    placed = await client.post(f"/api/dispatch/tickets/{ticket}/callback", json={"request_id": "x"},
                               headers=h(token))
    link.originate_response((await placed.json())["callback"]["action_id"], ok=True, reason="4")

    async def desk_ticket():
        active = (await (await client.get("/api/me/state")).json())["desk"]["active"]
        return active["ticket"]["id"] if active and active["ticket"] else None

    assert await _until(desk_ticket, "the intake on the desk") == ticket
    response = await client.post(f"/api/dispatch/tickets/{ticket}/callback/outcome", json={"outcome": "no_answer"},
                                 headers=h(token))
    assert response.status == 200

    async def freed():
        return await desk_ticket() is None

    assert await _until(freed, "the desk freed")
    assert (await services.store.get(ticket)).operator_interface is None, "released until answered again"
    [row] = await _audit(services, ticket, "callback_outcome")
    assert row.changes == {"outcome": "no_answer", "intake_released": "PJSIP/op1"}
