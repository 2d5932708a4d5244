"""Call behaviour: fail safe, queue strategy, overflow, restart, drops, scripts."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from ngcc112 import names
from ngcc112.settings import AmiSettings, Settings
from ngcc112.sim.calls import CallScript, TalkBurst
from ngcc112.sim.server import run_simulator
from ngcc112.sim.traffic import random_script

pytestmark = pytest.mark.timeout(30)


def add_member(endpoint: str, queue: str = names.OPERATOR_QUEUE, **extra: str) -> dict[str, str]:
    return {"Action": "QueueAdd", "Queue": queue, "Interface": names.operator_interface(endpoint),
            "MemberName": endpoint, "StateInterface": names.operator_interface(endpoint), **extra}


async def test_fail_safe_call_reaches_an_operator_with_no_client(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    await client.action(add_member("op1"))
    await client.close()
    await drive.until(lambda: not sim.sessions)
    sim.set_softphone("op1", ring_seconds=1.0)
    call = await sim.place_call(CallScript(number="081234", name="Sendiri", hangup_after=20.0))
    # a client logging in while the call is connected finds it through CoreShowChannels
    await drive.advance(10.0)
    late = await connect(sim.port)
    await late.login()
    channels = await late.list_action({"Action": "CoreShowChannels"}, "CoreShowChannelsComplete")
    shown = {m["Channel"]: m for m in channels if m.get("Event") == "CoreShowChannel"}
    assert shown[call.channel]["BridgeId"] != ""
    assert any(name.startswith("PJSIP/op1-") for name in shown)
    assert await drive.ended(call) == "answered"
    assert call.answered_by == "PJSIP/op1"
    complete = (await late.event("AgentComplete"))[0]
    assert (complete["Reason"], complete["Interface"]) == ("caller", "PJSIP/op1")


async def test_rrmemory_rotates_and_skips_paused(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    for endpoint in ("op1", "op2", "op3"):
        sim.set_softphone(endpoint, ring_seconds=0.2, talk_seconds=1.0)
        await client.action(add_member(endpoint))
    await client.action({"Action": "QueuePause", "Queue": names.OPERATOR_QUEUE,
                         "Interface": "PJSIP/op2", "Paused": "true", "Reason": "toilet"})
    answered = []
    for i in range(4):
        call = await sim.place_call(CallScript(number=f"0800{i}", hangup_after=None))
        await drive.ended(call)
        answered.append(call.answered_by)
    assert answered == ["PJSIP/op1", "PJSIP/op3", "PJSIP/op1", "PJSIP/op3"]
    called = [m["Interface"] for m in client.messages if m.get("Event") == "AgentCalled"]
    assert "PJSIP/op2" not in called


async def test_unregistered_and_removed_members_are_not_rung(drive, make_sim, connect) -> None:
    sim = await make_sim(endpoints={"op1": False, "op2": True})
    client = await connect(sim.port)
    await client.login()
    await client.action(add_member("op1"))
    added = (await client.event("QueueMemberAdded", Interface="PJSIP/op1"))[0]
    assert added["Status"] == "5"
    await client.action(add_member("op2"))
    await client.action({"Action": "QueueRemove", "Queue": names.OPERATOR_QUEUE, "Interface": "PJSIP/op2"})
    call = await sim.place_call(CallScript(hangup_after=8.0))
    assert await drive.ended(call) == "abandoned"
    assert not [m for m in client.messages if m.get("Event") == "AgentCalled"]


async def test_queue_timeout_overflows_to_supervisors(drive, make_sim, connect) -> None:
    # only op3's phone is up: its static membership of the supervisors' queue answers
    sim = await make_sim(endpoints={"op1": False, "op2": False, "op3": True})
    client = await connect(sim.port)
    await client.login()
    sim.set_softphone("op3", ring_seconds=0.5)
    call = await sim.place_call(CallScript(number="5559999", hangup_after=80.0))
    assert await drive.ended(call) == "answered"
    assert call.answered_by == "PJSIP/op3"
    joins = [(m["Queue"], m["Position"]) for m in client.messages if m.get("Event") == "QueueCallerJoin"]
    assert joins == [(names.OPERATOR_QUEUE, "1"), (names.SUPERVISOR_QUEUE, "1")]
    leave = (await client.event("QueueCallerLeave", Queue=names.OPERATOR_QUEUE))[0]
    assert leave["Count"] == "0"
    # app_queue counts the timeout as an abandon (r_overflow_60s) ...
    (abandon,) = [m for m in client.messages if m.get("Event") == "QueueCallerAbandon"]
    assert abandon["Queue"] == names.OPERATOR_QUEUE
    variables = [(m["Variable"], m["Value"]) for m in client.messages if m.get("Event") == "VarSet"
                 and m["Variable"] in ("QUEUESTATUS", "NGCC_QUEUE_RESULT", "QUEUE_PRIO", "ABANDONED")]
    assert variables == [("ABANDONED", "TRUE"), ("QUEUESTATUS", "TIMEOUT"), ("NGCC_QUEUE_RESULT", "TIMEOUT"),
                         ("QUEUE_PRIO", "10"), ("ABANDONED", "")]
    # ... 60 s after it joined, and the static member rings at once
    join_at = [float(m["Timestamp"]) for m in client.messages if m.get("Event") == "QueueCallerJoin"]
    assert join_at[1] - join_at[0] == pytest.approx(60.0)
    called = [(m["Queue"], m["MemberName"]) for m in client.messages if m.get("Event") == "AgentCalled"]
    assert called == [(names.SUPERVISOR_QUEUE, "Operator 3")]
    connected = (await client.event("AgentConnect"))[0]
    assert connected["Queue"] == names.SUPERVISOR_QUEUE


async def test_the_queue_loop_goes_round_until_someone_answers(drive, make_sim, connect) -> None:
    """Nobody in either queue: 60 s operators, 60 s supervisors, operators again (with
    QUEUE_PRIO still 10), … until the caller hangs up; never a hang-up by the dialplan."""
    sim = await make_sim(endpoints={"op1": False, "op2": False, "op3": False})
    client = await connect(sim.port)
    await client.login()
    call = await sim.place_call(CallScript(number="5559998", hangup_after=300.0))
    assert await drive.ended(call) == "abandoned"
    joins = [(m["Queue"], m["Position"]) for m in client.messages if m.get("Event") == "QueueCallerJoin"]
    assert [q for q, _ in joins] == [names.OPERATOR_QUEUE, names.SUPERVISOR_QUEUE] * 2 + [names.OPERATOR_QUEUE]
    goto = [m["AppData"] for m in client.messages
            if m.get("Event") == "Newexten" and m["Application"] == "GotoIf"]
    assert goto.count("1?queue") == 2 and goto.count("0?direct") == 3
    results = [m["Value"] for m in client.messages
               if m.get("Event") == "VarSet" and m["Variable"] == "NGCC_QUEUE_RESULT"]
    assert results == ["TIMEOUT"] * 4
    status = await client.list_action({"Action": "QueueStatus"}, "QueueStatusComplete")
    assert not [m for m in status if m.get("Event") == "QueueEntry"]


async def test_caller_hangs_up_while_an_operator_rings(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    sim.set_softphone("op1", ring_seconds=10.0)
    await client.action(add_member("op1"))
    call = await sim.place_call(CallScript(hangup_after=9.0))  # in the queue from 7 s
    assert await drive.ended(call) == "abandoned"
    ends = [m["DialStatus"] for m in client.messages if m.get("Event") == "DialEnd"]
    assert ends == ["CANCEL"]
    assert (await client.event("QueueCallerAbandon"))[0]["Position"] == "1"
    await drive.idle(sim)
    channels = await client.list_action({"Action": "CoreShowChannels"}, "CoreShowChannelsComplete")
    assert channels[-1]["ListItems"] == "0"
    # the member is free again for the next call
    sim.set_softphone("op1", ring_seconds=0.5)
    second = await sim.place_call(CallScript(hangup_after=8.0))
    assert await drive.ended(second) == "answered"


async def test_hangup_action_on_the_operator_leg(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    sim.set_softphone("op2", ring_seconds=0.5)
    await client.action(add_member("op2"))
    call = await sim.place_call(CallScript(hangup_after=None))
    connect_event = (await client.event("AgentConnect"))[0]
    response = await client.action({"Action": "Hangup", "Channel": connect_event["DestChannel"]})
    assert response["Message"] == "Channel Hungup"
    assert await drive.ended(call) == "answered"
    assert (await client.event("AgentComplete"))[0]["Reason"] == "agent"


async def test_restart_hangs_up_everything_and_boots_empty(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    sim.set_softphone("op1", ring_seconds=0.5)
    await client.action(add_member("op1"))
    bridged = await sim.place_call(CallScript(hangup_after=None))
    await client.event("AgentConnect")
    queued = await sim.place_call(CallScript(number="0811", hangup_after=None))
    await client.event("QueueCallerJoin", count=2)
    await drive.run(sim.restart())
    await drive.until(client.closed.is_set)
    assert bridged.outcome == "restart" and queued.outcome == "restart"
    hangups = [m for m in client.messages if m.get("Event") == "Hangup"]
    assert {m["Cause"] for m in hangups} == {"0"} and len(hangups) == 3
    shutdown = client.messages[-1]
    assert list(shutdown) == ["Event", "Privilege", "Timestamp", "Shutdown", "Restart"]
    assert {k: shutdown[k] for k in ("Event", "Privilege", "Shutdown", "Restart")} == {
        "Event": "Shutdown", "Privilege": "system,all", "Shutdown": "Cleanly", "Restart": "True"}
    again = await connect(sim.port)
    await again.login()
    booted = (await again.event("FullyBooted"))[0]
    assert list(booted) == ["Event", "Privilege", "Timestamp", "Status", "Uptime", "LastReload"]
    assert booted["Uptime"] == "0"
    status = await again.list_action({"Action": "QueueStatus", "Queue": names.OPERATOR_QUEUE},
                                     "QueueStatusComplete")
    assert [m.get("Event") for m in status[1:]] == ["QueueParams", "QueueStatusComplete"]
    # calls work again after the restart
    await again.action(add_member("op1"))
    call = await sim.place_call(CallScript(hangup_after=8.0))
    assert await drive.ended(call) == "answered"


async def test_drop_clients_cuts_connections_but_not_calls(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    call = await sim.place_call(CallScript(hangup_after=10.0))
    await client.event("QueueCallerJoin")
    await sim.drop_clients()
    await drive.until(client.closed.is_set)
    assert not any(m.get("Event") == "Shutdown" for m in client.messages)
    again = await connect(sim.port)
    await again.login()
    status = await again.list_action({"Action": "QueueStatus"}, "QueueStatusComplete")
    assert [m["Channel"] for m in status if m.get("Event") == "QueueEntry"] == [call.channel]
    assert await drive.ended(call) == "abandoned"
    await again.event("QueueCallerAbandon")


async def test_caller_id_presentations_and_other_emergency_numbers(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    scripts = [
        CallScript(number="081111", name="Rahasia", presentation="withheld", hangup_after=1.0),
        CallScript(number="", name="", kind="Local", hangup_after=1.0),
        CallScript(number="082222", name="Api", exten="113", hangup_after=1.0),
    ]
    for script in scripts:
        await drive.ended(await sim.place_call(script))
    first = [m for m in client.messages if m.get("Event") == "Newchannel"]
    assert (first[0]["CallerIDNum"], first[0]["CallerIDName"]) == ("081111", "Rahasia")
    pres = [m["Value"] for m in client.messages
            if m.get("Event") == "VarSet" and m["Variable"] == names.VAR_CID_PRES]
    assert pres == ["prohib_not_screened", "unavailable", "allowed_not_screened"]
    locals_ = [m for m in client.messages if m.get("Event") == "Newexten" and m["Application"] == "NoOp"]
    assert locals_[1]["CallerIDNum"] == "<unknown>"
    category = [m for m in client.messages if m.get("Event") == "VarSet" and m["Variable"] == names.VAR_CATEGORY]
    # the shipped dialplan sets the category of every call, empty for 112
    assert [(m["Value"], m["Exten"]) for m in category] == [("", "112"), ("", "112"), ("fire", "113")]


async def test_talk_bursts_on_virtual_time(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    started = sim.engine.now()
    call = await sim.place_call(CallScript(
        hangup_after=30.0, talk=(TalkBurst(at=4.0, seconds=2.0), TalkBurst(at=12.0, seconds=3.0))))
    await drive.ended(call)
    assert sim.engine.now() - started == pytest.approx(30.0)  # answered at once, hung up 30 s later
    talk = [float(m["Timestamp"]) for m in client.messages
            if m.get("Event", "").startswith("ChannelTalking")]
    answered = next(float(m["Timestamp"]) for m in client.messages if m.get("Event") == "Newstate")
    assert [round(t - answered, 6) for t in talk] == [4.0, 8.5, 12.0, 17.5]
    stops = [m["Duration"] for m in client.messages if m.get("Event") == "ChannelTalkingStop"]
    assert stops == ["2000", "3000"]


async def test_originate_callback_from_an_operator(make_sim, connect) -> None:
    sim = await make_sim(endpoints={"op1": True, "op2": False})
    client = await connect(sim.port)
    await client.login()
    sim.set_softphone("op1", ring_seconds=1.0, talk_seconds=5.0)
    ok = await client.action({"Action": "Originate", "ActionID": "cb-1", "Channel": "PJSIP/op1",
                              "Context": names.OPERATOR_CONTEXT, "Exten": "081234567890",
                              "Priority": "1", "CallerID": '"112" <112>', "Async": "true"})
    assert ok["Message"] == "Originate successfully queued"
    response = (await client.event("OriginateResponse", ActionID="cb-1"))[0]
    assert (response["Response"], response["Reason"], response["Exten"]) == ("Success", "4", "081234567890")
    await client.event("Hangup")
    await client.action({"Action": "Originate", "ActionID": "cb-2", "Channel": "PJSIP/op2",
                         "Exten": "0811", "Context": names.OPERATOR_CONTEXT, "Async": "true"})
    failed = (await client.event("OriginateResponse", ActionID="cb-2"))[0]
    assert failed["Response"] == "Failure"


async def test_scenario_helpers_and_wait_idle(drive, sim) -> None:
    sim.set_softphone("op1", ring_seconds=0.5, talk_seconds=3.0)
    placed = [await sim.place_call(s) for s in CallScript.surge(4)]
    placed += [await sim.place_call(s) for s in CallScript.prank_repeats(2)]
    placed.append(await sim.place_call(CallScript.ghost_in_prompt()))
    placed.append(await sim.place_call(CallScript.silent_pressing()))
    await drive.idle(sim)
    assert all(p.ended.done() for p in placed)
    assert placed[6].outcome == "prompt"
    assert {p.script.number for p in placed[4:6]} == {"081299990000"}


async def test_background_traffic_is_seeded(drive, make_sim) -> None:
    import random

    assert random_script(random.Random(7)) == random_script(random.Random(7))
    numbers: list[list[str]] = []
    for _ in range(2):
        sim = await make_sim(rate_per_minute=30.0, seed=7)
        # the generator task has not run yet: record every call it places
        placed: list[str] = []
        place = sim.engine.place

        def recording(script: CallScript, originate_action_id: str = "", place=place, placed=placed):
            placed.append(script.number)
            return place(script, originate_action_id)

        sim.engine.place = recording  # type: ignore[method-assign]
        sim.set_softphone("op1", ring_seconds=1.0, talk_seconds=20.0)
        await drive.until(lambda placed=placed: len(placed) >= 5)
        numbers.append(placed[:5])
    assert len(numbers[0]) == 5 and numbers[0] == numbers[1]
    assert len(set(numbers[0])) >= 2


async def test_run_simulator_serves_the_settings_login(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(ami=AmiSettings(host="127.0.0.1", port=port, username="demo", secret="s3cret"))
    task = asyncio.create_task(run_simulator(settings, port, 0.0))
    try:
        # the host's clock here (ngcc112 sim); wait for the line saying it listens
        deadline = asyncio.get_running_loop().time() + 20
        while f"127.0.0.1:{port}" not in capsys.readouterr().out:
            assert asyncio.get_running_loop().time() < deadline, "ngcc112 sim did not start"
            await asyncio.sleep(0.02)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await reader.readline() == b"Asterisk Call Manager/11.0.0\r\n"
        writer.write(b"Action: Login\r\nUsername: demo\r\nSecret: s3cret\r\n\r\n")
        assert await reader.readuntil(b"\r\n\r\n") == b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
        writer.close()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_hanging_up_a_ringing_operator_leg_rings_the_next(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    sim.set_softphone("op1", ring_seconds=10.0)
    sim.set_softphone("op2", ring_seconds=10.0)
    await client.action(add_member("op1"))
    await client.action(add_member("op2"))
    call = await sim.place_call(CallScript(hangup_after=None))
    first = (await client.event("AgentCalled"))[0]
    await client.action({"Action": "Hangup", "Channel": first["DestChannel"], "Cause": "21"})
    declined = (await client.event("AgentRingNoAnswer"))[0]
    assert declined["Interface"] == "PJSIP/op1" and int(declined["RingTime"]) < 15000
    second = (await client.event("AgentCalled", count=2))[1]
    assert second["Interface"] == "PJSIP/op2"
    await client.event("AgentConnect")
    await client.action({"Action": "Redirect", "Channel": call.channel, "Context": "ngcc-test",
                         "Exten": "hold", "Priority": "1"})
    complete = (await client.event("AgentComplete"))[0]
    assert complete["Reason"] == "transfer"
    await client.action({"Action": "Hangup", "Channel": call.channel})
    assert await drive.ended(call) == "hangup"


async def test_a_client_that_stops_reading_is_dropped_not_buffered_forever(drive, sim, connect, monkeypatch) -> None:
    from ngcc112.sim import session

    monkeypatch.setattr(session, "MAX_BACKLOG", 64 * 1024)
    import socket

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", sim.port))
    sock.sendall(b"Action: Login\r\nUsername: ngcc\r\nSecret: ngcc-secret\r\n\r\n")
    await drive.until(lambda: any(s.authenticated for s in sim.sessions))
    assert len(sim.sessions) == 1
    # small kernel buffers on both ends, so the backlog shows up in the simulator
    [session] = sim.sessions
    session.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    calls = [await sim.place_call(s.with_(hangup_after=2.0)) for s in CallScript.surge(200)]
    await drive.until(lambda: not sim.sessions)
    await drive.until(lambda: all(c.ended.done() for c in calls))
    sock.close()


async def test_a_digit_after_the_prompt_is_reported_but_not_read(drive, sim, connect) -> None:
    client = await connect(sim.port)
    await client.login()
    # the shipped prompt: 0.5 s after the answer, 3.5 s of speech, 3 s for the digit
    call = await sim.place_call(CallScript(dtmf="5", dtmf_at=8.0, hangup_after=10.0))
    assert await drive.ended(call) == "abandoned"
    kinds = [m["Event"] for m in client.messages if m.get("Event") in ("QueueCallerJoin", "DTMFEnd")]
    assert kinds == ["QueueCallerJoin", "DTMFEnd"]
    digit = [m["Value"] for m in client.messages
             if m.get("Event") == "VarSet" and m["Variable"] == names.VAR_SILENT_DIGIT]
    assert digit == [""]


async def test_calls_during_a_restart_fail(drive, sim) -> None:
    restart = asyncio.create_task(sim.restart())
    await drive.until(lambda: sim._restarting)
    placed = await sim.place_call(CallScript())
    assert placed.outcome == "failed" and placed.ended.done()
    await drive.until(restart.done)
    after = await sim.place_call(CallScript.ghost_in_prompt())
    assert await drive.ended(after) == "prompt"
