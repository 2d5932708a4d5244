"""The journal forgets what the database has together with the next append: one fsync, nothing lost."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ngcc112.ami.events import CallArrived, CallEnded
from ngcc112.tickets.journal import Journal

T0 = datetime(2026, 12, 1, 5, 0, tzinfo=timezone.utc)


def arrived(call_id: str) -> CallArrived:
    return CallArrived(call_id=call_id, at=T0, channel="PJSIP/c", uniqueid=call_id, caller_number="0811",
                       caller_name="", exten="112")


def test_an_append_can_forget_the_batches_the_database_has_in_its_own_transaction(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    journal.open()
    first = journal.append_now([arrived("1.1"), arrived("1.2")])
    journal.forget_later(first)
    second = journal.append_now([arrived("1.3")])
    assert [event.call_id for _, event in journal.pending_now()] == ["1.3"]
    journal.forget_later(second)
    third = journal.append_now([CallEnded(call_id="1.3", at=T0, cause=16, cause_text="x")])
    assert [seq for seq, _ in journal.pending_now()] == [third]
    journal.close()
    reopened = Journal(tmp_path / "journal.db")
    reopened.open()
    assert [type(event).__name__ for _, event in reopened.pending_now()] == ["CallEnded"]
    reopened.forget_later(third)
    asyncio.run(reopened.forget_now())
    reopened.close()
    assert not (tmp_path / "journal.db").exists()


def test_a_failed_append_forgets_nothing(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    journal.open()
    first = journal.append_now([arrived("2.1")])
    real = journal._db

    class DiskFull:
        """The connection, its INSERT failing after the DELETE ran in the same transaction."""

        def execute(self, *args):
            return real.execute(*args)

        def executemany(self, *args):
            raise sqlite3.OperationalError("database or disk is full")

    journal._db = DiskFull()
    with pytest.raises(sqlite3.OperationalError):
        journal.forget_later(first)
        journal.append_now([arrived("2.2")])
    journal._db = real
    assert [event.call_id for _, event in journal.pending_now()] == ["2.1"]
    journal.close()
