"""The simulator against the recorded Asterisk 22.10.1 transcripts, of both labs.

Each case drives the recorded scenario through the simulator over TCP (the
same actions as the ``.sent`` file where the recording used AMI, simulated
SIP callers and softphones where it used sipp) and compares, per channel
role, the ordered significant events and their key fields with the
recording (:func:`ngcc112.sim.transcript.signature`).

``CASES`` is the table: one row per recording, its lab (the older one of
``../shared/ami-transcripts`` or the shipped configuration of
``tests/data/transcripts/r_*``, see ``labs.py``), its scenario as steps and what
is checked beyond the signature. The scenarios that talk back and forth with
the simulator mid-call (ten concurrent calls answered one by one, priority and
withdraw, the restart) are tests of their own below it; so are those of the
shipped lab in ``test_sim_recorded.py`` (withdraw and priority changes on live
channels, the restart, callers compared out of order, layouts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ngcc112 import names
from ngcc112.sim.calls import CallScript, Location, TalkBurst
from ngcc112.sim.server import AmiSimulator
from ngcc112.sim.transcript import diff_signatures, parse_messages, parse_transcript, signature
from tests.sim.labs import OLDER, QUOTED, SHIPPED, Lab, carrier

pytestmark = pytest.mark.timeout(30)

#: The Asterisk the recordings in ../shared/ami-transcripts came from: the "final"
#: dialplan of their dialplan-used.conf (a_..e_: "legacy"), queues without static members.
OLDER_LAB: dict[str, object] = {"flow": "final", "static_members": {}}


@pytest.fixture
async def sim(make_sim) -> AmiSimulator:  # type: ignore[no-untyped-def]
    """These recordings (f_..m_, h_) ran the dialplan of dialplan-used.conf: "final"."""
    return await make_sim(**OLDER_LAB)


def recorded(transcripts_dir: Path, name: str) -> list[dict[str, str]]:
    return parse_transcript(transcripts_dir / f"{name}.ami")


def sent(transcripts_dir: Path, name: str) -> list[list[tuple[str, str]]]:
    return parse_messages(transcripts_dir / f"{name}.sent")


def assert_same(
    actual: list[dict[str, str]],
    expected: list[dict[str, str]],
    skip: frozenset[str] = frozenset(),
    roles: set[str] | None = None,
) -> None:
    got, want = signature(actual, skip=skip), signature(expected, skip=skip)
    if roles is not None:
        got = {k: v for k, v in got.items() if k in roles}
        want = {k: v for k, v in want.items() if k in roles}
    report = diff_signatures(got, want)
    if report:
        pytest.fail(report)


async def logged_in(sim: AmiSimulator, connect, script: list[list[tuple[str, str]]]):  # type: ignore[no-untyped-def]
    client = await connect(sim.port)
    response = await client.action(script[0])
    assert response["Message"] == "Authentication accepted"
    return client


async def finish(client, script: list[list[tuple[str, str]]], start: int) -> None:  # type: ignore[no-untyped-def]
    for action in script[start:]:
        await client.action(action)


# -- the table ------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send the recording's next AMI action: number ``index`` of its ``.sent`` file."""

    index: int


@dataclass(frozen=True)
class Call:
    """A simulated SIP caller; the test waits until the call ends with ``outcome``."""

    script: CallScript
    outcome: str
    answered_by: str | None = None


@dataclass(frozen=True)
class Calls:
    """Simulated SIP callers placed ``every`` seconds apart; the test waits until all end with ``outcome``."""

    scripts: tuple[CallScript, ...]
    outcome: str
    every: float = 0.1


@dataclass(frozen=True)
class Idle:
    """Wait until the simulator has no call left."""


@dataclass(frozen=True)
class Phone:
    """An operator's softphone registers and answers as told (``ring_seconds``, ``talk_seconds``, ``answers``)."""

    endpoint: str
    answers: bool = True
    ring_seconds: float = 0.5
    talk_seconds: float | None = None


@dataclass(frozen=True)
class Unplug:
    """An operator's softphone goes away (its registration ends), and the events settle."""

    endpoint: str


@dataclass(frozen=True)
class Rest:
    """Send the rest of the recording's AMI actions (by default they go after the last step)."""


Step = Send | Call | Calls | Idle | Phone | Unplug | Rest
Check = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    """One recording: the dialplan it ran, the operators' softphones, the scenario; then the
    comparison (events left out, roles compared) and the facts checked beyond it."""

    transcript: str
    steps: tuple[Step, ...]
    lab: Lab = OLDER
    flow: str = "final"
    softphones: dict[str, dict[str, Any]] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()
    roles: frozenset[str] | None = None
    checks: tuple[Check, ...] = ()


