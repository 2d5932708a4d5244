"""What one running center is made of: every component, typed, built once by
:func:`ngcc112.app.build` and handed to the panel and the commands.

It holds the parts and nothing else: building, starting and stopping them is the
composition root's (:mod:`ngcc112.app`). It lives apart from the root so the panel can
name its parts without importing the root that imports the panel.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ngcc112.aml_http.intake import AmlIntake
from ngcc112.backfill import Backfill
from ngcc112.clock import Clock
from ngcc112.cluster.fanout import Fanout
from ngcc112.cluster.leadership import Leadership
from ngcc112.cluster.relay import ActionRelay
from ngcc112.daemon import CallDaemon
from ngcc112.hub import Hub
from ngcc112.settings import Settings
from ngcc112.tickets.aml_locations import AmlLocations
from ngcc112.tickets.locations import Locations
from ngcc112.tickets.store import TicketStore
from ngcc112.triage.service import Triage
from ngcc112.wrapup import WrapUpService


@dataclass
class Services:
    """Everything the panel and the commands need, in the order it is built."""

    settings: Settings
    #: The one time source: the daemon, triage, wrap-up, locations and backfill read it.
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    hub: Hub
    store: TicketStore
    #: AMI link → tracker → ticket store.
    daemon: CallDaemon
    #: Positions (SIP, by hand, and where an AML fix goes among them): the panel's, and the one
    #: ``aml_locations`` holds.
    locations: Locations
    #: AML messages and their matching to a call: one for triage and the AML intake, same windows and limits.
    aml_locations: AmlLocations
    #: Scores live calls, steers their queue priority.
    triage: Triage
    #: ``POST /aml/els`` and ``/aml/sms`` take messages here.
    aml_intake: AmlIntake
    #: After-call work: pauses the operator after each call, resumes at intake or the limit.
    wrapup: WrapUpService
    #: Calls that came and went while the daemon was not watching, after each resync.
    backfill: Backfill
    #: The panel's app while :func:`ngcc112.app.serve` serves it (None without a panel).
    panel_app: web.Application | None = None
    #: The hub's events shared with the other nodes (cluster mode on PostgreSQL; else None).
    fanout: Fanout | None = None
    #: This node's role in its site (cluster mode on PostgreSQL; else None: a single node leads).
    leadership: Leadership | None = None
    #: A standby's presence actions, sent by its site's leader (cluster mode; else None).
    relay: ActionRelay | None = None
