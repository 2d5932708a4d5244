"""What the daemon and ``check-asterisk`` assume of Asterisk, asked of the real one.

Each of these was read from documentation or old source before; here Asterisk
22.10.1 with the shipped configuration answers: the actions as the ``ngcc`` AMI user the
daemon logs in as (``ngcc_ami``: so the write classes of manager.conf are what is tested),
the events as the lab's observer sees them (``ami``: every event, unfiltered).
"""

from __future__ import annotations

import re

from ngcc112.ami.checker import DAEMON_ACTIONS

from .ami_listener import AmiListener
from .conftest import OPERATOR_QUEUE
from .lab import AsteriskLab
from .sipp import Caller, Sip


def test_core_settings_carries_the_version_the_checker_reads(ngcc_ami: AmiListener) -> None:
    answer = ngcc_ami.action("CoreSettings")[0]
    assert answer.response == "Success"
    assert answer.get("AsteriskVersion") == "22.10.1"
    assert {"AMIversion", "AsteriskVersion", "SystemName", "CoreMaxCalls"} <= set(answer.keys())


def test_module_check_answers_success_for_loaded_modules_and_error_otherwise(ngcc_ami: AmiListener) -> None:
    loaded = ngcc_ami.action("ModuleCheck", Module="app_queue")[0]
    assert loaded.response == "Success"
    assert "Version" in loaded.keys()
    missing = ngcc_ami.action("ModuleCheck", Module="app_does_not_exist")[0]
    assert missing.response == "Error"
    assert missing.get("Message") == "Module not loaded"
    for module in ("res_pjsip", "func_talkdetect", "res_geolocation"):
        assert ngcc_ami.action("ModuleCheck", Module=module)[0].response == "Success", module


def test_device_state_list_names_each_operator_phone(ngcc_ami: AmiListener) -> None:
    frames = ngcc_ami.action("DeviceStateList")
    assert frames[0].response == "Success"
    states = {f.get("Device"): f.get("State") for f in frames if f.event == "DeviceStateChange"}
    assert {"PJSIP/op1", "PJSIP/op2", "PJSIP/op3"} <= set(states)
    assert frames[-1].event == "DeviceStateListComplete"


def test_the_write_classes_manager_conf_grants_cover_every_action_the_daemon_sends(
        asterisk: AsteriskLab, ngcc_ami: AmiListener) -> None:
    listed = ngcc_ami.action("ListCommands")[0]
    allowed = {key.lower() for key in listed.keys()}
    for action in DAEMON_ACTIONS:
        assert action.lower() in allowed, f"{action} is not allowed to the ngcc user"
    for action in ("QueueChangePriorityCaller", "QueueWithdrawCaller", *DAEMON_ACTIONS):
        shown = asterisk.cli(f"manager show command {action}").stdout
        privilege = re.search(r"\[Privilege\]\s*\n\s*(\S+)", shown)
        assert privilege, shown
        classes = tuple(c for c in privilege.group(1).split(",") if c not in ("<none>", "all"))
        if action in DAEMON_ACTIONS:
            assert classes == DAEMON_ACTIONS[action], f"{action}: Asterisk says {classes}"
        else:
            assert classes == (), f"{action}: Asterisk says {classes}"


def test_events_carry_asterisks_timestamp_right_after_privilege(ami: AmiListener, sip: Sip,
                                                                 clean_queues: None) -> None:
    mark = ami.mark()
    caller = sip.call(Caller(number="5558001", name="Waktu", hold_ms=1500))
    assert caller.wait(20) == 0, caller.errors()
    ami.wait_event("Hangup", timeout=10, CallerIDNum="5558001")
    events = [f for f in ami.frames[mark:] if f.event]
    assert events
    for frame in events:
        keys = frame.keys()
        assert keys[1:3] == ["Privilege", "Timestamp"], frame.pairs
        assert re.fullmatch(r"\d{10}\.\d{6}", frame.get("Timestamp")), frame.get("Timestamp")
    responses = [f for f in ami.frames[mark:] if f.response]
    assert all("Timestamp" not in f.keys() for f in responses)


