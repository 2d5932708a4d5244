"""``ngcc112 eval-heuristics``: replay labelled calls through the simulator and score them.

The labelled cases and their loader are in :mod:`ngcc112.tools.heuristic_cases`.

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
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ngcc112.ami.events import CallEvent
from ngcc112.ami.link import AmiLink
from ngcc112.ami.link_items import LinkState, QueueSnapshot, Snapshot
from ngcc112.ami.message import AmiMessage
from ngcc112.ami.tracker import CallTracker
from ngcc112.clock import VirtualClock, utc
from ngcc112.location.numbers import canonical_number
from ngcc112.routing.evaluation import CALL_TYPES, EvaluationReport, classify, evaluate, render
from ngcc112.routing.facts import CallerHistory, CallFacts, PastCall
from ngcc112.routing.policy import Policy
from ngcc112.routing.progress import advance_facts, past_call
from ngcc112.routing.scoring import Assessment, score_call
from ngcc112.routing.steering import no_speech_due, priority_to_send, scoring_moment
from ngcc112.settings import AmiSettings, Settings
from ngcc112.sim.config import SimulatorConfig
from ngcc112.sim.driver import Driver
from ngcc112.sim.server import AmiSimulator
from ngcc112.tickets.history import blocklist_entry, past_call_from_ticket
from ngcc112.tickets.location_models import BlocklistRow
from ngcc112.tickets.models import Ticket
from ngcc112.tools.heuristic_cases import MAX_CASE_SECONDS, CaseCall, CaseError, HeuristicCase, load_cases

#: Simulated seconds between the starts of consecutive cases (spreads the load).
CASE_STAGGER = 1.0
#: Real seconds the whole replay may take before it is given up (a hang, not a slow machine).
REPLAY_TIMEOUT = 600.0


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
