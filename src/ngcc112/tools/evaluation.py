"""``ngcc112 eval-heuristics``: replay labelled calls through the simulator and score them.

A case file (JSON, in the package's ``routing/cases/`` by default) holds labelled
cases. Each case is a short story about one number: the calls it places
(simulator :class:`~ngcc112.sim.calls.CallScript` fields plus ``at``, when
the call starts, in simulated seconds from the case's start), what the
database already knows of it (earlier calls with operators' verdicts, misuse
list entries), and the true type of its **last** call: ``normal``, ``ghost``
or ``prank``. Earlier calls of a case become history exactly as they would
live (unjudged unless the call says ``"verdict"``).

Every case runs at once in one simulator on a
:class:`~ngcc112.clock.VirtualClock`; its AMI traffic goes over TCP through
the real :class:`~ngcc112.ami.link.AmiLink` and
:class:`~ngcc112.ami.tracker.CallTracker`, every event carrying the
simulator's ``Timestamp``, and the facts and the history are built by the same
functions the live :class:`~ngcc112.triage.service.Triage` uses
(:func:`~ngcc112.routing.progress.advance_facts`, :func:`~ngcc112.routing.progress.past_call`,
:func:`~ngcc112.tickets.history.blocklist_entry`). No database is needed.

Virtual time moves only when everything the simulator sent has been received
and tracked (:class:`~ngcc112.sim.driver.Driver`), so the result is the same
on an idle machine and on a busy one; only the real seconds it takes differ.

Besides precision, recall and the confusion table, the run reports every
queue-priority change the live triage would have sent, and singles out the
worst mistake: a real emergency pushed down the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ngcc112 import names
from ngcc112.ami.events import CallEvent
from ngcc112.ami.link import AmiLink
from ngcc112.ami.link_items import LinkState, QueueSnapshot, Snapshot
from ngcc112.ami.message import AmiMessage
from ngcc112.ami.tracker import CallTracker
from ngcc112.clock import VirtualClock, utc
from ngcc112.location.numbers import canonical_number
from ngcc112.routing.evaluation import CALL_TYPES, EvaluationReport, classify, evaluate, render
from ngcc112.routing.facts import CallerHistory, CallFacts, PastCall, is_missing_number
from ngcc112.routing.policy import Policy
from ngcc112.routing.progress import advance_facts, past_call
from ngcc112.routing.scoring import Assessment, score_call
from ngcc112.routing.steering import no_speech_due, priority_to_send, scoring_moment
from ngcc112.settings import AmiSettings, Settings
from ngcc112.sim.calls import CallScript, TalkBurst
from ngcc112.sim.config import SimulatorConfig
from ngcc112.sim.driver import Driver
from ngcc112.sim.server import AmiSimulator
from ngcc112.tickets.history import blocklist_entry, past_call_from_ticket
from ngcc112.tickets.location_models import BlocklistRow
from ngcc112.tickets.models import Ticket

#: Simulated seconds between the starts of consecutive cases (spreads the load).
CASE_STAGGER = 1.0
#: The longest a case may run, simulated seconds.
MAX_CASE_SECONDS = 600.0
#: Real seconds the whole replay may take before it is given up (a hang, not a slow machine).
REPLAY_TIMEOUT = 600.0
#: The case files shipped with the source tree.
#: The labelled cases shipped with the package (so the tool works from a wheel too).
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "routing" / "cases"

_CALL_KEYS = {
    "at",
    "number",
    "name",
    "presentation",
    "kind",
    "exten",
    "talk",
    "dtmf",
    "dtmf_at",
    "hangup_after",
    "verdict",
}
_CASE_KEYS = {"id", "type", "note", "calls", "history", "blocklist"}
_HISTORY_KEYS = {"minutes_ago", "days_ago", "verdict", "answered", "duration_seconds"}
_BLOCKLIST_KEYS = {"reason", "added_by", "days_ago", "expires_in_days"}


class CaseError(ValueError):
    """A case file cannot be used; the message names the file, the case and the field."""


@dataclass(frozen=True, slots=True)
class CaseCall:
    at: float
    script: CallScript
    verdict: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryCall:
    ago: timedelta
    verdict: str | None
    answered: bool
    duration: timedelta


@dataclass(frozen=True, slots=True)
class ListedNumber:
    reason: str
    added_by: str
    ago: timedelta
    expires_in: timedelta | None


@dataclass(frozen=True, slots=True)
class HeuristicCase:
    id: str
    type: str
    calls: tuple[CaseCall, ...]
    history: tuple[HistoryCall, ...] = ()
    blocklist: tuple[ListedNumber, ...] = ()
    note: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: HeuristicCase
    facts: CallFacts
    assessment: Assessment
    predicted: str
    #: The queue priorities the live triage would have sent, in order.
    priorities: tuple[int, ...] = ()

    @property
    def correct(self) -> bool:
        return self.predicted == self.case.type


@dataclass(frozen=True, slots=True)
class EvaluationRun:
    report: EvaluationReport
    results: tuple[CaseResult, ...]
    policy: Policy
    seconds: float = 0.0

    def lowered(self, call_type: str) -> list[CaseResult]:
        """Calls of ``call_type`` the live triage would have pushed down the queue."""
        return [
            r
            for r in self.results
            if r.case.type == call_type and any(p < self.policy.priority_normal for p in r.priorities)
        ]

    def raised(self, call_type: str) -> list[CaseResult]:
        return [
            r
            for r in self.results
            if r.case.type == call_type and any(p > self.policy.priority_normal for p in r.priorities)
        ]


# --- loading ----------------------------------------------------------------------


def load_cases(path: str | Path | None = None) -> list[HeuristicCase]:
    """Every case in ``path`` (a ``.json`` file, or a directory of them), checked."""
    root = Path(path) if path is not None else DEFAULT_PATH
    if root.is_dir():
        files = sorted(root.glob("*.json"))
        if not files:
            raise CaseError(f"{root}: no .json case files")
    elif root.is_file():
        files = [root]
    else:
        raise CaseError(f"{root}: no such file or directory")
    cases: list[HeuristicCase] = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CaseError(f"{file}: cannot read: {exc}") from None
        items = data.get("cases") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise CaseError(f'{file}: expected an object with a "cases" list')
        for index, item in enumerate(items):
            cases.append(_case(item, f"{file.name}#{index}"))
    _check_unique(cases)
    return cases


def _check_unique(cases: Sequence[HeuristicCase]) -> None:
    ids: set[str] = set()
    owners: dict[str, str] = {}
    for case in cases:
        if case.id in ids:
            raise CaseError(f"{case.source}: case id {case.id!r} is used twice")
        ids.add(case.id)
        for call in case.calls:
            number = call.script.number
            if is_missing_number(number):
                continue
            key = canonical_number(number) or number
            owner = owners.setdefault(key, case.id)
            if owner != case.id:
                raise CaseError(
                    f"{case.source}: number {number} is also used by case {owner!r};"
                    " cases run at once and must not share numbers"
                )


def _case(item: Any, where: str) -> HeuristicCase:
    if not isinstance(item, Mapping):
        raise CaseError(f"{where}: a case must be an object")
    _known(item, _CASE_KEYS, where)
    case_id = item.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise CaseError(f'{where}: "id" must be a non-empty string')
    where = f"{where} ({case_id})"
    true_type = item.get("type")
    if true_type not in CALL_TYPES:
        raise CaseError(f'{where}: "type" must be one of {", ".join(CALL_TYPES)}, got {true_type!r}')
    calls = item.get("calls")
    if not isinstance(calls, list) or not calls:
        raise CaseError(f'{where}: "calls" must be a non-empty list')
    return HeuristicCase(
        id=case_id,
        type=true_type,
        note=str(item.get("note", "")),
        source=where,
        calls=tuple(_call(c, f"{where} call {i}") for i, c in enumerate(calls)),
        history=tuple(_history(h, f"{where} history {i}") for i, h in enumerate(_list(item, "history", where))),
        blocklist=tuple(_listed(b, f"{where} blocklist {i}") for i, b in enumerate(_list(item, "blocklist", where))),
    )


def _list(item: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = item.get(key, [])
    if not isinstance(value, list):
        raise CaseError(f'{where}: "{key}" must be a list')
    return value


def _known(item: Mapping[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(item) - keys)
    if unknown:
        raise CaseError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(keys))}")


def _number(item: Mapping[str, Any], key: str, where: str, default: float | None = None, minimum: float = 0.0) -> float:
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise CaseError(f'{where}: "{key}" must be a number ≥ {minimum:g}, got {value!r}')
    return float(value)


def _call(item: Any, where: str) -> CaseCall:
    if not isinstance(item, Mapping):
        raise CaseError(f"{where}: a call must be an object")
    _known(item, _CALL_KEYS, where)
    hangup = _number(item, "hangup_after", where)
    if hangup > MAX_CASE_SECONDS:
        raise CaseError(f'{where}: "hangup_after" must be at most {MAX_CASE_SECONDS:g} s')
    talk = []
    for i, burst in enumerate(item.get("talk", [])):
        if not isinstance(burst, Mapping):
            raise CaseError(f"{where} talk {i}: must be an object with at and seconds")
        talk.append(
            TalkBurst(
                at=_number(burst, "at", where),
                seconds=_number(burst, "seconds", where),
                silence_after=bool(burst.get("silence_after", True)),
            )
        )
    verdict = item.get("verdict")
    if verdict is not None and verdict not in ("normal", "ghost", "prank", "information"):
        raise CaseError(f'{where}: "verdict" must be normal, ghost, prank or information')
    try:
        script = CallScript(
            number=str(item.get("number", "")),
            name=str(item.get("name", "")),
            presentation=str(item.get("presentation", "allowed")),
            kind=str(item.get("kind", "PJSIP")),
            exten=str(item.get("exten", names.EMERGENCY_EXTEN)),
            talk=tuple(talk),
            dtmf=item.get("dtmf"),
            dtmf_at=_number(item, "dtmf_at", where, default=1.0),
            hangup_after=hangup,
        )
    except ValueError as exc:
        raise CaseError(f"{where}: {exc}") from None
    at = _number(item, "at", where, default=0.0)
    if at > MAX_CASE_SECONDS:
        raise CaseError(f'{where}: "at" must be at most {MAX_CASE_SECONDS:g} s')
    return CaseCall(at=at, script=script, verdict=verdict)


def _history(item: Any, where: str) -> HistoryCall:
    if not isinstance(item, Mapping):
        raise CaseError(f"{where}: must be an object")
    _known(item, _HISTORY_KEYS, where)
    if ("minutes_ago" in item) == ("days_ago" in item):
        raise CaseError(f"{where}: give exactly one of minutes_ago or days_ago")
    ago = (
        timedelta(minutes=_number(item, "minutes_ago", where))
        if "minutes_ago" in item
        else timedelta(days=_number(item, "days_ago", where))
    )
    verdict = item.get("verdict")
    if verdict is not None and verdict not in ("normal", "ghost", "prank", "information"):
        raise CaseError(f'{where}: "verdict" must be normal, ghost, prank, information or null')
    if ago <= timedelta(0):
        raise CaseError(f"{where}: an earlier call must be in the past")
    return HistoryCall(
        ago=ago,
        verdict=verdict,
        answered=bool(item.get("answered", True)),
        duration=timedelta(seconds=_number(item, "duration_seconds", where, 30.0)),
    )


def _listed(item: Any, where: str) -> ListedNumber:
    if not isinstance(item, Mapping):
        raise CaseError(f"{where}: must be an object")
    _known(item, _BLOCKLIST_KEYS, where)
    expires = item.get("expires_in_days")
    return ListedNumber(
        reason=str(item.get("reason", "misuse")),
        added_by=str(item.get("added_by", "supervisor")),
        ago=timedelta(days=_number(item, "days_ago", where, 1.0)),
        expires_in=None
        if expires is None
        else timedelta(days=_number(item, "expires_in_days", where, minimum=-3650.0)),
    )


# --- replay -------------------------------------------------------------------------


class _Recorder:
    """AMI link → tracker → call events grouped by call, on the simulator's clock."""

    def __init__(self, settings: Settings) -> None:
        calls = settings.calls
        self.tracker = CallTracker(
            context=calls.context, extensions=calls.extensions, queues=(calls.queue, calls.supervisor_queue)
        )
        self.events: dict[str, list[CallEvent]] = {}
        self.inbox: asyncio.Queue[object] = asyncio.Queue()
        #: AMI events the link handed over (compared with what the simulator wrote).
        self.received = 0
        #: The link is up and its resync is tracked: no action of its own is in flight.
        self.resynced = False

    def sink(self, item: object) -> None:
        if isinstance(item, AmiMessage):
            self.received += 1
        self.inbox.put_nowait(item)

    def caught_up(self, sim: AmiSimulator) -> bool:
        """Every event the simulator wrote has arrived and been tracked."""
        return self.received == sim.events_delivered and self.inbox.empty()

    async def consume(self) -> None:
        while True:
            item = await self.inbox.get()
            if isinstance(item, AmiMessage):
                produced = self.tracker.feed(item)
            elif isinstance(item, Snapshot):
                produced = self.tracker.resync(item.at, item.channels)
            elif isinstance(item, QueueSnapshot):
                produced = self.tracker.resync_queues(item.at, item.items)
                self.resynced = True
            else:
                if isinstance(item, LinkState) and not item.up:
                    self.resynced = False
                produced = []
            for event in produced:
                if isinstance(event, CallEvent):
                    self.events.setdefault(event.call_id, []).append(event)
            self.inbox.task_done()