def events(client: Any, prefix: str) -> list[str]:
    return [m["Event"] for m in client.messages if m.get("Event", "").startswith(prefix)]


async def two_talking_stops(client: Any) -> None:
    assert events(client, "ChannelTalkingStop") == ["ChannelTalkingStop"] * 2


async def talking_starts_and_never_stops(client: Any) -> None:
    assert events(client, "ChannelTalking") == ["ChannelTalkingStart"]


async def rang_15_seconds_unanswered(client: Any) -> None:
    ring = (await client.event("AgentRingNoAnswer"))[0]
    assert ring["RingTime"] == "15000"


async def names_cut_at_79_bytes_and_kept_in_utf8(client: Any) -> None:
    names_seen = [
        m["CallerIDName"]
        for m in client.messages
        if m.get("Event") == "Newchannel" and m["Context"] == names.INCOMING_CONTEXT
    ]
    assert len(names_seen[3].encode()) == 79
    assert "Budi Śantoso" in names_seen


async def the_pidf_circle_is_escaped_on_the_wire(client: Any) -> None:
    raw = client.raw.decode()
    assert 'Value: shape=\\"Circle\\",crs=\\"2d\\",pos=\\"-6.2000 106.8166\\",radius=\\"50\\"' in raw


async def never_queued(client: Any) -> None:
    assert not events(client, "QueueCaller")


async def quotes_kept_by_pjsip_and_c_escaped_by_ami(client: Any) -> None:
    """A SIP caller sent ``"Pak \\"Budi\\" \\\\ RT 05"``: PJSIP keeps the quoted-pairs, AMI
    C-escapes on top, in every event; the NoOp line shows Asterisk's own value."""
    shown = {m["CallerIDName"] for m in client.messages if "CallerIDName" in m and "Event" in m}
    assert shown == {'Pak \\\\\\"Budi\\\\\\" \\\\\\\\ RT 05'}
    (channel,) = {m["Channel"] for m in client.messages if m.get("Event") == "Newchannel"}
    noop = [m["AppData"] for m in client.messages if m.get("Application") == "NoOp"]
    assert noop == [f'NGCC 112 call from "Pak \\"Budi\\" \\\\ RT 05" <5551104> on {channel} to 112']


async def the_long_name_is_cut_at_79_bytes(client: Any) -> None:
    shown = {m["CallerIDName"] for m in client.messages if m.get("CallerIDNum") == "5551103" and "Event" in m}
    assert shown == {LONG_NAME.encode()[:79].decode()}


LONG_NAME = "".join(f"Name-{i:04d}|" for i in range(10, 201, 10))
#: Operator op1 answering after half a second and talking for four.
OP1_TALKS = {"op1": {"ring_seconds": 0.5, "talk_seconds": 4.0}}

