"""The dispatch side's per-app state (:data:`DISPATCH`): the live hub and its dispatch feed, the callbacks, the SLA
targets, the center's time zone and the board's clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ngcc112.panel.center_time import DEFAULT_REPORT_TZ
from ngcc112.panel.dispatch.live import DispatchFeed
from ngcc112.panel.live import LiveHub
from ngcc112.panel.state import Panel
from ngcc112.tickets.callbacks import (
    Callbacks,
)
from ngcc112.tickets.sla import DEFAULT_TARGETS, SlaTargets


@dataclass
class DispatchState:
    panel: Panel
    #: The panel's one live hub (every socket, desk and dispatch alike).
    live: LiveHub
    #: The dispatch pages' part of it: the waiting board and the coalesced messages.
    feed: DispatchFeed
    callbacks: Callbacks
    targets: SlaTargets = DEFAULT_TARGETS
    report_tz: str = DEFAULT_REPORT_TZ
    extra: dict[str, Any] = field(default_factory=dict)
    #: The board's clock (aware UTC); tests put their own.
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))


DISPATCH = web.AppKey("ngcc112_dispatch", DispatchState)