async def replay_cases(
    cases: Sequence[HeuristicCase], policy: Policy, *, timeout: float = REPLAY_TIMEOUT
) -> list[CaseResult]:
    """Run every case in one simulator on virtual time and score the last call of each."""
    clock = VirtualClock()
    sim = AmiSimulator(SimulatorConfig(), clock=clock)
    await sim.start()
    settings = Settings(
        ami=AmiSettings(port=sim.port, reconnect_min=0.05, reconnect_max=0.5, ping_interval=60.0, action_timeout=30.0)
    )
    recorder = _Recorder(settings)
    link = AmiLink(settings.ami, recorder.sink, clock=lambda: utc(clock))
    driver = Driver(clock)
    # (a link that dropped will never catch up: the run stops on it below instead)
    driver.watch(
        quiet=lambda: recorder.caught_up(sim) or not link.connected,
        probe=lambda: (sim.events_delivered, recorder.received),
    )
    consumer = asyncio.create_task(recorder.consume(), name="eval-consume")
    link_task = asyncio.create_task(link.run(), name="eval-link")
    try:
        await driver.run_until(lambda: recorder.resynced or link_task.done(), timeout=timeout)
        if link_task.done():
            link_task.result()  # the link gave up: raise why
            raise RuntimeError("the AMI link to the simulator stopped")
        runs = [asyncio.create_task(_run_case(sim, case, index * CASE_STAGGER)) for index, case in enumerate(cases)]
        longest = len(cases) * CASE_STAGGER + 2 * MAX_CASE_SECONDS
        await driver.run_until(
            lambda: not link.connected or (all(run.done() for run in runs) and not sim.engine.calls),
            within=longest,
            timeout=timeout,
        )
        if not link.connected:
            raise RuntimeError(f"the AMI link to the simulator dropped: {link.status.last_error}")
        placed = [run.result() for run in runs]
    finally:
        await link.stop()
        for task in (link_task, consumer):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await sim.stop()
    return [
        _score_case(case, [recorder.events.get(linkedid, []) for linkedid in ids], policy)
        for case, ids in zip(cases, placed, strict=True)
    ]


