"""CEL records from the PostgreSQL table Asterisk's cel_pgsql writes (asterisk-config/postgresql/cel_pgsql.conf).

The table is Asterisk's documented layout (migration 0005 creates it in the
ngcc112 database). A position is a row ``id``: cel_pgsql inserts one row at a
time over one connection, so ids grow in the order the records were written.
Without a position the read starts by ``eventtime`` (indexed), which
cel_pgsql writes in UTC with ``usegmtime = yes``.

Rows are fetched in pages of :data:`PAGE` rows, so a long read never holds more
than a page in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from ngcc112.backfill.cel import CelRecord

PAGE = 5000
TIME_SLACK = timedelta(minutes=5)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


class PgSourceError(Exception):
    """The table cannot be read (missing, no rights): the message says why."""


def valid_table(name: str) -> bool:
    return bool(_IDENTIFIER.fullmatch(name))


@dataclass(slots=True)
class PgRead:
    end: str
    resumed: bool = False
    records: int = 0
    #: The newest eventtime read lies this far in the future: cel_pgsql writes local time.
    future_seconds: float = 0.0


def _aware(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC)
    return None


class CelTable:
    """The ``cel`` table (or another name) in the daemon's own PostgreSQL database."""

    def __init__(self, engine: AsyncEngine, table: str = "cel") -> None:
        if not valid_table(table):
            raise ValueError(f"not a table name: {table!r}")
        self.engine = engine
        self.table = table

    @property
    def key(self) -> str:
        return f"cel-pgsql:{self.table}"

    async def read(
        self,
        position: str | None,
        since: datetime,
        sink: Callable[[CelRecord], None],
        *,
        events: frozenset[str],
        now: datetime,
    ) -> PgRead:
        columns = (
            "id, eventtype, eventtime, uniqueid, linkedid, channame, context, exten, cid_num, "
            "cid_name, appname, appdata, peer, extra"
        )
        kinds = ", ".join(f"'{e}'" for e in sorted(events))  # fixed names, not input
        try:
            async with self.engine.connect() as conn:
                start = int(position) if position and position.isdigit() else None
                top = await conn.scalar(text(f"SELECT max(id) FROM {self.table}"))
                if start is not None and (top or 0) < start - 1:
                    start = None  # the table was emptied or made anew: go by time
                out = PgRead(end=position or "", resumed=start is not None)
                if start is None:
                    naive = (since - TIME_SLACK).astimezone(UTC).replace(tzinfo=None)
                    start = await conn.scalar(
                        text(f"SELECT min(id) FROM {self.table} WHERE eventtime >= :t"), {"t": naive}
                    )
                    if start is None:
                        out.end = str((top or 0) + 1)
                        return out
                newest: datetime | None = None
                last: int | None = None
                while True:
                    rows = (
                        await conn.execute(
                            text(
                                f"SELECT {columns} FROM {self.table} WHERE id >= :start"
                                f" AND eventtype IN ({kinds}) ORDER BY id LIMIT {PAGE}"
                            ),
                            {"start": start},
                        )
                    ).all()
                    for row in rows:
                        last = int(row.id)
                        at = _aware(row.eventtime)
                        if at is None:
                            continue
                        newest = at if newest is None else max(newest, at)
                        out.records += 1
                        sink(
                            CelRecord(
                                position=last,
                                event=row.eventtype,
                                at=at,
                                uniqueid=row.uniqueid or "",
                                linkedid=row.linkedid or "",
                                channel=row.channame or "",
                                context=row.context or "",
                                exten=row.exten or "",
                                cid_num=row.cid_num or "",
                                cid_name=row.cid_name or "",
                                appname=row.appname or "",
                                appdata=row.appdata or "",
                                peer=row.peer or "",
                                extra=row.extra or "",
                            )
                        )
                    if len(rows) < PAGE or last is None:
                        break
                    start = last + 1
                # rows after the last one read were not wanted or are not there yet
                out.end = str(last + 1 if last is not None else start)
                if newest is not None:
                    out.future_seconds = max(0.0, (newest - now).total_seconds())
                return out
        except ProgrammingError as exc:
            raise PgSourceError(f"table {self.table!r}: {_first_line(exc)}") from None
        except DBAPIError as exc:
            raise PgSourceError(f"table {self.table!r}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    message = str(getattr(exc, "orig", None) or exc)
    return message.splitlines()[0][:200] if message else type(exc).__name__
