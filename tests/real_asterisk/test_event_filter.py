"""The shipped eventfilter on a real Asterisk: the ngcc user gets every event the daemon needs, and only those.

Two AMI clients watch the same calls: the lab's observer (no filter, every event) and one logged
in as ``ngcc`` (the shipped eventfilter lines). What reaches ``ngcc`` must be exactly, in order,
the observer's events that ``ngcc112.ami.needed_events.needed`` keeps — so Asterisk and the
Python mirror of the filter agree on real traffic — and the daemon, which logs in as ``ngcc`` too,
must still ticket each call with everything it found before.
"""

from __future__ import annotations

from ngcc112.ami.message import AmiMessage
from ngcc112.ami.needed_events import needed, needed_names

from .ami_listener import AmiListener, Frame
from .conftest import PHONE_PASSWORDS, device_reachable, queue_add
from .daemon import Daemon
from .sipp import DTMF_5, Caller, Sip


def _ours(frames: list[Frame], linkedids: set[str], interface: str) -> list[tuple[tuple[str, str], ...]]:
    """The events of these calls, and the queue-member events of this operator."""
    return [f.pairs for f in frames if f.event and (f.get("Linkedid") in linkedids or f.get("Interface") == interface
                                                    and f.event.startswith("QueueMember"))]


def _kept(pairs: tuple[tuple[str, str], ...]) -> bool:
    message = AmiMessage.from_pairs(pairs)
    return message is not None and needed(message)


def test_the_ngcc_user_gets_exactly_the_needed_events(ami: AmiListener, ngcc_ami: AmiListener, sip: Sip,
                                                       daemon: Daemon) -> None:
    sip.phone("op1", PHONE_PASSWORDS["op1"], ring_ms=500, talk_ms=2000)
    device_reachable(ami, "PJSIP/op1")
    observer_mark, ngcc_mark = ami.mark(), ngcc_ami.mark()
    queue_add(ami, "PJSIP/op1")
    answered = sip.call(Caller(number="5559101", name="Tersaring", hold_ms=15000, pcap=DTMF_5, pcap_after_ms=1000,
                               location=("-6.2000", "106.8166", "50")))
    ami.wait_event("AgentConnect", timeout=30, Interface="PJSIP/op1")
    assert answered.wait(40) == 0, answered.errors()
    ami.action("QueueRemove", Queue="ngcc112-operators", Interface="PJSIP/op1")
    abandoned = sip.call(Caller(number="5559102", name="Menyerah", hold_ms=9000))
    assert abandoned.wait(30) == 0, abandoned.errors()

    calls = {c["number"]: lid for lid, c in ami.calls(since=observer_mark).items()}
    linkedids = {calls["5559101"], calls["5559102"]}
    for linkedid in linkedids:
        ami.wait_event("Hangup", timeout=15, Linkedid=linkedid)
        ngcc_ami.wait_event("Hangup", timeout=15, Linkedid=linkedid)
    ngcc_ami.wait_event("QueueMemberRemoved", timeout=10, Interface="PJSIP/op1")

    everything = _ours(ami.frames[observer_mark:], linkedids, "PJSIP/op1")
    filtered = _ours(ngcc_ami.frames[ngcc_mark:], linkedids, "PJSIP/op1")
    assert filtered == [pairs for pairs in everything if _kept(pairs)]
    names_seen = {dict(p)["Event"] for p in everything}
    names_passed = {dict(p)["Event"] for p in filtered}
    assert names_passed <= needed_names()
    # what the filter is for: the dialplan's chatter stays in Asterisk
    assert {"Newstate", "DialBegin", "BridgeEnter", "HangupRequest"} <= names_seen - names_passed
    assert len(filtered) < len(everything) / 2

    # and the daemon, logged in as ngcc, still has every fact of both calls
    ticket = daemon.wait_ticket(calls["5559101"], ended_at=bool)
    assert ticket["operator_interface"] == "PJSIP/op1"
    assert ticket["silent_digit"] == "5"
    assert ticket["variables"]["NGCC_GEO_METHOD"] == "GPS"
    assert ticket["queued_at"] is not None and ticket["answered_at"] is not None
    ticket = daemon.wait_ticket(calls["5559102"], ended_at=bool)
    assert ticket["abandoned"] == 1 and ticket["queued_at"] is not None