async def _run_case(sim: AmiSimulator, case: HeuristicCase, offset: float) -> list[str]:
    await sim.engine.sleep(offset)
    start = sim.engine.now()
    linkedids: list[str] = []
    handles = []
    for call in sorted(case.calls, key=lambda c: c.at):
        await sim.engine.sleep(start + call.at - sim.engine.now())
        handle = await sim.place_call(call.script)
        linkedids.append(handle.linkedid)
        handles.append(handle)
    for handle in handles:
        await handle.ended
    return linkedids


def facts_of(events: Iterable[CallEvent]) -> CallFacts | None:
    """A call's facts after all its events (what the live triage has at the end)."""
    facts: CallFacts | None = None
    for event in events:
        facts = advance_facts(facts, event)
    return facts


def _score_case(case: HeuristicCase, per_call: Sequence[Sequence[CallEvent]], policy: Policy) -> CaseResult:
    ordered = sorted(case.calls, key=lambda c: c.at)
    all_facts = [facts_of(events) for events in per_call]
    for call, facts in zip(ordered, all_facts, strict=True):
        if facts is None or facts.ended_at is None:
            raise RuntimeError(f"case {case.id}: call from {call.script.number!r} was not seen from arrival to end")
    last = all_facts[-1]
    assert last is not None
    history = _history_for(case, ordered, all_facts, last)
    assessment = score_call(last, history, policy, last.ended_at or last.arrived_at)
    priorities = _priorities(per_call[-1], history, policy)
    return CaseResult(
        case=case,
        facts=last,
        assessment=assessment,
        predicted=classify(assessment, policy),
        priorities=tuple(priorities),
    )


