"""The composition root: build every part from settings, run them, stop them in reverse.

database engine → ticket store and hub → call daemon (AMI link) → panel.
``serve`` is what ``ngcc112 run`` and ``ngcc112 demo`` run. Time is one injected
:class:`~ngcc112.clock.Clock` (the host's unless a harness passes its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ngcc112.ami.link import AmiAuthError, AmiUnreachableError
from ngcc112.clock import SYSTEM_CLOCK, Clock, utc
from ngcc112.daemon import CallDaemon
from ngcc112.hub import Hub
from ngcc112.settings import Settings
from ngcc112.tickets.db import answers, make_engine, make_sessions, upgrade
from ngcc112.tickets.journal import JournalError
from ngcc112.tickets.store import TicketStore

log = structlog.get_logger(__name__)


class FatalError(Exception):
    """Something the daemon cannot run without; the message is for the sysadmin."""


@dataclass
class Services:
    """Everything the panel and the commands need, built once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    hub: Hub
    store: TicketStore
    daemon: CallDaemon
    extras: dict[str, object] = field(default_factory=dict)


async def build(settings: Settings, *, migrate: bool = True, clock: Clock = SYSTEM_CLOCK) -> Services:
    engine = make_engine(settings.database_url)
    reachable = True
    if migrate:
        try:
            await upgrade(settings.database_url)
        except Exception as exc:
            reachable = await answers(engine.connect)
            if reachable:  # it answers, but cannot be brought to the schema: nothing to run on
                await engine.dispose()
                raise FatalError(
                    f"cannot prepare the database {_safe_url(settings.database_url)}: {str(exc).splitlines()[0]}"
                ) from None
            # Away (refused, silent): calls must still be followed. Every event goes to the
            # journal and is written when the database is back (`ngcc112 db upgrade` runs
            # before each start in the systemd unit, so the schema is there).
            log.error(
                "ngcc112.database_away_at_start",
                database=_safe_url(settings.database_url),
                error=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
            )
    sessions = make_sessions(engine)
    if migrate and reachable:
        from ngcc112.tickets.agencies import seed_agencies

        await seed_agencies(sessions)
    hub = Hub()
    store = TicketStore(sessions, hub.publish)
    daemon = CallDaemon(settings, store, hub, clock=clock)
    return Services(settings, engine, sessions, hub, store, daemon)


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


PanelFactory = Callable[[Services], Awaitable[web.Application] | web.Application]


def _panel_factory() -> PanelFactory | None:
    try:
        from ngcc112.panel.app import create_app
    except ImportError:
        return None
    return create_app


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[Services], Awaitable[None]] | None = None,
    panel: bool = True,
    say: Callable[[str], None] = print,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Run daemon and panel until ``stop`` is set or SIGTERM/SIGINT; raise FatalError on fatal faults."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)

    services = await build(settings, clock=clock)
    runner: web.AppRunner | None = None
    link_task: asyncio.Task[None] | None = None
    triage = None
    backfill = None
    try:
        from ngcc112.triage import Triage

        from ngcc112.tickets.locations import locations_from_settings

        # one Locations for triage and the AML intake: the same windows, limits and clock
        locations = locations_from_settings(settings, services.sessions, services.hub.publish, clock=lambda: utc(clock))
        services.extras["locations"] = locations
        triage = Triage(services, clock=clock, locations=locations)
        services.extras["triage"] = triage
        say(f"database: {_safe_url(settings.database_url)}")
        say(
            f"asterisk AMI: {settings.ami.host}:{settings.ami.port} as {settings.ami.username!r}, "
            f"queue {settings.calls.queue!r}"
        )
        factory = _panel_factory() if panel else None
        if factory is not None:
            app = factory(services)
            if asyncio.iscoroutine(app):
                app = await app
            from ngcc112.aml_http import aml_routes

            app.add_routes(aml_routes(services))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, settings.panel.host, settings.panel.port)
            try:
                await site.start()
            except OSError as exc:
                raise FatalError(
                    f"cannot listen on {settings.panel.host}:{settings.panel.port}: {exc.strerror or exc}"
                ) from None
            say(f"panel: http://{settings.panel.host}:{settings.panel.port}/")
        await triage.start()
        from ngcc112.backfill import Backfill

        # calls that came and went while we were not watching: after each resync (the first is now)
        backfill = Backfill.for_services(services, clock=clock)
        services.extras["backfill"] = backfill
        await backfill.start()
        try:
            await services.daemon.start()
        except JournalError as exc:
            raise FatalError(str(exc)) from None
        link_task = asyncio.create_task(services.daemon.run_link(), name="ngcc112-ami-link")
        if on_ready is not None:
            await on_ready(services)
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({link_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if link_task in done:
            exc = link_task.exception()
            if isinstance(exc, (AmiAuthError, AmiUnreachableError)):
                raise FatalError(str(exc)) from None
            if exc is not None:
                raise exc
    finally:
        log.info("ngcc112.stopping")
        if runner is not None:
            await runner.cleanup()
        await services.daemon.stop()
        if link_task is not None and not link_task.done():
            link_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await link_task
        if triage is not None:
            await triage.stop()
        if backfill is not None:
            await backfill.stop()
        from ngcc112.aml_http import intake_for

        await intake_for(services).close()
        await services.engine.dispose()
        log.info("ngcc112.stopped")