def test_queue_priority_may_be_negative_and_shows_only_in_queue_status(ami: AmiListener, sip: Sip,
                                                                        clean_queues: None) -> None:
    callers = [sip.call(Caller(number=number, name="Menunggu", hold_ms=40000)) for number in ("5558101", "5558102")]
    joins = ami.wait_event("QueueCallerJoin", timeout=30, count=2)
    first, second = sorted(joins, key=lambda join: int(join.get("Position")))  # whoever joined first
    mark = ami.mark()
    answer = ami.action("QueueChangePriorityCaller", Queue=OPERATOR_QUEUE, Caller=first.get("Channel"),
                        Priority="-10")[0]
    assert answer.response == "Success", answer.pairs
    assert not [f for f in ami.frames[mark:] if f.event and f.event.startswith("Queue")], \
        "QueueChangePriorityCaller emits no event"

    def positions() -> dict[str, dict[str, str]]:
        return {f.get("Channel"): {"position": f.get("Position"), "priority": f.get("Priority")}
                for f in ami.action("QueueStatus", Queue=OPERATOR_QUEUE) if f.event == "QueueEntry"}

    entries = positions()
    assert entries[first.get("Channel")] == {"position": "1", "priority": "-10"}
    # without Immediate the caller keeps its place: the priority only orders callers who join later
    assert entries[second.get("Channel")] == {"position": "2", "priority": "0"}
    # with Immediate the queue is reordered at once (what the daemon sends)
    answer = ami.action("QueueChangePriorityCaller", Queue=OPERATOR_QUEUE, Caller=first.get("Channel"),
                        Priority="-10", Immediate="yes")[0]
    assert answer.response == "Success", answer.pairs
    entries = positions()
    assert entries[first.get("Channel")]["position"] == "2"
    assert entries[second.get("Channel")]["position"] == "1"
    for caller in callers:
        caller.kill()


def test_withdraw_is_reported_as_an_abandon_and_the_dialplan_moves_on(ami: AmiListener, sip: Sip,
                                                                       clean_queues: None) -> None:
    caller = sip.call(Caller(number="5558201", name="Ditarik", hold_ms=15000))
    join = ami.wait_event("QueueCallerJoin", timeout=20, CallerIDNum="5558201")[0]
    answer = ami.action("QueueWithdrawCaller", Queue=OPERATOR_QUEUE, Caller=join.get("Channel"),
                        WithdrawInfo="ngcc-test")[0]
    assert answer.response == "Success", answer.pairs
    linkedid = join.get("Linkedid")
    ami.wait_event("QueueCallerAbandon", timeout=10, Linkedid=linkedid, Queue=OPERATOR_QUEUE)
    ami.wait_event("VarSet", timeout=10, Linkedid=linkedid, Variable="QUEUESTATUS", Value="WITHDRAW")
    # the shipped dialplan does not drop a withdrawn caller: the supervisors' queue takes it
    ami.wait_event("QueueCallerJoin", timeout=10, Linkedid=linkedid, Queue="ngcc112-supervisors")
    caller.kill()


def test_c_escaping_of_caller_names_and_variables(ami: AmiListener, sip: Sip, clean_queues: None) -> None:
    caller = sip.call(Caller(number="5558301", name='Pak \\"Budi\\" \\\\ RT 05', hold_ms=1500))
    assert caller.wait(20) == 0, caller.errors()
    newchannel = ami.wait_event("Newchannel", timeout=10, CallerIDNum="5558301")[0]
    # Two layers: PJSIP keeps the SIP quoted-pairs of the display name (Pak \"Budi\" \\ RT 05),
    # then AMI C-escapes that value once more.
    assert newchannel.get("CallerIDName") == r'Pak \\\"Budi\\\" \\\\ RT 05'
