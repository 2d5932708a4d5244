"""``ngcc112``'s parser and dispatch: one subcommand per job, its runner in :mod:`.running`,
:mod:`.records` or :mod:`.users`; bad configuration is exit 2 with one line on stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from ngcc112.cli import cluster, records, running, users
from ngcc112.cli.exits import EXIT_FATAL, EXIT_OK
from ngcc112.settings import SettingsError, load_settings


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
    sim.add_argument(
        "--surge",
        type=float,
        metavar="CALLS_PER_SECOND",
        help="once a client logged in, place --calls callers at this steady rate (then keep serving)",
    )
    sim.add_argument("--calls", type=int, default=100, help="how many calls the surge places (default 100)")
    sim.add_argument(
        "--hold", type=float, default=5.0, metavar="SECONDS", help="surge callers hang up after this long (default 5)"
    )
    sim.add_argument("--placed", metavar="FILE", help="surge: a JSON line per placed call (uniqueid, number, sent_at)")

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

    nodes = sub.add_parser("cluster", help="the nodes of a cluster on PostgreSQL (NGCC112_CLUSTER=on)")
    nodes_sub = nodes.add_subparsers(dest="cluster_command", required=True, metavar="CLUSTER_COMMAND")
    status = nodes_sub.add_parser(
        "status", help="one line per live node: name, site, role (leader/standby), since when; exit 1 without a leader"
    )
    status.add_argument("--json", action="store_true", help="one JSON object: the time and the live nodes")

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
        "run": running.run,
        "demo": running.demo,
        "sim": running.sim,
        "db": running.db,
        "tickets": records.tickets,
        "check-asterisk": running.check_asterisk,
        "user": users.user,
        "report": records.report,
        "eval-heuristics": records.eval_heuristics,
        "blocklist": records.blocklist,
        "cluster": cluster.cluster,
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
