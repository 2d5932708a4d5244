"""The durable journal: call events on local disk until the database has them.

Every batch of call events is appended here (one SQLite transaction,
``synchronous = FULL``: on disk when :meth:`Journal.append` returns) before it
is written to the ticket database, and removed once the database committed it.
So a database outage loses nothing, not even when the daemon is SIGKILLed in
the middle of it: at the next start :meth:`Journal.pending` gives back, in
order, everything that never reached the database, and the daemon writes it
before any new event. Writing an event twice is harmless (ticket changes are
idempotent), so a crash between the database commit and the removal here only
repeats work.

The journal is a small SQLite file of its own beside the daemon, never the
ticket database: it must work precisely when that database does not.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ngcc112.ami import events as call_events
from ngcc112.ami.events import CallEvent, CallsResynced

#: Every call event type by name: what the journal can hold.
EVENT_TYPES: dict[str, type[CallEvent]] = {
    cls.kind: cls
    for cls in vars(call_events).values()
    if isinstance(cls, type) and issubclass(cls, CallEvent) and cls is not CallEvent
}
#: A resync marker spilled in order with the call events (see the daemon's backpressure).
RESYNC_KIND = "calls_resynced"
#: What the journal holds, in the order the tracker made it.
Journalled = CallEvent | CallsResynced
#: Journals written before the kinds were explicit hold class names; still read them.
_LEGACY_NAMES: dict[str, type[CallEvent]] = {cls.__name__: cls for cls in EVENT_TYPES.values()}


class JournalError(Exception):
    """The journal file cannot be used (unwritable, corrupt); the message names the path."""


def encode(event: Journalled) -> tuple[str, str]:
    """(type name, JSON) of a call event or a resync marker."""
    if isinstance(event, CallsResynced):
        marker = {"at": event.at.isoformat(), "live_call_ids": sorted(event.live_call_ids)}
        return RESYNC_KIND, json.dumps(marker, separators=(",", ":"))
    kind = event.kind
    if EVENT_TYPES.get(kind) is not type(event):
        raise TypeError(f"not a journalled call event: {kind}")
    fields: dict[str, Any] = {}
    for item in dataclasses.fields(event):
        value = getattr(event, item.name)
        if isinstance(value, datetime):
            value = {"$dt": value.isoformat()}
        elif isinstance(value, (frozenset, set)):
            value = sorted(value)
        elif hasattr(value, "items"):
            value = dict(value)
        fields[item.name] = value
    return kind, json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def decode(kind: str, payload: str) -> Journalled:
    """The call event (or resync marker) :func:`encode` stored."""
    if kind == RESYNC_KIND:
        marker = json.loads(payload)
        return CallsResynced(datetime.fromisoformat(marker["at"]), frozenset(marker["live_call_ids"]))
    cls = EVENT_TYPES.get(kind) or _LEGACY_NAMES.get(kind)
    if cls is None:
        raise JournalError(f"unknown event type in the journal: {kind!r}")
    fields = json.loads(payload)
    for key, value in fields.items():
        if isinstance(value, dict) and set(value) == {"$dt"}:
            fields[key] = datetime.fromisoformat(value["$dt"])
    return cls(**fields)


class Journal:
    """An append-only, fsync'd queue of call events in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        #: Events up to this sequence number are in the database: the next append forgets them.
        self._forget_upto: int | None = None

    # -- life ---------------------------------------------------------------------------------

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS events ("
                "seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL)"
            )
            db.execute("SELECT count(*) FROM events").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot use the event journal {self.path}: {exc}") from None
        self._db = db

    def close(self) -> None:
        """Close; an empty journal leaves no file behind."""
        with self._lock:
            if self._db is None:
                return
            empty = self._db.execute("SELECT count(*) FROM events").fetchone()[0] == 0
            self._db.close()
            self._db = None
            if empty:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # -- use (each call blocks for one fsync at most: the async variants run it in a thread) ----

    def append_now(self, batch: Sequence[Journalled]) -> int:
        """Store ``batch`` durably; the sequence number of its last event. What
        :meth:`forget_later` was told is forgotten in the same transaction (one fsync for
        both, where :meth:`done_now` after every batch cost a second one)."""
        rows = [encode(event) for event in batch]
        with self._lock:
            db = self._connection()
            forget = self._forget_upto
            db.execute("BEGIN IMMEDIATE")
            try:
                if forget is not None:
                    db.execute("DELETE FROM events WHERE seq <= ?", (forget,))
                cursor = db.executemany("INSERT INTO events (kind, payload) VALUES (?, ?)", rows)
                last = db.execute("SELECT max(seq) FROM events").fetchone()[0]
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            del cursor
            if self._forget_upto == forget:
                self._forget_upto = None
            return int(last or 0)

    def forget_later(self, upto: int) -> None:
        """The database has every event up to ``upto``: forget them with the next append, or
        at :meth:`forget_now` (a crash before either only repeats idempotent writes)."""
        self._forget_upto = upto if self._forget_upto is None else max(upto, self._forget_upto)

    def done_now(self, upto: int) -> None:
        """Forget every event up to sequence number ``upto``: the database has them."""
        with self._lock:
            self._connection().execute("DELETE FROM events WHERE seq <= ?", (upto,))

    def pending_now(self, limit: int = -1) -> list[tuple[int, Journalled]]:
        """What never reached the database, oldest first (at most ``limit``; all by default)."""
        with self._lock:
            rows = (
                self._connection()
                .execute("SELECT seq, kind, payload FROM events ORDER BY seq LIMIT ?", (limit,))
                .fetchall()
            )
        return [(seq, decode(kind, payload)) for seq, kind, payload in rows]

    def size(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM events").fetchone()[0])

    async def append(self, batch: Sequence[Journalled]) -> int:
        return await asyncio.to_thread(self.append_now, batch)

    async def forget_now(self) -> None:
        """Forget at once what :meth:`forget_later` kept for the next append."""
        upto = self._forget_upto
        if upto is not None:
            await self.done(upto)
            if self._forget_upto == upto:
                self._forget_upto = None

    async def pending(self, limit: int = -1) -> list[tuple[int, Journalled]]:
        return await asyncio.to_thread(self.pending_now, limit)

    async def done(self, upto: int) -> None:
        await asyncio.to_thread(self.done_now, upto)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise JournalError(f"the event journal {self.path} is not open")
        return self._db


def default_path(database_url: str, *, node: str | None = None) -> Path | None:
    """Where the journal lives when the settings do not say (``journal_path``).

    Beside a SQLite database file (``ngcc112.db`` → ``ngcc112.events.db``); for
    PostgreSQL, in ``$XDG_STATE_HOME/ngcc112`` (``~/.local/state/ngcc112``) under a
    name made from the database's URL, so two databases never share a journal, and
    in cluster mode from the node's name too, so two nodes on one host never do;
    None for an in-memory database (nothing to protect)."""
    import hashlib
    import os

    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:":
            return None
        path = Path(database).expanduser()
        return path.with_name(f"{path.stem}.events{path.suffix or '.db'}")
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "ngcc112"
    key = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    suffix = "-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in node) if node else ""
    return state / f"events-{url.database or 'db'}-{key}{suffix}.db"
