"""What the panel knows of login sessions without the database (:class:`SessionCache`), so a
logged-in operator keeps the desk while the database is away."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aiohttp import web

from ngcc112.tickets.models import User, utcnow
from ngcc112.tickets.panel_sessions import SESSION_LIFETIME


class SessionCache:
    """What the panel knows of sessions without the database.

    * live: hash → (user, expiry) as last read from the database, so an operator who
      was logged in keeps the desk while the database is away;
    * ended: sessions logged out here while the database was away, refused at once and
      written at the next login.
    Bounded: expired entries go first, then the oldest.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._live: dict[str, tuple[User, datetime]] = {}
        self._ended: dict[str, datetime] = {}
        self.last_purge = -math.inf

    def remember(self, hashed: str, user: User, expires_at: datetime) -> None:
        self._live.pop(hashed, None)
        self._live[hashed] = (user, expires_at)
        self._bound(self._live, utcnow())

    def forget(self, hashed: str) -> None:
        self._live.pop(hashed, None)

    def user(self, hashed: str, now: datetime) -> User | None:
        """The user of a session that counted at its last lookup and has not expired since."""
        found = self._live.get(hashed)
        if found is None or found[1] <= now or hashed in self._ended:
            return None
        return found[0]

    def end_later(self, hashed: str, now: datetime) -> None:
        self.forget(hashed)
        self._ended[hashed] = now + SESSION_LIFETIME
        self._bound(self._ended, now)

    def ended(self, hashed: str) -> bool:
        return hashed in self._ended

    def ends_to_write(self) -> list[str]:
        return list(self._ended)

    def written(self, hashes: Iterable[str]) -> None:
        for hashed in hashes:
            self._ended.pop(hashed, None)

    def _bound(self, entries: dict[str, Any], now: datetime) -> None:
        if len(entries) <= self.max_entries:
            return
        for key in [k for k, v in entries.items() if (v[1] if isinstance(v, tuple) else v) <= now]:
            del entries[key]
        while len(entries) > self.max_entries:
            del entries[next(iter(entries))]


#: The panel's :class:`SessionCache`.
KNOWN_SESSIONS = web.AppKey("ngcc112_known_sessions", SessionCache)