CASES = (
    # -- the first dialplan (a_ .. e_) --
    Case(
        "a_call_answered_bridged",
        flow="legacy",
        softphones=OP1_TALKS,
        steps=(Send(1), Call(CallScript(number="5550101", name="Anrufer Eins", hangup_after=None), "answered")),
    ),
    Case("a_local_call_answered_bridged", flow="legacy", softphones=OP1_TALKS, steps=(Send(1), Send(2), Idle())),
    Case(
        "b_abandon_in_queue",
        flow="legacy",
        steps=(Call(CallScript.abandon_in_queue("5550202", "Abbrecher", endpoint="caller2"), "abandoned"),),
    ),
    Case(
        "c_ghost_call",
        flow="legacy",
        steps=(Call(CallScript.ghost("5550303", "Ghost", after=1.0, endpoint="caller3"), "abandoned"),),
    ),
    Case("c_local_ghost_call", flow="legacy", steps=(Send(1), Idle())),
    # -- the final dialplan (f_ .. m_) --
    Case("f_talk_detect", steps=(Send(1), Idle()), checks=(two_talking_stops,)),
    Case(
        "f_talk_detect_no_stop",
        # the recording's older ngcc-test,talk: speech that just ends, no silence frames
        steps=(
            Call(
                CallScript(
                    number="5550601",
                    name="Sprecher Lokal",
                    kind="Local",
                    local_exten="talk",
                    talk=(TalkBurst(at=4.08, seconds=4.3, silence_after=False),),
                ),
                "abandoned",
            ),
        ),
        # the caller half ran an older extension body and the call was not an AMI Originate
        skip=frozenset({"OriginateResponse"}),
        roles=frozenset({"caller#1", "queue"}),
        checks=(talking_starts_and_never_stops,),
    ),
    Case(
        "f_talk_detect_silent",
        steps=(
            Call(CallScript(number="5550603", name="Stumm SIP", endpoint="caller2", hangup_after=11.5), "abandoned"),
        ),
    ),
    Case(
        "f_talk_detect_sip",
        steps=(
            Call(
                CallScript(
                    number="5550602",
                    name="Sprecher SIP",
                    hangup_after=13.0,
                    talk=(TalkBurst(at=4.0, seconds=7.05, silence_after=False),),
                ),
                "abandoned",
            ),
        ),
    ),
    Case("g_dtmf_silent_prompt", steps=(Send(1), Idle())),
    Case(
        "g_dtmf_silent_prompt_sip",
        steps=(Call(CallScript.silent_pressing(endpoint="caller3", after=8.0), "abandoned"),),
    ),
    Case(
        "i_ring_no_answer",
        softphones={"op1": {"answers": False}, "op2": {"ring_seconds": 0.5}},
        steps=(
            Send(1),
            Send(2),
            Call(
                CallScript(number="5550901", name="Klingel Test", hangup_after=23.5),
                "answered",
                answered_by="PJSIP/op2",
            ),
        ),
        checks=(rang_15_seconds_unanswered,),
    ),
    Case(
        "k_caller_id_variants",
        steps=(
            *(
                Call(variant.with_(hangup_after=6.5), "abandoned")
                for variant in (
                    CallScript(number="anonymous", name="Anonymous", presentation="anonymous", endpoint="caller1"),
                    CallScript(number="5551101", name="Dewi Lestari", presentation="withheld", endpoint="caller2"),
                    CallScript(number="5551102", name="Budi Śantoso", endpoint="caller3"),
                    CallScript(number="5551103", name=LONG_NAME, endpoint="caller1"),
                    CallScript(number="+6281234567890", name="Rina Seluler", endpoint="caller2"),
                    CallScript(number="0215551234", name="Kantor Jakarta", endpoint="caller3"),
                )
            ),
            Send(1),
            Idle(),
        ),
        checks=(names_cut_at_79_bytes_and_kept_in_utf8,),
    ),
    Case(
        "l_geolocation",
        steps=(Call(CallScript.with_location(), "abandoned"),),
        checks=(the_pidf_circle_is_escaped_on_the_wire,),
    ),
    Case(
        "m_ghost_in_prompt",
        steps=(Call(CallScript.ghost_in_prompt(endpoint="caller3"), "prompt"),),
        checks=(never_queued,),
    ),
    # -- the shipped configuration (r_): prompt 6.5 s, the queue loop, the carrier trunk --
    *(
        Case(
            transcript,
            lab=SHIPPED,
            # op1 rings 0.5 s, answers, talks 3 s and hangs up; the same with the daemon stopped
            steps=(
                Send(1),
                Phone("op1", talk_seconds=3.0),
                Send(2),
                Send(3),
                Call(carrier(number, name, hangup_after=None), "answered"),
                Rest(),
                Unplug("op1"),
            ),
        )
        for transcript, number, name in (
            ("r_answered", "5550101", "Anrufer Eins"),
            ("r_daemon_stopped", "5554101", "Tanpa Daemon"),
        )
    ),
    Case(
        "r_abandon_in_queue",
        lab=SHIPPED,
        steps=(Send(1), Call(carrier("5550202", "Menunggu", hangup_after=9.0), "abandoned")),
    ),
    Case(
        "r_hangup_in_prompt",
        lab=SHIPPED,
        steps=(Send(1), Call(carrier("5551301", "Hantu Senyap", hangup_after=1.2), "prompt")),
    ),
    Case(
        "r_dtmf5",
        lab=SHIPPED,
        steps=(Send(1), Call(carrier("5550702", "Stiller SIP", dtmf="5", dtmf_at=1.0, hangup_after=9.0), "abandoned")),
    ),
    Case(
        "r_pidf_lo",
        lab=SHIPPED,
        steps=(
            Send(1),
            Call(
                carrier(
                    "5551201", "Lokasi Test", location=Location(profile_id="sip:caller1@127.0.0.2"), hangup_after=6.9
                ),
                "prompt",
            ),
        ),
    ),
    Case(
        "r_ten_concurrent",
        lab=SHIPPED,
        steps=(
            Send(1),
            Calls(tuple(carrier(f"55510{i}", "Serentak", hangup_after=8.0) for i in range(1, 11)), "abandoned"),
        ),
    ),
    Case(
        "r_ring_no_answer",
        lab=SHIPPED,
        steps=(
            Send(1),
            Phone("op1", answers=False),
            Send(2),
            Phone("op2", talk_seconds=2.0),
            Send(3),
            Send(4),
            Send(5),
            Call(carrier("5550901", "Klingel Test", hangup_after=None), "answered", answered_by="PJSIP/op2"),
            Rest(),
            Unplug("op1"),
            Unplug("op2"),
        ),
    ),
    Case(
        # 60 s in the operators' queue, then the supervisors' (QUEUE_PRIO=10), where the static
        # member op3 answers; the timeout itself is a QueueCallerAbandon
        "r_overflow_60s",
        lab=SHIPPED,
        steps=(
            Send(1),
            Phone("op3", talk_seconds=2.0),
            Send(2),
            Call(carrier("5554401", "Lama Menunggu", hangup_after=None), "answered", answered_by="PJSIP/op3"),
            Rest(),
            Unplug("op3"),
        ),
    ),
    Case(
        "r_quotes_backslash",
        lab=SHIPPED,
        steps=(Send(1), Call(carrier("5551104", QUOTED, hangup_after=1.0), "prompt")),
        checks=(quotes_kept_by_pjsip_and_c_escaped_by_ami,),
    ),
    Case(
        "r_long_name",
        lab=SHIPPED,
        steps=(Send(1), Call(carrier("5551103", LONG_NAME, hangup_after=1.0), "prompt")),
        checks=(the_long_name_is_cut_at_79_bytes,),
    ),
)


