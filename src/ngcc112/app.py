"""The composition root: build every part from settings, start them in order, stop them in reverse.

:func:`build` makes the :class:`~ngcc112.services.Services` in dependency order —
database engine → hub and ticket store → call daemon (its AMI link) → locations →
triage → AML intake → wrap-up → backfill — with what a harness may replace (the
clock, the hub, the AMI link) passed in, never patched afterwards. :func:`serve` is
what ``ngcc112 run`` and ``ngcc112 demo`` run: it starts the panel (unless
``panel=False``), triage, wrap-up, backfill and the daemon, each on one
:class:`~contextlib.AsyncExitStack` that stops them in reverse. Time is one injected
:class:`~ngcc112.clock.Clock` (the host's unless a harness passes its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import structlog
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ngcc112.ami.link import AmiAuthError, AmiUnreachableError
from ngcc112.aml_http.intake import intake_from_settings
from ngcc112.aml_http.routes import aml_routes
from ngcc112.backfill import Backfill
from ngcc112.clock import SYSTEM_CLOCK, Clock, utc
from ngcc112.cluster.fanout import Fanout, asyncpg_dsn, fanout_wanted
from ngcc112.cluster.leadership import Leadership
from ngcc112.cluster.lock import LeaderLock
from ngcc112.cluster.nodes import NodeRegistry
from ngcc112.cluster.relay import ActionRelay
from ngcc112.cluster.wire import KINDS as WIRE_KINDS
from ngcc112.cluster.wire import Codec
from ngcc112.daemon import CallDaemon, LinkFactory
from ngcc112.hub import Hub
from ngcc112.panel.app import create_app
from ngcc112.services import Services
from ngcc112.settings import Settings
from ngcc112.tickets.agencies import seed_agencies
from ngcc112.tickets.aml_locations import aml_locations_from_settings
from ngcc112.tickets.db import answers, make_engine, make_sessions, upgrade
from ngcc112.tickets.journal import JournalError
from ngcc112.tickets.locations import Locations
from ngcc112.tickets.store import TicketStore
from ngcc112.triage.service import Triage
from ngcc112.wrapup import WrapUpChanged, WrapUpService

log = structlog.get_logger(__name__)


class FatalError(Exception):
    """Something the daemon cannot run without; the message is for the sysadmin."""


async def build(
    settings: Settings,
    *,
    migrate: bool = True,
    clock: Clock = SYSTEM_CLOCK,
    hub: Hub | None = None,
    link: LinkFactory | None = None,
) -> Services:
    """Every part of the center, built and wired, nothing started yet.

    ``hub`` and ``link`` stand in for the hub and the AMI link (a test's fake link that
    publishes on its own hub); FatalError for settings nothing can run on.
    """
    engine = make_engine(settings.database_url)
    reachable = await _prepare_database(settings.database_url, engine) if migrate else False
    sessions = make_sessions(engine)
    if reachable:
        await seed_agencies(sessions)
    hub = hub or Hub()
    store = TicketStore(sessions, hub.publish, site=settings.cluster.site)
    daemon = CallDaemon(settings, store, hub, clock=clock, link=link)
    locations = Locations(sessions, hub.publish, clock=lambda: utc(clock))
    aml_locations = aml_locations_from_settings(settings, locations)
    triage = Triage(
        settings.routing, sessions, hub, daemon.tracker, daemon.link, clock=clock, aml_locations=aml_locations
    )
    aml_intake = intake_from_settings(settings, aml_locations)
    wrapup = WrapUpService(hub, daemon.link, settings.calls.queue, settings.calls.wrapup_seconds, clock=clock)
    # calls that came and went while we were not watching: after each resync (the first is now)
    backfill = Backfill(
        settings, sessions, engine=engine, hub=hub, publish=hub.publish, clock=clock, settled=daemon.drained
    )
    # -- cluster fan-out (issue 15): the hub's events shared with the other nodes over NOTIFY --
    fanout = None
    if fanout_wanted(settings):
        codec = Codec({**WIRE_KINDS, "wrap_up_changed": WrapUpChanged})
        dsn, node = asyncpg_dsn(settings.database_url), settings.cluster.node_name
        fanout = Fanout(hub, dsn, node, codec, now=lambda: utc(clock), site=settings.cluster.site)
    # -- end of the cluster fan-out --
    leadership = relay = None
    if fanout is not None:
        leadership = _leadership(settings, sessions, daemon, clock)
        # a standby's operators still change their presence: the site's leader sends it for them
        relay = ActionRelay(
            asyncpg_dsn(settings.database_url),
            settings.cluster.node_name,
            settings.cluster.site,
            daemon.link,
            action_timeout=settings.ami.action_timeout,
        )
        daemon.link.relay_through(relay)
    return Services(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        hub=hub,
        store=store,
        daemon=daemon,
        locations=locations,
        aml_locations=aml_locations,
        triage=triage,
        aml_intake=aml_intake,
        wrapup=wrapup,
        backfill=backfill,
        fanout=fanout,
        leadership=leadership,
        relay=relay,
    )


def _leadership(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], daemon: CallDaemon, clock: Clock
) -> Leadership:
    """Cluster mode: the site's leadership, and the daemon's link fenced until this node holds it."""
    node, site = settings.cluster.node_name, settings.cluster.site
    daemon.link.fence(f"this node ({node}) is a standby of site {site!r}: only the site's leader acts on Asterisk")

    def lost(reason: str) -> None:  # synchronous: no action leaves for Asterisk after this line
        reason = f"this node ({node}) lost the leadership of site {site!r}: {reason}"
        daemon.link.fence(reason, keep_listening=True)  # it sends nothing; the calls go on into the journal

    return Leadership(
        LeaderLock(asyncpg_dsn(settings.database_url), site),
        NodeRegistry(sessions, node, site),
        now=lambda: utc(clock),
        on_lost=lost,
        on_regained=daemon.link.unfence,
    )


async def _prepare_database(url: str, engine: AsyncEngine) -> bool:
    """Bring the database to the schema; True when it answers (and so can be seeded)."""
    try:
        await upgrade(url)
    except Exception as exc:
        if await answers(engine.connect):  # it answers, but cannot be brought to the schema: nothing to run on
            await engine.dispose()
            raise FatalError(f"cannot prepare the database {_safe_url(url)}: {str(exc).splitlines()[0]}") from None
        # Away (refused, silent): calls must still be followed. Every event goes to the
        # journal and is written when the database is back (`ngcc112 db upgrade` runs
        # before each start in the systemd unit, so the schema is there).
        log.error(
            "ngcc112.database_away_at_start",
            database=_safe_url(url),
            error=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
        )
        return False
    return True


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


class _Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@contextlib.asynccontextmanager
async def _running(service: _Service) -> AsyncIterator[None]:
    await service.start()
    try:
        yield
    finally:
        await service.stop()


@contextlib.asynccontextmanager
async def _serving(app: web.Application, settings: Settings, say: Callable[[str], None]) -> AsyncIterator[None]:
    """The panel (and the AML endpoints) on ``[panel] host:port``; its ``cleanup_ctx`` runs inside."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.panel.host, settings.panel.port)
        try:
            await site.start()
        except OSError as exc:
            raise FatalError(
                f"cannot listen on {settings.panel.host}:{settings.panel.port}: {exc.strerror or exc}"
            ) from None
        say(f"panel: http://{settings.panel.host}:{settings.panel.port}/")
        yield
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _following_calls(daemon: CallDaemon) -> AsyncIterator[asyncio.Task[None]]:
    """The daemon's pipeline and its AMI link; yields the link's task (it ends only on a fatal error)."""
    try:
        await daemon.start()
    except JournalError as exc:
        raise FatalError(str(exc)) from None
    link_task = asyncio.create_task(daemon.run_link(), name="ngcc112-ami-link")
    try:
        yield link_task
    finally:
        await daemon.stop()
        if not link_task.done():
            link_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await link_task


