"""Every message the simulator sends has a header layout Asterisk was recorded sending."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from ngcc112 import names
from ngcc112.sim.calls import CallScript, TalkBurst
from ngcc112.sim.transcript import parse_messages, split_messages


pytestmark = pytest.mark.timeout(30)


def recorded_layouts(transcripts_dir: Path) -> dict[str, set[tuple[str, ...]]]:
    layouts: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for path in sorted(transcripts_dir.glob("*.ami")):
        for pairs in parse_messages(path):
            first_key, first_value = pairs[0]
            kind = first_value if first_key == "Event" else "Response"
            layouts[kind].add(tuple(k for k, _ in pairs))
    return layouts


async def test_event_and_response_layouts_match_the_recordings(drive, make_sim, connect,
                                                               transcripts_dir: Path) -> None:
    # as ../shared/ami-transcripts were made: no timestamps, their lab's dialplan and queues
    sim = await make_sim(timestamp_events=False, flow="final", static_members={})
    client = await connect(sim.port)
    await client.login()
    sim.set_softphone("op1", answers=False)
    sim.set_softphone("op2", ring_seconds=0.5, talk_seconds=8.0)
    for endpoint in ("op1", "op2"):
        await client.action({"Action": "QueueAdd", "Queue": names.OPERATOR_QUEUE,
                             "Interface": f"PJSIP/{endpoint}", "MemberName": endpoint,
                             "StateInterface": f"PJSIP/{endpoint}"})
    await client.action({"Action": "QueuePause", "Queue": names.OPERATOR_QUEUE,
                         "Interface": "PJSIP/op1", "Paused": "false"})
    answered = await sim.place_call(CallScript(
        number="5550901", name="Klingel Test", hangup_after=None,
        talk=(TalkBurst(at=4.0, seconds=1.0),)))
    await client.action({"Action": "Originate", "Channel": "Local/112@from-pstn", "Context": "ngcc-test",
                         "Exten": "dtmf5", "Priority": "1", "CallerID": '"Stiller" <5550701>',
                         "Async": "true", "Variable": "NGCC_WAIT=20"})
    located = await sim.place_call(CallScript.with_location(hangup_after=30.0))
    await client.event("QueueCallerJoin", count=3)
    await client.action({"Action": "QueueChangePriorityCaller", "Queue": names.OPERATOR_QUEUE,
                         "Caller": located.channel, "Priority": "5"})
    await client.list_action({"Action": "QueueStatus"}, "QueueStatusComplete")
    await client.list_action({"Action": "QueueSummary"}, "QueueSummaryComplete")
    await client.list_action({"Action": "CoreShowChannels"}, "CoreShowChannelsComplete")
    await client.action({"Action": "QueueWithdrawCaller", "Queue": names.OPERATOR_QUEUE,
                         "Caller": located.channel, "WithdrawInfo": "test"})
    await client.action({"Action": "Setvar", "Variable": "G", "Value": 'a "b"'})
    await client.action({"Action": "Getvar", "Variable": "G"})
    await client.action({"Action": "Ping"})
    await client.action({"Action": "Command", "Command": "core show version"})
    await client.action({"Action": "Frobnicate"})
    await drive.ended(answered)
    await drive.idle(sim)
    await client.action({"Action": "QueueRemove", "Queue": names.OPERATOR_QUEUE, "Interface": "PJSIP/op1"})
    restarted = await sim.place_call(CallScript(hangup_after=None))
    await client.event("QueueCallerJoin", count=4)
    await drive.run(sim.restart())
    await drive.until(client.closed.is_set)
    assert restarted.outcome == "restart"

    layouts = recorded_layouts(transcripts_dir)
    seen: set[str] = set()
    problems = []
    for pairs in split_messages(client.raw.decode("utf-8")):
        first_key, first_value = pairs[0]
        kind = first_value if first_key == "Event" else "Response"
        seen.add(kind)
        keys = tuple(k for k, _ in pairs)
        if kind not in layouts:
            continue
        if keys not in layouts[kind]:
            problems.append(f"{kind}: {keys}")
    assert not problems, "\n".join(sorted(set(problems)))
    # the run covered the interesting events
    assert {"AgentRingNoAnswer", "AgentConnect", "AgentComplete", "QueueCallerAbandon", "DTMFEnd",
            "ChannelTalkingStart", "ChannelTalkingStop", "QueueMemberPause", "OriginateResponse",
            "LocalBridge", "Shutdown", "QueueEntry", "CoreShowChannel", "RequestBadFormat",
            "ChallengeSent", "SuccessfulAuth"} <= seen


async def test_every_event_carries_asterisks_timestamp_after_privilege(drive, sim, connect) -> None:
    """manager.conf ``timestampevents = yes`` (the shipped one): manager.c puts
    ``Timestamp: <epoch>.<usec>`` after ``Privilege`` on every event it raises, none on
    responses or on the list items an action answers with."""
    client = await connect(sim.port)
    await client.login()
    sim.set_softphone("op1", ring_seconds=0.5, talk_seconds=2.0)
    await client.action({"Action": "QueueAdd", "Queue": names.OPERATOR_QUEUE,
                         "Interface": "PJSIP/op1", "MemberName": "op1"})
    started = sim.engine.wall()
    call = await sim.place_call(CallScript(number="5550101", talk=(TalkBurst(at=4.0, seconds=1.0),),
                                           hangup_after=None))
    assert await drive.ended(call) == "answered"
    await client.list_action({"Action": "QueueStatus"}, "QueueStatusComplete")
    messages = split_messages(client.raw.decode("utf-8"))
    events = [pairs for pairs in messages if pairs[0][0] == "Event" and
              not any(k == "ActionID" for k, _ in pairs)]
    # the FullyBooted a login gets from a running Asterisk is written to that session
    # alone (astman_append), without a Timestamp
    assert [k for k, _ in events[0]][:3] == ["Event", "Privilege", "Uptime"]
    stamped = events[1:]
    assert stamped and all([k for k, _ in pairs][:3] == ["Event", "Privilege", "Timestamp"]
                           for pairs in stamped)
    times = [float(dict(pairs)["Timestamp"]) for pairs in stamped]
    assert times == sorted(times)
    assert all(t >= started for t in times[1:])
    # virtual time: the caller talks exactly 4 s after the answer
    by_event = {dict(p)["Event"]: float(dict(p)["Timestamp"]) for p in reversed(stamped)}
    assert by_event["ChannelTalkingStart"] - by_event["Newstate"] == 4.0
    answers = [pairs for pairs in messages if pairs[0][0] == "Response" or
               any(k == "ActionID" for k, _ in pairs)]
    assert answers and not any(k == "Timestamp" for pairs in answers for k, _ in pairs)
