"""CEL as a real Asterisk 22.10.1 wrote it (tests/data/cel/, record_cel.py) → the tickets the live path made.

The recording holds four calls that a live ``ngcc112 run`` also ticketed
(``lab-calls.live.json``): an abandoned caller in the queue, two hang-ups in the
silent-call prompt (one with no display name), and an answered caller whose SIP
display name has quoted-pairs, a backslash, a comma and UTF-8. A ticket rebuilt
from the CSV, or from the rows cel_pgsql wrote, must say what the live one says.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ngcc112.backfill.cel import EVENTS, OPEN_CALL_LIMIT, CallAssembler, CelRecord, call_events
from ngcc112.backfill.csv_source import CelCsv, CsvSourceError, parse_record
from ngcc112.backfill.store import recovered_ticket

DATA = Path(__file__).parent / "data" / "cel"
CSV = DATA / "lab-calls.csv"
LIVE = {t["linkedid"]: t for t in json.loads((DATA / "lab-calls.live.json").read_text(encoding="utf-8"))}
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
#: Live times come from AMI events, recovered ones from CEL records of the same moment.
CLOSE = timedelta(milliseconds=50)


def read_csv(path: Path = CSV, position: str | None = None, since: datetime = LONG_AGO):
    records: list[CelRecord] = []
    read = CelCsv(path).read(position, since, records.append)
    return records, read


def assemble(records) -> CallAssembler:
    assembler = CallAssembler(context="from-pstn", extensions=("112", "110", "113", "115", "118", "119"))
    for record in records:
        assembler.feed(record)
    return assembler


def pgsql_records() -> list[CelRecord]:
    """The rows of the cel table as pgsql_source reads them (eventtime: UTC, no zone)."""
    out = []
    for line in (DATA / "lab-calls.pgsql.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        at = datetime.fromisoformat(row["eventtime"]).replace(tzinfo=UTC)
        out.append(CelRecord(position=row["id"], event=row["eventtype"], at=at, uniqueid=row["uniqueid"],
                             linkedid=row["linkedid"], channel=row["channame"], context=row["context"],
                             exten=row["exten"], cid_num=row["cid_num"], cid_name=row["cid_name"],
                             appname=row["appname"], appdata=row["appdata"], peer=row["peer"],
                             extra=row["extra"]))
    return out


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def assert_like_live(ticket, live: dict) -> None:
    for key in ("state", "caller_number", "caller_name", "channel", "exten", "category", "queue",
                "operator_interface", "hangup_cause", "hangup_cause_text"):
        assert getattr(ticket, key) == live[key], key
    for key in ("abandoned", "ended_unobserved"):
        assert bool(getattr(ticket, key)) == bool(live[key]), key
    for key in ("arrived_at", "queued_at", "answered_at", "ended_at", "abandoned_at", "ringing_at"):
        mine, theirs = getattr(ticket, key), _time(live[key])
        assert (mine is None) == (theirs is None), key
        if mine is not None:
            assert abs(mine - theirs) < CLOSE, (key, mine, theirs)
    if live["waited_seconds"] is None:
        assert ticket.waited_seconds is None
    else:
        assert ticket.waited_seconds == pytest.approx(live["waited_seconds"], abs=0.05)
    if live["ringing_interface"] is not None:
        assert ticket.ringing_interface == live["ringing_interface"]


def test_the_recorded_csv_parses_into_the_recorded_events():
    records, read = read_csv()
    assert read.bad_lines == 0
    assert read.records == len(records) == len(CSV.read_bytes().splitlines())
    assert {r.event for r in records} >= EVENTS
    assert read.end == f"{CSV.stat().st_ino}:{CSV.stat().st_size}"


def test_a_ticket_rebuilt_from_the_csv_says_what_the_live_ticket_said():
    calls = assemble(read_csv()[0]).calls
    assert set(calls) == set(LIVE)
    for linkedid, call in calls.items():
        assert call.is_112_call and call.over
        ticket = recovered_ticket(call, linkedid, now=call.ended_at + timedelta(minutes=1))
        assert_like_live(ticket, LIVE[linkedid])
        assert ticket.recovered is True


def test_the_caller_name_keeps_quotes_backslash_comma_and_utf8_like_the_live_path():
    calls = assemble(read_csv()[0]).calls
    names = {c.caller_name for c in calls.values()}
    assert 'Pak "Budi" \\ RT 05, Jl. Mawar Ü' in names
    assert None in names  # no display name: no name, as live


def test_cel_pgsql_rows_are_the_same_records_as_the_csv():
    csv_records = [r for r in read_csv()[0]]
    pg = pgsql_records()
    assert len(pg) == len(csv_records)
    strip = lambda r: (r.event, r.at, r.uniqueid, r.linkedid, r.channel, r.context, r.exten, r.cid_num,  # noqa: E731
                       r.cid_name, r.appname, r.appdata, r.peer, r.extra)
    assert [strip(r) for r in pg] == [strip(r) for r in csv_records]


def test_a_ticket_rebuilt_from_the_pgsql_rows_says_what_the_live_ticket_said():
    calls = assemble(pgsql_records()).calls
    assert set(calls) == set(LIVE)
    for linkedid, call in calls.items():
        assert_like_live(recovered_ticket(call, linkedid, now=call.ended_at + timedelta(minutes=1)),
                         LIVE[linkedid])


def test_events_follow_the_live_order():
    calls = assemble(read_csv()[0]).calls
    answered = next(c for c in calls.values() if c.answered_at is not None)
    names = [type(e).__name__ for e in call_events(answered, answered.linkedid, now=answered.ended_at)]
    assert names == ["CallArrived", "CallQueued", "OperatorRinging", "CallConnected", "CallEnded"]
    waiting = next(c for c in calls.values() if c.queued and c.answered_at is None)
    names = [type(e).__name__ for e in call_events(waiting, waiting.linkedid, now=waiting.ended_at)]
    assert names == ["CallArrived", "CallQueued", "CallAbandoned", "CallEnded"]


# -- calls that are not 112 calls, calls not over ---------------------------------------------------

def _rec(event: str, at: float, uniqueid: str, linkedid: str, channel: str, context: str, exten: str = "s",
         **more: str) -> CelRecord:
    return CelRecord(position=int(at * 10), event=event, at=datetime.fromtimestamp(at, UTC), uniqueid=uniqueid,
                     linkedid=linkedid, channel=channel, context=context, exten=exten,
                     cid_num=more.pop("cid_num", "201"), cid_name=more.pop("cid_name", "Operator 1"), **more)


def test_an_operators_callback_is_not_a_112_call():
    # op1 dials a caller back through the carrier: the outbound leg is created in the trunk's
    # context (from-pstn) but is not the call's first channel
    records = [
        _rec("CHAN_START", 100, "9.1", "9.1", "PJSIP/op1-00000009", "operators", "081234"),
        _rec("CHAN_START", 100.1, "9.2", "9.1", "PJSIP/carrier-0000000a", "from-pstn", "s"),
        _rec("HANGUP", 110, "9.2", "9.1", "PJSIP/carrier-0000000a", "from-pstn", extra='{"hangupcause":16}'),
        _rec("HANGUP", 110, "9.1", "9.1", "PJSIP/op1-00000009", "operators", extra='{"hangupcause":16}'),
    ]
    call = assemble(records).calls["9.1"]
    assert not call.is_112_call


def test_an_operator_testing_112_from_a_softphone_is_a_112_call_with_its_number():
    records = [
        _rec("CHAN_START", 100, "8.1", "8.1", "PJSIP/op2-00000008", "operators", "110"),
        _rec("APP_START", 107, "8.1", "8.1", "PJSIP/op2-00000008", "from-pstn", "110", appname="Queue",
             appdata="ngcc112-operators,,,,60"),
        _rec("HANGUP", 109, "8.1", "8.1", "PJSIP/op2-00000008", "from-pstn", "110", extra='{"hangupcause":16}'),
    ]
    call = assemble(records).calls["8.1"]
    assert call.is_112_call and call.exten == "110"
    ticket = recovered_ticket(call, "8.1", now=call.ended_at)
    assert ticket.category == "crime" and ticket.abandoned and ticket.queue == "ngcc112-operators"


def test_a_call_without_an_end_is_pending_until_it_is_half_a_day_old():
    start = datetime(2026, 12, 1, 8, tzinfo=UTC).timestamp()
    records = [_rec("CHAN_START", start, "7.1", "7.1", "PJSIP/carrier-00000007", "from-pstn", "112",
                    cid_num="5550007", cid_name="Lama")]
    call = assemble(records).calls["7.1"]
    assert not call.over
    assert not call.stale(call.arrived_at + OPEN_CALL_LIMIT - timedelta(minutes=1))
    later = call.arrived_at + OPEN_CALL_LIMIT + timedelta(minutes=1)
    assert call.stale(later)
    ticket = recovered_ticket(call, "7.1", now=later)
    assert ticket.ended_unobserved and ticket.abandoned and ticket.ended_at == call.arrived_at


# -- the CSV reader --------------------------------------------------------------------------------

def test_garbage_a_stray_quote_and_a_half_written_line_cost_only_themselves(tmp_path):
    lines = CSV.read_bytes().splitlines(keepends=True)
    path = tmp_path / "cel.csv"
    path.write_bytes(b"".join([
        lines[0],
        b"not a record at all\n",
        b'"ngcc112-cel-1","CHAN_START","1", "a stray " quote\n',   # never balances
        *lines[1:-1],
        b'"ngcc112-cel-0","CHAN_START","1796129319.1"\n',              # another layout
        lines[-1][:40],                                                # Asterisk still writing
    ]))
    records, read = read_csv(path)
    assert len(records) == len(lines) - 1
    assert read.bad_lines == 3 and read.first_bad == "not a record at all"
    # the unfinished line is where the next read starts
    assert read.end == f"{path.stat().st_ino}:{path.stat().st_size - 40}"
    with path.open("ab") as handle:
        handle.write(lines[-1][40:])
    more, again = read_csv(path, read.end)
    assert [r.event for r in more] == ["LINKEDID_END"] and again.bad_lines == 0


def test_a_newline_inside_a_quoted_field_is_one_record(tmp_path):
    path = tmp_path / "cel.csv"
    path.write_bytes(b'"ngcc112-cel-1","CHAN_START","1796129319.127388","1.0","1.0","PJSIP/carrier-1",'
                     b'"from-pstn","112","555","two\nlines","","","",""\n' + CSV.read_bytes().splitlines(True)[1])
    records, read = read_csv(path)
    assert [r.cid_name for r in records] == ["two\nlines", "Hantu"]
    assert read.bad_lines == 0


def test_a_missing_or_unreadable_file_is_one_clear_error(tmp_path):
    with pytest.raises(CsvSourceError, match="does not exist"):
        read_csv(tmp_path / "nope.csv")
    if os.geteuid() != 0:  # root reads anything
        path = tmp_path / "locked.csv"
        path.write_bytes(CSV.read_bytes())
        path.chmod(0)
        with pytest.raises(CsvSourceError, match="not readable"):
            read_csv(path)


def test_reading_goes_on_from_a_position_and_follows_a_logrotate_rename(tmp_path):
    lines = CSV.read_bytes().splitlines(keepends=True)
    path = tmp_path / "cel.csv"
    path.write_bytes(b"".join(lines[:10]))
    first, read = read_csv(path)
    assert len(first) == 10
    with path.open("ab") as handle:
        handle.write(b"".join(lines[10:20]))
    path.rename(tmp_path / "cel.csv.1")  # logrotate: the old file moves, Asterisk opens a new one
    path.write_bytes(b"".join(lines[20:]))
    rest, read = read_csv(path, read.end)
    assert read.resumed
    assert [r.at for r in rest] == [parse_record(line, 0).at for line in lines[10:]]


def test_a_position_that_no_longer_fits_starts_again_by_time(tmp_path):
    lines = CSV.read_bytes().splitlines(keepends=True)
    path = tmp_path / "cel.csv"
    path.write_bytes(b"".join(lines))
    records, read = read_csv(path, "1:3")  # another file's position
    assert not read.resumed and len(records) == len(lines)


def test_a_big_file_is_not_read_from_its_start(tmp_path):
    """A year of CEL: the first read bisects to the wanted time instead of parsing it all."""
    template = CSV.read_bytes().splitlines(keepends=True)[0]
    path = tmp_path / "cel.csv"
    start = 1_760_000_000.0
    with path.open("wb") as handle:
        for i in range(200_000):  # about 30 MB, one record per minute
            handle.write(template.replace(b"1796129319.127388", f"{start + 60 * i:.6f}".encode()))
    since = datetime.fromtimestamp(start + 60 * 199_000, UTC)
    records, read = read_csv(path, since=since)
    # what lies after `since`, the slack before it and at most a bisection window more: not 200 000
    assert 1000 < len(records) < 3000
    assert records[0].at <= since - timedelta(minutes=5)
    assert records[-1].at == datetime.fromtimestamp(start + 60 * 199_999, UTC)
