"""Where the AMI link is: its :class:`LinkPhase` (the supervisor's states) and its :class:`LinkStatus`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class LinkPhase(enum.Enum):
    """Where the supervisor is. ``connected`` means logged in (resyncing or up)."""

    STARTING = "starting"  #: not tried yet
    CONNECTING = "connecting"  #: TCP connect and login
    RESYNCING = "resyncing"  #: logged in, asking Asterisk what it has
    UP = "up"  #: logged in and resynced; events flow
    BACKING_OFF = "backing_off"  #: waiting before the next attempt
    STOPPED = "stopped"  #: :meth:`~ngcc112.ami.link.AmiLink.stop` was called
    FAILED = "failed"  #: a fatal error (login refused, unreachable at start)


#: The phases in which the link is logged in.
LOGGED_IN = frozenset({LinkPhase.RESYNCING, LinkPhase.UP})


@dataclass(slots=True)
class LinkStatus:
    phase: LinkPhase = LinkPhase.STARTING
    #: When the link entered ``phase``.
    phase_since: datetime | None = None
    session: int = 0
    #: When the current session logged in.
    since: datetime | None = None
    last_error: str = ""
    asterisk_banner: str = ""
    malformed_frames: int = 0
    reconnects: int = 0
    #: Watchdog tasks that ended on an unexpected error (each dropped its connection).
    watchdog_failures: int = 0

    @property
    def connected(self) -> bool:
        return self.phase in LOGGED_IN
