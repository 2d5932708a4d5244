"""Location use cases against real tickets: the AML matching window, late matching,
and the rule that an automatic fix never silently replaces an accepted one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from ngcc112.tickets.aml_locations import AmlLocations
from ngcc112.tickets.locations import LocationError, Locations, number_variants
from ngcc112.tickets.models import AuditEntry
from ngcc112.tickets.store import TicketChanged

T0 = datetime(2026, 11, 28, 6, 0, 0, tzinfo=UTC)
#: How a configured sender is recorded (the HTTP layer authenticates it).
GATEWAY = "secret:test-gateway"


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


GEO = {
    "NGCC_GEO_HEADER": "<cid:ngcc-loc-1@caller1.ngcc.test>",
    "NGCC_GEO_LOCATION": 'shape="Circle",crs="2d",pos="-6.2000 106.8166",radius="50"',
    "NGCC_GEO_EFFECTIVE": 'shape="Circle",crs="2d",pos="-6.2000 106.8166",radius="50"',
    "NGCC_GEO_METHOD": "GPS",
    "NGCC_GEO_CONFIDENCE": 'pdf="normal",value="95"',
}


def els(number: str, at, lat: float = -6.17539, lon: float = 106.82715) -> bytes:
    ms = int(at.timestamp() * 1000)
    return urlencode({"v": "3", "emergency_number": "112", "time": ms, "location_time": ms,
                      "location_latitude": lat, "location_longitude": lon,
                      "location_accuracy": 15, "device_number": number}).encode()


def locations(db) -> Locations:
    published: list[TicketChanged] = []
    loc = Locations(db.sessions, published.append, clock=lambda: T0 + minutes(60))
    loc.published = published  # type: ignore[attr-defined]
    return loc


def aml_locations(db, **kwargs) -> AmlLocations:
    """The AML use cases on a fresh :func:`locations`; ``kwargs``: the matching windows."""
    return AmlLocations(locations(db), **kwargs)


@pytest.mark.parametrize("fix_offset, call_minutes, expected", [
    (timedelta(seconds=-20), 2, True),       # positioning started before the call reached us
    (timedelta(seconds=-30), 2, True),       # the border is included
    (timedelta(seconds=-45), 2, False),      # too early: another call
    (minutes(1), 2, True),                   # during the call
    (minutes(2 + 9), 2, True),               # nine minutes after it ended
    (minutes(2 + 10), 2, True),              # the border
    (minutes(2 + 11), 2, False),             # too late
])
async def test_an_aml_fix_is_attached_only_inside_the_window(db, fix_offset, call_minutes, expected):
    ticket_id = await db.call("081234567890", T0, T0 + minutes(call_minutes))
    at = T0 + fix_offset
    receipt = await aml_locations(db).receive_aml(els("+6281234567890", at), "application/x-www-form-urlencoded",
                                                  "http:127.0.0.1", at + timedelta(seconds=1),
                                                  authenticated_as=GATEWAY)
    assert (receipt.ticket_id == ticket_id) is expected
    assert receipt.outcome == ("accepted" if expected else "unmatched")


async def test_the_window_is_configurable(db):
    ticket_id = await db.call("081234567890", T0, T0 + minutes(2))
    at = T0 + minutes(2 + 20)
    aml = aml_locations(db, window_after=minutes(30))
    receipt = await aml.receive_aml(els("+6281234567890", at), "", "", at, authenticated_as=GATEWAY)
    assert receipt.ticket_id == ticket_id


async def test_a_live_call_takes_fixes_however_long_it_lasts(db):
    ticket_id = await db.call("+6281234567890", T0)
    at = T0 + minutes(45)
    receipt = await aml_locations(db).receive_aml(els("081234567890", at), "", "", at, authenticated_as=GATEWAY)
    assert receipt.ticket_id == ticket_id


async def test_of_two_calls_from_one_number_the_fix_goes_to_the_one_it_falls_in(db):
    first = await db.call("081234567890", T0, T0 + minutes(1))
    second = await db.call("081234567890", T0 + minutes(5), T0 + minutes(6))
    at = T0 + minutes(5) + timedelta(seconds=20)
    receipt = await aml_locations(db).receive_aml(els("+6281234567890", at), "", "", at, authenticated_as=GATEWAY)
    assert receipt.ticket_id == second != first


async def test_a_handset_with_a_wrong_clock_is_matched_by_when_we_received_it(db):
    ticket_id = await db.call("081234567890", T0)
    wrong = T0 - timedelta(days=3)
    receipt = await aml_locations(db).receive_aml(els("+6281234567890", wrong), "", "",
                                                  T0 + timedelta(seconds=8), authenticated_as=GATEWAY)
    assert receipt.ticket_id == ticket_id
    # a position dated days ago is not the caller's position now: an operator decides
    assert receipt.outcome == "candidate"
    assert set(receipt.trust.codes) == {"stale", "before_call"}


async def test_another_number_or_no_number_is_never_matched(db):
    await db.call("081234567890", T0)
    aml = aml_locations(db)
    async def receive(number: str):
        return await aml.receive_aml(els(number, T0), "", "", T0, authenticated_as=GATEWAY)

    assert (await receive("+6281299999999")).ticket_id is None
    assert (await receive("")).ticket_id is None
    anonymous = await db.call(None, T0)
    assert anonymous and (await receive("")).ticket_id is None


async def test_an_unmatched_message_is_kept_and_attached_when_its_call_arrives(db):
    aml = aml_locations(db)
    early = T0 - timedelta(seconds=10)
    receipt = await aml.receive_aml(els("+6281234567890", early), "", "", early, authenticated_as=GATEWAY)
    assert receipt.ticket_id is None and receipt.outcome == "unmatched"
    ticket_id = await db.call("081234567890", T0)
    (late,) = await aml.attach_pending_aml(ticket_id)
    assert late.message_id == receipt.message_id and late.ticket_id == ticket_id
    assert late.outcome == "accepted"
    assert (await aml.aml_message(receipt.message_id)).ticket_id == ticket_id
    assert await aml.attach_pending_aml(ticket_id) == []  # only once
    (view,) = await aml.locations.fixes_for(ticket_id)
    assert view.accepted and view.aml_message_id == receipt.message_id


async def test_a_pending_message_from_long_before_the_call_is_not_attached(db):
    aml = aml_locations(db)
    old = T0 - minutes(5)
    await aml.receive_aml(els("+6281234567890", old), "", "", old, authenticated_as=GATEWAY)
    ticket_id = await db.call("081234567890", T0)
    assert await aml.attach_pending_aml(ticket_id) == []


async def test_a_sip_fix_is_accepted_and_repeating_it_changes_nothing(db):
    ticket_id = await db.call("081234567890", T0)
    loc = locations(db)
    view = await loc.record_sip_fix(ticket_id, GEO, at=T0 + timedelta(seconds=1))
    assert view is not None and view.accepted and view.accepted_by == "asterisk"
    assert (view.fix.latitude, view.fix.longitude, view.fix.radius_m) == (-6.2, 106.8166, 50)
    assert view.fix.confidence_pct == 95 and view.fix.method == "GPS"
    assert await loc.record_sip_fix(ticket_id, GEO, at=T0 + timedelta(seconds=1)) is None
    assert await loc.record_sip_fix(ticket_id, {"NGCC_GEO_HEADER": ""}) is None
    assert len(await loc.fixes_for(ticket_id)) == 1


async def test_an_aml_fix_never_silently_replaces_the_accepted_position(db):
    ticket_id = await db.call("081234567890", T0)
    aml = aml_locations(db)
    loc = aml.locations
    sip = await loc.record_sip_fix(ticket_id, GEO, at=T0)
    at = T0 + timedelta(seconds=15)
    receipt = await aml.receive_aml(els("+6281234567890", at), "", "", at, authenticated_as=GATEWAY)
    assert receipt.outcome == "candidate"
    views = {v.id: v for v in await loc.fixes_for(ticket_id)}
    assert views[sip.id].accepted and views[receipt.fix_id].candidate

    # one click: the AML fix becomes the position, the SIP one waits beside it
    accepted = await loc.accept_fix(receipt.fix_id, "op.dewi")
    assert accepted.accepted and accepted.accepted_by == "op.dewi"
    views = {v.id: v for v in await loc.fixes_for(ticket_id)}
    assert views[sip.id].candidate and not views[sip.id].accepted
    assert sum(v.accepted for v in views.values()) == 1

    # the operator types the address in: it wins, the automatic ones stay candidates
    manual = await loc.add_manual_fix(ticket_id, -6.19, 106.82, "Jl. Thamrin 1, depan halte", "op.dewi")
    assert manual.accepted and manual.fix.source == "manual" and manual.address.startswith("Jl.")
    views = {v.id: v for v in await loc.fixes_for(ticket_id)}
    assert views[sip.id].candidate and views[receipt.fix_id].candidate

    # a later AML report does not move the operator's position
    later = T0 + minutes(1)
    again = await aml.receive_aml(els("+6281234567890", later, lat=-6.18), "", "", later,
                                  authenticated_as=GATEWAY)
    assert again.outcome == "candidate"
    assert (await loc.accepted_fix(ticket_id)).id == manual.id

    # a second manual position replaces the first, which is kept but no longer offered
    second = await loc.add_manual_fix(ticket_id, -6.191, 106.821, "Halte Bundaran HI", "op.budi")
    views = {v.id: v for v in await loc.fixes_for(ticket_id)}
    assert views[second.id].accepted and views[manual.id].superseded
    with pytest.raises(LocationError):
        await loc.accept_fix(manual.id, "op.dewi")

    async with db.sessions() as session:
        actions = [a.action for a in (await session.scalars(
            select(AuditEntry).where(AuditEntry.ticket_id == ticket_id).order_by(AuditEntry.id))).all()]
    assert actions.count("location_accepted") == 4 and actions.count("location_fix") == 2
    assert all(change.ticket_id == ticket_id for change in loc.published)


async def test_bad_requests_are_refused_with_a_reason(db):
    ticket_id = await db.call("081234567890", T0)
    loc = locations(db)
    with pytest.raises(LocationError, match="latitude"):
        await loc.add_manual_fix(ticket_id, 95.0, 106.8, "", "op.dewi")
    with pytest.raises(LocationError, match="actor"):
        await loc.add_manual_fix(ticket_id, -6.2, 106.8, "", "")
    with pytest.raises(LocationError, match="no location fix"):
        await loc.accept_fix(999, "op.dewi")
    with pytest.raises(LocationError, match="no ticket"):
        await loc.add_manual_fix(999, -6.2, 106.8, "", "op.dewi")


def test_number_variants_cover_how_asterisk_may_have_stored_the_number():
    assert set(number_variants("+6281234567890")) >= {"+6281234567890", "6281234567890",
                                                      "081234567890"}
    assert number_variants("<unknown>") == ()
    assert number_variants("") == ()
