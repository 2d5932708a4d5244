"""Where the backfill stands in each source of Asterisk's records.

One row per source (``cel-csv:<path>``, ``cel-pgsql:<table>``): where the next
read starts, so a resync reads only what Asterisk wrote since (plus the calls
that were still going on). The row ``origin`` is written by migration 0005: calls
that arrived before it are never backfilled (a new database does not fill itself
with every call Asterisk ever logged).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ngcc112.tickets.models import Base

#: The row holding the time this database began to be backfilled.
ORIGIN = "origin"


class BackfillMark(Base):
    __tablename__ = "backfill_marks"

    #: ``origin``, or the source: ``cel-csv:/var/log/asterisk/cel-custom/ngcc112-cel.csv``, ``cel-pgsql:cel``.
    source: Mapped[str] = mapped_column(String(300), primary_key=True)
    #: Where the next read starts: ``<inode>:<byte offset>`` in the CSV, the row id in
    #: the table. None: not read yet (the first read starts by time).
    position: Mapped[str | None] = mapped_column(String(100))
    #: ``origin``: no call that arrived earlier is backfilled. A source: its first read.
    since: Mapped[datetime]
    scanned_at: Mapped[datetime | None]
    #: Tickets recovered from this source so far.
    recovered: Mapped[int] = mapped_column(Integer, default=0)
