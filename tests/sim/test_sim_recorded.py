"""The simulator against the real Asterisk 22.10.1 with the SHIPPED asterisk-config/.

tests/data/transcripts/r_*.ami were recorded by the integration suite
(tests/real_asterisk, see the folder's README.md): the shipped dialplan, queues
and manager user, SIPp callers on the carrier trunk, SIPp operator phones. The
recordings whose scenario is a list of steps (a caller, a phone, the next AMI
action) are rows of the table in ``test_sim_conformance.py``; here are the rest,
which act on live channels mid-call (withdraw, priority changes), reconnect
(the restart), compare callers out of order (caller-ID variants), time the
prompt, or check every layout. Each plays the scenario through the simulator
with its default configuration (the shipped one) and compares, per channel
role, the ordered significant events and their key fields
(:func:`ngcc112.sim.transcript.signature`).

What the recording lab had that a simulator has not is left out of the
comparison where it shows: its own path for ``${ASTDATADIR}`` (normalised by
``signature``); the suite's clean-up between tests (hang-ups with cause 32) in
r_priority_raise_digit5.
"""

from __future__ import annotations

import re
import wave
from collections.abc import Awaitable, Callable

import pytest

from ngcc112 import names
from ngcc112.sim.calls import CallScript, Location
from ngcc112.sim.config import SHIPPED_STATIC_MEMBERS, SimulatorConfig
from ngcc112.sim.server import AmiSimulator
from ngcc112.sim.transcript import diff_signatures, parse_messages, signature, split_messages
from tests.sim.labs import CONFIG, QUOTED, SHIPPED, SHIPPED_RECORDINGS, carrier, conf_sections

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def shipped(make_sim: Callable[..., Awaitable[AmiSimulator]]) -> AmiSimulator:
    """The simulator as configured by default (the shipped asterisk-config/), every phone down."""
    return await make_sim(**SHIPPED.overrides(None))


recorded, sent = SHIPPED.recorded, SHIPPED.sent


def assert_same(actual: list[dict[str, str]], expected: list[dict[str, str]]) -> None:
    report = diff_signatures(signature(actual), signature(expected))
    if report:
        pytest.fail(report)


async def logged_in(sim: AmiSimulator, connect, script: list[list[tuple[str, str]]]):  # type: ignore[no-untyped-def]
    client = await connect(sim.port)
    response = await client.action(script[0])
    assert response["Message"] == "Authentication accepted"
    return client


# -- the shipped configuration itself ------------------------------------------------


def test_the_defaults_are_the_shipped_configuration() -> None:
    config = SimulatorConfig()
    assert config.flow == "shipped"
    queues = conf_sections(CONFIG / "queues.conf")
    for queue in config.queues:
        lines = dict(queues[queue])
        assert config.strategies[queue] == lines["strategy"]
        members = tuple(value for key, value in queues[queue] if key == "member")
        want = tuple(",".join((m.interface, str(m.penalty), m.name, m.state_interface))
                     for m in config.static_members.get(queue, ()))
        assert members == want, queue
    assert SHIPPED_STATIC_MEMBERS[names.SUPERVISOR_QUEUE]
    with wave.open(str(CONFIG / "sounds" / "id" / "ngcc112-silent-prompt.wav")) as prompt:
        assert config.prompt_seconds == pytest.approx(prompt.getnframes() / prompt.getframerate(),
                                                      abs=0.001)
    dialplan = (CONFIG / "extensions.conf").read_text(encoding="utf-8")
    assert f"Queue({names.OPERATOR_QUEUE},,,,{config.queue_timeout:g})" in dialplan
    assert f"Queue({names.SUPERVISOR_QUEUE},,,,{config.queue_timeout:g})" in dialplan
    assert f"Read({names.VAR_SILENT_DIGIT},${{NGCC_PROMPT}},1,,1,{names.SILENT_PROMPT_SECONDS})" in dialplan


# -- one caller, one recording --------------------------------------------------------


