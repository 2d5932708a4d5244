"""The commands that run something: the daemon, the demo, the simulator, the schema upgrade, the Asterisk check."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from ngcc112 import logs
from ngcc112.cli.exits import EXIT_OK, fatal
from ngcc112.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.app import FatalError, serve

    logs.configure(settings.log_format, settings.log_level)
    try:
        asyncio.run(serve(settings, say=lambda line: print(line, file=sys.stderr, flush=True)))
    except FatalError as exc:
        return fatal(str(exc))
    return EXIT_OK


def demo(args: argparse.Namespace, settings: Settings) -> int:
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
            return fatal(str(exc))
        raise


def sim(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from ngcc112.sim import run_simulator
    from ngcc112.sim.surge import SurgePlan

    logs.configure("console", settings.log_level)
    port = args.port if args.port is not None else settings.ami.port
    if args.rate < 0:
        return fatal("--rate must not be negative")
    surge = None
    if args.surge is not None:
        try:
            surge = SurgePlan(rate=args.surge, calls=args.calls, hold=args.hold)
        except ValueError as exc:
            return fatal(str(exc))
    elif args.placed is not None:
        return fatal("--placed needs --surge")
    placed = Path(args.placed) if args.placed is not None else None
    if placed is not None:
        try:
            placed.write_text("", encoding="utf-8")
        except OSError as exc:
            return fatal(f"cannot write --placed {placed}: {exc.strerror or exc}")
    try:
        asyncio.run(run_simulator(settings, port, args.rate, surge, placed))
    except OSError as exc:
        return fatal(f"cannot listen on port {port}: {exc.strerror or exc}")
    return EXIT_OK


def db(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.tickets.db import upgrade_sync

    logs.configure("console", "warning")
    try:
        upgrade_sync(settings.database_url)
    except Exception as exc:
        return fatal(f"database upgrade failed: {str(exc).splitlines()[0]}")
    print("database is at the latest schema")
    return EXIT_OK


def check_asterisk(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.ami.checker import main_check

    logs.configure("console", "warning")
    return asyncio.run(main_check(settings))
