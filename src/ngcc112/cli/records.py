"""The commands on the records: recent tickets, the SLA report, the heuristics' evaluation, the misuse list."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ngcc112 import logs, names
from ngcc112.cli.exits import EXIT_OK, fatal
from ngcc112.settings import Settings

if TYPE_CHECKING:
    from ngcc112.tickets.location_models import BlocklistRow


def tickets(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.tickets.db import make_engine, make_sessions
    from ngcc112.tickets.store import TicketStore, ticket_summary

    logs.configure("console", "warning")
    database_url = _tickets_database(settings)

    async def recent() -> list[dict[str, Any]]:
        engine = make_engine(database_url)
        try:
            return [ticket_summary(t) for t in await TicketStore(make_sessions(engine)).recent(args.limit)]
        finally:
            await engine.dispose()

    try:
        rows = asyncio.run(recent())
    except Exception as exc:
        return fatal(f"cannot read tickets: {str(exc).splitlines()[0]} (did you run `ngcc112 db upgrade`?)")
    for row in rows:
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(format_ticket_line(row))
    return EXIT_OK


def _tickets_database(settings: Settings) -> str:
    """The configured database; the demo's when none is configured and the default one is absent.

    So `ngcc112 tickets` after `ngcc112 demo` in the same directory lists the demo's
    tickets, and says (on stderr) which file it reads.
    """
    from pathlib import Path

    from ngcc112.sim.demo import DEMO_DATABASE

    default = Settings().database_url
    if settings.database_url != default or os.environ.get("NGCC112_DATABASE_URL"):
        return settings.database_url
    default_file = Path(default.split(":///", 1)[1])
    if default_file.exists() or not DEMO_DATABASE.exists():
        return settings.database_url
    print(
        f"ngcc112: no database configured and {default_file} does not exist; reading the demo's {DEMO_DATABASE}",
        file=sys.stderr,
    )
    return f"sqlite+aiosqlite:///{DEMO_DATABASE}"


def format_ticket_line(row: dict[str, Any]) -> str:
    caller = row["caller_number"] or "(no caller ID)"
    if row.get("caller_name"):
        caller += f" {row['caller_name']!r}"
    status = (
        "abandoned"
        if row["abandoned"]
        else ("answered by " + (row.get("operator_interface") or "?") if row["answered_at"] else "waiting")
    )
    if row["ended_at"] and not row["abandoned"]:
        status += ", ended"
    if row.get("recovered"):
        status += " (recovered from Asterisk's CEL)"
    if row.get("site") not in (None, names.DEFAULT_SITE):  # a single node's lines stay as they were
        status += f" [site {row['site']}]"
    return f"#{row['id']:<5} {row['arrived_at'][:19]}  {row['state']:<10} {caller:<36} {status}"


def report(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.reports.build import ReportError
    from ngcc112.reports.run import run_report

    logs.configure("console", "warning")
    try:
        text = asyncio.run(
            run_report(settings, args.start, args.end, args.csv, tz=args.tz or settings.timezone, targets=settings.sla)
        )
    except (ReportError, ValueError) as exc:
        return fatal(str(exc))
    except Exception as exc:
        return fatal(f"cannot read the database: {str(exc).splitlines()[0]} (did you run `ngcc112 db upgrade`?)")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def eval_heuristics(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.tools.evaluation import main_eval

    logs.configure("console", "error")
    return main_eval(settings, args.path)


def blocklist(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import datetime, timedelta, timezone

    from ngcc112.tickets.db import make_engine, make_sessions
    from ngcc112.tickets.blocklist import BlocklistError, add_to_blocklist, blocklist_for, lift_blocklist_entry

    logs.configure("console", "warning")
    now = datetime.now(timezone.utc)

    async def act() -> list[str]:
        engine = make_engine(settings.database_url)
        sessions = make_sessions(engine)
        try:
            if args.block_command == "add":
                if args.hours is not None and args.hours <= 0:
                    raise BlocklistError("--hours must be positive")
                expires = now + timedelta(hours=args.hours) if args.hours else None
                rows = [await add_to_blocklist(sessions, args.number, args.reason, args.by, expires_at=expires)]
            elif args.block_command == "lift":
                rows = [await lift_blocklist_entry(sessions, args.entry_id, args.by)]
            else:
                rows = await blocklist_for(sessions, args.number)
            return [_blocklist_line(row, now) for row in rows]
        finally:
            await engine.dispose()

    try:
        lines = asyncio.run(act())
    except BlocklistError as exc:
        return fatal(str(exc))
    except Exception as exc:
        return fatal(f"cannot use the database: {str(exc).splitlines()[0]} (did you run `ngcc112 db upgrade`?)")
    for line in lines:
        print(line)
    if args.block_command == "add":
        print("calls from this number are still answered and queued; the entry only counts as prank evidence")
    return EXIT_OK


def _blocklist_line(row: BlocklistRow, now: datetime) -> str:
    active = row.lifted_at is None and (row.expires_at is None or row.expires_at > now)
    until = row.expires_at.isoformat(timespec="minutes") if row.expires_at else "no expiry"
    state = "active" if active else "ended"
    return f"#{row.id} {row.number} {state} (until {until}) by {row.added_by}: {row.reason}"
