"""The backfill on a real database (SQLite and PostgreSQL): recorded CEL in, one recovered ticket per missed call.

The CEL comes from tests/data/cel/ (a real Asterisk 22.10.1, record_cel.py): the
CSV file for the SQLite setup, the rows cel_pgsql wrote for the PostgreSQL one.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from structlog.testing import capture_logs

from ngcc112.ami.events import CallArrived, CallEnded, CallsResynced
from ngcc112.backfill import Backfill
from ngcc112.backfill.models import ORIGIN, BackfillMark
from ngcc112.hub import Hub
from ngcc112.reports import build_report
from ngcc112.settings import AmiSettings, BackfillSettings, ClusterSettings, Settings
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.store import TicketChanged, TicketStore

DATA = Path(__file__).parent / "data" / "cel"
LIVE = {t["linkedid"]: t for t in json.loads((DATA / "lab-calls.live.json").read_text(encoding="utf-8"))}
ANSWERED, WAITING, GHOST, NAMELESS = "1796129330.3", "1796129319.1", "1796129319.0", "1796129319.2"
#: The recorded calls happened between 12:48:39 and 12:49:01 UTC on 1 December 2026.
NOW = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


class FixedClock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def now(self) -> float:
        return self.at.timestamp()

    def monotonic(self) -> float:
        return self.at.timestamp()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


@pytest.fixture
async def db(database_url):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    # migration 0005 set the origin to "now" (the test's real time): the recording is older
    async with sessions.begin() as session:
        await session.execute(update(BackfillMark).where(BackfillMark.source == ORIGIN)
                              .values(since=datetime(2026, 12, 1, tzinfo=UTC)))
    yield database_url, engine, sessions
    await engine.dispose()


def settings_for(url: str, csv: Path | None = None, **backfill: object) -> Settings:
    source = backfill.pop("source", "csv" if csv is not None else "auto")
    return Settings(database_url=url, backfill=BackfillSettings(
        source=str(source), cel_csv=str(csv or DATA / "lab-calls.csv"), **backfill))  # type: ignore[arg-type]


async def tickets(sessions) -> dict[str, Ticket]:
    async with sessions() as session:
        return {t.linkedid: t for t in (await session.scalars(select(Ticket))).all()}


async def audit(sessions, ticket_id: int) -> list[AuditEntry]:
    async with sessions() as session:
        return list((await session.scalars(
            select(AuditEntry).where(AuditEntry.ticket_id == ticket_id).order_by(AuditEntry.id))).all())


# -- the SQLite setup: the CSV file ----------------------------------------------------------------

async def test_each_missed_call_gets_one_recovered_ticket_and_a_second_run_changes_nothing(db):
    url, engine, sessions = db
    published: list[TicketChanged] = []
    backfill = Backfill(settings_for(url, DATA / "lab-calls.csv"), sessions, engine=engine,
                        publish=published.append, clock=FixedClock())
    first = await backfill.run_once()
    assert sorted(first.recovered) == sorted(LIVE)
    assert first.error == "" and first.pending == 0
    assert [c.action for c in published] == ["recovered"] * 4 and all(c.opened for c in published)

    again = await backfill.run_once()
    assert again.recovered == [] and again.records == 0  # read from where the first run stopped

    # a fresh daemon (no memory) reading the file from its start again: still nothing new
    await _reset_marks(sessions)
    third = await Backfill(settings_for(url, DATA / "lab-calls.csv"), sessions, engine=engine,
                           clock=FixedClock()).run_once()
    assert third.recovered == [] and third.existing == 4

    found = await tickets(sessions)
    assert set(found) == set(LIVE)
    for linkedid, ticket in found.items():
        assert ticket.recovered is True
        entries = await audit(sessions, ticket.id)
        assert [(e.actor, e.action, e.to_state) for e in entries] == [("asterisk-cel", "recovered", ticket.state)]
        assert entries[0].changes["source"] == f"cel-csv:{DATA / 'lab-calls.csv'}"
        assert entries[0].changes["caller_number"] == LIVE[linkedid]["caller_number"]
    answered = found[ANSWERED]
    assert answered.caller_name == 'Pak "Budi" \\ RT 05, Jl. Mawar Ü'
    assert answered.operator_interface == "PJSIP/op1" and answered.state == "in_call"
    assert not answered.abandoned and answered.hangup_cause_text == "Normal Clearing"
    assert found[WAITING].abandoned and found[WAITING].queue == "ngcc112-operators"
    assert found[GHOST].abandoned and found[GHOST].queued_at is None
    assert found[NAMELESS].caller_name is None and found[NAMELESS].caller_number == "+6281234567890"


async def _reset_marks(sessions) -> None:
    async with sessions.begin() as session:
        for mark in (await session.scalars(select(BackfillMark).where(BackfillMark.source != ORIGIN))).all():
            await session.delete(mark)


async def test_a_live_ticket_is_never_duplicated_nor_touched(db):
    url, engine, sessions = db
    store = TicketStore(sessions)
    arrived = datetime(2026, 12, 1, 12, 48, 50, 845122, tzinfo=UTC)
    await store.record(CallArrived(call_id=ANSWERED, at=arrived, channel="PJSIP/carrier-00000003",
                                   uniqueid=ANSWERED, caller_number="5559001", caller_name="live name",
                                   exten="112"))
    await store.record(CallEnded(call_id=ANSWERED, at=arrived + timedelta(seconds=10), cause=16,
                                 cause_text="Normal Clearing"))
    result = await Backfill(settings_for(url, DATA / "lab-calls.csv"), sessions, engine=engine,
                            clock=FixedClock()).run_once()
    assert ANSWERED not in result.recovered and result.existing == 1 and len(result.recovered) == 3
    live = (await tickets(sessions))[ANSWERED]
    assert live.recovered is False and live.caller_name == "live name"
    assert [e.action for e in await audit(sessions, live.id)] == ["call_arrived", "call_ended"]


async def test_calls_live_at_the_resync_seen_on_the_hub_or_newer_are_left_to_the_live_path(db):
    url, engine, sessions = db
    backfill = Backfill(settings_for(url, DATA / "lab-calls.csv"), sessions, engine=engine, clock=FixedClock())
    # the resync happened at 12:48:45: the answered call (12:48:50) arrived after it;
    # the waiting caller was still in Asterisk then
    result = await backfill.run_once(cutoff=datetime(2026, 12, 1, 12, 48, 45, tzinfo=UTC), live={WAITING})
    assert sorted(result.recovered) == sorted([GHOST, NAMELESS])
    assert result.live == 2
    # the live path wrote the waiting caller's ticket; the answered call's never came (say the
    # daemon died first): the next run, in the next daemon, still finds it
    await TicketStore(sessions).record(CallArrived(
        call_id=WAITING, at=datetime(2026, 12, 1, 12, 48, 39, tzinfo=UTC), channel="PJSIP/carrier-00000001",
        uniqueid=WAITING, caller_number="5559002", caller_name="Menunggu", exten="112"))
    later = await Backfill(settings_for(url, DATA / "lab-calls.csv"), sessions, engine=engine,
                           clock=FixedClock()).run_once()
    assert later.recovered == [ANSWERED] and later.existing == 2  # re-read from the waiting caller on
    assert (await tickets(sessions))[WAITING].recovered is False


async def test_two_daemons_backfilling_at_once_make_one_ticket_per_call(db):
    url, engine, sessions = db
    runs = [Backfill(settings_for(url, DATA / "lab-calls.csv"), sessions, engine=engine, clock=FixedClock())
            for _ in range(3)]
    results = await asyncio.gather(*(run.run_once() for run in runs))
    assert sorted(c for r in results for c in r.recovered) == sorted(LIVE)
    found = await tickets(sessions)
    assert len(found) == 4


async def test_the_server_name_prefixes_the_call_ids_like_the_tracker(db):
    url, engine, sessions = db
    settings = settings_for(url, DATA / "lab-calls.csv").model_copy(update={"ami": AmiSettings(server_name="ast1")})
    result = await Backfill(settings, sessions, engine=engine, clock=FixedClock()).run_once(
        live={f"ast1:{WAITING}"})
    assert sorted(result.recovered) == sorted(f"ast1:{c}" for c in (ANSWERED, GHOST, NAMELESS))


async def test_recovered_tickets_carry_the_site_of_the_asterisk_they_came_from(db):
    url, engine, sessions = db
    settings = settings_for(url, DATA / "lab-calls.csv").model_copy(
        update={"cluster": ClusterSettings(site="kota", node_name="kota-1")})
    result = await Backfill(settings, sessions, engine=engine, clock=FixedClock()).run_once(live={WAITING})
    found = await tickets(sessions)
    assert result.recovered and {found[call].site for call in result.recovered} == {"kota"}


async def test_a_call_still_going_on_is_read_again_next_time_and_recovered_when_over(db, tmp_path):
    url, engine, sessions = db
    lines = (DATA / "lab-calls.csv").read_bytes().splitlines(keepends=True)
    answered_start = next(i for i, line in enumerate(lines) if b'"CHAN_START"' in line and b"5559001" in line)
    path = tmp_path / "cel.csv"
    path.write_bytes(b"".join(lines[:answered_start + 5]))  # the answered caller is still talking
    backfill = Backfill(settings_for(url, path), sessions, engine=engine, clock=FixedClock())
    first = await backfill.run_once()
    assert len(first.recovered) == 3 and first.pending == 1
    with path.open("ab") as handle:
        handle.write(b"".join(lines[answered_start + 5:]))
    second = await backfill.run_once()
    assert second.recovered == [ANSWERED]
    # it went on from the answered call's first record, not from the start of the file
    assert second.records == sum(1 for line in lines[answered_start:]
                                 if line.split(b",")[1].strip(b'"') in
                                 (b"CHAN_START", b"APP_START", b"BRIDGE_ENTER", b"HANGUP", b"CHAN_END",
                                  b"LINKEDID_END"))


async def test_calls_before_the_origin_or_the_lookback_are_not_recovered(db):
    url, engine, sessions = db
    later = Backfill(settings_for(url, DATA / "lab-calls.csv", lookback_hours=1.0), sessions, engine=engine,
                     clock=FixedClock(NOW + timedelta(hours=2)))
    assert (await later.run_once()).recovered == []
    async with sessions.begin() as session:
        await session.execute(update(BackfillMark).where(BackfillMark.source == ORIGIN)
                              .values(since=datetime(2026, 12, 1, 12, 48, 45, tzinfo=UTC)))
    await _reset_marks(sessions)
    result = await Backfill(settings_for(url, DATA / "lab-calls.csv"), sessions, engine=engine,
                            clock=FixedClock()).run_once()
    assert result.recovered == [ANSWERED]


async def test_a_missing_file_is_one_warning_never_a_crash(db, tmp_path):
    url, engine, sessions = db
    backfill = Backfill(settings_for(url, tmp_path / "nope.csv"), sessions, engine=engine, clock=FixedClock())
    with capture_logs() as logs:
        first = await backfill.run_once()
        second = await backfill.run_once()
    assert "does not exist" in first.error and first.recovered == [] and second.error == first.error
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [w["event"] for w in warnings] == ["backfill.source_unavailable"]
    # the file appears: the next run works
    shutil.copy(DATA / "lab-calls.csv", tmp_path / "nope.csv")
    assert len((await backfill.run_once()).recovered) == 4


async def test_a_resync_on_the_hub_triggers_it_and_calls_seen_live_are_skipped(db):
    url, engine, sessions = db
    hub = Hub()
    settled = asyncio.Event()  # the daemon's pipeline has written what it received
    asked = asyncio.Event()  # the backfill is waiting for that

    async def wait_settled() -> None:
        asked.set()
        await settled.wait()

    backfill = Backfill(settings_for(url, DATA / "lab-calls.csv"), sessions, engine=engine, hub=hub,
                        publish=hub.publish, clock=FixedClock(), settled=wait_settled)
    await backfill.start()
    try:
        # the tracker saw the prompt hang-up live (its ticket is the live path's business)
        hub.publish(CallArrived(call_id=GHOST, at=NOW, channel="PJSIP/carrier-00000000", uniqueid=GHOST,
                                caller_number="5559003", caller_name="Hantu", exten="112"))
        hub.publish(CallsResynced(at=NOW, live_call_ids=frozenset()))
        await asyncio.wait_for(asked.wait(), 30)
        assert backfill.last is None, "it waits for the live path to settle first"
        settled.set()

        async def ran() -> None:
            while backfill.last is None:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(ran(), 30)
        assert sorted(backfill.last.recovered) == sorted([ANSWERED, WAITING, NAMELESS])
        assert backfill.status()["recovered_total"] == 3
    finally:
        await backfill.stop()


async def test_the_sla_report_counts_recovered_tickets(db):
    url, engine, sessions = db
    await Backfill(settings_for(url, DATA / "lab-calls.csv"), sessions, engine=engine,
                   clock=FixedClock()).run_once()
    report = await build_report(sessions, date(2026, 12, 1), date(2026, 12, 1), tz="UTC")
    assert report.calls == 4
    assert report.answered == 1 and report.abandoned == 3
    assert report.abandoned_before_queue == 2
    assert [g.key for g in report.per_operator] == ["PJSIP/op1"]
    # answered 7.6 s after arrival (the prompt included): within 10 s
    assert (report.answer[0].threshold, report.answer[0].within, report.answer[0].counted) == (10.0, 1, 1)


async def test_auto_reads_the_table_on_postgresql_and_the_file_on_sqlite():
    from ngcc112.backfill.service import _source_for

    assert _source_for(Settings(database_url="sqlite+aiosqlite:///x.db"), None).key.startswith("cel-csv:")
    engine = make_engine("postgresql+asyncpg://u@127.0.0.1/x")
    try:
        assert _source_for(Settings(database_url="postgresql+asyncpg://u@127.0.0.1/x"), engine).key \
            == "cel-pgsql:cel"
        off = Settings(database_url="sqlite+aiosqlite:///x.db", backfill=BackfillSettings(source="off"))
        assert _source_for(off, engine) is None
    finally:
        await engine.dispose()


# -- the PostgreSQL setup: Asterisk's cel table ------------------------------------------------------

async def load_cel_rows(engine) -> None:
    rows = [json.loads(line) for line in (DATA / "lab-calls.pgsql.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        row["eventtime"] = datetime.fromisoformat(row["eventtime"])
    columns = list(rows[0])
    async with engine.begin() as conn:
        await conn.execute(text(f"INSERT INTO cel ({', '.join(columns)}) VALUES "
                                f"({', '.join(':' + c for c in columns)})"), rows)
        await conn.execute(text("SELECT setval('cel_id_seq', (SELECT max(id) FROM cel))"))


@pytest.fixture
async def pg(db):
    url, engine, sessions = db
    if not url.startswith("postgresql"):
        pytest.skip("the cel table is PostgreSQL's (cel_pgsql)")
    return db


async def test_on_postgresql_the_cel_table_gives_the_same_tickets(pg):
    url, engine, sessions = pg
    await load_cel_rows(engine)
    backfill = Backfill(settings_for(url), sessions, engine=engine, clock=FixedClock())
    assert backfill.source is not None and backfill.source.key == "cel-pgsql:cel"
    first = await backfill.run_once()
    assert sorted(first.recovered) == sorted(LIVE) and first.error == ""
    second = await backfill.run_once()
    assert second.recovered == [] and second.records == 0
    found = await tickets(sessions)
    assert found[ANSWERED].caller_name == 'Pak "Budi" \\ RT 05, Jl. Mawar Ü'
    assert found[ANSWERED].answered_at.replace(microsecond=0) == datetime(2026, 12, 1, 12, 48, 58, tzinfo=UTC)
    async with sessions() as session:
        mark = await session.get(BackfillMark, "cel-pgsql:cel")
    assert mark is not None and mark.position == str(32 + 1) and mark.recovered == 4


async def test_on_postgresql_new_rows_are_read_from_the_last_id(pg):
    url, engine, sessions = pg
    await load_cel_rows(engine)
    backfill = Backfill(settings_for(url), sessions, engine=engine, clock=FixedClock())
    await backfill.run_once()
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO cel (eventtype, eventtime, cid_name, cid_num, exten, context, channame, uniqueid, linkedid)"
            " VALUES ('CHAN_START', '2026-12-01 12:55:00', 'Baru', '5559999', '113', 'from-pstn',"
            " 'PJSIP/carrier-00000009', '1796129700.9', '1796129700.9'),"
            " ('HANGUP', '2026-12-01 12:55:02', 'Baru', '5559999', '113', 'from-pstn',"
            " 'PJSIP/carrier-00000009', '1796129700.9', '1796129700.9')"))
    result = await backfill.run_once()
    assert result.recovered == ["1796129700.9"] and result.records == 2
    ticket = (await tickets(sessions))["1796129700.9"]
    assert ticket.category == "fire" and ticket.abandoned and ticket.recovered


async def test_on_postgresql_a_missing_table_is_one_warning(pg):
    url, engine, sessions = pg
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE cel"))
    backfill = Backfill(settings_for(url), sessions, engine=engine, clock=FixedClock())
    with capture_logs() as logs:
        result = await backfill.run_once()
        await backfill.run_once()
    assert "cel" in result.error and result.recovered == []
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["backfill.source_unavailable"]


async def test_on_postgresql_local_time_in_the_table_is_warned_about(pg):
    url, engine, sessions = pg
    await load_cel_rows(engine)
    async with engine.begin() as conn:  # cel_pgsql without usegmtime on a UTC+7 host
        await conn.execute(text("UPDATE cel SET eventtime = eventtime + interval '7 hours'"))
    with capture_logs() as logs:
        await Backfill(settings_for(url), sessions, engine=engine,
                       clock=FixedClock(NOW + timedelta(minutes=1))).run_once()
    assert "backfill.cel_time_in_future" in [e["event"] for e in logs]


# -- settings -----------------------------------------------------------------------------------------

def test_backfill_settings_are_checked_at_start():
    from ngcc112.settings import SettingsError, load_settings

    settings = load_settings(environ={"NGCC112_CEL_CSV": "/srv/cel.csv", "NGCC112_BACKFILL_SOURCE": "csv"})
    assert settings.backfill.cel_csv == "/srv/cel.csv" and settings.backfill.source == "csv"
    with pytest.raises(SettingsError, match=r"\[backfill\] source: 'cdr' is not valid \(Input should be 'auto', 'csv'"):
        load_settings(environ={"NGCC112_BACKFILL_SOURCE": "cdr"})
    with pytest.raises(SettingsError, match="PostgreSQL"):
        load_settings(environ={"NGCC112_BACKFILL_SOURCE": "pgsql"})
    assert load_settings(environ={"NGCC112_BACKFILL_SOURCE": "pgsql",
                                  "NGCC112_DATABASE_URL": "postgresql+asyncpg://u@h/db"}).backfill.source == "pgsql"