@pytest.mark.parametrize("case", [pytest.param(case, id=case.transcript) for case in CASES])
async def test_the_simulator_replays_the_recording(case: Case, drive, make_sim, connect) -> None:  # type: ignore[no-untyped-def]
    sim = await make_sim(**case.lab.overrides(case.flow))
    script = case.lab.sent(case.transcript)
    client = await logged_in(sim, connect, script)
    for endpoint, softphone in case.softphones.items():
        sim.set_softphone(endpoint, **softphone)
    sends, rested = 0, False
    for step in case.steps:
        if isinstance(step, Send):
            sends += 1
            assert step.index == sends, "the recording's actions go in their order"
            await client.action(script[step.index])
        elif isinstance(step, Call):
            call = await sim.place_call(step.script)
            assert await drive.ended(call) == step.outcome
            if step.answered_by is not None:
                assert call.answered_by == step.answered_by
        elif isinstance(step, Calls):
            calls = []
            for one in step.scripts:
                calls.append(await sim.place_call(one))
                await drive.advance(step.every)
            await drive.until(lambda: all(c.ended.done() for c in calls))
            assert [c.outcome for c in calls] == [step.outcome] * len(calls)
        elif isinstance(step, Phone):
            sim.set_softphone(
                step.endpoint,
                answers=step.answers,
                ring_seconds=step.ring_seconds,
                talk_seconds=step.talk_seconds,
                registered=True,
            )
        elif isinstance(step, Unplug):
            sim.engine.set_registered(step.endpoint, False)
            await drive.settle()
        elif isinstance(step, Rest):
            await finish(client, script, 1 + sends)
            rested = True
        else:
            await drive.idle(sim)
    if not rested:
        await finish(client, script, 1 + sends)
    assert_same(
        client.messages,
        case.lab.recorded(case.transcript),
        skip=case.skip,
        roles=None if case.roles is None else set(case.roles),
    )
    for check in case.checks:
        await check(client)


# -- the scenarios that talk with the simulator mid-call ----------------------------


async def test_e_ten_concurrent(drive, make_sim, connect, transcripts_dir: Path) -> None:
    name = "e_ten_concurrent"
    sim = await make_sim(**{**OLDER_LAB, "flow": "legacy"})
    script = sent(transcripts_dir, name)
    client = await logged_in(sim, connect, script)
    sim.set_softphone("op1", ring_seconds=0.3, talk_seconds=1.5)
    calls = []
    for i in range(1, 11):
        calls.append(await sim.place_call(CallScript(number=f"55510{i}", name=f"Anrufer {i}", hangup_after=None)))
        await drive.advance(0.1)
    await client.event("QueueCallerJoin", count=10)
    summary = await client.list_action(script[1], "QueueSummaryComplete")
    want = recorded(transcripts_dir, name)
    keys = ("Event", "Queue", "LoggedIn", "Available", "Callers", "EventList", "ListItems")
    recorded_summary = [m for m in want if m.get("ActionID") == dict(script[1])["ActionID"]]
    assert [{k: m[k] for k in keys if k in m} for m in summary] == [
        {k: m[k] for k in keys if k in m} for m in recorded_summary
    ]
    await client.action(script[2])
    await drive.until(lambda: all(c.ended.done() for c in calls))
    outcomes = [c.outcome for c in calls]
    assert outcomes == ["answered"] * 10
    await finish(client, script, 3)
    assert_same(client.messages, recorded(transcripts_dir, name))


