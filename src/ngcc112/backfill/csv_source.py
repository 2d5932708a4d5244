"""CEL records from the CSV file Asterisk's cel_custom writes (asterisk-config/cel_custom.conf).

Every line: ``"ngcc112-cel-1"`` (the layout's name), then eventtype, eventtime
(epoch seconds with microseconds), uniqueid, linkedid, channel, context, exten,
caller number, caller name, application, its data, bridge peer, extra. Every
field in double quotes, a quote inside doubled (RFC 4180; caller names may
hold commas, quotes, backslashes, UTF-8).

Reading is incremental: a position is ``<inode>:<byte offset>`` of a record's
first byte. It survives a logrotate rename (the old file is found again as
``<file>.1`` by its inode and read to its end before the new one). Without a
usable position the reader finds where the records of the wanted time begin by
bisecting the file (records are appended in time order), so a year of CEL costs
a few seeks, not a year of parsing.

Everything here is blocking file I/O: the backfill runs it in a worker thread.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ngcc112.backfill.cel import CelRecord

MARKER = "ngcc112-cel-1"
LINE_START = f'"{MARKER}",'.encode()
COLUMNS = (
    "marker",
    "eventtype",
    "eventtime",
    "uniqueid",
    "linkedid",
    "channame",
    "context",
    "exten",
    "cid_num",
    "cid_name",
    "appname",
    "appdata",
    "peer",
    "extra",
)
#: A record longer than this (quotes never balancing) is garbage, not a record.
MAX_RECORD = 64 * 1024
CHUNK = 1 << 20
#: Bisection stops when the window is this small; the rest is read.
BISECT_WINDOW = 256 * 1024
#: Read this much earlier than asked: records of one call are written in time order,
#: but not strictly across calls.
TIME_SLACK = timedelta(minutes=5)


class CsvSourceError(Exception):
    """The file cannot be read at all (missing, unreadable): the message says why."""


#: A record's position: its file's index in the read (0 the rotated file, when read) in the
#: high bits, its byte offset in the low ones; :meth:`CsvRead.mark` names it for the database.
_OFFSET_BITS = 48


@dataclass(slots=True)
class CsvRead:
    #: Position after the last complete record: where reading would go on.
    end: str
    #: The read went on from the given position (False: it started by time).
    resumed: bool = False
    records: int = 0
    inodes: list[int] = field(default_factory=list)
    #: Lines skipped because they are not records of this layout, and the first of them.
    bad_lines: int = 0
    first_bad: str = ""

    def mark(self, position: int) -> str:
        """A record's position as stored: ``<inode>:<offset>``."""
        return f"{self.inodes[position >> _OFFSET_BITS]}:{position & ((1 << _OFFSET_BITS) - 1)}"


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    inode: int
    size: int


def _stat(path: Path) -> _File | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CsvSourceError(f"{path}: {exc.strerror or exc}") from None
    return _File(path, st.st_ino, st.st_size)


def parse_position(position: str | None) -> tuple[int, int] | None:
    if not position:
        return None
    inode, sep, offset = position.partition(":")
    try:
        return (int(inode), int(offset)) if sep else None
    except ValueError:
        return None