async def test_r_answered_times_the_prompt_and_the_answer_like_asterisk(drive, shipped, connect) -> None:
    """``Answer`` → next step 0.5 s; Read() 3.5 s of speech + 3 s: the queue 7 s after the answer."""
    client = await connect(shipped.port)
    await client.login()
    call = await shipped.place_call(carrier("5550101", "Anrufer Eins", hangup_after=9.0))
    assert await drive.ended(call) == "abandoned"

    def at(event: str, **fields: str) -> float:
        (found,) = [m for m in client.messages if m.get("Event") == event
                    and all(m.get(k) == v for k, v in fields.items())]
        return float(found["Timestamp"])

    answered = at("Newexten", Application="Answer")
    assert at("Newexten", Application="Set", AppData="TALK_DETECT(set)=") - answered == pytest.approx(0.5)
    read = at("Newexten", Application="Read")
    assert at("VarSet", Variable="READSTATUS", Value="TIMEOUT") - read == pytest.approx(6.548)
    want = recorded("r_answered")
    rec_read = float(next(m for m in want if m.get("Application") == "Read")["Timestamp"])
    rec_timeout = float(next(m for m in want if m.get("Value") == "TIMEOUT"
                             and m.get("Variable") == "READSTATUS")["Timestamp"])
    assert rec_timeout - rec_read == pytest.approx(6.548, abs=0.05)


# -- the queue loop -------------------------------------------------------------------


async def test_r_withdraw_to_supervisors(drive, shipped, connect) -> None:
    """A withdrawn caller goes on to the supervisors' queue instead of being hung up."""
    name = "r_withdraw_to_supervisors"
    script = sent(name)
    client = await logged_in(shipped, connect, script)
    await client.action(script[1])
    call = await shipped.place_call(carrier("5555201", "Ditarik", hangup_after=16.0))
    await client.event("QueueCallerJoin")
    await drive.advance(0.5)
    withdraw = [(k, call.channel if k == "Caller" else v) for k, v in script[2]]
    assert (await client.action(withdraw))["Message"] == "Withdraw requested successfully"
    assert await drive.ended(call) == "abandoned"
    await client.action(script[3])
    assert_same(client.messages, recorded(name))
    joins = [m["Queue"] for m in client.messages if m.get("Event") == "QueueCallerJoin"]
    assert joins == [names.OPERATOR_QUEUE, names.SUPERVISOR_QUEUE]


async def test_a_withdraw_takes_effect_at_app_queues_next_look(drive, shipped, connect) -> None:
    """app_queue looks once a second from the join (r_withdraw: 1.0 s after the join)."""
    client = await connect(shipped.port)
    await client.login()
    call = await shipped.place_call(carrier("5555201", "Ditarik", hangup_after=30.0))
    join = (await client.event("QueueCallerJoin"))[0]
    await drive.advance(0.3)
    await client.action({"Action": "QueueWithdrawCaller", "Queue": names.OPERATOR_QUEUE,
                         "Caller": call.channel, "WithdrawInfo": "x"})
    again = await client.action({"Action": "QueueWithdrawCaller", "Queue": names.OPERATOR_QUEUE,
                                 "Caller": call.channel})
    assert again["Message"] == "Unable to request withdraw from queue: Already requested"
    abandon = (await client.event("QueueCallerAbandon"))[0]
    assert float(abandon["Timestamp"]) - float(join["Timestamp"]) == pytest.approx(1.0)
    withdrawn = [m["Value"] for m in client.messages if m.get("Event") == "VarSet"
                 and m["Variable"] in ("QUEUE_WITHDRAW_INFO", "QUEUESTATUS", "NGCC_QUEUE_RESULT")]
    assert withdrawn == ["x", "WITHDRAW", "WITHDRAW"]


# -- QueueChangePriorityCaller ------------------------------------------------------


async def test_priority_change_without_immediate_keeps_the_place(drive, shipped, connect) -> None:
    """Without ``Immediate: yes`` the caller keeps its position; only callers joining
    later are ranked against its new priority. Negative priorities are accepted; no event."""
    client = await connect(shipped.port)
    await client.login()
    first = await shipped.place_call(carrier("5555001", "Satu", hangup_after=None))
    await drive.advance(1.0)
    second = await shipped.place_call(carrier("5555002", "Dua", hangup_after=None))
    await client.event("QueueCallerJoin", count=2)
    before = len(client.messages)
    response = await client.action({"Action": "QueueChangePriorityCaller", "Queue": names.OPERATOR_QUEUE,
                                    "Caller": second.channel, "Priority": "10"})
    assert response["Message"] == "Priority change for caller on queue"
    response = await client.action({"Action": "QueueChangePriorityCaller", "Queue": names.OPERATOR_QUEUE,
                                    "Caller": first.channel, "Priority": "-5"})
    assert response["Response"] == "Success"
    assert [m for m in client.messages[before:] if "Event" in m] == []

    async def entries() -> list[tuple[str, str]]:
        status = await client.list_action({"Action": "QueueStatus", "Queue": names.OPERATOR_QUEUE},
                                          "QueueStatusComplete")
        return [(m["Channel"], m["Priority"]) for m in status if m.get("Event") == "QueueEntry"]

    assert await entries() == [(first.channel, "-5"), (second.channel, "10")]
    # a caller joining now goes ahead of the first caller with a lower priority (app_queue's
    # join): here the very first, whose -5 counts only now
    third = await shipped.place_call(carrier("5555003", "Tiga", hangup_after=None))
    assert (await client.event("QueueCallerJoin", count=3))[2]["Position"] == "1"
    assert await entries() == [(third.channel, "0"), (first.channel, "-5"), (second.channel, "10")]