async def test_j_priority_withdraw(drive, sim, connect, transcripts_dir: Path) -> None:
    name = "j_priority_withdraw"
    script = sent(transcripts_dir, name)
    client = await logged_in(sim, connect, script)
    sim.set_softphone("op1", ring_seconds=0.3, talk_seconds=1.5)
    calls = []
    for i, (number, nm) in enumerate((("5551001", "Erster"), ("5551002", "Zweiter"), ("5551003", "Dritter")), start=1):
        calls.append(await sim.place_call(CallScript(number=number, name=nm, endpoint=f"caller{i}", hangup_after=None)))
        await drive.advance(1.0)
    await client.event("QueueCallerJoin", count=3)
    channel = {f"PJSIP/caller{i}": c.channel for i, c in enumerate(calls, start=1)}

    def mapped(action: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, channel[v.rsplit("-", 1)[0]] if k == "Caller" else v) for k, v in action]

    first = await client.list_action(script[1], "QueueStatusComplete")
    assert [e["Channel"] for e in first if e.get("Event") == "QueueEntry"] == [c.channel for c in calls]
    assert (await client.action(mapped(script[2])))["Message"] == "Priority change for caller on queue"
    second = await client.list_action(script[3], "QueueStatusComplete")
    entries = [e for e in second if e.get("Event") == "QueueEntry"]
    assert [(e["Channel"], e["Priority"]) for e in entries] == [
        (calls[2].channel, "10"),
        (calls[0].channel, "0"),
        (calls[1].channel, "0"),
    ]
    assert (await client.action(mapped(script[4])))["Message"] == "Withdraw requested successfully"
    assert await drive.ended(calls[1]) == "withdrawn"
    third = await client.list_action(script[5], "QueueStatusComplete")
    assert [e["Channel"] for e in third if e.get("Event") == "QueueEntry"] == [calls[2].channel, calls[0].channel]
    await client.action(script[6])
    assert await drive.ended(calls[2]) == "answered"
    assert await drive.ended(calls[0]) == "answered"
    await finish(client, script, 7)
    assert_same(client.messages, recorded(transcripts_dir, name))


async def test_l_geolocation_without_res_geolocation(drive, make_sim, connect) -> None:
    sim = await make_sim(modules_loaded=frozenset({"app_queue.so", "res_pjsip.so"}))
    client = await connect(sim.port)
    await client.login()
    call = await sim.place_call(CallScript.with_location(location=Location.circle(-6.1, 106.9)))
    await drive.ended(call)
    geo = [
        m["Variable"] for m in client.messages if m.get("Event") == "VarSet" and m["Variable"].startswith("NGCC_GEO_")
    ]
    assert geo == ["NGCC_GEO_HEADER", "NGCC_GEO_ROUTING"]


# -- restart ------------------------------------------------------------------


async def test_h_asterisk_restart_and_after(drive, sim, connect, transcripts_dir: Path) -> None:
    script = sent(transcripts_dir, "h_asterisk_restart")
    client = await logged_in(sim, connect, script)
    await client.action(script[1])
    await client.event("QueueCallerJoin")
    await drive.run(sim.restart())
    await drive.until(client.closed.is_set)
    assert client.messages[-1].get("Event") == "Shutdown"
    assert_same(client.messages, recorded(transcripts_dir, "h_asterisk_restart"))

    after = sent(transcripts_dir, "h_asterisk_restart_after")
    again = await connect(sim.port)
    completes = {"CoreShowChannels": "CoreShowChannelsComplete", "QueueStatus": "QueueStatusComplete"}
    for action in after:
        kind = dict(action)["Action"]
        if kind in completes:
            await again.list_action(action, completes[kind])
        else:
            await again.action(action)
    await drive.settle()
    want = recorded(transcripts_dir, "h_asterisk_restart_after")

    def shape(msgs: list[dict[str, str]]) -> list[tuple[str, ...]]:
        keep = (
            "Response",
            "Event",
            "Message",
            "EventList",
            "ListItems",
            "Status",
            "Uptime",
            "LastReload",
            "Queue",
            "Calls",
        )
        return [tuple(f"{k}={m[k]}" for k in keep if k in m) for m in msgs]

    assert shape(again.messages) == shape(want)
