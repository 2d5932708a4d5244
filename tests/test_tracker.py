"""The call tracker as a pure state machine: surprising input, resync, idempotency."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ngcc112.ami.events import (
    CallArrived,
    CallConnected,
    CallEnded,
    CallQueued,
    CallsResynced,
    MembersResynced,
)
from ngcc112.ami.message import AmiMessage
from ngcc112.ami.calls import member_interface
from ngcc112.ami.tracker import CallTracker

T0 = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)


def msg(name: str, at: float = 0.0, **fields: str) -> AmiMessage:
    pairs = [("Event", name), *((k, v) for k, v in fields.items())]
    return AmiMessage.from_pairs(pairs, T0 + timedelta(seconds=at))


def caller(name: str, uid: str, linkedid: str | None = None, at: float = 0.0, context: str = "from-pstn",
           exten: str = "112", **extra: str) -> AmiMessage:
    return msg(name, at, Channel=f"PJSIP/caller1-{uid[-4:]}", Uniqueid=uid, Linkedid=linkedid or uid,
               Context=context, Exten=exten, CallerIDNum="081234", CallerIDName="Budi", **extra)


def tracker(**kw) -> CallTracker:
    return CallTracker(context="from-pstn", extensions=["112", "113"], queues=["ngcc112-operators"], **kw)


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


def test_events_for_unknown_channels_are_ignored_not_fatal():
    t = tracker()
    for name in ("Hangup", "QueueCallerJoin", "AgentConnect", "VarSet", "ChannelTalkingStart", "DTMFEnd",
                 "NewCallerid", "QueueCallerAbandon", "AgentCalled", "Newexten"):
        assert t.feed(caller(name, "99.1")) == []
    assert t.live_calls == frozenset()


def test_a_repeated_newchannel_opens_one_call():
    t = tracker()
    first = t.feed(caller("Newchannel", "1.1"))
    again = t.feed(caller("Newchannel", "1.1"))
    assert kinds(first) == ["CallArrived"] and again == []


def test_non_emergency_channels_are_not_calls_until_they_enter_the_112_flow():
    t = tracker()
    assert t.feed(msg("Newchannel", Channel="PJSIP/op1-0001", Uniqueid="2.1", Linkedid="2.1",
                      Context="operators", Exten="112")) == []
    events = t.feed(msg("Newexten", 0.1, Channel="PJSIP/op1-0001", Uniqueid="2.1", Linkedid="2.1",
                        Context="from-pstn", Extension="112", Application="NoOp"))
    assert kinds(events) == ["CallArrived"]


def test_a_number_the_settings_do_not_list_is_still_a_call_once_the_dialplan_marks_it():
    t = tracker()
    assert t.feed(caller("Newchannel", "11.1", exten="0215551234")) == []
    events = t.feed(caller("VarSet", "11.1", at=0.2, exten="0215551234", Variable="__NGCC_CALL", Value="1"))
    assert kinds(events) == ["CallArrived"] and events[0].exten == "0215551234"
    assert t.feed(caller("VarSet", "11.1", at=0.3, Variable="__NGCC_CALL", Value="1")) == []


def test_other_emergency_numbers_are_followed_too():
    assert kinds(tracker().feed(caller("Newchannel", "3.1", exten="113"))) == ["CallArrived"]


def test_an_operator_leg_hanging_up_does_not_end_the_call():
    t = tracker()
    t.feed(caller("Newchannel", "4.1"))
    t.feed(msg("Newchannel", Channel="PJSIP/op1-0002", Uniqueid="4.2", Linkedid="4.1", Context="operators", Exten="s"))
    assert t.feed(msg("Hangup", 1, Uniqueid="4.2", Linkedid="4.1", Cause="16")) == []
    ended = t.feed(caller("Hangup", "4.1", at=2, Cause="16"))
    assert kinds(ended) == ["CallEnded"] and ended[0].cause == 16


def test_agent_connect_after_abandon_is_ignored_and_only_one_connect_counts():
    t = tracker()
    t.feed(caller("Newchannel", "5.1"))
    t.feed(caller("QueueCallerJoin", "5.1", at=1, Queue="ngcc112-operators", Position="1"))
    connected = t.feed(caller("AgentConnect", "5.1", at=3, Queue="ngcc112-operators", Interface="PJSIP/op1",
                              MemberName="op1", HoldTime="2"))
    assert kinds(connected) == ["CallConnected"] and connected[0].waited_seconds == 2.0
    assert t.feed(caller("AgentConnect", "5.1", at=4, Interface="PJSIP/op2")) == []
    assert t.feed(caller("QueueCallerAbandon", "5.1", at=5)) == []


def test_the_server_name_prefixes_call_ids():
    (arrived,) = tracker(server_name="ast-a").feed(caller("Newchannel", "6.1"))
    assert arrived.call_id == "ast-a:6.1"


def test_resync_adopts_a_queued_call_and_dates_it_back():
    t = tracker()
    channel = msg("CoreShowChannel", Channel="PJSIP/caller1-0007", Uniqueid="7.1", Linkedid="7.1",
                  Context="from-pstn", Exten="112", Application="Queue", ApplicationData="ngcc112-operators,,,,60",
                  Duration="00:00:42", CallerIDNum="081234", CallerIDName="Budi", BridgeId="")
    now = T0 + timedelta(minutes=5)
    events = t.resync(now, [channel])
    assert kinds(events) == ["CallArrived", "CallsResynced"]
    assert events[0].adopted and events[0].at == now - timedelta(seconds=42)
    entry = msg("QueueEntry", Queue="ngcc112-operators", Position="2", Channel="PJSIP/caller1-0007",
                Uniqueid="7.1", Wait="30")
    member = msg("QueueMember", Queue="ngcc112-operators", Name="op1", Location="PJSIP/op1", Status="1", Paused="1",
                 PausedReason="break")
    queued, members = t.resync_queues(now, [entry, member])
    assert isinstance(queued, CallQueued) and queued.position == 2 and queued.at == now - timedelta(seconds=30)
    assert isinstance(members, MembersResynced)
    assert members.members[0].interface == "PJSIP/op1" and members.members[0].paused
    assert members.members[0].pause_reason == "break"


def test_resync_sees_a_call_answered_while_the_link_was_down():
    t = tracker()
    t.feed(caller("Newchannel", "8.1"))
    t.feed(caller("QueueCallerJoin", "8.1", at=1, Queue="ngcc112-operators", Position="1"))
    snapshot = [
        msg("CoreShowChannel", Channel="PJSIP/caller1-0008", Uniqueid="8.1", Linkedid="8.1", Context="from-pstn",
            Exten="112", Application="Queue", BridgeId="b-1", Duration="00:00:10"),
        msg("CoreShowChannel", Channel="PJSIP/op1-0000001f", Uniqueid="8.2", Linkedid="8.1", Context="operators",
            Exten="112", Application="AppQueue", BridgeId="b-1", Duration="00:00:03"),
    ]
    events = t.resync(T0 + timedelta(seconds=10), snapshot)
    assert kinds(events) == ["CallConnected", "CallsResynced"]
    assert events[0].interface == "PJSIP/op1"


def test_resync_ends_calls_asterisk_no_longer_has_and_never_revives_an_ended_one():
    t = tracker()
    t.feed(caller("Newchannel", "9.1"))
    t.feed(caller("Newchannel", "9.5"))
    t.feed(caller("Hangup", "9.5", at=1, Cause="16"))
    late_snapshot = [msg("CoreShowChannel", Channel="PJSIP/caller1-0095", Uniqueid="9.5", Linkedid="9.5",
                         Context="from-pstn", Exten="112", Duration="00:00:01")]
    events = t.resync(T0 + timedelta(seconds=2), late_snapshot)
    assert kinds(events) == ["CallEnded", "CallsResynced"]
    assert events[0].call_id == "9.1" and events[0].unobserved
    assert events[1] == CallsResynced(at=T0 + timedelta(seconds=2), live_call_ids=frozenset())


def test_one_failing_handler_is_contained(monkeypatch):
    t = tracker()

    def boom(message):
        raise RuntimeError("bug")

    monkeypatch.setitem(t._handlers, "Newchannel", boom)
    assert t.feed(caller("Newchannel", "10.1")) == []


def test_member_interface_strips_the_channel_suffix():
    assert member_interface("PJSIP/op1-0000001a") == "PJSIP/op1"
    assert member_interface("Local/112@from-pstn-00000002;1") == "Local/112@from-pstn-00000002;1"


EVENT_NAMES = ["Newchannel", "Newexten", "NewCallerid", "VarSet", "QueueCallerJoin", "AgentCalled",
               "AgentRingNoAnswer", "AgentConnect", "QueueCallerAbandon", "ChannelTalkingStart",
               "ChannelTalkingStop", "DTMFEnd", "Hangup", "QueueMemberStatus", "Bogus"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(EVENT_NAMES), st.sampled_from(["1.1", "1.2", "2.1"]),
                          st.sampled_from(["1.1", "2.1", ""]),
                          st.sampled_from(["from-pstn", "operators", ""]),
                          st.sampled_from(["112", "s", ""])), max_size=40))
def test_any_event_sequence_is_tolerated_and_each_call_arrives_once_and_ends_once(sequence):
    t = tracker()
    arrived: list[str] = []
    ended: list[str] = []
    for at, (name, uid, linkedid, context, exten) in enumerate(sequence):
        message = msg(name, at, Uniqueid=uid, Linkedid=linkedid, Context=context, Exten=exten,
                      Extension=exten, Channel=f"PJSIP/x-{uid}", Queue="ngcc112-operators",
                      Variable="NGCC_CID_PRES", Value="allowed", Direction="Received", Digit="5")
        for event in t.feed(message):
            if isinstance(event, CallArrived):
                assert event.call_id not in arrived or event.call_id in ended
                arrived.append(event.call_id)
            elif isinstance(event, CallEnded):
                ended.append(event.call_id)
            elif isinstance(event, CallConnected):
                assert event.call_id in arrived
    assert len(ended) <= len(arrived)
    assert set(t.live_calls) <= set(arrived)


def test_agent_complete_reports_the_end_of_the_operators_leg_only_for_an_answered_call():
    t = tracker()
    t.feed(caller("Newchannel", "12.1"))
    assert t.feed(caller("AgentComplete", "12.1", at=1, Queue="ngcc112-operators", Interface="PJSIP/op1",
                         Reason="agent")) == []  # never answered: no operator leg to end
    t.feed(caller("AgentConnect", "12.1", at=2, Queue="ngcc112-operators", Interface="PJSIP/op1",
                  MemberName="op1", HoldTime="1"))
    (done,) = t.feed(caller("AgentComplete", "12.1", at=9, Queue="ngcc112-operators", Interface="PJSIP/op1",
                            Reason="transfer"))
    assert (kinds([done]), done.call_id, done.interface, done.reason) == (
        ["OperatorLegEnded"], "12.1", "PJSIP/op1", "transfer")
    assert t.live_calls == frozenset({"12.1"})  # a transferred caller is still on the line
