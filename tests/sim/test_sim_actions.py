"""Actions: the recorded d_actions answers, errors, login, permissions, malformed input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ngcc112 import names
from ngcc112.sim.calls import CallScript
from ngcc112.sim.config import AmiUser
from ngcc112.sim.transcript import diff_signatures, parse_messages, parse_transcript, signature

pytestmark = pytest.mark.timeout(30)

LIST_COMPLETE = {
    "CoreShowChannels": "CoreShowChannelsComplete",
    "QueueStatus": "QueueStatusComplete",
    "QueueSummary": "QueueSummaryComplete",
}

#: Fields compared per message of an action's answer (times, ids and
#: statistics that depend on the test host's history are left out).
COMPARED = {
    "Response": ("Response", "Message", "EventList", "Variable", "Value", "Ping"),
    "CoreShowChannel": ("Channel", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "Context",
                        "Exten", "Priority", "Application", "ApplicationData", "BridgeId"),
    "CoreShowChannelsComplete": ("EventList", "ListItems"),
    "QueueParams": ("Queue", "Max", "Strategy", "Calls"),
    "QueueMember": ("Queue", "Name", "Location", "StateInterface", "Membership", "Penalty",
                    "InCall", "Status", "Paused", "PausedReason"),
    "QueueEntry": ("Queue", "Position", "Channel", "CallerIDNum", "CallerIDName", "Priority"),
    "QueueStatusComplete": ("EventList", "ListItems"),
    "QueueSummary": ("Queue", "LoggedIn", "Available", "Callers"),
    "QueueSummaryComplete": ("EventList", "ListItems"),
    "OriginateResponse": ("Response", "Application", "Data", "Reason", "CallerIDNum", "CallerIDName"),
}

#: The Asterisk the recordings in ../shared/ami-transcripts came from: the "final"
#: dialplan of their dialplan-used.conf (a_..e_: "legacy"), queues without static members.
OLDER_LAB: dict[str, object] = {"flow": "final", "static_members": {}}



def answer_shape(messages: list[dict[str, str]], action_id: str, local: dict[str, str]) -> list[tuple[str, ...]]:
    out = []
    for msg in messages:
        if msg.get("ActionID") != action_id:
            continue
        kind = "Response" if "Response" in msg and "Event" not in msg else msg.get("Event", "")
        fields = [kind]
        for key in COMPARED.get(kind, ()):
            if key in msg:
                value = local.get(msg[key], msg[key])
                fields.append(f"{key}={value}")
        out.append(tuple(fields))
    return out


async def test_d_actions(drive, make_sim, connect, transcripts_dir: Path) -> None:
    sim = await make_sim(**{**OLDER_LAB, "flow": "legacy"}, endpoints={"op1": False, "op2": False, "op3": False})
    script = parse_messages(transcripts_dir / "d_actions.sent")
    want = parse_transcript(transcripts_dir / "d_actions.ami")
    client = await connect(sim.port)
    recorded_local = "Local/112@from-pstn-00000003"
    ours: dict[str, str] = {}
    for action in script:
        fields = dict(action)
        kind = fields["Action"]
        pairs = [(k, v.replace(recorded_local, ours.get("base", recorded_local))) for k, v in action]
        if kind in LIST_COMPLETE:
            await client.list_action(pairs, LIST_COMPLETE[kind])
        else:
            await client.action(pairs)
        if fields.get("ActionID") == "d_actions-3":
            join = (await client.event("QueueCallerJoin"))[0]
            ours["base"] = join["Channel"].rsplit(";", 1)[0]
        if fields.get("ActionID") == "orig-async-1":
            await client.wait_for(lambda m: m.get("Event") == "OriginateResponse"
                                  and m.get("ActionID") == "orig-async-1")
            await drive.idle(sim)
    # answers, per action, as recorded (channel names mapped back to the recording's)
    back = {f"{ours['base']};1": f"{recorded_local};1", f"{ours['base']};2": f"{recorded_local};2"}
    for action in script:
        action_id = dict(action)["ActionID"]
        got = answer_shape(client.messages, action_id, back)
        expected = answer_shape(want, action_id, {})
        if action_id in ("d_actions-26", "d_actions-27"):
            assert got[0] == expected[0]
            continue
        assert got == expected, f"{action_id}: {got} != {expected}"
    by_id = {m["ActionID"]: m for m in client.messages if "Response" in m and "ActionID" in m}
    assert by_id["d_actions-26"]["Output"] == (
        "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-28 05:11:34 UTC")
    raw = client.raw.decode()
    queue_show = raw[raw.index("ActionID: d_actions-27"):].split("\r\n\r\n")[0]
    assert re.search(r"Output: ngcc112-operators has 0 calls \(max unlimited\) in 'rrmemory' strategy "
                     r"\(\d+s holdtime, \d+s talktime\), W:0, C:\d+, A:\d+, SL:[\d.]+%, SL2:[\d.]+% "
                     r"within 0s\r\nOutput:    No Members\r\nOutput:    No Callers\r\nOutput: $",
                     queue_show), queue_show
    # and the events the actions caused
    report = diff_signatures(signature(client.messages), signature(want))
    assert not report, report


async def test_d_login_bad_secret(drive, sim, connect, transcripts_dir: Path) -> None:
    script = parse_messages(transcripts_dir / "d_login_bad_secret.sent")
    client = await connect(sim.port)
    response = await client.action(script[0])
    await drive.until(client.closed.is_set)
    recorded = (transcripts_dir / "d_login_bad_secret.ami").read_bytes()
    assert client.banner + client.raw == recorded
    assert response["Message"] == "Authentication failed"


async def test_bad_secret_reported_to_others_as_invalid_password(sim, connect) -> None:
    watcher = await connect(sim.port)
    await watcher.login()
    intruder = await connect(sim.port)
    await intruder.action({"Action": "Login", "Username": "ngcc", "Secret": "nope"})
    event = (await watcher.event("InvalidPassword"))[0]
    assert event["AccountID"] == "ngcc" and event["Privilege"] == "security,all"


async def test_actions_before_login_are_refused(sim, connect) -> None:
    client = await connect(sim.port)
    response = await client.action({"Action": "QueueStatus"})
    assert (response["Response"], response["Message"]) == ("Error", "Permission denied")
    assert not client.closed.is_set()
    assert (await client.login())["Response"] == "Success"


async def test_malformed_input_keeps_the_connection(sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    client.send_raw(b"this is not AMI\r\n\r\n")
    client.send_raw(b"ActionID: x-1\r\nQueue: q\r\n\r\n")
    client.send_raw(b"\xff\xfe garbage \x00\r\n\r\n")
    errors = await client.wait_for(lambda m: m.get("Message") == "Missing action in request", count=3)
    assert errors[1]["ActionID"] == "x-1"
    assert all(m["Response"] == "Error" for m in errors)
    pong = await client.action({"Action": "Ping"})
    assert pong["Ping"] == "Pong"
    assert sim.received_actions[-1] == ("ngcc", {"Action": "Ping", "ActionID": pong["ActionID"]})


async def test_unknown_action_and_missing_headers(sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    unknown = await client.action({"Action": "NoSuchAction", "ActionID": "u-1"})
    assert unknown["Message"] == (
        "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands.")
    bad_format = (await client.event("RequestBadFormat"))[0]
    assert bad_format["RequestType"] == "Action: NoSuchAction"
    cases = [
        ({"Action": "QueueAdd", "Interface": "PJSIP/op1"}, "'Queue' not specified."),
        ({"Action": "QueueAdd", "Queue": names.OPERATOR_QUEUE}, "'Interface' not specified."),
        ({"Action": "QueueRemove", "Queue": names.OPERATOR_QUEUE}, "Need 'Queue' and 'Interface' parameters."),
        ({"Action": "QueuePause", "Interface": "PJSIP/op1"}, "Need 'Interface' and 'Paused' parameters."),
        ({"Action": "Hangup"}, "No channel specified"),
        ({"Action": "Getvar"}, "No variable specified"),
        ({"Action": "Redirect"}, "Channel not specified"),
        ({"Action": "Originate"}, "Channel not specified"),
        ({"Action": "ModuleCheck"}, "Module name missing"),
        ({"Action": "QueueChangePriorityCaller", "Queue": names.OPERATOR_QUEUE}, "'Caller' not specified."),
        ({"Action": "QueueWithdrawCaller", "Queue": names.OPERATOR_QUEUE, "Caller": "PJSIP/x-00000000"},
         "Unable to request withdraw from queue: No such caller"),
    ]
    for action, message in cases:
        response = await client.action(action)
        assert (response["Response"], response["Message"]) == ("Error", message), action


async def test_permissions_follow_write_classes(make_sim, connect) -> None:
    users = {
        "viewer": AmiUser(secret="v", read=("call", "agent"), write=("reporting",)),
        "ngcc": AmiUser(secret="ngcc-secret"),
    }
    sim = await make_sim(users=users)
    viewer = await connect(sim.port)
    await viewer.login("viewer", "v")
    for action in ({"Action": "QueueAdd", "Queue": names.OPERATOR_QUEUE, "Interface": "PJSIP/op1"},
                   {"Action": "Originate", "Channel": "Local/112@from-pstn", "Application": "Wait"},
                   {"Action": "Hangup", "Channel": "PJSIP/op1-00000000"},
                   {"Action": "Command", "Command": "core show version"},
                   {"Action": "ModuleCheck", "Module": "app_queue"}):
        response = await viewer.action(action)
        assert (response["Response"], response["Message"]) == ("Error", "Permission denied"), action
    # reporting is enough for these, QueueStatus needs nothing
    assert (await viewer.action({"Action": "CoreShowChannels"}))["Response"] == "Success"
    assert (await viewer.action({"Action": "Getvar", "Variable": "X"}))["Response"] == "Success"
    assert (await viewer.action({"Action": "QueueStatus"}))["Response"] == "Success"
    commands = await viewer.action({"Action": "ListCommands"})
    assert "QueueStatus" in commands and "CoreShowChannels" in commands and "Ping" in commands
    assert "QueueAdd" not in commands and "Originate" not in commands
    assert commands["QueueStatus"] == "Show queue status. (Priv: <none>)"
    assert "QueueChangePriorityCaller" in commands
    daemon = await connect(sim.port)
    await daemon.login()
    full = await daemon.action({"Action": "ListCommands"})
    assert full["QueueAdd"] == "Add interface to queue. (Priv: agent)"
    assert full["Hangup"] == "Hangup channel. (Priv: system,call)"


async def test_events_follow_read_classes_and_login_mask(drive, make_sim, connect) -> None:
    users = {
        "agents": AmiUser(secret="a", read=("agent",), write=()),
        "ngcc": AmiUser(secret="ngcc-secret", read=("all",), write=("all",)),
    }
    sim = await make_sim(users=users)
    agents = await connect(sim.port)
    await agents.login("agents", "a")
    calls_only = await connect(sim.port)
    await calls_only.login(events="call")
    silent = await connect(sim.port)
    await silent.login(events="off")
    everything = await connect(sim.port)
    await everything.login()
    call = await sim.place_call(CallScript.ghost())  # hangs up in the queue
    await drive.ended(call)
    await everything.event("Hangup")
    assert {m["Privilege"] for m in agents.messages if "Event" in m} == {"agent,all"}
    assert {m["Privilege"] for m in calls_only.messages if "Event" in m} == {"call,all"}
    assert [m for m in silent.messages if "Event" in m] == []
    privileges = {m["Privilege"].split(",")[0] for m in everything.messages if "Event" in m}
    assert {"call", "dialplan", "agent", "system", "security"} <= privileges
    # Events action switches the flow at run time
    off = await calls_only.action({"Action": "Events", "EventMask": "off"})
    assert off["Events"] == "Off"
    before = len(calls_only.messages)
    call = await sim.place_call(CallScript.ghost_in_prompt())
    await drive.ended(call)
    await everything.event("Hangup", count=2)
    assert [m for m in calls_only.messages[before:] if "Event" in m] == []


async def test_login_greeting_and_logoff(drive, sim, connect) -> None:
    client = await connect(sim.port)
    assert client.banner == b"Asterisk Call Manager/11.0.0\r\n"
    await client.login()
    booted = (await client.event("FullyBooted"))[0]
    assert list(booted) == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
    assert booted["Status"] == "Fully Booted" and int(booted["Uptime"]) >= 155
    bye = await client.action({"Action": "Logoff"})
    assert (bye["Response"], bye["Message"]) == ("Goodbye", "Thanks for all the fish.")
    await drive.until(client.closed.is_set)


async def test_live_checker_actions(make_sim, connect) -> None:
    sim = await make_sim(endpoints={"op1": True, "op2": False})
    client = await connect(sim.port)
    await client.login()
    settings = await client.action({"Action": "CoreSettings"})
    assert settings["AsteriskVersion"] == "22.10.1" and settings["AMIversion"] == "11.0.0"
    ok = await client.action({"Action": "ModuleCheck", "Module": "app_queue"})
    assert ok["Response"] == "Success" and "Version" in ok
    assert (await client.action({"Action": "ModuleCheck", "Module": "res_geolocation.so"}))["Response"] == "Success"
    missing = await client.action({"Action": "ModuleCheck", "Module": "app_voicemail"})
    assert (missing["Response"], missing["Message"]) == ("Error", "Module not loaded")
    states = await client.list_action({"Action": "DeviceStateList"}, "DeviceStateListComplete")
    devices = {m["Device"]: m["State"] for m in states if m.get("Event") == "DeviceStateChange"}
    assert devices == {"PJSIP/op1": "NOT_INUSE", "PJSIP/op2": "UNAVAILABLE"}
    assert states[-1]["ListItems"] == "2"
    shown = await client.action({"Action": "Command", "Command": "module show like app_queue"})
    assert shown["Output"] == "1 modules loaded"
    unknown = await client.action({"Action": "Command", "Command": "frobnicate now"})
    assert unknown["Response"] == "Error"


async def test_queue_status_filter_and_summary(make_sim, connect) -> None:
    sim = await make_sim(static_members={})
    client = await connect(sim.port)
    await client.login()
    await client.action({"Action": "QueueAdd", "Queue": names.SUPERVISOR_QUEUE, "Interface": "PJSIP/op3",
                         "MemberName": "sup", "Penalty": "2", "Paused": "true", "Reason": "briefing"})
    both = await client.list_action({"Action": "QueueStatus"}, "QueueStatusComplete")
    assert [m["Queue"] for m in both if m.get("Event") == "QueueParams"] == [
        names.OPERATOR_QUEUE, names.SUPERVISOR_QUEUE]
    only = await client.list_action({"Action": "QueueStatus", "Queue": names.SUPERVISOR_QUEUE},
                                    "QueueStatusComplete")
    member = [m for m in only if m.get("Event") == "QueueMember"][0]
    assert (member["Name"], member["Penalty"], member["Paused"], member["PausedReason"]) == (
        "sup", "2", "1", "briefing")
    assert only[-1]["ListItems"] == "2"
    pause_all = await client.action({"Action": "QueuePause", "Interface": "PJSIP/op3", "Paused": "false"})
    assert pause_all["Message"] == "Interface unpaused successfully"
    assert (await client.event("QueueMemberPause"))[0]["Paused"] == "0"
