"""Every message the simulator sends has a header layout Asterisk was recorded sending."""

from __future__ import annotations

import asyncio
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


async def test_event_and_response_layouts_match_the_recordings(make_sim, connect,
                                                               transcripts_dir: Path) -> None:
    sim = await make_sim()
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
    await answered.wait(30)
    await asyncio.wait_for(sim.wait_idle(), 20)
    await client.action({"Action": "QueueRemove", "Queue": names.OPERATOR_QUEUE, "Interface": "PJSIP/op1"})
    restarted = await sim.place_call(CallScript(hangup_after=None))
    await client.event("QueueCallerJoin", count=4)
    await sim.restart()
    await asyncio.wait_for(client.closed.wait(), 5)
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