def _history_for(
    case: HeuristicCase, ordered: Sequence[CaseCall], all_facts: Sequence[CallFacts | None], last: CallFacts
) -> CallerHistory:
    """The history the live triage would read from the database for the last call."""
    calls: list[PastCall] = []
    for item in case.history:
        arrived = last.arrived_at - item.ago
        answered = arrived + timedelta(seconds=5) if item.answered else None
        # the same row the ticket store would hold, read back the way triage reads it
        calls.append(
            past_call_from_ticket(
                Ticket(
                    linkedid=f"{case.id}-history",
                    arrived_at=arrived,
                    answered_at=answered,
                    ended_at=arrived + item.duration,
                    verdict=item.verdict,
                )
            )
        )
    for call, facts in zip(ordered[:-1], all_facts[:-1], strict=True):
        assert facts is not None
        calls.append(
            past_call(
                facts.arrived_at, answered_at=facts.operator_answered_at, ended_at=facts.ended_at, verdict=call.verdict
            )
        )
    entries = [
        blocklist_entry(
            BlocklistRow(
                number=canonical_number(last.caller_number),
                reason=b.reason,
                added_by=b.added_by,
                added_at=last.arrived_at - b.ago,
                expires_at=None if b.expires_in is None else last.arrived_at + b.expires_in,
            )
        )
        for b in case.blocklist
    ]
    return CallerHistory(calls=tuple(sorted(calls, key=lambda c: c.arrived_at)), blocklist=tuple(entries))


