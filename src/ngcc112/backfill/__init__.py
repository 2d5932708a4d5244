"""Tickets for the calls the daemon never saw, from Asterisk's own records (CEL).

:mod:`~ngcc112.backfill.cel` turns CEL records into calls and call events,
:mod:`~ngcc112.backfill.csv_source` and :mod:`~ngcc112.backfill.pgsql_source`
read them, :mod:`~ngcc112.backfill.service` decides and
:mod:`~ngcc112.backfill.store` writes.
"""

from ngcc112.backfill.service import Backfill, BackfillResult

__all__ = ["Backfill", "BackfillResult"]
