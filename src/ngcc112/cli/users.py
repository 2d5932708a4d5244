"""``ngcc112 user``: adding a panel user and setting a password (read from stdin or typed twice)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from ngcc112 import logs
from ngcc112.cli.exits import EXIT_OK, fatal
from ngcc112.settings import Settings


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


def user(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.tickets.db import make_engine, make_sessions, upgrade
    from ngcc112.tickets.users import add_user, change_password

    logs.configure("console", "warning")
    passwd = args.user_command == "passwd"
    password = _read_password(args, f"{'new ' if passwd else ''}password for {args.name}: ")
    if password is None:
        return fatal("the passwords differ")

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
        return fatal(str(exc))
    except Exception as exc:
        return fatal(f"cannot use the database: {str(exc).splitlines()[0]} (did you run `ngcc112 db upgrade`?)")
    if passwd:
        print(f"password of {args.name!r} changed; {ended} panel session(s) ended")
    else:
        print(f"user {args.name!r} added with role {args.role}")
    return EXIT_OK
