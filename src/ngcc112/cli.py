"""``ngcc112``: the command line. One subcommand per job; exit codes a sysadmin can script.

0 done, 1 a check failed, 2 bad configuration or a fatal fault (one clear line
on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ngcc112 import logs
from ngcc112.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from ngcc112.tickets.location_models import BlocklistRow

EXIT_OK, EXIT_FAILED, EXIT_FATAL = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ngcc112", description="112 emergency call center on Asterisk")
    config_help = "TOML settings file (environment NGCC112_* overrides it)"
    parser.add_argument("--config", metavar="PATH", help=config_help)
    # `ngcc112 --config F run` and `ngcc112 run --config F` both work.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", help=config_help, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    real_add_parser = sub.add_parser

    def add_parser(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return real_add_parser(name, parents=[common], **kwargs)

    sub.add_parser = add_parser  # type: ignore[method-assign]

    sub.add_parser("run", help="the daemon: follow Asterisk, open tickets, serve the panel")

    demo = sub.add_parser("demo", help="simulator + daemon + SQLite + panel in one command")
    demo.add_argument("--duration", type=float, metavar="SECONDS", help="stop cleanly after this long")
    demo.add_argument(
        "--rate", type=float, default=6.0, metavar="CALLS_PER_MINUTE", help="generated call rate (default 6)"
    )
    demo.add_argument(
        "--database",
        metavar="URL",
        help="database URL (default: NGCC112_DATABASE_URL, else a fresh SQLite file in ./var/)",
    )

    sim = sub.add_parser("sim", help="the AMI simulator alone, for pointing `run` at")
    sim.add_argument("--port", type=int, help="TCP port (default: the AMI port from settings, 5038)")
    sim.add_argument(
        "--rate",
        type=float,
        default=0.0,
        metavar="CALLS_PER_MINUTE",
        help="generated call rate; 0: only calls that clients originate",
    )

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_sub.add_parser("upgrade", help="alembic upgrade to head for the configured database")

    tickets = sub.add_parser("tickets", help="recent tickets")
    tickets.add_argument("--json", action="store_true", help="one JSON object per line")
    tickets.add_argument("--limit", type=int, default=50)

    report = sub.add_parser("report", help="SLA and call figures for a date range")
    report.add_argument("--from", dest="start", required=True, type=_date, metavar="DATE", help="first day, YYYY-MM-DD")
    report.add_argument("--to", dest="end", required=True, type=_date, metavar="DATE", help="last day, YYYY-MM-DD")
    report.add_argument("--csv", action="store_true", help="CSV instead of text")
    report.add_argument("--tz", metavar="ZONE", help="time zone for days and hours (default: settings timezone)")

    evaluate = sub.add_parser("eval-heuristics", help="precision and recall of the prank/ghost heuristics")
    evaluate.add_argument("path", nargs="?", help="labelled cases (default: the shipped set)")

    blocklist = sub.add_parser("blocklist", help="the misuse list: prank evidence, never a refused call")
    block_sub = blocklist.add_subparsers(dest="block_command", required=True, metavar="BLOCKLIST_COMMAND")
    block_add = block_sub.add_parser("add", help="note that a number misuses 112")
    block_add.add_argument("number")
    block_add.add_argument("--reason", required=True)
    block_add.add_argument("--by", required=True, metavar="NAME", help="who decided it")
    block_add.add_argument("--hours", type=float, metavar="H", help="expires after H hours (default: never)")
    block_list = block_sub.add_parser("list", help="a number's entries")
    block_list.add_argument("number")
    block_lift = block_sub.add_parser("lift", help="end an entry now")
    block_lift.add_argument("entry_id", type=int)
    block_lift.add_argument("--by", required=True, metavar="NAME")

    sub.add_parser("check-asterisk", help="check a live Asterisk: version, modules, queues, AMI rights, operators")

    user = sub.add_parser("user", help="panel users")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="USER_COMMAND")
    add = user_sub.add_parser("add", help="add a panel user")
    add.add_argument("--role", required=True, choices=["operator", "dispatcher", "agency", "admin"])
    add.add_argument("--name", required=True, help="login name")
    add.add_argument("--display-name", default="")
    add.add_argument(
        "--interface", help="operator softphone as a queue interface, e.g. PJSIP/op1 (required for an operator)"
    )
    add.add_argument("--agency", help="the agency code of an agency user, e.g. damkar (required for an agency user)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    passwd = user_sub.add_parser("passwd", help="set a panel user's password; ends all their panel sessions")
    passwd.add_argument("name", metavar="USERNAME")
    passwd.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the new password from standard input (never from the command line)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"ngcc112: bad configuration: {exc}", file=sys.stderr)
        return EXIT_FATAL
    command = {
        "run": _run,
        "demo": _demo,
        "sim": _sim,
        "db": _db,
        "tickets": _tickets,
        "check-asterisk": _check_asterisk,
        "user": _user,
        "report": _report,
        "eval-heuristics": _eval_heuristics,
        "blocklist": _blocklist,
    }[args.command]
    try:
        return command(args, settings)
    except KeyboardInterrupt:
        return EXIT_OK


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _fatal(message: str) -> int:
    print(f"ngcc112: {message}", file=sys.stderr)
    return EXIT_FATAL


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.app import FatalError, serve

    logs.configure(settings.log_format, settings.log_level)
    try:
        asyncio.run(serve(settings, say=lambda line: print(line, file=sys.stderr, flush=True)))
    except FatalError as exc:
        return _fatal(str(exc))
    return EXIT_OK


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.sim.demo import run_demo

    logs.configure("console", "warning")
    # The demo writes where the user asked (option or environment), never into a database
    # that only a config file names: that may be production.
    database_url, origin = args.database, "--database"
    if database_url is None and os.environ.get("NGCC112_DATABASE_URL"):
        database_url, origin = settings.database_url, "NGCC112_DATABASE_URL"
    try:
        return asyncio.run(
            run_demo(
                settings, duration=args.duration, rate=args.rate, database_url=database_url, database_origin=origin
            )
        )
    except Exception as exc:  # the demo is for newcomers: one line, not a traceback
        from ngcc112.app import FatalError

        if isinstance(exc, FatalError):
            return _fatal(str(exc))
        raise


def _sim(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.sim import run_simulator

    logs.configure("console", settings.log_level)
    port = args.port if args.port is not None else settings.ami.port
    if args.rate < 0:
        return _fatal("--rate must not be negative")
    try:
        asyncio.run(run_simulator(settings, port, args.rate))
    except OSError as exc:
        return _fatal(f"cannot listen on port {port}: {exc.strerror or exc}")
    return EXIT_OK


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.tickets.db import upgrade_sync

    logs.configure("console", "warning")
    try:
        upgrade_sync(settings.database_url)
    except Exception as exc:
        return _fatal(f"database upgrade failed: {str(exc).splitlines()[0]}")
    print("database is at the latest schema")
    return EXIT_OK


def _tickets(args: argparse.Namespace, settings: Settings) -> int:
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
        return _fatal(f"cannot read tickets: {str(exc).splitlines()[0]} (did you run `ngcc112 db upgrade`?)")
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
    return f"#{row['id']:<5} {row['arrived_at'][:19]}  {row['state']:<10} {caller:<36} {status}"


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.reports.build import ReportError
    from ngcc112.reports.run import run_report

    logs.configure("console", "warning")
    try:
        text = asyncio.run(
            run_report(settings, args.start, args.end, args.csv, tz=args.tz or settings.timezone, targets=settings.sla)
        )
    except (ReportError, ValueError) as exc:
        return _fatal(str(exc))
    except Exception as exc:
        return _fatal(f"cannot read the database: {str(exc).splitlines()[0]} (did you run `ngcc112 db upgrade`?)")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def _eval_heuristics(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.tools.evaluation import main_eval

    logs.configure("console", "error")
    return main_eval(settings, args.path)


def _blocklist(args: argparse.Namespace, settings: Settings) -> int:
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
        return _fatal(str(exc))
    except Exception as exc:
        return _fatal(f"cannot use the database: {str(exc).splitlines()[0]} (did you run `ngcc112 db upgrade`?)")
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


def _check_asterisk(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.ami.checker import main_check

    logs.configure("console", "warning")
    return asyncio.run(main_check(settings))


def _read_password(args: argparse.Namespace, prompt: str) -> str | None:
    """From standard input, or typed twice at a prompt; None when the two differ."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(prompt)
    return password if password == getpass.getpass("again: ") else None


def _login_name() -> str:
    """Who ran the command, for the admin log."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _user(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.tickets.db import make_engine, make_sessions, upgrade
    from ngcc112.tickets.users import add_user, change_password

    logs.configure("console", "warning")
    passwd = args.user_command == "passwd"
    password = _read_password(args, f"{'new ' if passwd else ''}password for {args.name}: ")
    if password is None:
        return _fatal("the passwords differ")

    async def act() -> int:
        if not passwd:
            await upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            if passwd:
                return await change_password(make_sessions(engine), args.name, password, actor=f"cli:{_login_name()}")
            await add_user(
                make_sessions(engine),
                username=args.name,
                role=args.role,
                password=password,
                display_name=args.display_name,
                interface=args.interface,
                agency=args.agency,
            )
            return 0
        finally:
            await engine.dispose()

    try:
        ended = asyncio.run(act())
    except ValueError as exc:
        return _fatal(str(exc))
    except Exception as exc:
        return _fatal(f"cannot use the database: {str(exc).splitlines()[0]} (did you run `ngcc112 db upgrade`?)")
    if passwd:
        print(f"password of {args.name!r} changed; {ended} panel session(s) ended")
    else:
        print(f"user {args.name!r} added with role {args.role}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
