"""The operator's desk: drafts kept as typed, the pending intakes, post/redirect/get, after-call
work through the (fake) AMI link, and notes after escalation while the caller is on the line."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from panel_helpers import login, settle
from test_panel_screenpop import arrive, connected, emit, ringing

from ngcc112.ami.events import CallEnded
from ngcc112.tickets import drafts

OP = "PJSIP/op1"


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def answered(services, call_id: str, interface: str = OP) -> int:
    await arrive(services, call_id)
    await emit(services, ringing(call_id, interface))
    await emit(services, connected(call_id, interface))
    return (await services.store.by_linkedid(call_id)).id


async def ended(services, call_id: str) -> None:
    await emit(services, CallEnded(call_id=call_id, at=datetime.now(UTC), cause=16,
                                   cause_text="Normal Clearing"))


async def until(condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_a_draft_keeps_any_text_and_comes_back_on_reload(client, services):
    token = await login(client, "op1")
    ticket_id = await answered(services, "d.1")
    headers = {"X-CSRF-Token": token}
    saved = await client.post(f"/api/tickets/{ticket_id}/draft", headers=headers,
                              json={"caller_name": "Bu Sri", "latitude": "-6,", "callback_number": "08",
                                    "verdict": "", "description": "Asap dari", "csrf_token": "x",
                                    "unknown": "dropped"})
    assert saved.status == 200, await saved.text()
    body = await saved.json()
    assert body["draft"] == {"caller_name": "Bu Sri", "latitude": "-6,", "callback_number": "08",
                             "verdict": "", "description": "Asap dari"}
    more = await client.post(f"/api/tickets/{ticket_id}/draft", headers=headers,
                             json={"description": "Asap dari lantai dua", "verdict": "normal"})
    assert (await more.json())["draft"]["caller_name"] == "Bu Sri"  # merged, not replaced
    html = await (await client.get("/")).text()
    assert 'value="Bu Sri"' in html and 'value="-6,"' in html and 'value="08"' in html
    assert ">Asap dari lantai dua</textarea>" in html
    assert 'value="normal" id="verdict-normal"' in html and "checked" in html.split('id="verdict-normal"')[1][:200]
    ticket = await services.store.get(ticket_id)
    assert ticket.intake == {} and ticket.state == "in_call"  # a draft is no ticket change
    assert (await client.post("/api/tickets/4242/draft", headers=headers, json={})).status == 409
    assert (await client.post(f"/api/tickets/{ticket_id}/draft", json={})).status == 403  # CSRF


async def test_only_the_operator_who_answered_keeps_a_draft(client, services, other_client):
    await login(client, "op1")
    ticket_id = await answered(services, "d.2")
    second = await other_client()
    token = await login(second, "op2")
    refused = await second.post(f"/api/tickets/{ticket_id}/draft", headers={"X-CSRF-Token": token},
                                json={"caller_name": "x"})
    assert refused.status == 409
    await second.close()


async def test_submitting_clears_the_drafts(client, services):
    token = await login(client, "op1")
    ticket_id = await answered(services, "d.3")
    headers = {"X-CSRF-Token": token}
    await client.post(f"/api/tickets/{ticket_id}/draft", headers=headers, json={"note": "sunyi"})
    user_id = (await (await client.get("/api/session")).json())["user"]["id"]
    assert await drafts.load_draft(services.sessions, ticket_id, user_id) == {"note": "sunyi"}
    done = await client.post(f"/api/tickets/{ticket_id}/complete", headers=headers,
                             json={"verdict": "ghost", "note": "sunyi"})
    assert done.status == 200
    assert await drafts.load_draft(services.sessions, ticket_id, user_id) is None


async def test_refused_submit_redirects_to_the_desk_with_an_error_summary(client, services):
    await login(client, "op1")
    ticket_id = await answered(services, "d.4")
    page = await (await client.get("/")).text()
    response = await client.post(f"/tickets/{ticket_id}/intake", allow_redirects=False, data={
        "verdict": "normal", "caller_name": "Budi", "callback_number": "call me", "latitude": "95",
        "description": "", "action": "submit", "csrf_token": _token(page)})
    assert response.status == 303 and response.headers["Location"] == "/"
    html = await (await client.get("/")).text()
    summary = html.split('id="error-summary"')[1].split("</div>")[0]
    assert 'tabindex="-1"' in html.split('id="error-summary"')[0][-120:] + summary
    assert 'href="#callback_number"' in summary and 'href="#latitude"' in summary
    assert 'href="#description"' in summary and 'href="#category"' in summary
    assert 'value="call me"' in html and 'value="95"' in html
    assert "<details class=\"coordinates\" open>" in html  # the wrong latitude is not hidden
    again = await (await client.get("/")).text()
    assert 'id="error-summary"' not in again and 'value="call me"' in again  # once; the text stays
    assert (await services.store.get(ticket_id)).state == "in_call"


async def test_pending_intakes_and_a_new_call_never_replace_the_form(client, services):
    await login(client, "op1")
    first = await answered(services, "p.1")
    await ended(services, "p.1")
    second = await answered(services, "p.2")
    html = await (await client.get("/")).text()
    # the call on the line is on screen; the earlier one waits in the list, openable
    assert f'data-ticket-id="{second}"' in html.split('id="active"')[1][:300]
    pending = html.split('id="pending"')[1]
    assert f'href="/?ticket={first}"' in pending and f'href="/?ticket={second}"' not in pending
    # the operator opens the earlier one: the live call waits in the fixed bar, with a switch
    chosen = await (await client.get(f"/?ticket={first}")).text()
    assert f'data-ticket-id="{first}"' in chosen.split('id="active"')[1][:300]
    bar = chosen.split('id="callbar"')[1].split('id="wrapup"')[0]
    assert 'id="switch-call"' in bar and f'href="/?ticket={second}"' in bar
    fragment = await (await client.get(f"/panel/call?ticket={first}")).text()
    assert 'id="switch-call"' in fragment and f'data-ticket-id="{first}"' in fragment
    # someone else's ticket or a finished one is never shown by number
    assert f'data-ticket-id="{first}"' not in (await (await client.get("/?ticket=99999")).text()).split(
        'id="active"')[1][:300]


async def test_after_call_work_pauses_and_the_submitted_intake_resumes(client, services, fake_link):
    token = await login(client, "op1")
    assert (await client.post("/api/me/presence", json={"presence": "ready"},
                              headers={"X-CSRF-Token": token})).status == 200
    ticket_id = await answered(services, "w.1")
    await ended(services, "w.1")
    def pauses():
        return [(a.get("Paused"), a.get("Reason")) for a in fake_link.sent if a.name == "QueuePause"]

    await until(lambda: pauses() == [("true", "wrap-up")])
    await settle(services)
    page = await (await client.get("/")).text()
    assert "Pasca-panggilan (ACW)" in page and 'id="wrapup-active"' in page
    assert 'data-wrap-up="true"' in page
    board = await (await client.get("/panel/board")).text()
    assert "Pasca-panggilan (ACW)" in board
    done = await client.post(f"/tickets/{ticket_id}/intake", allow_redirects=False, data={
        "verdict": "information", "note": "Tanya nomor rumah sakit", "action": "submit",
        "csrf_token": _token(page)})
    assert done.status == 303
    await until(lambda: pauses() == [("true", "wrap-up"), ("false", None)])
    await settle(services)
    assert 'id="wrapup-active"' not in await (await client.get("/")).text()


async def test_the_limit_resumes_and_the_desk_warns(client, services, fake_link):
    services.wrapup.rule.limit = 0.05
    token = await login(client, "op1")
    await client.post("/api/me/presence", json={"presence": "ready"}, headers={"X-CSRF-Token": token})
    await answered(services, "w.2")
    await ended(services, "w.2")
    await until(lambda: [a.get("Paused") for a in fake_link.sent if a.name == "QueuePause"] == ["true", "false"])
    await settle(services)
    page = await (await client.get("/")).text()
    assert 'id="wrapup-expired"' in page and "Waktu pasca-panggilan Anda habis" in page


async def test_after_escalation_the_caller_card_and_a_notes_field_stay(client, services):
    token = await login(client, "op1")
    ticket_id = await answered(services, "e.1")
    done = await client.post(f"/api/tickets/{ticket_id}/complete", headers={"X-CSRF-Token": token}, json={
        "verdict": "normal", "caller_name": "Budi", "callback_number": "081234567890",
        "address": "Jl. Merdeka 1", "category": "fire", "description": "Rumah terbakar"})
    assert (await done.json())["state"] == "escalated"
    await settle(services)
    page = await (await client.get("/")).text()
    followup = page.split('id="followup"')[1].split('id="active"')[0]
    assert "081234567890" in followup and 'name="call_note"' in followup
    empty = await client.post(f"/tickets/{ticket_id}/note", allow_redirects=False,
                              data={"call_note": " ", "csrf_token": _token(page)})
    assert (empty.status, empty.headers["Location"]) == (303, "/")
    assert 'id="error-summary"' in await (await client.get("/")).text()
    added = await client.post(f"/tickets/{ticket_id}/note", allow_redirects=False,
                              data={"call_note": "Api sudah sampai lantai tiga", "csrf_token": _token(page)})
    assert added.status == 303
    audit = [(a.actor, a.action, a.changes) for a in await services.store.audit(ticket_id)]
    assert audit[-1] == ("op1", "call_note", {"note": "Api sudah sampai lantai tiga"})
    assert (await services.store.get(ticket_id)).state == "escalated"
    # once the caller hangs up the follow-up goes
    await ended(services, "e.1")
    assert 'id="followup"' not in await (await client.get("/")).text()