async def test_priority_change_with_immediate_reorders_at_once(drive, shipped, connect) -> None:
    client = await connect(shipped.port)
    await client.login()
    calls = []
    for number in ("5555001", "5555002", "5555003"):
        calls.append(await shipped.place_call(carrier(number, "Antri", hangup_after=None)))
        await drive.advance(1.0)
    await client.event("QueueCallerJoin", count=3)
    await client.action({"Action": "QueueChangePriorityCaller", "Queue": names.OPERATOR_QUEUE,
                         "Caller": calls[2].channel, "Priority": "10", "Immediate": "yes"})
    await client.action({"Action": "QueueChangePriorityCaller", "Queue": names.OPERATOR_QUEUE,
                         "Caller": calls[0].channel, "Priority": "-1", "Immediate": "yes"})
    status = await client.list_action({"Action": "QueueStatus", "Queue": names.OPERATOR_QUEUE},
                                      "QueueStatusComplete")
    assert [(m["Channel"], m["Position"], m["Priority"]) for m in status if m.get("Event") == "QueueEntry"] == [
        (calls[2].channel, "1", "10"), (calls[1].channel, "2", "0"), (calls[0].channel, "3", "-1")]
    # the next free operator takes the first in line
    shipped.set_softphone("op1", ring_seconds=0.3, talk_seconds=1.0, registered=True)
    await client.action({"Action": "QueueAdd", "Queue": names.OPERATOR_QUEUE, "Interface": "PJSIP/op1"})
    first_called = (await client.event("AgentCalled"))[0]
    assert first_called["Channel"] == calls[2].channel


async def test_r_priority_raise_digit5(drive, shipped, connect) -> None:
    """The daemon raised the caller who pressed 5 with ``Immediate: yes``: it is first in
    QueueStatus at once, and op1 answers it first."""
    name = "r_priority_raise_digit5"
    script = sent(name)
    client = await logged_in(shipped, connect, script)
    daemon = await connect(shipped.port)
    await daemon.login()
    await client.action(script[1])
    waiting = await shipped.place_call(carrier("5555101", "Sudah Menunggu", hangup_after=None))
    await client.event("QueueCallerJoin")
    await drive.advance(1.0)
    pressing = await shipped.place_call(carrier("5555102", "Tidak Bisa Bicara", dtmf="5", dtmf_at=0.64,
                                                hangup_after=None))
    await client.event("QueueCallerJoin", count=2)
    want = recorded(name)

    def entries(messages: list[dict[str, str]], action_id: str) -> list[tuple[str, str, str]]:
        return [(m["CallerIDNum"], m["Position"], m["Priority"]) for m in messages
                if m.get("Event") == "QueueEntry" and m.get("ActionID") == action_id]

    await client.list_action(script[2], "QueueStatusComplete")
    assert entries(client.messages, "t2") == entries(want, "t2")
    await daemon.action({"Action": "QueueChangePriorityCaller", "Queue": names.OPERATOR_QUEUE,
                         "Caller": pressing.channel, "Priority": "10", "Immediate": "yes"})
    await client.list_action(script[3], "QueueStatusComplete")
    assert entries(client.messages, "t3") == entries(want, "t3")
    await client.list_action(script[4], "QueueStatusComplete")
    await client.list_action(script[5], "DeviceStateListComplete")
    shipped.set_softphone("op1", ring_seconds=0.3, talk_seconds=60.0, registered=True)
    await client.action(script[6])
    connected = (await client.event("AgentConnect"))[0]
    assert connected["Channel"] == pressing.channel
    recorded_connect = next(m for m in want if m.get("Event") == "AgentConnect")
    assert (connected["CallerIDNum"], connected["Interface"]) == (
        recorded_connect["CallerIDNum"], recorded_connect["Interface"])
    # up to the answer, event for event (the recording then ends in the suite's clean-up)
    cut = next(i for i, m in enumerate(want) if m.get("Event") == "AgentConnect")
    mine = next(i for i, m in enumerate(client.messages) if m.get("Event") == "AgentConnect")
    assert_same(client.messages[:mine + 1], want[:cut + 1])
    assert not waiting.ended.done()


