"""The audit trail as the dispatcher reads it: every action translated, details as key: value
(no raw names, no JSON), times in the center's zone ("… WIB"), and who acted in which role."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from dispatch_helpers import login, make_ticket

from ngcc112.ami import events
from ngcc112.panel import dispatch_labels
from ngcc112.panel.dispatch_labels import AUDIT_ACTION_LABELS
from ngcc112.panel.dispatch.audit import AuditReader
from ngcc112.tickets.models import AuditEntry

SRC = Path(dispatch_labels.__file__).resolve().parents[1]


def _written_actions() -> set[str]:
    """Every audit action name the code writes (literals at the places that write audit rows)."""
    found = {"".join("_" + c.lower() if c.isupper() else c for c in cls.__name__).lstrip("_")
             for cls in vars(events).values()
             if isinstance(cls, type) and issubclass(cls, events.CallEvent) and cls is not events.CallEvent}
    # the calls may be spread over lines (ruff format): any whitespace between the arguments
    patterns = (r'_Step\(\s*session,\s*ticket,\s*actor,\s*"(\w+)",?\s*\)',
                r'(?<!\w)_?audit\(\s*session,\s*\w+,\s*\w+,\s*"(\w+)"',
                r'self\._audit\(\s*\w+,\s*[\w.]+,\s*"(\w+)"', r'action="(\w+)"', r'^ACTION = "(\w+)"',
                r'action = "(\w+)" if .* else "(\w+)"')
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "AuditEntry" not in text and "audit(" not in text and "_Step(" not in text:
            continue
        for pattern in patterns:
            for match in re.finditer(pattern, text, flags=re.M):
                found.update(g for g in match.groups() if g)
    return found - {"store_true"}


def test_every_written_action_has_a_translated_label():
    written = _written_actions()
    assert {"call_variables", "operator_ringing", "dispatch", "close", "location_accepted", "aml_received",
            "recovered", "scored", "callback_result", "intake_saved"} <= written
    assert written - set(AUDIT_ACTION_LABELS) == set()


def test_details_are_readable_key_value_text_in_local_time():
    reader = AuditReader(lambda text: {"Status": "Status", "Sent": "Terkirim", "On scene": "Di lokasi",
                                       "Agency": "Instansi", "Closed": "Ditutup"}.get(text, text),
                         "Asia/Jakarta", {"dispatcher": "dispatcher"})
    entry = AuditEntry(ticket_id=1, at=datetime(2026, 12, 1, 12, 5, 3, tzinfo=timezone.utc), actor="dispatcher",
                       action="dispatch_status", from_state="dispatched", to_state="on_scene",
                       changes={"agency": "damkar", "status": {"from": "sent", "to": "on_scene"},
                                "closed_at": "2026-12-01T12:06:00+00:00", "variables": {"NGCC112_TRUNK": "pstn"},
                                "abandoned": False, "ghost_score": 0.125})
    row = reader.row(entry)
    assert row["at_local"] == "2026-12-01 19:05:03 WIB"
    assert row["action_label"] == "Status update" and row["actor_label"] == "Dispatcher"
    details = {d["key"]: (d["label"], d["text"]) for d in row["details"]}
    assert details["agency"] == ("Instansi", "damkar")
    assert details["status"] == ("Status", "Terkirim → Di lokasi")
    assert details["closed_at"] == ("Ditutup", "2026-12-01 19:06:00 WIB")
    assert details["variables"] == ("Call details", "NGCC112_TRUNK: pstn")  # a channel variable as Asterisk names it
    assert details["abandoned"][1] == "No" and details["ghost_score"][1] == "0.12"


async def test_the_ticket_page_shows_the_trail_translated_and_in_local_time(client, services):
    ticket = await make_ticket(services)
    token = await login(client, "dispatcher")
    await client.post(f"/api/dispatch/tickets/{ticket}/dispatch", json={"agencies": ["damkar"],
                                                                        "instructions": "Bawa tangga"},
                      headers={"X-CSRF-Token": token})
    async with services.sessions.begin() as session:
        session.add(AuditEntry(ticket_id=ticket, at=datetime(2026, 12, 1, 12, 5, 3, tzinfo=timezone.utc),
                               actor="asterisk", action="call_variables", from_state="new", to_state="new",
                               changes={"variables": {"NGCC112_TRUNK": "pstn"}}))
        session.add(AuditEntry(ticket_id=ticket, at=datetime(2026, 12, 1, 12, 5, 4, tzinfo=timezone.utc),
                               actor="asterisk", action="operator_ringing", from_state="new", to_state="new",
                               changes={"ringing_interface": "PJSIP/op1"}))
    html = await (await client.get(f"/dispatch/tickets/{ticket}")).text()
    trail = html[html.index('id="audit"'):]
    assert "2026-12-01 19:05:03 WIB" in trail
    assert not re.search(r">[0-9]{4}-[0-9]{2}-[0-9]{2}T", trail)  # no UTC ISO time shown
    assert "Rincian panggilan dari Asterisk" in trail and "Telepon operator berdering" in trail
    assert '<td class="action">Diteruskan ke OPD/Instansi</td>' in trail
    assert "<dt>Instruksi</dt><dd>Bawa tangga</dd>" in trail
    assert "dispatcher <span class=\"muted actor-role\">(Dispatcher)</span>" in trail
    assert "asterisk <span class=\"muted actor-role\">(Sistem)</span>" in trail
    assert "call_variables</td>" not in trail and "operator_ringing</td>" not in trail
    assert "{&#34;" not in trail and '{"' not in trail  # no JSON
    data = await (await client.get(f"/api/dispatch/tickets/{ticket}")).json()
    [row] = [a for a in data["audit"] if a["action"] == "call_variables"]
    assert row["at_local"] == "2026-12-01 19:05:03 WIB" and row["action_label"] == "Rincian panggilan dari Asterisk"
    assert row["changes"] == {"variables": {"NGCC112_TRUNK": "pstn"}}  # the raw record stays in the API


async def test_a_position_typed_by_the_dispatcher_says_so(client, services):
    ticket = await make_ticket(services)
    token = await login(client, "dispatcher")
    response = await client.post(f"/api/tickets/{ticket}/location/manual",
                                 json={"latitude": -6.9147, "longitude": 107.6098, "address": "Alun-alun"},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200, await response.text()
    html = await (await client.get(f"/panel/tickets/{ticket}/location")).text()
    assert '<span class="loc-source" data-source="manual">Diketik dispatcher</span>' in html
    assert '<span class="loc-typed-by muted">(dispatcher)</span>' in html
    assert "Diketik operator" not in html
