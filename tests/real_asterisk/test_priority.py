"""Queue priority and withdraw on a real Asterisk: the daemon's only steering, and what it records."""

from __future__ import annotations

from .ami_listener import AmiListener
from .conftest import OPERATOR_QUEUE, PHONE_PASSWORDS, SUPERVISOR_QUEUE, device_reachable, queue_add
from .daemon import Daemon
from .sipp import DTMF_5, Caller, Sip


def queue_entries(ami: AmiListener, queue: str = OPERATOR_QUEUE) -> dict[str, dict[str, str]]:
    return {f.get("CallerIDNum"): {"position": f.get("Position"), "priority": f.get("Priority")}
            for f in ami.action("QueueStatus", Queue=queue) if f.event == "QueueEntry"}


def test_a_caller_who_pressed_5_is_moved_ahead_and_answered_first(ami: AmiListener, sip: Sip,
                                                                  daemon: Daemon) -> None:
    waiting = sip.call(Caller(number="5555101", name="Sudah Menunggu", hold_ms=60000))
    ami.wait_event("QueueCallerJoin", timeout=20, CallerIDNum="5555101")
    silent = sip.call(Caller(number="5555102", name="Tidak Bisa Bicara", hold_ms=60000, pcap=DTMF_5))
    join = ami.wait_event("QueueCallerJoin", timeout=20, CallerIDNum="5555102")[0]
    assert join.get("Position") == "2"
    linkedid = join.get("Linkedid")

    # the daemon raises the caller who cannot speak: Asterisk's queue shows it first
    ami.wait(lambda: queue_entries(ami).get("5555102", {}).get("position") == "1", 20,
             "the caller who pressed 5 to be first in the queue")
    assert queue_entries(ami)["5555102"]["priority"] == "10"
    ticket = daemon.wait_ticket(linkedid, score_reasons=bool)
    assert "silent_digit" in [reason["code"] for reason in ticket["score_reasons"]]

    sip.phone("op1", PHONE_PASSWORDS["op1"], ring_ms=300, talk_ms=1500)
    device_reachable(ami, "PJSIP/op1")
    queue_add(ami, "PJSIP/op1")
    first = ami.wait_event("AgentConnect", timeout=30, Interface="PJSIP/op1")[0]
    assert first.get("Linkedid") == linkedid
    daemon.wait_ticket(linkedid, operator_interface="PJSIP/op1")
    silent.kill()
    waiting.kill()


def test_a_withdrawn_caller_is_recorded_as_withdrawn_and_taken_by_the_supervisors(
        ami: AmiListener, sip: Sip, daemon: Daemon) -> None:
    caller = sip.call(Caller(number="5555201", name="Ditarik", hold_ms=16000))
    join = ami.wait_event("QueueCallerJoin", timeout=20, CallerIDNum="5555201")[0]
    linkedid = join.get("Linkedid")
    daemon.wait_ticket(linkedid, queued_at=bool)
    answer = ami.action("QueueWithdrawCaller", Queue=OPERATOR_QUEUE, Caller=join.get("Channel"),
                        WithdrawInfo="ngcc-test")[0]
    assert answer.response == "Success", answer.pairs
    ami.wait_event("QueueCallerJoin", timeout=10, Linkedid=linkedid, Queue=SUPERVISOR_QUEUE)
    ticket = daemon.wait_ticket(linkedid, withdrawn=1)
    assert ticket["abandoned"] == 0, "still waiting in the supervisors' queue: not a callback candidate"
    assert ticket["queue"] == SUPERVISOR_QUEUE
    assert caller.wait(30) == 0, caller.errors()  # then the caller gives up
    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["withdrawn"] == 1 and ticket["abandoned"] == 1
    assert ticket["answered_at"] is None
