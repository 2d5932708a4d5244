"""``ngcc112 demo``: the AMI simulator, the daemon, SQLite and the panel in one process.

The simulator generates a realistic mix of 112 calls; two simulated operators
(op1, op2) are put in the queue as if they had pressed Ready, op3 is left for
you to log in through the panel. Every ticket is printed as it opens and as
its call ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

from ngcc112 import names
from ngcc112.ami import actions
from ngcc112.app import Services, serve
from ngcc112.settings import Settings
from ngcc112.sim import AmiSimulator
from ngcc112.sim.config import AmiUser, SimulatorConfig
from ngcc112.tickets.store import TicketChanged

DEMO_DATABASE = Path("var") / "demo.db"
#: Softphones the demo puts in the queue itself; the rest are for people.
DEMO_MEMBERS = names.SAMPLE_OPERATORS[:2]


def _line(text: str) -> None:
    print(text, flush=True)


async def run_demo(settings: Settings, *, duration: float | None = None, rate: float = 6.0,
                   database_url: str | None = None) -> int:
    if database_url is None:
        DEMO_DATABASE.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DEMO_DATABASE}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite+aiosqlite:///{DEMO_DATABASE}"
    user = AmiUser(secret=settings.ami.secret, read=("all",), write=("all",))
    sim = AmiSimulator(SimulatorConfig(host="127.0.0.1", port=0, users={settings.ami.username: user},
                                       rate_per_minute=rate))
    await sim.start()
    for endpoint in names.SAMPLE_OPERATORS:
        sim.set_softphone(endpoint, answers=True, ring_seconds=2.0, talk_seconds=20.0)
    settings = dataclasses.replace(
        settings, database_url=database_url, log_format="console",
        # the simulator keeps no CEL of its own: nothing to recover calls from
        backfill=dataclasses.replace(settings.backfill, source="off"),
        ami=dataclasses.replace(settings.ami, host="127.0.0.1", port=sim.port),
    )
    _line(f"ngcc112 demo: simulated Asterisk on 127.0.0.1:{sim.port}, {rate:g} calls/min")
    stop = asyncio.Event()
    printer: asyncio.Task[None] | None = None

    async def ready(services: Services) -> None:
        nonlocal printer
        printer = asyncio.create_task(_print_tickets(services))
        await _seed_users(services)
        for endpoint in DEMO_MEMBERS:
            await _join_queue(services, endpoint)
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, stop.set)

    try:
        await serve(settings, stop=stop, on_ready=ready, say=_line)
    finally:
        if printer is not None:
            printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await printer
        await sim.stop()
    _line("ngcc112 demo: stopped")
    return 0


async def _join_queue(services: Services, endpoint: str) -> None:
    """Put a simulated operator in the queue, as the panel's Ready button does."""
    for _ in range(50):
        if services.daemon.link.connected:
            break
        await asyncio.sleep(0.1)
    interface = names.operator_interface(endpoint)
    answer = await services.daemon.link.send(
        actions.queue_add(services.settings.calls.queue, interface, endpoint))
    _line(f"  operator {endpoint} ({interface}) ready in {services.settings.calls.queue}: {answer.message}")


async def _seed_users(services: Services) -> None:
    try:
        from ngcc112.tickets.users import seed_demo_users
    except ImportError:
        return
    from ngcc112.tickets.agencies import seed_agency_member

    users = await seed_demo_users(services.sessions)
    await seed_agency_member(services.sessions, "agency", "damkar")
    _line("panel users (name / password / role):")
    for username, password, role in users:
        _line(f"  {username:<12} {password:<16} {role}")


async def _print_tickets(services: Services) -> None:
    subscription = services.hub.subscribe(maxsize=10_000)
    try:
        while True:
            change = await subscription.get()
            if not isinstance(change, TicketChanged):
                continue
            if change.opened:
                ticket = await services.store.get(change.ticket_id)
                if ticket is not None:
                    _line(f"ticket #{ticket.id} opened: 112 call from "
                          f"{ticket.caller_number or '(no caller ID)'} {ticket.caller_name or ''}".rstrip())
            elif change.action == "call_connected":
                _line(f"ticket #{change.ticket_id}: answered by {change.changes.get('operator_interface')}")
            elif change.action == "call_ended":
                ticket = await services.store.get(change.ticket_id)
                if ticket is not None:
                    how = "abandoned (call back)" if ticket.abandoned else "call ended"
                    _line(f"ticket #{ticket.id}: {how}")
    finally:
        subscription.close()
