"""Fail safe on a real Asterisk: calls reach a human without the daemon; restarts lose no live call."""

from __future__ import annotations

from .ami_listener import AmiListener
from .conftest import OPERATOR_QUEUE, PHONE_PASSWORDS, SUPERVISOR_QUEUE, device_reachable, queue_add
from .daemon import Daemon
from .lab import AsteriskLab, wait_for
from .sipp import Caller, Sip


def test_with_the_daemon_stopped_the_call_still_reaches_an_operator(ami: AmiListener, sip: Sip,
                                                                    daemon: Daemon) -> None:
    sip.phone("op1", PHONE_PASSWORDS["op1"], ring_ms=500, talk_ms=12000)
    device_reachable(ami, "PJSIP/op1")
    queue_add(ami, "PJSIP/op1")
    daemon.stop()

    mark = ami.mark()
    caller = sip.call(Caller(number="5554101", name="Tanpa Daemon", hold_ms=30000))
    connect = ami.wait_event("AgentConnect", timeout=30, Interface="PJSIP/op1")[0]
    linkedid = connect.get("Linkedid")
    assert linkedid in ami.calls(since=mark)

    # back while the caller still talks: the resync adopts the call and opens its ticket
    daemon.start()
    ticket = daemon.wait_ticket(linkedid, operator_interface="PJSIP/op1")
    assert ticket["caller_number"] == "5554101"
    assert caller.wait(40) == 0, caller.errors()
    daemon.wait_ticket(linkedid, ended_at=bool)


def test_a_daemon_killed_mid_call_and_restarted_keeps_exactly_one_ticket(ami: AmiListener, sip: Sip,
                                                                         daemon: Daemon) -> None:
    mark = ami.mark()
    caller = sip.call(Caller(number="5554201", name="Dibunuh", hold_ms=20000))
    join = ami.wait_event("QueueCallerJoin", timeout=20, CallerIDNum="5554201")[0]
    linkedid = join.get("Linkedid")
    daemon.wait_ticket(linkedid, queued_at=bool)

    daemon.kill()  # SIGKILL: no goodbye, no flush
    daemon.start()
    assert caller.wait(40) == 0, caller.errors()
    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["abandoned"] == 1
    assert [t["linkedid"] for t in daemon.tickets()].count(linkedid) == 1
    assert set(ami.calls(since=mark)) == {linkedid}


def test_asterisk_restarted_under_the_daemon(asterisk: AsteriskLab, ami: AmiListener, sip: Sip,
                                             daemon: Daemon) -> None:
    caller = sip.call(Caller(number="5554301", name="Sebelum Restart", hold_ms=60000))
    join = ami.wait_event("QueueCallerJoin", timeout=20, CallerIDNum="5554301")[0]
    before = join.get("Linkedid")
    daemon.wait_ticket(before, queued_at=bool)

    resyncs = daemon.log().count("ami.resynced")
    asterisk.restart_now()
    ami.wait_event("Shutdown", timeout=30, Restart="True")
    # the daemon reconnects and resyncs by itself
    wait_for(lambda: daemon.log().count("ami.resynced") > resyncs, 60, "the daemon to resync after the restart")
    ticket = daemon.wait_ticket(before, ended_at=bool)
    assert ticket["answered_at"] is None
    caller.kill()

    # and the next call is followed as before
    wait_for(lambda: ami.connections >= 2, 30, "the test's own AMI client to reconnect")
    mark = ami.mark()
    after = sip.call(Caller(number="5554302", name="Sesudah Restart", hold_ms=8000))
    assert after.wait(30) == 0, after.errors()
    linkedid = next(iter(ami.calls(since=mark)))
    daemon.wait_ticket(linkedid, ended_at=bool, caller_number="5554302")


def test_a_call_nobody_takes_in_60_s_overflows_to_the_supervisors(ami: AmiListener, sip: Sip,
                                                                   daemon: Daemon) -> None:
    # op3 is only a static member of the supervisors' queue (queues.conf): nobody is in the operators' queue
    sip.phone("op3", PHONE_PASSWORDS["op3"], ring_ms=500, talk_ms=2000)
    device_reachable(ami, "PJSIP/op3")
    mark = ami.mark()
    caller = sip.call(Caller(number="5554401", name="Lama Menunggu", hold_ms=120000))
    first = ami.wait_event("QueueCallerJoin", timeout=20, CallerIDNum="5554401", Queue=OPERATOR_QUEUE)[0]
    linkedid = first.get("Linkedid")
    overflow = ami.wait_event("QueueCallerJoin", timeout=75, Linkedid=linkedid, Queue=SUPERVISOR_QUEUE)[0]
    waited = float(overflow.get("Timestamp")) - float(first.get("Timestamp"))  # Asterisk's own clock
    assert 59 <= waited <= 70, f"overflow after {waited:.1f} s"
    assert ami.events("VarSet", Linkedid=linkedid, Variable="QUEUE_PRIO", Value="10")
    connect = ami.wait_event("AgentConnect", timeout=20, Linkedid=linkedid)[0]
    assert connect.get("Queue") == SUPERVISOR_QUEUE and connect.get("Interface") == "PJSIP/op3"
    assert caller.wait(30) == 0, caller.errors()

    ticket = daemon.wait_ticket(linkedid, ended_at=bool)
    assert ticket["operator_interface"] == "PJSIP/op3"
    assert ticket["abandoned"] == 0
    assert set(ami.calls(since=mark)) == {linkedid}


def test_check_asterisk_passes_against_the_shipped_config(ami: AmiListener, sip: Sip, daemon: Daemon) -> None:
    for op in ("op1", "op2", "op3"):
        sip.phone(op, PHONE_PASSWORDS[op])
    for op in ("op1", "op2", "op3"):
        device_reachable(ami, f"PJSIP/{op}")
    done = daemon.cli("check-asterisk", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "22.10.1" in done.stdout + done.stderr
