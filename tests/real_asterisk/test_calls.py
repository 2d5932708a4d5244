"""Real SIP calls through the shipped dialplan: every call gets the ticket Asterisk's own events describe."""

from __future__ import annotations

from .ami_listener import AmiListener
from .conftest import PHONE_PASSWORDS, device_reachable, queue_add
from .daemon import Daemon
from .sipp import DTMF_5, Caller, Sip, wait_all


def the_call(ami: AmiListener, since: int, number: str) -> tuple[str, dict[str, str]]:
    """The Linkedid and facts of the one call from ``number`` that Asterisk reported."""
    calls = {lid: call for lid, call in ami.calls(since=since).items() if call["number"] == number}
    assert len(calls) == 1, f"Asterisk reported {len(calls)} calls from {number}: {calls}"
    return next(iter(calls.items()))


def test_an_answered_call_is_ticketed_with_the_operator_who_answered(ami: AmiListener, sip: Sip,
                                                                     daemon: Daemon) -> None:
    sip.phone("op1", PHONE_PASSWORDS["op1"], ring_ms=500, talk_ms=3000)
    device_reachable(ami, "PJSIP/op1")
    queue_add(ami, "PJSIP/op1")
    mark = ami.mark()
    caller = sip.call(Caller(number="5550101", name="Anrufer Eins", hold_ms=20000))
    ami.wait_event("AgentConnect", timeout=30, Interface="PJSIP/op1")
    assert caller.wait(40) == 0, caller.errors()
    linkedid, call = the_call(ami, mark, "5550101")
    assert call["answered_by"] == "PJSIP/op1"

    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["caller_number"] == "5550101"
    assert ticket["caller_name"] == "Anrufer Eins"
    assert ticket["operator_interface"] == "PJSIP/op1"
    assert ticket["answered_at"] is not None and ticket["queued_at"] is not None
    assert ticket["abandoned"] == 0
    assert ticket["exten"] == "112"


def test_a_caller_who_gives_up_in_the_queue_is_an_abandoned_ticket(ami: AmiListener, sip: Sip,
                                                                   daemon: Daemon) -> None:
    mark = ami.mark()
    caller = sip.call(Caller(number="5550202", name="Menunggu", hold_ms=9000))
    ami.wait_event("QueueCallerJoin", timeout=20, CallerIDNum="5550202")
    assert caller.wait(30) == 0, caller.errors()
    linkedid, call = the_call(ami, mark, "5550202")
    assert call.get("abandoned") == "1"

    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["abandoned"] == 1
    assert ticket["queued_at"] is not None
    assert ticket["answered_at"] is None


def test_a_hang_up_during_the_silent_call_prompt_still_has_its_ticket(ami: AmiListener, sip: Sip,
                                                                      daemon: Daemon) -> None:
    mark = ami.mark()
    caller = sip.call(Caller(number="5551301", name="Hantu Senyap", hold_ms=1200))
    assert caller.wait(20) == 0, caller.errors()
    linkedid, call = the_call(ami, mark, "5551301")
    ami.wait_event("Hangup", timeout=10, Linkedid=linkedid)
    assert "queue" not in call, "the caller hung up during the prompt: Asterisk never queued the call"

    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["queued_at"] is None
    assert ticket["abandoned"] == 1


def test_digit_5_during_the_prompt_marks_the_caller_who_cannot_speak(ami: AmiListener, sip: Sip,
                                                                     daemon: Daemon) -> None:
    mark = ami.mark()
    caller = sip.call(Caller(number="5550702", name="Stiller SIP", hold_ms=9000, pcap=DTMF_5, pcap_after_ms=1000))
    ami.wait_event("DTMFEnd", timeout=20, Digit="5")
    assert caller.wait(30) == 0, caller.errors()
    linkedid, _ = the_call(ami, mark, "5550702")
    assert ami.events("VarSet", Variable="NGCC_SILENT_DIGIT", Value="5", Linkedid=linkedid)

    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["silent_digit"] == "5"


