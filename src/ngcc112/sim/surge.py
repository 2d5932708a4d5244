"""A surge placed by the simulated Asterisk itself: ``calls`` callers at a steady ``rate`` per second.

Benchmarks need load that arrives the way a trunk delivers it, not in bursts of AMI
``Originate`` round trips: :func:`run_surge` places caller ``i`` at ``start + i / rate``
on the simulator's clock (an absolute schedule: a late wake-up does not shift the calls
after it), each a SIP caller of the shipped dialplan who waits in the queue and hangs
up ``hold`` seconds after Asterisk answered (cheap: no operator needed).

For every call a :class:`PlacedRecord` is kept — its Uniqueid (the call's Linkedid),
the caller's number and the wall time its ``Newchannel`` was written to the clients'
sockets (the very time its ``Timestamp`` header carries) — and, with ``placed``, one
JSON line per call is written to that file as the call is placed, so a benchmark in
another process can measure ticket-open latency from the frame leaving the socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, TextIO

import structlog

from ngcc112.sim.calls import CallScript
from ngcc112.sim.wire import Pairs

if TYPE_CHECKING:
    from ngcc112.sim.server import AmiSimulator

log = structlog.get_logger(__name__)

#: Surge callers' numbers count up from here (one distinct caller per call).
FIRST_NUMBER = 81_100_000_000


@dataclass(frozen=True, slots=True)
class SurgePlan:
    """``calls`` callers, ``rate`` per second, each hanging up ``hold`` s after the answer."""

    rate: float
    calls: int
    hold: float = 5.0

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError("the surge rate must be more than 0 calls per second")
        if self.calls < 1:
            raise ValueError("a surge places at least one call")
        if self.hold < 0:
            raise ValueError("the hold time must not be negative")

    @property
    def seconds(self) -> float:
        """How long placing takes (the last call is placed this long after the first)."""
        return (self.calls - 1) / self.rate


@dataclass(frozen=True, slots=True)
class PlacedRecord:
    """One placed call: its Uniqueid, the caller's number, when its Newchannel left (epoch s)."""

    uniqueid: str
    number: str
    sent_at: float

    def line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def parse(cls, line: str) -> PlacedRecord:
        data = json.loads(line)
        return cls(uniqueid=str(data["uniqueid"]), number=str(data["number"]), sent_at=float(data["sent_at"]))


class _NewchannelWatch:
    """Notes the wall time each caller leg's Newchannel was written (after the clients got it)."""

    def __init__(self, wall: Callable[[], float]) -> None:
        self._wall = wall
        self.sent: dict[str, float] = {}
        self.active = True

    def __call__(self, _cls: str, pairs: Pairs) -> None:
        if self.active and len(pairs) > 2 and pairs[0] == ("Event", "Newchannel"):
            fields = dict(pairs)
            uniqueid = fields.get("Uniqueid", "")
            if uniqueid and uniqueid == fields.get("Linkedid"):
                self.sent[uniqueid] = self._wall()


def surge_script(index: int, hold: float) -> CallScript:
    """Surge caller ``index``: a distinct number, the shipped dialplan, hangs up after ``hold`` s."""
    return CallScript(number=f"0{FIRST_NUMBER + index}", name="", flow="shipped", hangup_after=hold)


async def run_surge(sim: AmiSimulator, plan: SurgePlan, placed: TextIO | None = None) -> list[PlacedRecord]:
    """Place ``plan``'s calls at its steady rate; the records, in placing order.

    Returns once the last call is placed (the calls themselves go on for ``hold``
    seconds: ``sim.wait_idle()`` waits for them). ``placed`` gets one JSON line per
    call, flushed as each is placed.
    """
    watch = _NewchannelWatch(sim.engine.wall)
    sim.engine.tap(watch)
    bound = log.bind(rate=plan.rate, calls=plan.calls, hold=plan.hold)
    bound.info("sim.surge_started")
    start = sim.engine.now()
    records: list[PlacedRecord] = []
    for index in range(plan.calls):
        due = start + index / plan.rate
        wait = due - sim.engine.now()
        if wait > 0:
            await sim.engine.sleep(wait)
        call = await sim.place_call(surge_script(index, plan.hold))
        sent_at = watch.sent.pop(call.uniqueid, None)
        if sent_at is None:  # not placed (the simulator is restarting): no frame left
            bound.warning("sim.surge_call_not_placed", index=index, outcome=call.outcome)
            continue
        record = PlacedRecord(uniqueid=call.uniqueid, number=call.script.number, sent_at=sent_at)
        records.append(record)
        if placed is not None:
            placed.write(record.line() + "\n")
            placed.flush()
    watch.active = False
    bound.info("sim.surge_placed", placed=len(records))
    return records
