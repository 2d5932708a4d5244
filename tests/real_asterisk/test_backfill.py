"""Calls the daemon never saw get their tickets from Asterisk's own records (CEL), exactly once.

With ``ngcc112 run`` stopped, three calls come and go on the real Asterisk: one
answered by the phone op1, one abandoned in the queue while op1 is busy, one
hung up during the silent-call prompt. When the daemon starts it reads what
Asterisk logged (the CSV of asterisk-config/cel_custom.conf; a second daemon on
PostgreSQL the cel table that postgresql/cel_pgsql.conf fills) and opens one
recovered ticket per call, with the facts Asterisk's AMI reported to the test;
a call it saw live keeps its one live ticket; a restart adds nothing.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from ngcc112.backfill.cel import CallAssembler
from ngcc112.backfill.csv_source import CelCsv
from ngcc112.backfill.store import recovered_ticket

from .ami_listener import AmiListener
from .conftest import PHONE_PASSWORDS, device_reachable, queue_add
from .daemon import Daemon
from .lab import AsteriskLab, wait_for
from .sipp import Caller, Sip, wait_all

#: The SIP display name as sent (quoted-pairs), and as the caller wrote it.
SIP_NAME = 'Bu \\"Sri\\", Jl. Ñ'
NAME = 'Bu "Sri", Jl. Ñ'
FACTS = ("caller_number", "caller_name", "channel", "exten", "queue", "operator_interface", "abandoned",
         "hangup_cause", "hangup_cause_text", "state")
TIMES = ("arrived_at", "queued_at", "answered_at", "ended_at", "abandoned_at")


def _at(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _ami_time(frame) -> datetime:  # type: ignore[no-untyped-def]
    return datetime.fromtimestamp(float(frame.get("Timestamp")), UTC)


def cel_over(asterisk: AsteriskLab, linkedids: set[str]) -> bool:
    """Asterisk has logged the end (LINKEDID_END) of every one of these calls."""
    if not asterisk.cel_csv.exists():
        return False
    ended = {line for line in asterisk.cel_csv.read_text(encoding="utf-8", errors="replace").splitlines()
             if '"LINKEDID_END"' in line}
    return all(any(f'"{lid}"' in line for line in ended) for lid in linkedids)


POSTGRES_ADMIN_URL = os.environ.get("NGCC112_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


async def _admin(sql: str) -> bool:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await asyncio.wait_for(conn.execute(text(sql)), 10)
        return True
    except Exception:
        return False
    finally:
        await admin.dispose()


class PgDaemon:
    """A second ``ngcc112 run`` on a PostgreSQL database of its own, reading the cel table there."""

    def __init__(self, daemon: Daemon, url: str) -> None:
        self.daemon, self.url = daemon, url
        daemon.env["NGCC112_DATABASE_URL"] = url

    def tickets(self) -> list[dict[str, Any]]:
        async def fetch() -> list[dict[str, Any]]:
            from sqlalchemy import text
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(self.url)
            try:
                async with engine.connect() as conn:
                    return [dict(r) for r in (await conn.execute(text(
                        "SELECT * FROM tickets ORDER BY id"))).mappings().all()]
            finally:
                await engine.dispose()

        return asyncio.run(fetch())

    def audit_actions(self, ticket_id: int) -> list[str]:
        async def fetch() -> list[str]:
            from sqlalchemy import text
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(self.url)
            try:
                async with engine.connect() as conn:
                    return list((await conn.execute(text(
                        "SELECT action FROM audit_log WHERE ticket_id = :t ORDER BY id"), {"t": ticket_id})).scalars())
            finally:
                await engine.dispose()

        return asyncio.run(fetch())


@pytest.fixture
def pg_daemon(asterisk: AsteriskLab, lab_root, request):  # type: ignore[no-untyped-def]
    """The PostgreSQL setup, when a PostgreSQL server answers; None otherwise."""
    name = f"ngcc112_cel_{uuid.uuid4().hex[:10]}"
    if not asyncio.run(_admin(f'CREATE DATABASE "{name}"')):
        yield None
        return
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    daemon = Daemon(lab_root / "daemon" / "backfill-pg", ami_port=asterisk.ami_port, secret=asterisk.ami_secret)
    pg = PgDaemon(daemon, url)
    daemon.cli("db", "upgrade")  # the cel table (migration 0005) before cel_pgsql loads
    asterisk.enable_cel_pgsql(name)
    try:
        yield pg
    finally:
        daemon.stop()
        asterisk.disable_cel_pgsql()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_calls_placed_while_the_daemon_is_stopped_get_exactly_one_ticket_each(
        asterisk: AsteriskLab, ami: AmiListener, sip: Sip, daemon: Daemon, pg_daemon: PgDaemon | None) -> None:
    started = time.monotonic()
    # the daemon reads the lab's CEL file (the fixture started it without)
    daemon.stop()
    daemon.env["NGCC112_CEL_CSV"] = str(asterisk.cel_csv)
    daemon.start()
    sip.phone("op1", PHONE_PASSWORDS["op1"], ring_ms=500, talk_ms=12000)
    device_reachable(ami, "PJSIP/op1")
    queue_add(ami, "PJSIP/op1")

    # one call the daemon sees live: its ticket is the live one, never doubled
    mark = ami.mark()
    seen = sip.call(Caller(number="5558001", name="Langsung", hold_ms=1200))
    assert seen.wait(20) == 0, seen.errors()
    live_id = next(iter(ami.calls(since=mark)))
    live = daemon.wait_ticket(live_id, ended_at=bool)
    assert live["recovered"] == 0

    daemon.stop()
    mark = ami.mark()
    answered = sip.call(Caller(number="5558101", name=SIP_NAME, hold_ms=40000))
    connect = ami.wait_event("AgentConnect", timeout=30, Interface="PJSIP/op1")[0]
    # op1 now talks for 12 s: the next caller waits in the queue and gives up
    waiting = sip.call(Caller(number="5558102", name="Menunggu Lama", hold_ms=9000))
    ghost = sip.call(Caller(number="5558103", name="Hantu Senyap", hold_ms=1200))
    assert wait_all([answered, waiting, ghost], 45) == [0, 0, 0]
    calls = ami.calls(since=mark)
    by_number = {c["number"]: lid for lid, c in calls.items()}
    a, w, g = by_number["5558101"], by_number["5558102"], by_number["5558103"]
    assert calls[a].get("answered_by") == "PJSIP/op1" and calls[w].get("abandoned") == "1"
    assert "queue" not in calls[g]
    wait_for(lambda: cel_over(asterisk, {a, w, g}), 15, "Asterisk to log the end of the three calls")

    daemon.start()
    for linkedid in (a, w, g):
        daemon.wait_ticket(linkedid, ended_at=bool, recovered=1)
    check_tickets(daemon.tickets(), ami, live_id, a, w, g, connect)
    for linkedid in (a, w, g):
        ticket = daemon.ticket(linkedid)
        assert [(e["actor"], e["action"]) for e in daemon.audit(ticket["id"])] == [("asterisk-cel", "recovered")]
    # the live call: one ticket, still the live one
    assert daemon.ticket(live_id)["recovered"] == 0
    assert "recovered" not in [e["action"] for e in daemon.audit(live["id"])]

    # the live ticket is what the backfill would have made of the same call's CEL
    compare_with_cel(asterisk, live_id, live)

    # again: a restart finds nothing new
    daemon.stop()
    daemon.start()
    wait_for(lambda: "backfill.done" in _last_start_log(daemon), 20, "the backfill after the restart")
    check_tickets(daemon.tickets(), ami, live_id, a, w, g, connect)
    for linkedid in (a, w, g):
        assert len(daemon.audit(daemon.ticket(linkedid)["id"])) == 1

    if pg_daemon is not None:
        pg_daemon.daemon.start()
        wait_for(lambda: {a, w, g, live_id} <= {t["linkedid"] for t in pg_daemon.tickets()}, 20,
                 "the PostgreSQL daemon to recover the calls from the cel table")
        check_tickets(pg_daemon.tickets(), ami, None, a, w, g, connect)
        pg_daemon.daemon.stop()
        pg_daemon.daemon.start()
        found = pg_daemon.tickets()
        assert sorted(t["linkedid"] for t in found if t["linkedid"] in {a, w, g, live_id}) == sorted(
            {a, w, g, live_id})
        for ticket in found:
            if ticket["linkedid"] in {a, w, g}:
                assert pg_daemon.audit_actions(ticket["id"]) == ["recovered"]
    assert time.monotonic() - started < 90


def _last_start_log(daemon: Daemon) -> str:
    path = daemon.folder / f"daemon-{daemon.starts}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def check_tickets(tickets: list[dict[str, Any]], ami: AmiListener, live_id: str | None,
                  a: str, w: str, g: str, connect) -> None:  # type: ignore[no-untyped-def]
    linkedids = [t["linkedid"] for t in tickets]
    assert len(linkedids) == len(set(linkedids)), "a call has two tickets"
    found = {t["linkedid"]: t for t in tickets}
    if live_id is not None:
        assert live_id in found
    answered, waiting, ghost = found[a], found[w], found[g]
    for ticket in (answered, waiting, ghost):
        assert ticket["recovered"] in (1, True)
        assert ticket["exten"] == "112" and ticket["ended_at"] is not None
    assert answered["caller_number"] == "5558101" and answered["caller_name"] == NAME
    assert answered["operator_interface"] == "PJSIP/op1" and answered["state"] == "in_call"
    assert answered["abandoned"] in (0, False) and answered["hangup_cause"] == 16
    # answered when Asterisk said AgentConnect (its own clock), give or take the bridging
    assert abs((_at(answered["answered_at"]) - _ami_time(connect)).total_seconds()) < 0.1
    assert waiting["caller_name"] == "Menunggu Lama" and waiting["abandoned"] in (1, True)
    assert waiting["queue"] == "ngcc112-operators" and waiting["queued_at"] is not None
    assert waiting["answered_at"] is None
    assert ghost["abandoned"] in (1, True) and ghost["queued_at"] is None and ghost["answered_at"] is None
    # arrival and end at Asterisk's Newchannel and Hangup of the caller's channel
    for linkedid, ticket in ((a, answered), (w, waiting), (g, ghost)):
        newchannel = ami.events("Newchannel", Linkedid=linkedid, Uniqueid=linkedid)[0]
        hangup = ami.events("Hangup", Uniqueid=linkedid)[0]
        assert abs((_at(ticket["arrived_at"]) - _ami_time(newchannel)).total_seconds()) < 0.1
        assert abs((_at(ticket["ended_at"]) - _ami_time(hangup)).total_seconds()) < 0.1


def compare_with_cel(asterisk: AsteriskLab, linkedid: str, live: dict[str, Any]) -> None:
    assembler = CallAssembler(context="from-pstn", extensions=("112", "110", "113", "115", "118", "119"))
    CelCsv(asterisk.cel_csv).read(None, datetime(2000, 1, 1, tzinfo=UTC), assembler.feed)
    call = assembler.calls[linkedid]
    ticket = recovered_ticket(call, linkedid, now=datetime.now(UTC))
    for key in FACTS:
        assert getattr(ticket, key) == live[key], (key, getattr(ticket, key), live[key])
    for key in TIMES:
        mine, theirs = getattr(ticket, key), _at(live[key])
        assert (mine is None) == (theirs is None), key
        if mine is not None:
            assert abs((mine - theirs).total_seconds()) < 0.1, (key, mine, theirs)