# -- restart ------------------------------------------------------------------------


async def test_r_asterisk_restart(drive, shipped, connect) -> None:
    name = "r_asterisk_restart"
    script = sent(name)
    client = await logged_in(shipped, connect, script)
    await client.action(script[1])
    before = await shipped.place_call(carrier("5554301", "Sebelum Restart", hangup_after=None))
    await client.event("QueueCallerJoin")
    await drive.run(shipped.restart())
    await drive.until(client.closed.is_set)
    assert before.outcome == "restart"
    again = await connect(shipped.port)
    await again.action(script[2])
    await again.event("FullyBooted")
    after = await shipped.place_call(carrier("5554302", "Sesudah Restart", hangup_after=8.0))
    assert await drive.ended(after) == "abandoned"
    await again.action(script[3])
    assert_same(client.messages + again.messages, recorded(name))


# -- caller ID ----------------------------------------------------------------------


async def test_a_local_callers_name_is_only_c_escaped(drive, shipped, connect) -> None:
    client = await connect(shipped.port)
    await client.login()
    call = await shipped.place_call(CallScript(number="5551105", name='Pak "Budi" ?\t\'', kind="Local",
                                               hangup_after=1.0))
    await drive.ended(call)
    names_seen = {m["CallerIDName"] for m in client.messages
                  if m.get("Channel") == call.channel and m.get("Event") == "Newexten"}
    assert names_seen == {"Pak \\\"Budi\\\" \\?\\t\\'"}
    noop = next(m["AppData"] for m in client.messages if m.get("Application") == "NoOp")
    assert noop.startswith('NGCC 112 call from "Pak "Budi" ?\t\'" <5551105>')


async def test_queue_entry_shows_the_name_unescaped_and_unknown_connected_line(drive, shipped,
                                                                               connect) -> None:
    """app_queue writes QueueEntry itself: no C escaping, ``unknown`` for what is not set."""
    client = await connect(shipped.port)
    await client.login()
    call = await shipped.place_call(carrier("5551104", QUOTED, hangup_after=None))
    await client.event("QueueCallerJoin")
    status = await client.list_action({"Action": "QueueStatus"}, "QueueStatusComplete")
    (entry,) = [m for m in status if m.get("Event") == "QueueEntry"]
    assert (entry["CallerIDNum"], entry["CallerIDName"]) == ("5551104", 'Pak \\"Budi\\" \\\\ RT 05')
    assert (entry["ConnectedLineNum"], entry["ConnectedLineName"]) == ("unknown", "unknown")
    want = [m for m in recorded("r_priority_raise_digit5") if m.get("Event") == "QueueEntry"]
    assert {(m["ConnectedLineNum"], m["ConnectedLineName"]) for m in want} == {("unknown", "unknown")}
    assert not call.ended.done()


async def test_r_caller_id_variants(drive, shipped, connect) -> None:
    name = "r_caller_id_variants"
    script = sent(name)
    client = await logged_in(shipped, connect, script)
    await client.action(script[1])
    variants = [
        carrier("5551101", "Dewi Lestari", presentation="withheld"),
        carrier("anonymous", "Anonymous", presentation="anonymous"),
        carrier("5551102", "Budi Śantoso"),
        carrier("5551104", QUOTED),
        carrier("+6281234567890", "Rina Seluler"),
        carrier("0215551234", "Kantor Jakarta"),
        carrier("", ""),
    ]
    calls = [await shipped.place_call(v.with_(hangup_after=1.0)) for v in variants]
    await drive.until(lambda: all(c.ended.done() for c in calls))
    await client.action(script[2])
    want = recorded(name)
    got_sig, want_sig = signature(client.messages), signature(want)

    def by_number(messages: list[dict[str, str]]) -> dict[str, tuple[str, str]]:
        return {m["CallerIDNum"]: (m["CallerIDName"], m["Channel"]) for m in messages
                if m.get("Event") == "Newchannel"}

    # the recording's callers arrived in another order: compare caller by caller
    mine, theirs = by_number(client.messages), by_number(want)
    assert {n: v[0] for n, v in mine.items()} == {n: v[0] for n, v in theirs.items()}
    roles_mine = {n: signature([m for m in client.messages if m.get("Channel") == ch])
                  for n, (_, ch) in mine.items()}
    roles_theirs = {n: signature([m for m in want if m.get("Channel") == ch])
                    for n, (_, ch) in theirs.items()}
    for number in mine:
        (got,) = roles_mine[number].values()
        (expected,) = roles_theirs[number].values()
        normalise = re.compile(r"PJSIP/carrier-[0-9a-f]{8}|carrier#\d+")
        got = [tuple(normalise.sub("C", f) for f in e) for e in got]
        expected = [tuple(normalise.sub("C", f) for f in e) for e in expected]
        assert got == expected, number
    assert sorted(got_sig) == sorted(want_sig)


