"""Writing a live call's score and positions on its ticket, beside the scoring.

The ticket may not be written yet and the database may be away: :class:`ScoreWriter`
keeps trying with backoff (an ended call for :data:`FINAL_STORE_RETRY_SECONDS`, then its
score is given up, loudly), writes a score only when it changed, and publishes the
ticket change for the screen-pop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.backoff import Backoff
from ngcc112.hub import Hub
from ngcc112.routing.facts import is_missing_number
from ngcc112.routing.scoring import Assessment
from ngcc112.routing.steering import reasons_json
from ngcc112.tickets.aml_locations import AmlLocations
from ngcc112.tickets.scores import ticket_id_of
from ngcc112.tickets.store import TicketChanged
from ngcc112.triage.batching import AmlAsk, Batcher, ScoreWrite, numbers_with_pending_aml, store_scores
from ngcc112.triage.live import LiveCall

log = structlog.get_logger(__name__)

#: How long one score or position write may take before it is retried.
DB_TIMEOUT_SECONDS = 5.0
#: After a call ended, how long its final score keeps being retried while the
#: database (or the ticket) is not there yet: longer than any outage the daemon
#: is built to ride out (the fault table holds the database silent for 90 s), so a
#: score is kept and written later, not dropped.
FINAL_STORE_RETRY_SECONDS = 3600.0
#: How long a save waits for the ticket store to announce the call's ticket (its
#: ``TicketChanged`` on the hub) before it asks the database itself. Waiting costs the
#: ticket path nothing; asking costs it a query, and under a surge every call's saver
#: asking again and again (backoff from 0.1 s) would slow the very writes it waits for.
#: The query stays for tickets nobody announces on this hub: a call adopted by a resync
#: (its ticket was opened before a restart) asks at once.
TICKET_WAIT_SECONDS = 30.0
#: How much earlier than :meth:`AmlLocations.attach_pending_aml` looks the question whether any
#: AML message waits for a number looks (its own hour, and one more for a call whose facts'
#: arrival is not its ticket's): it must never say no where the attach would find one.
PENDING_AML_MARGIN = timedelta(hours=2)
#: How long a score or AML question waits for others to share its transaction: nothing
#: waits on a stored score (the steering is done by then), so a surge's calls may share.
SAVE_LINGER_SECONDS = 0.05


class ScoreWriter:
    """Stores what triage found on the call's ticket: the score with its reasons, the SIP position, early AML."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        hub: Hub,
        aml_locations: AmlLocations,
        now: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._hub = hub
        self._aml_locations = aml_locations
        self._now = now
        #: Every score of a moment in one transaction (:mod:`ngcc112.triage.batching`).
        self._scores: Batcher[ScoreWrite, TicketChanged | None] = Batcher(
            lambda writes: store_scores(self._sessions, writes), "triage-scores", linger=SAVE_LINGER_SECONDS
        )
        #: Which of a moment's numbers have AML messages waiting, in one query.
        self._pending_aml: Batcher[AmlAsk, bool] = Batcher(
            lambda asks: numbers_with_pending_aml(self._sessions, asks),
            "triage-pending-aml",
            linger=SAVE_LINGER_SECONDS,
        )

    async def close(self) -> None:
        """Stop the batched writes in progress (triage is stopping)."""
        await self._scores.close()
        await self._pending_aml.close()

    async def save(self, live: LiveCall) -> None:
        """Write the latest score and the positions; while the ticket is not written yet or
        the database is away, try again with backoff (an ended call for
        :data:`FINAL_STORE_RETRY_SECONDS`, then its score is given up, loudly)."""
        backoff, waited_after_end = Backoff(first=0.1, cap=5.0), 0.0
        while live.save_dirty:
            live.save_dirty = False
            try:
                stored = live.last is None or await asyncio.wait_for(self._store(live, live.last), DB_TIMEOUT_SECONDS)
                located = await asyncio.wait_for(self._positions(live), DB_TIMEOUT_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "triage.save_failed",
                    call_id=live.call_id,
                    error=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
                )
                stored = located = False
            if stored and located:
                backoff.reset()
                continue
            delay = backoff.next()
            if live.facts.ended_at is not None:
                waited_after_end += delay
                if waited_after_end > FINAL_STORE_RETRY_SECONDS:
                    last = live.last
                    log.error(
                        "triage.final_score_lost",
                        call_id=live.call_id,
                        ghost=None if last is None else round(last.ghost.value, 4),
                        prank=None if last is None else round(last.prank.value, 4),
                    )
                    return
            await asyncio.sleep(delay)
            live.save_dirty = True

    async def _ticket_id(self, live: LiveCall) -> int | None:
        """The call's ticket id, or None while the ticket store has not written it yet."""
        if live.ticket_id is not None:
            return live.ticket_id
        if not live.adopted:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(live.ticket_known.wait(), TICKET_WAIT_SECONDS)
        if live.ticket_id is not None:
            return live.ticket_id
        try:
            ticket_id = await ticket_id_of(self._sessions, live.call_id)
        except Exception as exc:
            log.warning(
                "triage.ticket_unavailable",
                call_id=live.call_id,
                error=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
            )
            return None
        live.ticket_id = ticket_id
        return ticket_id

    async def _store(self, live: LiveCall, assessment: Assessment) -> bool:
        """Write the score on the ticket; False when it could not be written (yet)."""
        reasons = reasons_json(assessment)
        ghost, prank = round(assessment.ghost.value, 4), round(assessment.prank.value, 4)
        signature = score_signature(live, assessment)
        if signature == live.stored:
            return True
        ticket_id = await self._ticket_id(live)
        if ticket_id is None:
            return False  # not written yet by the ticket store, or the database is away
        try:
            change = await self._scores.ask(
                ScoreWrite(
                    ticket_id,
                    ghost=ghost,
                    prank=prank,
                    reasons=reasons,
                    likely_real=assessment.likely_real,
                    queue_priority=live.priority,
                    at=self._now(),
                )
            )
        except Exception as exc:
            log.warning(
                "triage.score_not_stored",
                call_id=live.call_id,
                ticket_id=ticket_id,
                error=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
            )
            return False
        if change is None:
            return False
        live.stored = signature
        # debug: the score is on the ticket and in its audit row, and a priority change logs
        # its own line; at info this line was a tenth of triage's CPU under a surge
        log.debug(
            "triage.scored",
            call_id=live.call_id,
            ticket_id=ticket_id,
            ghost=ghost,
            prank=prank,
            codes=[r["code"] for r in reasons],
        )
        self._hub.publish(change)
        return True

    async def _positions(self, live: LiveCall) -> bool:
        """Record the SIP position and attach early AML messages; False to try again later."""
        geo_ready = bool(live.geo) and live.geo_complete and live.geo != live.geo_recorded
        if not geo_ready and live.aml_checked:
            return True
        if is_missing_number(live.facts.caller_number) and not geo_ready:
            return True  # no number: no AML message can be this call's (yet)
        ticket_id = await self._ticket_id(live)
        if ticket_id is None:
            return False
        try:
            if geo_ready:
                snapshot = dict(live.geo)
                await self._aml_locations.locations.record_sip_fix(ticket_id, snapshot, at=self._now())
                live.geo_recorded = snapshot
            if not live.aml_checked:
                # the ticket is written (and announced): an AML message that comes after this
                # question is matched on arrival, one that came before is seen by it
                since = live.facts.arrived_at - self._aml_locations.window_after - PENDING_AML_MARGIN
                if await self._pending_aml.ask(AmlAsk(live.facts.caller_number, since)):
                    await self._aml_locations.attach_pending_aml(ticket_id)
                live.aml_checked = True
        except Exception as exc:
            log.warning(
                "triage.location_failed",
                call_id=live.call_id,
                ticket_id=ticket_id,
                error=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
            )
            return False
        return True


def score_signature(live: LiveCall, assessment: Assessment) -> tuple[Any, ...]:
    """What a stored score is compared by: values, reasons, and the priority sent."""
    return (
        round(assessment.ghost.value, 4),
        round(assessment.prank.value, 4),
        tuple(
            (r.code, r.text_en)
            for r in (*assessment.ghost.reasons, *assessment.prank.reasons, *assessment.real_reasons)
        ),
        live.priority,
    )