def test_a_pidf_lo_location_in_the_invite_reaches_the_ticket(ami: AmiListener, sip: Sip, daemon: Daemon) -> None:
    mark = ami.mark()
    caller = sip.call(Caller(number="5551201", name="Lokasi Test", hold_ms=7000,
                             location=("-6.2000", "106.8166", "50")))
    assert caller.wait(30) == 0, caller.errors()
    linkedid, _ = the_call(ami, mark, "5551201")
    geo = ami.events("VarSet", Variable="NGCC_GEO_LOCATION", Linkedid=linkedid)
    assert geo, "Asterisk read no location from the INVITE"
    # AMI C-escapes the value: the quotes arrive as \"
    assert geo[0].get("Value") == r'shape=\"Circle\",crs=\"2d\",pos=\"-6.2000 106.8166\",radius=\"50\"'

    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["variables"]["NGCC_GEO_LOCATION"] == 'shape="Circle",crs="2d",pos="-6.2000 106.8166",radius="50"'
    assert ticket["variables"]["NGCC_GEO_METHOD"] == "GPS"


def test_ten_concurrent_calls_get_ten_tickets(ami: AmiListener, sip: Sip, daemon: Daemon) -> None:
    mark = ami.mark()
    callers = sip.call(Caller(number="55510[call_number]", name="Serentak", hold_ms=8000), calls=10, rate=10)
    ami.wait_event("QueueCallerJoin", timeout=30, count=10)
    assert callers.wait(60) == 0, callers.errors()
    calls = {lid: c for lid, c in ami.calls(since=mark).items() if c["number"].startswith("55510")}
    assert len(calls) == 10
    for linkedid, call in calls.items():
        ticket = daemon.wait_ticket(linkedid, ended_at=bool)
        assert ticket["caller_number"] == call["number"]
        assert ticket["abandoned"] == 1
    numbers = [t["caller_number"] for t in daemon.tickets() if t["linkedid"] in calls]
    assert sorted(numbers) == sorted(c["number"] for c in calls.values())


def test_ring_no_answer_moves_on_to_the_next_operator(ami: AmiListener, sip: Sip, daemon: Daemon) -> None:
    sip.phone("op1", PHONE_PASSWORDS["op1"], answers=False)
    sip.phone("op2", PHONE_PASSWORDS["op2"], ring_ms=500, talk_ms=2000)
    for op in ("op1", "op2"):
        device_reachable(ami, f"PJSIP/{op}")
        queue_add(ami, f"PJSIP/{op}")
    mark = ami.mark()
    caller = sip.call(Caller(number="5550901", name="Klingel Test", hold_ms=45000))
    connect = ami.wait_event("AgentConnect", timeout=60)
    assert caller.wait(60) == 0, caller.errors()
    linkedid, call = the_call(ami, mark, "5550901")
    no_answer = ami.events("AgentRingNoAnswer", Linkedid=linkedid)

    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["operator_interface"] == call["answered_by"] == connect[0].get("Interface")
    if no_answer:  # rrmemory may start with either phone: op1 never answers
        assert no_answer[0].get("Interface") == "PJSIP/op1"
        assert ticket["operator_interface"] == "PJSIP/op2"


def test_every_call_has_exactly_one_ticket(ami: AmiListener, sip: Sip, daemon: Daemon) -> None:
    mark = ami.mark()
    first = sip.call(Caller(number="5557001", name="Satu", hold_ms=5000))
    second = sip.call(Caller(number="5557002", name="Dua", hold_ms=5000))
    wait_all([first, second], 30)
    calls = ami.calls(since=mark)
    for linkedid in calls:
        daemon.wait_ticket(linkedid, ended_at=bool)
    linkedids = [t["linkedid"] for t in daemon.tickets()]
    assert len(linkedids) == len(set(linkedids))
    assert set(calls) <= set(linkedids)
