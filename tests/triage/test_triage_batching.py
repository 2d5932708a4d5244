"""Triage's batched database work: one flush for the asks of a moment, the same answers as one by one."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from ngcc112.ami.events import CallArrived, CallConnected, CallEnded
from ngcc112.routing.policy import Policy
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.history import load_history
from ngcc112.tickets.location_models import AmlMessageRow, BlocklistRow
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.scores import store_score
from ngcc112.tickets.store import TicketStore
from ngcc112.triage.batching import (
    AmlAsk,
    Batcher,
    HistoryAsk,
    ScoreWrite,
    load_histories,
    numbers_with_pending_aml,
    store_scores,
)

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)


async def test_the_asks_of_one_moment_share_one_flush_and_each_gets_its_own_answer():
    flushes: list[list[int]] = []

    async def flush(asks: list[int]) -> list[int]:
        flushes.append(asks)
        return [ask * 10 for ask in asks]

    batcher: Batcher[int, int] = Batcher(flush, "test")
    assert await asyncio.gather(*(batcher.ask(n) for n in range(5))) == [0, 10, 20, 30, 40]
    assert flushes == [[0, 1, 2, 3, 4]]
    assert await batcher.ask(7) == 70 and flushes[-1] == [7]
    await batcher.close()


async def test_asks_made_during_a_flush_go_in_the_next_one():
    release = asyncio.Event()
    flushes: list[list[str]] = []

    async def flush(asks: list[str]) -> list[str]:
        flushes.append(asks)
        if len(flushes) == 1:
            await release.wait()
        return [a.upper() for a in asks]

    batcher: Batcher[str, str] = Batcher(flush, "test")
    first = asyncio.create_task(batcher.ask("a"))
    while not flushes:
        await asyncio.sleep(0)
    later = [asyncio.create_task(batcher.ask(x)) for x in "bc"]
    release.set()
    assert [await first, *[await t for t in later]] == ["A", "B", "C"]
    assert flushes == [["a"], ["b", "c"]]
    await batcher.close()


async def test_a_failed_flush_fails_its_asks_only_and_an_ask_given_up_is_skipped():
    calls = 0

    async def flush(asks: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database away")
        return asks

    batcher: Batcher[int, int] = Batcher(flush, "test")
    with pytest.raises(ConnectionError):
        await batcher.ask(1)
    assert await batcher.ask(2) == 2
    gave_up = asyncio.create_task(batcher.ask(3))
    gave_up.cancel()
    assert await batcher.ask(4) == 4
    assert gave_up.cancelled()
    await batcher.close()


async def open_tickets(store: TicketStore, calls: list[tuple[str, str, datetime, bool]]) -> dict[str, int]:
    ids = {}
    for call_id, number, at, answered in calls:
        (opened,) = await store.record_many(
            [CallArrived(call_id=call_id, at=at, channel="PJSIP/c", uniqueid=call_id, caller_number=number,
                         caller_name="", exten="112")]
        )
        ids[call_id] = opened.ticket_id
        later = [CallEnded(call_id=call_id, at=at + timedelta(seconds=30), cause=16, cause_text="Normal Clearing")]
        if answered:
            later.insert(0, CallConnected(call_id=call_id, at=at + timedelta(seconds=5), queue="q",
                                          interface="PJSIP/op1", member_name="op1", waited_seconds=5.0))
        await store.record_many(later)
    return ids


async def test_histories_in_one_query_are_the_ones_read_one_by_one(database_url):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    store = TicketStore(sessions)
    policy = Policy()
    await open_tickets(store, [
        ("h.1", "081234567890", T0 - timedelta(days=2), False),
        ("h.2", "+6281234567890", T0 - timedelta(hours=3), True),
        ("h.3", "081299999999", T0 - timedelta(hours=1), False),
        ("h.4", "081234567890", T0 - policy.history_window - timedelta(hours=1), False),  # out of the window
        ("h.5", "081234567890", T0, False),  # the call itself
        ("h.6", "081234567890", T0 + timedelta(minutes=1), False),  # after it
    ])
    async with sessions.begin() as session:
        session.add(
            BlocklistRow(number="+6281234567890", reason="pranks", added_by="sup", added_at=T0 - timedelta(days=1))
        )
    asks = [
        HistoryAsk("081234567890", T0, policy.history_window, exclude_linkedid="h.5"),
        HistoryAsk("081299999999", T0 + timedelta(minutes=1), policy.history_window, exclude_linkedid="h.x"),
        HistoryAsk("085555555555", T0, policy.history_window),
        HistoryAsk("anonymous", T0, policy.history_window),
    ]
    batched = await load_histories(sessions, asks)
    async with sessions() as session:
        one_by_one = [
            await load_history(session, ask.number, before=ask.before, policy=policy,
                               exclude_linkedid=ask.exclude_linkedid)
            for ask in asks
        ]
    assert batched == one_by_one
    assert len(batched[0].calls) == 2 and len(batched[0].blocklist) == 1 and len(batched[1].calls) == 1
    await engine.dispose()


async def test_scores_in_one_transaction_are_the_ones_stored_one_by_one(database_url):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    ids = await open_tickets(TicketStore(sessions), [("s.1", "0811", T0, False), ("s.2", "0822", T0, True)])
    first = ScoreWrite(ids["s.1"], 0.5, 0.1, [{"code": "silent"}], likely_real=False, queue_priority=1, at=T0)
    second = ScoreWrite(ids["s.2"], 0.2, 0.3, [], likely_real=True, queue_priority=2, at=T0)
    again = ScoreWrite(ids["s.1"], 0.9, 0.0, [{"code": "digit"}], likely_real=False, queue_priority=3, at=T0)
    missing = ScoreWrite(999_999, 0.1, 0.1, [], likely_real=True, queue_priority=1, at=T0)
    changes = await store_scores(sessions, [first, second, missing, again])
    assert changes[2] is None
    expected = [
        await store_score(sessions, w.ticket_id, ghost=w.ghost, prank=w.prank, reasons=w.reasons,
                          likely_real=w.likely_real, queue_priority=w.queue_priority, at=w.at)
        for w in (first, second, again)
    ]
    assert [changes[0], changes[1], changes[3]] == expected
    async with sessions() as session:
        ticket = await session.get(Ticket, ids["s.1"])
        assert ticket is not None and (ticket.ghost_score, ticket.prank_score) == (0.9, 0.0)
        assert ticket.score_reasons == [{"code": "digit"}]
        scored = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "scored"))).all()
        assert len(scored) == 6 and {a.to_state for a in scored} == {"new", "in_call"}
    await engine.dispose()


async def test_pending_aml_says_yes_only_for_numbers_with_an_unmatched_parsed_message(database_url):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    ids = await open_tickets(TicketStore(sessions), [("a.1", "0811", T0, False)])

    def message(number: str, at: datetime, **extra: object) -> AmlMessageRow:
        return AmlMessageRow(received_at=at, channel="sms", body=b"A\"ML=1", size_bytes=6, number=number,
                             parsed_at=at, **extra)

    async with sessions.begin() as session:
        session.add_all([
            message("+6281111", T0),
            message("+6282222", T0, ticket_id=ids["a.1"]),  # matched already
            message("+6283333", T0, refused="too big"),
            message("+6284444", T0 - timedelta(days=1)),  # too old for the ask
        ])
    asks = [AmlAsk(n, T0 - timedelta(hours=2)) for n in ("081111", "082222", "083333", "084444", "", "085555")]
    assert await numbers_with_pending_aml(sessions, asks) == [True, False, False, False, False, False]
    assert await numbers_with_pending_aml(sessions, [AmlAsk("084444", T0 - timedelta(days=2))]) == [True]
    await engine.dispose()
