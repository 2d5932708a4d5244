"""The fan-out's codec: every carried hub event survives the trip, and no payload passes NOTIFY's limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngcc112.ami.events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallsResynced,
    MembersResynced,
    MemberState,
    OperatorRinging,
)
from ngcc112.cluster.wire import KINDS, PAYLOAD_LIMIT, Codec, Envelope, TooLarge, UnknownKind
from ngcc112.tickets.store import TicketChanged
from ngcc112.wrapup import WrapUpChanged

codec = Codec({**KINDS, "wrap_up_changed": WrapUpChanged})
carried, encode, decode = codec.carried, codec.encode, codec.decode
text = st.text(max_size=40)
when = st.datetimes(timezones=st.just(UTC))
maybe_int = st.none() | st.integers(-(2**31), 2**31)
maybe_float = st.none() | st.floats(allow_nan=False, allow_infinity=False)
members = st.builds(
    MemberState,
    at=when,
    queue=text,
    interface=text,
    member_name=text,
    in_queue=st.booleans(),
    paused=st.booleans(),
    pause_reason=text,
    status=maybe_int,
    last_pause=maybe_float,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=10,
)
events = st.one_of(
    st.builds(
        CallArrived,
        call_id=text,
        at=when,
        channel=text,
        uniqueid=text,
        caller_number=st.none() | text,
        caller_name=st.none() | text,
        exten=text,
        adopted=st.booleans(),
    ),
    st.builds(OperatorRinging, call_id=text, at=when, queue=text, interface=text, member_name=text),
    st.builds(
        CallConnected, call_id=text, at=when, queue=text, interface=text, member_name=text, waited_seconds=maybe_float
    ),
    st.builds(CallEnded, call_id=text, at=when, cause=maybe_int, cause_text=text, unobserved=st.booleans()),
    st.builds(CallAbandoned, call_id=text, at=when, queue=text, position=maybe_int, waited_seconds=maybe_float),
    st.builds(CallsResynced, at=when, live_call_ids=st.frozensets(text, max_size=5)),
    members,
    st.builds(MembersResynced, at=when, members=st.lists(members, max_size=4).map(tuple)),
    st.builds(WrapUpChanged, interface=text, state=st.sampled_from(["paused", "resumed", "expired"]), at=when),
    st.builds(
        TicketChanged,
        ticket_id=st.integers(1, 2**31),
        linkedid=text,
        action=text,
        at=when,
        state=text,
        changes=st.dictionaries(text, json_values, max_size=5),
        opened=st.booleans(),
    ),
)


@given(origin=text, seq=st.integers(0, 2**62), event=events)
def test_every_carried_event_round_trips_within_the_limit(origin: str, seq: int, event: Any) -> None:
    assert carried(event)
    payload = encode(Envelope(origin, seq, event))
    assert len(payload.encode()) <= PAYLOAD_LIMIT
    assert decode(payload) == Envelope(origin, seq, event)


def test_a_ticket_change_too_large_travels_as_a_reference() -> None:
    at = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
    change = TicketChanged(7, "1700.1", "intake", at, "open", changes={"notes": "x" * 9000})
    got = decode(encode(Envelope("a", 3, change)))
    assert got.ref is True
    assert got.event == TicketChanged(7, "1700.1", "intake", at, "open", changes={})


def test_another_event_too_large_is_refused_not_cut() -> None:
    at = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
    with pytest.raises(TooLarge):
        encode(Envelope("a", 1, CallsResynced(at, frozenset(f"call-{i:06d}" for i in range(1000)))))


def test_an_unknown_kind_is_named() -> None:
    with pytest.raises(UnknownKind):
        decode('{"o":"b","s":1,"k":"from_the_future","e":{}}')


def test_what_is_not_an_event_is_not_carried() -> None:
    assert not carried("hello")
    assert not carried(object())


def test_the_default_codec_leaves_the_runtime_kinds_to_the_composition_root() -> None:
    at = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
    assert not Codec().carried(WrapUpChanged("PJSIP/op1", "paused", at))
