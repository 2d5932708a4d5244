"""Caller ID the way callers really send it, stored as they sent it."""

from __future__ import annotations

import pytest

from .ami_listener import AmiListener
from .daemon import Daemon
from .sipp import Caller, Sip, wait_all

LONG_NAME = "".join(f"Name-{n:04d}|" for n in range(10, 210, 10))

#: (what the caller sends, the number, name and presentation the ticket must hold)
VARIANTS: list[tuple[str, Caller, str | None, str | None, str]] = [
    ("anonymous", Caller(number="anonymous", name="Anonymous", withheld=True),
     "anonymous", "Anonymous", "prohib_not_screened"),
    ("withheld, number known", Caller(number="5551101", name="Dewi Lestari", withheld=True),
     "5551101", "Dewi Lestari", "prohib_not_screened"),
    ("UTF-8 name", Caller(number="5551102", name="Budi Śantoso"),
     "5551102", "Budi Śantoso", "allowed_not_screened"),
    ("quotes and a backslash", Caller(number="5551104", name='Pak \\"Budi\\" \\\\ RT 05'),
     "5551104", 'Pak "Budi" \\ RT 05', "allowed_not_screened"),
    ("a +62 mobile number", Caller(number="+6281234567890", name="Rina Seluler"),
     "+6281234567890", "Rina Seluler", "allowed_not_screened"),
    ("a landline", Caller(number="0215551234", name="Kantor Jakarta"),
     "0215551234", "Kantor Jakarta", "allowed_not_screened"),
    ("no caller ID at all", Caller(name=None, no_identity=True),
     None, None, "unavailable"),
]


@pytest.mark.parametrize("label, caller, number, name, presentation", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_caller_id_variant_is_stored_as_the_caller_sent_it(ami: AmiListener, sip: Sip, daemon: Daemon, label: str,
                                                         caller: Caller, number: str | None, name: str | None,
                                                         presentation: str) -> None:
    mark = ami.mark()
    placed = sip.call(Caller(**{**caller.__dict__, "hold_ms": 7000}))
    assert placed.wait(30) == 0, placed.errors()
    calls = ami.calls(since=mark)
    assert len(calls) == 1, calls
    linkedid, call = next(iter(calls.items()))
    ami.wait_event("Hangup", timeout=10, Uniqueid=call["uniqueid"])

    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["caller_number"] == number
    assert ticket["caller_name"] == name
    pres = ami.events("VarSet", Variable="NGCC_CID_PRES", Linkedid=linkedid)
    assert pres and pres[0].get("Value") == presentation
    assert ticket["caller_presentation"] == presentation


def test_a_long_display_name_is_cut_where_asterisk_cuts_it(ami: AmiListener, sip: Sip, daemon: Daemon) -> None:
    mark = ami.mark()
    placed = sip.call(Caller(number="5551103", name=LONG_NAME, hold_ms=2000))
    assert placed.wait(30) == 0, placed.errors()
    linkedid, call = next(iter(ami.calls(since=mark).items()))
    assert call["name"] == LONG_NAME.encode()[:79].decode()  # Asterisk keeps 79 bytes
    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["caller_name"] == call["name"]


def test_seven_variants_at_once_each_keep_their_own_caller(ami: AmiListener, sip: Sip, daemon: Daemon) -> None:
    mark = ami.mark()
    placed = [sip.call(Caller(**{**caller.__dict__, "hold_ms": 7000})) for _, caller, *_ in VARIANTS]
    assert wait_all(placed, 40) == [0] * len(VARIANTS)
    calls = ami.calls(since=mark)
    assert len(calls) == len(VARIANTS)
    stored = {(t["caller_number"], t["caller_name"]) for t in
              (daemon.wait_ticket(linkedid, ended_at=bool) for linkedid in calls)}
    assert stored == {(number, name) for _, _, number, name, _ in VARIANTS}
