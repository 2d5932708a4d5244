"""Triage's database work, batched: what every live call asks in one moment goes in one round trip.

Under a surge every call asks the database the same things one after the other (its
caller's history, whether AML messages wait for its number, storing its score), each in
its own session and transaction: a hundred calls a second made four hundred sessions a
second, more CPU than the ticket writes themselves. A :class:`Batcher` collects the asks
made while its last flush was running (or in the same turn of the event loop) and answers
all of them with one flush; each asker still awaits its own answer, so timeouts, retries
and failures stay per call.

The flushes here: :func:`store_scores` (one UPDATE executemany and one audit executemany
for every score of the moment), :func:`load_histories` (one ticket query and one misuse
list query for every number of the moment) and :func:`numbers_with_pending_aml` (which of
the moment's numbers have unmatched AML messages at all: only those calls read them).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.location.numbers import canonical_number
from ngcc112.routing.facts import NO_HISTORY, CallerHistory
from ngcc112.tickets.history import HISTORY_LIMIT, blocklist_entry, past_call_from_ticket
from ngcc112.tickets.location_models import AmlMessageRow, BlocklistRow
from ngcc112.tickets.locations import number_variants
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.scores import TRIAGE_ACTOR
from ngcc112.tickets.store import TicketChanged, jsonable

Ask = TypeVar("Ask")
Answer = TypeVar("Answer")

TICKETS = cast(Table, Ticket.__table__)
AUDIT = cast(Table, AuditEntry.__table__)
#: Most asks one flush answers (bounds one statement's size; the rest go in the next).
MAX_ASKS = 200


class Batcher(Generic[Ask, Answer]):
    """Answers asks in batches: ``flush(asks)`` returns one answer per ask, in order, or raises
    (then every ask of that batch gets the error)."""

    def __init__(
        self, flush: Callable[[list[Ask]], Awaitable[Sequence[Answer]]], name: str, *, linger: float = 0.0
    ) -> None:
        self._flush = flush
        self._name = name
        #: Seconds the first ask of a batch waits for others (0: only those of the same turn).
        self._linger = linger
        self._waiting: list[tuple[Ask, asyncio.Future[Answer]]] = []
        self._task: asyncio.Task[None] | None = None

    async def ask(self, item: Ask) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self._name)
        return await future

    async def _run(self) -> None:
        await asyncio.sleep(self._linger)  # the other asks of this moment join the first
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_ASKS], self._waiting[MAX_ASKS:]
            batch = [(item, future) for item, future in batch if not future.done()]  # given up (timeout)
            if not batch:
                continue
            try:
                answers = await self._flush([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)

    async def close(self) -> None:
        """Cancel the flush in progress; whoever still waits gets CancelledError."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, future in self._waiting:
            future.cancel()
        self._waiting = []


# scores -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreWrite:
    """One score to store on a ticket (see :func:`ngcc112.tickets.scores.store_score`)."""

    ticket_id: int
    ghost: float
    prank: float
    reasons: list[dict[str, Any]]
    likely_real: bool
    queue_priority: int
    at: datetime

    def changes(self) -> dict[str, Any]:
        return jsonable(
            {
                "ghost_score": self.ghost,
                "prank_score": self.prank,
                "score_reasons": self.reasons,
                "likely_real": self.likely_real,
                "queue_priority": self.queue_priority,
            }
        )


