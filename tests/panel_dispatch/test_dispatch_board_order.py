"""The dispatcher board, ordered by what needs action: awaiting dispatch first (above the map),
then an agency that cannot handle, then dispatches overdue for acknowledgement or arrival
(the [sla] acknowledge / arrival targets), each with colour and a text label."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dispatch_helpers import login, make_ticket

from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.center_time import local_time


def h(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


async def _dispatch(client, token: str, ticket: int, *codes: str) -> dict[str, int]:
    data = await (await client.post(f"/api/dispatch/tickets/{ticket}/dispatch", json={"agencies": list(codes)},
                                    headers=h(token))).json()
    return {d["agency"]: d["id"] for d in data["dispatches"]}


def _clock(client, seconds_later: float) -> None:
    then = datetime.now(timezone.utc) + timedelta(seconds=seconds_later)
    client.server.app[DISPATCH].now = lambda: then


async def test_overdue_acknowledgement_and_arrival_follow_the_targets_on_an_injected_clock(
        client, other_client, services):
    first = await make_ticket(services)
    second = await make_ticket(services)
    token = await login(client, "dispatcher")
    ids = await _dispatch(client, token, first, "damkar")
    ids.update(await _dispatch(client, token, second, "psc119"))
    agency = await other_client()
    agency_token = await login(agency, "agency2")  # psc119
    assert (await agency.post(f"/api/agency/dispatches/{ids['psc119']}/acknowledge",
                              headers=h(agency_token))).status == 200

    _clock(client, 60)  # within both targets (120 s, 900 s)
    board = await (await client.get("/api/dispatch/board")).json()
    assert board["attention"] == []
    assert (board["targets"]["acknowledge"], board["targets"]["arrival"]) == (120.0, 900.0)

    _clock(client, 200)  # damkar never acknowledged; psc119 did
    board = await (await client.get("/api/dispatch/board")).json()
    assert [(a["kind"], a["agency"]) for a in board["attention"]] == [("overdue_acknowledgement", "damkar")]
    incident = next(i for i in board["incidents"] if i["id"] == first)
    assert incident["overdue"] and incident["dispatches"][0]["ack_overdue"]

    _clock(client, 1000)  # now nobody is on scene either: damkar still listed once, as unacknowledged
    board = await (await client.get("/api/dispatch/board")).json()
    assert [(a["kind"], a["agency"]) for a in board["attention"]] == [
        ("overdue_acknowledgement", "damkar"), ("overdue_arrival", "psc119")]
    html = await (await client.get("/dispatch")).text()
    row = html[html.index(f'id="attention-overdue_arrival-{ids["psc119"]}"'):]
    assert 'class="attention attention-overdue_arrival"' in html
    assert "Belum tiba di lokasi tepat waktu" in row[:row.index("</tr>")]
    assert "Belum dikonfirmasi tepat waktu" in html
    page = await (await client.get(f"/dispatch/tickets/{first}")).text()
    row = page[page.index('id="dispatch-damkar"'):]
    row = row[:row.index("</tr>")]
    assert 'class="status-sent late"' in row and "Belum dikonfirmasi tepat waktu" in row


async def test_the_board_puts_awaiting_dispatch_first_then_cannot_handle_then_overdue(
        client, other_client, services):
    waiting = await make_ticket(services, entered_ago=30)
    older = await make_ticket(services, entered_ago=300)
    refused = await make_ticket(services)
    late = await make_ticket(services)
    token = await login(client, "dispatcher")
    ids = await _dispatch(client, token, refused, "damkar")
    await _dispatch(client, token, late, "polisi")
    agency = await other_client()
    agency_token = await login(agency, "agency")  # damkar
    response = await agency.post(f"/api/agency/dispatches/{ids['damkar']}/status",
                                 json={"status": "cannot_handle", "reason": "Mobil tangga rusak"},
                                 headers=h(agency_token))
    assert response.status == 200, await response.text()
    _clock(client, 200)
    board = await (await client.get("/api/dispatch/board")).json()
    assert [(a["kind"], a["ticket_id"]) for a in board["attention"]] == [
        ("awaiting_dispatch", older), ("awaiting_dispatch", waiting), ("cannot_handle", refused),
        ("overdue_acknowledgement", late)]
    html = await (await client.get("/dispatch")).text()
    order = [html.index(marker) for marker in (
        'id="escalated-title"', f'id="escalated-{older}"', f'id="escalated-{waiting}"', 'id="attention-title"',
        f'id="attention-cannot_handle-{ids["damkar"]}"', 'id="attention-overdue_acknowledgement-',
        'id="waiting-title"', 'id="incidents-title"', 'id="board-map-details"', 'id="loc-board"')]
    assert order == sorted(order)  # awaiting dispatch on top; the map folded away at the bottom
    assert html.index('id="loc-board"') > html.index('<details class="board-map"')
    row = html[html.index(f'id="attention-cannot_handle-{ids["damkar"]}"'):]
    row = row[:row.index("</tr>")]
    assert "attention-cannot_handle" in html and "Instansi tidak dapat menangani" in row  # a label, not colour alone
    assert "Mobil tangga rusak" in row
    incident = html[html.index(f'id="incident-{refused}"'):]
    assert 'class="dispatch-status status-cannot_handle"' in incident[:incident.index("</tr>")]
    assert f'data-action-key="ticket-{waiting}"' in html  # what the page's beep listens for
    assert " WIB</time>" in html  # the attention list's and the callbacks' times in the center's zone
    page = await (await client.get(f"/dispatch/tickets/{refused}")).text()
    row = page[page.index('id="dispatch-damkar"'):]
    row = row[:row.index("</tr>")]
    assert 'class="status-cannot_handle"' in row and "Tidak dapat menangani" in row and "Mobil tangga rusak" in row


def test_local_time_is_the_centers_zone_with_its_abbreviation():
    at = datetime(2026, 12, 1, 12, 5, 3, tzinfo=timezone.utc)
    assert local_time(at, "Asia/Jakarta") == "2026-12-01 19:05:03 WIB"
    assert local_time(at.isoformat(), "Asia/Makassar") == "2026-12-01 20:05:03 WITA"
    assert local_time(at.replace(tzinfo=None), "Asia/Jayapura") == "2026-12-01 21:05:03 WIT"
    assert local_time(None) == "—"