# -- layouts ------------------------------------------------------------------------


def recorded_layouts() -> dict[str, set[tuple[str, ...]]]:
    layouts: dict[str, set[tuple[str, ...]]] = {}
    for path in sorted(SHIPPED_RECORDINGS.glob("r_*.ami")):
        for pairs in parse_messages(path):
            first_key, first_value = pairs[0]
            kind = first_value if first_key == "Event" else "Response"
            layouts.setdefault(kind, set()).add(tuple(k for k, _ in pairs))
    return layouts


async def test_every_message_has_a_layout_the_real_asterisk_sent(drive, shipped, connect) -> None:
    """Keys and their order, with the shipped manager.conf (timestamps on), for a mix of
    calls: rung out, answered, talking, digit, location, overflow, pause, restart."""
    client = await connect(shipped.port)
    await client.login()
    shipped.set_softphone("op1", answers=False, registered=True)
    shipped.set_softphone("op2", ring_seconds=0.5, talk_seconds=3.0, registered=True)
    for endpoint in ("op1", "op2"):
        await client.action({"Action": "QueueAdd", "Queue": names.OPERATOR_QUEUE,
                             "Interface": f"PJSIP/{endpoint}", "MemberName": endpoint})
    talking = await shipped.place_call(carrier("5550101", "A", hangup_after=None))
    pressing = await shipped.place_call(carrier("5550102", "B", dtmf="5", hangup_after=30.0,
                                                location=Location()))
    await client.event("QueueCallerJoin", count=2)
    await client.list_action({"Action": "QueueStatus"}, "QueueStatusComplete")
    await client.list_action({"Action": "DeviceStateList"}, "DeviceStateListComplete")
    await drive.until(lambda: talking.ended.done() and pressing.ended.done())
    await client.action({"Action": "QueueRemove", "Queue": names.OPERATOR_QUEUE, "Interface": "PJSIP/op1"})
    shipped.set_softphone("op3", ring_seconds=0.5, talk_seconds=2.0, registered=True)
    await client.action({"Action": "QueuePause", "Interface": "PJSIP/op2", "Paused": "true"})
    overflowing = await shipped.place_call(carrier("5550103", "C", hangup_after=None))
    await drive.ended(overflowing)
    shipped.engine.set_registered("op3", False)
    await shipped.place_call(carrier("5550104", "D", hangup_after=None))
    await client.event("QueueCallerJoin", count=4)
    await drive.run(shipped.restart())
    await drive.until(client.closed.is_set)

    layouts = recorded_layouts()
    problems = set()
    for pairs in split_messages(client.raw.decode("utf-8")):
        first_key, first_value = pairs[0]
        kind = first_value if first_key == "Event" else "Response"
        keys = tuple(k for k, _ in pairs)
        if kind in layouts and keys not in layouts[kind]:
            problems.add(f"{kind}: {keys}")
    assert not problems, "\n".join(sorted(problems))
    # what a phone's registration and its end look like, as in r_answered
    registration = [(m["Event"], m.get("ContactStatus") or m.get("PeerStatus"))
                    for m in client.messages if m.get("Event") in ("ContactStatus", "PeerStatus")
                    and m.get("AOR", m.get("Peer", "")).endswith("op3")]
    want = [(m["Event"], m.get("ContactStatus") or m.get("PeerStatus")) for m in recorded("r_answered")
            if m.get("Event") in ("ContactStatus", "PeerStatus")]
    assert registration == [want[0], want[1], want[2], ("PeerStatus", "Unreachable"),
                            ("ContactStatus", "Removed")]
    assert want[3:] == [("PeerStatus", "Unreachable"), ("ContactStatus", "Removed")]
