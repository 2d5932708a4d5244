"""The durable journal: call events survive on disk until the database has them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngcc112.ami.events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallerDigit,
    CallerTalking,
    CallQueued,
    CallVariables,
    CallWithdrawn,
)
from ngcc112.tickets.journal import EVENT_TYPES, Journal, JournalError, decode, default_path, encode

T0 = datetime(2026, 12, 1, 5, 0, 0, 123456, tzinfo=timezone.utc)


def sample_events(call_id: str = "1796128134.3") -> list:
    return [
        CallArrived(call_id=call_id, at=T0, channel="PJSIP/carrier-00000003", uniqueid=call_id,
                    caller_number="+6281234567890", caller_name='Pak "Budi" \\ RT 05', exten="112"),
        CallVariables(call_id=call_id, at=T0, variables={"NGCC_GEO_LOCATION": 'shape="Circle"'}),
        CallQueued(call_id=call_id, at=T0 + timedelta(seconds=7), queue="ngcc112-operators", position=1,
                   channel="PJSIP/carrier-00000003"),
        CallerDigit(call_id=call_id, at=T0, digit="5", duration_ms=250),
        CallerTalking(call_id=call_id, at=T0, talking=True),
        CallConnected(call_id=call_id, at=T0, queue="ngcc112-operators", interface="PJSIP/op1",
                      member_name="op1", waited_seconds=3.5),
        CallAbandoned(call_id=call_id, at=T0, queue="q", position=None, waited_seconds=None),
        CallWithdrawn(call_id=call_id, at=T0, queue="q", info="x"),
        CallEnded(call_id=call_id, at=T0 + timedelta(seconds=30), cause=16, cause_text="Normal Clearing"),
    ]


def test_every_call_event_type_round_trips() -> None:
    events = sample_events()
    assert {e.kind for e in events} | {"caller_identified", "operator_ringing",
                                       "operator_ring_no_answer"} == set(EVENT_TYPES)
    for event in events:
        assert decode(*encode(event)) == event


@given(st.text(), st.datetimes(timezones=st.just(timezone.utc)))
def test_any_caller_name_and_time_round_trip(name: str, at: datetime) -> None:
    event = CallArrived(call_id="1.1", at=at, channel="c", uniqueid="1.1", caller_number=None,
                        caller_name=name, exten="112")
    assert decode(*encode(event)) == event


def test_appended_events_come_back_in_order_until_done(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "events.db")
    journal.open()
    first = journal.append_now(sample_events("1.1")[:3])
    last = journal.append_now(sample_events("2.2")[:2])
    assert [e for _, e in journal.pending_now()] == sample_events("1.1")[:3] + sample_events("2.2")[:2]
    journal.done_now(first)
    assert [e for _, e in journal.pending_now()] == sample_events("2.2")[:2]
    journal.done_now(last)
    assert journal.pending_now() == [] and journal.size() == 0
    journal.close()
    assert not (tmp_path / "events.db").exists(), "an empty journal leaves no file"


def test_a_process_killed_after_append_leaves_its_events_on_disk(tmp_path: Path) -> None:
    """SIGKILL right after append(): the next process finds every event."""
    path = tmp_path / "events.db"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_journal import sample_events
        from ngcc112.tickets.journal import Journal
        journal = Journal({str(path)!r})
        journal.open()
        journal.append_now(sample_events())
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    journal = Journal(path)
    journal.open()
    assert [e for _, e in journal.pending_now()] == sample_events()
    journal.close()
    assert path.exists(), "a journal with events is kept"


def test_an_unusable_journal_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JournalError, match="cannot use the event journal"):
        Journal(blocker / "events.db").open()


def test_where_the_journal_lives_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_path(f"sqlite+aiosqlite:///{tmp_path}/ngcc112.db") == tmp_path / "ngcc112.events.db"
    assert default_path("sqlite+aiosqlite:///:memory:") is None
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    one = default_path("postgresql+asyncpg://postgres@127.0.0.1/a")
    other = default_path("postgresql+asyncpg://postgres@127.0.0.1/b")
    assert one is not None and one.parent == tmp_path / "state" / "ngcc112"
    assert one != other
    assert "secret" not in str(default_path("postgresql+asyncpg://u:secret@h/a"))