def _priorities(events: Sequence[CallEvent], history: CallerHistory, policy: Policy) -> list[int]:
    """The priority changes the live triage would send: scored at the same moments
    (:func:`~ngcc112.routing.steering.scoring_moment`, the no-speech timer), with the same rules
    (only while waiting in the queue, never lowering a call it raised)."""
    sent: list[int] = []
    current, raised = policy.priority_normal, False
    facts: CallFacts | None = None

    def steer(now: datetime) -> None:
        nonlocal current, raised
        if facts is None:
            return
        priority = priority_to_send(facts, score_call(facts, history, policy, now), current, raised=raised)
        if priority is None:
            return
        raised = raised or priority > current
        current = priority
        sent.append(current)

    for event in events:
        if facts is not None:
            due = no_speech_due(facts, policy)
            if due is not None and due <= event.at:
                steer(due)
        before = facts
        facts = advance_facts(facts, event)
        if scoring_moment(before, facts) is not None:
            steer(event.at)
    return sent


async def evaluate_cases(path: str | Path | None = None, *, policy: Policy | None = None) -> EvaluationRun:
    """Load the cases at ``path``, replay and score them; the report and every case's result."""
    policy = policy or Policy()
    cases = load_cases(path)
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await replay_cases(cases, policy)
    report = evaluate(((r.case.type, r.assessment) for r in results), policy)
    return EvaluationRun(report=report, results=tuple(results), policy=policy, seconds=loop.time() - started)


async def run_evaluation(path: str | Path | None = None, *, policy: Policy | None = None) -> EvaluationReport:
    """Precision, recall and the confusion table of the heuristics on the cases at ``path``."""
    return (await evaluate_cases(path, policy=policy)).report


def render_run(run: EvaluationRun) -> str:
    """The table, then every mistake with its reasons, then what triage would have sent."""
    lines = [render(run.report).rstrip("\n"), ""]
    wrong = [r for r in run.results if not r.correct]
    lines.append(f"misclassified: {len(wrong)}")
    for r in wrong:
        codes = ", ".join((*r.assessment.ghost.codes, *r.assessment.prank.codes)) or "no signal"
        lines.append(
            f"  {r.case.id}: {r.case.type} → {r.predicted} "
            f"(ghost {r.assessment.ghost.value:.2f}, prank {r.assessment.prank.value:.2f}; "
            f"{codes})"
        )
    lines.append("")
    for call_type in CALL_TYPES:
        lowered, raised = run.lowered(call_type), run.raised(call_type)
        lines.append(f"{call_type}: {len(lowered)} lowered, {len(raised)} raised in the queue")
    harmed = run.lowered("normal")
    if harmed:
        lines.append("REAL EMERGENCIES PUSHED DOWN THE QUEUE: " + ", ".join(r.case.id for r in harmed))
    lines.append(f"({len(run.results)} cases replayed in {run.seconds:.1f} s)")
    return "\n".join(lines) + "\n"


def main_eval(settings: Settings, path: str | Path | None = None, *, out: Callable[[str], None] = print) -> int:
    """``ngcc112 eval-heuristics [PATH]``: 0 when it ran, 2 on unusable cases or settings."""
    try:
        run = asyncio.run(evaluate_cases(path, policy=settings.routing))
    except CaseError as exc:
        print(f"ngcc112 eval-heuristics: {exc}", file=sys.stderr)
        return 2
    out(render_run(run).rstrip("\n"))
    return 0