class CelCsv:
    """The CEL file at ``path`` (and its rotated predecessor ``path.1``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def key(self) -> str:
        return f"cel-csv:{self.path}"

    def read(
        self,
        position: str | None,
        since: datetime,
        sink: Callable[[CelRecord], None],
        *,
        events: frozenset[str] | None = None,
    ) -> CsvRead:
        """Hand every record from ``position`` (or, without a usable one, from about
        ``since``) to the end to ``sink``, in file order; only ``events`` when given."""
        current = _stat(self.path)
        if current is None:
            raise CsvSourceError(f"{self.path} does not exist (is cel_custom loaded and its folder there?)")
        if not os.access(self.path, os.R_OK):
            raise CsvSourceError(f"{self.path} is not readable by this user")
        rotated = _stat(self.path.with_name(self.path.name + ".1"))
        files = [f for f in (rotated, current) if f is not None]
        start = self._resume(files, parse_position(position))
        out = CsvRead(
            end=f"{files[-1].inode}:{files[-1].size}", resumed=start is not None, inodes=[f.inode for f in files]
        )
        if start is None:
            start = self._by_time(files, since - TIME_SLACK)
        index, offset = start
        filter_ = frozenset(e.encode() for e in events) if events is not None else None
        for i in range(index, len(files)):
            end = self._read_file(files[i], i, offset if i == index else 0, out, sink, filter_)
            out.end = f"{files[i].inode}:{end}"
        return out

    # -- where to start --------------------------------------------------------------------------

    def _resume(self, files: list[_File], mark: tuple[int, int] | None) -> tuple[int, int] | None:
        if mark is None:
            return None
        inode, offset = mark
        for index, f in enumerate(files):
            if f.inode == inode and offset <= f.size and _starts_record(f.path, offset):
                return index, offset
        return None

    def _by_time(self, files: list[_File], since: datetime) -> tuple[int, int]:
        target = since.timestamp()
        for index, f in enumerate(files):
            last = _last_time(f.path, f.size)
            if last is not None and last >= target:
                return index, _bisect(f.path, f.size, target)
        return len(files) - 1, files[-1].size

    # -- reading ---------------------------------------------------------------------------------

    def _read_file(
        self,
        f: _File,
        index: int,
        offset: int,
        out: CsvRead,
        sink: Callable[[CelRecord], None],
        events: frozenset[bytes] | None,
    ) -> int:
        """Parse from ``offset`` to the last complete line; return where parsing stopped."""
        try:
            with open(f.path, "rb") as handle:
                handle.seek(offset)
                position = offset
                for start, raw in _records(handle, offset, f.size):
                    position = start + len(raw)
                    if events is not None and raw.startswith(LINE_START) and not wanted(raw, events):
                        continue
                    record = parse_record(raw, (index << _OFFSET_BITS) | start)
                    if record is None:
                        if raw.strip():
                            out.bad_lines += 1
                            out.first_bad = out.first_bad or raw[:120].decode("utf-8", "replace").strip()
                        continue
                    out.records += 1
                    sink(record)
                return position
        except OSError as exc:
            raise CsvSourceError(f"{f.path}: {exc.strerror or exc}") from None


def _records(handle, offset: int, size: int) -> Iterator[tuple[int, bytes]]:  # type: ignore[no-untyped-def]
    """(offset, bytes) of each complete line up to ``size``; a record whose quotes are still
    open at the end of its line (a newline inside a field) goes on over the next lines.

    A line that does not start a record is yielded alone (the caller counts it as bad),
    and a new record's first line ends an unbalanced one: one stray quote costs one
    line, never the records after it. An unfinished last line (Asterisk still writing
    it) is not yielded: the next read starts there.
    """
    buffer = b""
    position = offset  # file offset of buffer[0]
    remaining = size - offset
    pending = b""
    pending_start = 0
    while remaining > 0:
        chunk = handle.read(min(CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        buffer += chunk
        start = 0
        while True:
            newline = buffer.find(b"\n", start)
            if newline < 0:
                break
            line_start, line = position + start, buffer[start : newline + 1]
            start = newline + 1
            if pending:
                if not line.startswith(LINE_START):
                    pending += line
                    if pending.count(b'"') % 2 == 0 or len(pending) > MAX_RECORD:
                        yield pending_start, pending
                        pending = b""
                    continue
                yield pending_start, pending  # never closed: not a record
                pending = b""
            if not line.startswith(LINE_START) or line.count(b'"') % 2 == 0:
                yield line_start, line
            else:
                pending_start, pending = line_start, line
        position += start
        buffer = buffer[start:]


def wanted(raw: bytes, events: frozenset[bytes]) -> bool:
    """Cheap look at a line's event type before the CSV parse."""
    begin = len(LINE_START) + 1
    return raw[begin : raw.find(b'"', begin)] in events


def parse_record(raw: bytes, position: int) -> CelRecord | None:
    """One line of the layout, or None when it is not one."""
    if not raw.startswith(LINE_START):
        return None
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error:
        return None
    if len(rows) != 1 or len(rows[0]) != len(COLUMNS):
        return None
    row = dict(zip(COLUMNS, rows[0]))
    try:
        at = datetime.fromtimestamp(float(row["eventtime"]), UTC)
    except (ValueError, OverflowError):
        return None
    return CelRecord(
        position=position,
        event=row["eventtype"],
        at=at,
        uniqueid=row["uniqueid"],
        linkedid=row["linkedid"],
        channel=row["channame"],
        context=row["context"],
        exten=row["exten"],
        cid_num=row["cid_num"],
        cid_name=row["cid_name"],
        appname=row["appname"],
        appdata=row["appdata"],
        peer=row["peer"],
        extra=row["extra"],
    )


def _starts_record(path: Path, offset: int) -> bool:
    try:
        with open(path, "rb") as handle:
            if offset > 0:
                handle.seek(offset - 1)
                if handle.read(1) != b"\n":
                    return False
            head = handle.read(len(LINE_START))
    except OSError:
        return False
    return head == LINE_START or head == b""


def _time_at(handle, offset: int, size: int) -> tuple[int, float] | None:  # type: ignore[no-untyped-def]
    """The first record starting at or after ``offset``: (its offset, its time)."""
    if offset > 0:
        handle.seek(offset - 1)
        handle.readline()  # to the start of the next line (or stay, when offset starts one)
    else:
        handle.seek(0)
    start = handle.tell()
    for count, (position, raw) in enumerate(_records(handle, start, size)):
        record = parse_record(raw, position)
        if record is not None:
            return position, record.at.timestamp()
        if count >= 64:
            break
    return None


def _bisect(path: Path, size: int, target: float) -> int:
    """The offset of a record start at or before the first record at or after ``target``."""
    with open(path, "rb") as handle:
        lo, hi = 0, size
        while hi - lo > BISECT_WINDOW:
            mid = (lo + hi) // 2
            found = _time_at(handle, mid, size)
            if found is None or found[1] >= target:
                hi = mid
            else:
                lo = found[0]
        found = _time_at(handle, lo, size)
        return found[0] if found is not None else lo


def _last_time(path: Path, size: int) -> float | None:
    """The time of the file's last complete record (None: no record)."""
    with open(path, "rb") as handle:
        back = 4096
        while True:
            start = max(0, size - back)
            handle.seek(start)
            data = handle.read(size - start)
            lines = data.split(b"\n")
            # the last element is the unfinished tail (or empty); the first may be cut
            for line in reversed(lines[1:-1] if start > 0 else lines[:-1]):
                record = parse_record(line + b"\n", 0)
                if record is not None:
                    return record.at.timestamp()
            if start == 0 or back > 4 * MAX_RECORD:
                return None
            back *= 4