async def _until_leader(leadership: Leadership, stop: asyncio.Event, say: Callable[[str], None]) -> bool:
    """Standby until this node leads its site (True) or ``stop`` is set first (False)."""
    view = leadership.view()
    say(f"cluster: node {view.node!r}, site {view.site!r}: standby (the panel serves; waiting for the leadership)")
    lead = asyncio.create_task(leadership.lead(), name="ngcc112-cluster-lead")
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({lead, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in (lead, stopper):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if lead not in done:
        return False
    lead.result()
    say(f"cluster: node {view.node!r} leads site {view.site!r}: following its Asterisk")
    return True


async def _until_stopped(
    link_task: asyncio.Task[None], stop: asyncio.Event, lost: asyncio.Future[str] | None = None
) -> None:
    """Until ``stop`` is set; FatalError when the link gives up (authentication, unreachable)
    or this node lost its site's leadership (it stops; systemd starts it again, a standby)."""
    stopper = asyncio.create_task(stop.wait())
    waiting: set[asyncio.Future[Any]] = {link_task, stopper}
    if lost is not None:
        waiting.add(lost)
    done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if lost is not None and lost in done:
        raise FatalError(
            f"lost the leadership ({lost.result()}); stopped acting on Asterisk at once and stopping,"
            " to start again as a standby"
        )
    if link_task in done:
        exc = link_task.exception()
        if isinstance(exc, (AmiAuthError, AmiUnreachableError)):
            raise FatalError(str(exc)) from None
        if exc is not None:
            raise exc


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[Services], Awaitable[None]] | None = None,
    panel: bool = True,
    say: Callable[[str], None] = print,
    clock: Clock = SYSTEM_CLOCK,
    link: LinkFactory | None = None,
) -> None:
    """Run the center until ``stop`` is set or SIGTERM/SIGINT; raise FatalError on fatal faults.

    Started top to bottom, stopped bottom to top: the panel first (its live hub must see
    the first resync), then triage, wrap-up and backfill (listening before any event),
    then the daemon and its link.
    """
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    services = await build(settings, clock=clock, link=link)
    say(f"database: {_safe_url(settings.database_url)}")
    say(
        f"asterisk AMI: {settings.ami.host}:{settings.ami.port} as {settings.ami.username!r}, "
        f"queue {settings.calls.queue!r}"
    )
    try:
        async with contextlib.AsyncExitStack() as running:
            running.push_async_callback(services.engine.dispose)
            running.push_async_callback(services.aml_intake.close)
            if panel:
                services.panel_app = create_app(services)
                services.panel_app.add_routes(aml_routes(services.aml_intake))
                await running.enter_async_context(_serving(services.panel_app, settings, say))
            if services.fanout is not None:  # cluster fan-out: after the panel's live hub listens
                await running.enter_async_context(_running(services.fanout))
            if services.relay is not None:
                await running.enter_async_context(_running(services.relay))
            leadership = services.leadership
            if leadership is not None:  # cluster mode: a standby serves the panel until it leads
                await running.enter_async_context(_running(leadership))
                if not await _until_leader(leadership, stop, say):
                    return
                services.daemon.link.unfence()
            await running.enter_async_context(_running(services.triage))
            await running.enter_async_context(_running(services.wrapup))
            await running.enter_async_context(_running(services.backfill))
            link_task = await running.enter_async_context(_following_calls(services.daemon))
            try:
                if on_ready is not None:
                    await on_ready(services)
                await _until_stopped(link_task, stop, leadership.lost if leadership is not None else None)
            finally:
                log.info("ngcc112.stopping")
    finally:
        log.info("ngcc112.stopped")