#: The scored tickets, locked in id order as the ticket store locks its batch's: a score batch
#: and a call-event batch never deadlock (PostgreSQL would break the cycle only after 1 s).
_TICKET_STATES = (
    select(TICKETS.c.id, TICKETS.c.linkedid, TICKETS.c.state)
    .where(TICKETS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(TICKETS.c.id)
    .with_for_update()
)
_SET_SCORE = (
    update(TICKETS)
    .where(TICKETS.c.id == bindparam("_id"))
    .values(ghost_score=bindparam("_ghost"), prank_score=bindparam("_prank"), score_reasons=bindparam("_reasons"))
)
_INSERT_AUDIT = insert(AUDIT)


async def store_scores(
    sessions: async_sessionmaker[AsyncSession], writes: list[ScoreWrite]
) -> list[TicketChanged | None]:
    """Write scores with their ``scored`` audit rows, in order, in one transaction: the change
    to publish per score, None for a ticket that does not exist. As
    :func:`~ngcc112.tickets.scores.store_score` does one by one."""
    async with sessions.begin() as session:
        conn = await session.connection()  # Core statements: the ORM's execute path is not needed
        rows = await conn.execute(_TICKET_STATES, {"ids": list({w.ticket_id for w in writes})})
        tickets = {row.id: (row.linkedid, row.state) for row in rows}
        found = [w for w in writes if w.ticket_id in tickets]
        if found:
            await conn.execute(
                _SET_SCORE,
                [{"_id": w.ticket_id, "_ghost": w.ghost, "_prank": w.prank, "_reasons": w.reasons} for w in found],
            )
            audit = []
            for w in found:
                state = tickets[w.ticket_id][1]
                audit.append(
                    {
                        "ticket_id": w.ticket_id,
                        "at": w.at,
                        "actor": TRIAGE_ACTOR,
                        "action": "scored",
                        "from_state": state,
                        "to_state": state,
                        "changes": w.changes(),
                    }
                )
            await conn.execute(_INSERT_AUDIT, audit)
    out: list[TicketChanged | None] = []
    for w in writes:
        if w.ticket_id not in tickets:
            out.append(None)
            continue
        linkedid, state = tickets[w.ticket_id]
        out.append(TicketChanged(w.ticket_id, linkedid, "scored", w.at, state, changes=w.changes()))
    return out


# history ------------------------------------------------------------------------------

_EARLIER_CALLS = (
    select(
        TICKETS.c.linkedid,
        TICKETS.c.caller_number,
        TICKETS.c.arrived_at,
        TICKETS.c.answered_at,
        TICKETS.c.ended_at,
        TICKETS.c.verdict,
    )
    .where(
        TICKETS.c.caller_number.in_(bindparam("numbers", expanding=True)),
        TICKETS.c.arrived_at >= bindparam("since"),
        TICKETS.c.arrived_at < bindparam("until"),
    )
    .order_by(TICKETS.c.arrived_at.desc())
)
_BLOCKLIST = (
    select(BlocklistRow).where(BlocklistRow.number.in_(bindparam("numbers", expanding=True))).order_by(BlocklistRow.id)
)


@dataclass(frozen=True, slots=True)
class HistoryAsk:
    """One call's caller history (see :func:`ngcc112.tickets.history.load_history`)."""

    number: str
    before: datetime
    window: timedelta
    exclude_linkedid: str | None = None


async def load_histories(sessions: async_sessionmaker[AsyncSession], asks: list[HistoryAsk]) -> list[CallerHistory]:
    """Every ask's earlier calls and misuse-list entries from one ticket query and one misuse
    list query; per ask the same as :func:`~ngcc112.tickets.history.load_history`."""
    variants = {ask: set(number_variants(ask.number)) for ask in asks}
    spellings = sorted(set().union(*variants.values()))
    canonicals = sorted({canonical_number(ask.number) for ask in asks if variants[ask]})
    if not spellings:
        return [NO_HISTORY for _ in asks]
    since = min(ask.before - ask.window for ask in asks if variants[ask])
    until = max(ask.before for ask in asks if variants[ask])
    async with sessions() as session:
        conn = await session.connection()
        calls = (await conn.execute(_EARLIER_CALLS, {"numbers": spellings, "since": since, "until": until})).all()
        blocks = (await session.scalars(_BLOCKLIST, {"numbers": canonicals})).all()
    out = []
    for ask in asks:
        spelled = variants[ask]
        if not spelled:
            out.append(NO_HISTORY)
            continue
        earlier = [
            row
            for row in calls
            if row.caller_number in spelled
            and ask.before - ask.window <= row.arrived_at < ask.before
            and row.linkedid != ask.exclude_linkedid
        ][:HISTORY_LIMIT]
        canonical = canonical_number(ask.number)
        out.append(
            CallerHistory(
                calls=tuple(past_call_from_ticket(cast(Ticket, row)) for row in reversed(earlier)),
                blocklist=tuple(blocklist_entry(row) for row in blocks if row.number == canonical),
            )
        )
    return out


# pending AML --------------------------------------------------------------------------

_PENDING_AML = select(AmlMessageRow.number, AmlMessageRow.received_at).where(
    AmlMessageRow.ticket_id.is_(None),
    AmlMessageRow.refused.is_(None),
    AmlMessageRow.parsed_at.is_not(None),
    AmlMessageRow.number.in_(bindparam("numbers", expanding=True)),
    AmlMessageRow.received_at >= bindparam("since"),
)


@dataclass(frozen=True, slots=True)
class AmlAsk:
    """Are there unmatched AML messages for this number, received since ``since``?"""

    number: str
    since: datetime


async def numbers_with_pending_aml(sessions: async_sessionmaker[AsyncSession], asks: list[AmlAsk]) -> list[bool]:
    """Per ask, whether :meth:`~ngcc112.tickets.aml_locations.AmlLocations.attach_pending_aml`
    could find anything (the same conditions, one query for the moment's numbers): most calls
    have no AML message waiting, and need not read their ticket to learn it."""
    numbers = {ask: canonical_number(ask.number) for ask in asks}
    wanted = sorted({n for n in numbers.values() if n})
    if not wanted:
        return [False for _ in asks]
    async with sessions() as session:
        conn = await session.connection()
        rows = (await conn.execute(_PENDING_AML, {"numbers": wanted, "since": min(ask.since for ask in asks)})).all()
    return [any(row.number == numbers[ask] and row.received_at >= ask.since for row in rows) for ask in asks]
