"""Post/redirect/get for the panel's forms: a refused form's values and errors, kept server-side.

A form that is refused is answered ``303 See Other`` to its page (never a page left on the
POST URL, where Enter in the address bar gives 405 and live updates stop). Before
redirecting, the handler calls :func:`remember`; the page's GET handler calls
:func:`recall` and shows the errors (a summary at the top, each field marked) and what was
typed. One recall per remember: reloading the page afterwards shows it clean.

Kept in this process's memory, never in the cookie: keyed by the login session (its hash),
bounded in size and age. Passwords are never given to :func:`remember` (the callers leave
them out). A restart forgets them; the user sees the clean page and types again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ngcc112.panel.state import SESSION_HASH

#: Forms remembered at once (over all sessions); the oldest go first.
CAPACITY = 2000
#: A remembered form not recalled within this long is dropped.
MAX_AGE_SECONDS = 300.0
#: The header a page's own live refresh sends (dispatch.js): such a fetch neither shows nor takes a
#: remembered form — one still in flight when the form is posted must not take it from the redirect.
LIVE_REFRESH_HEADER = "X-Live-Refresh"


@dataclass(frozen=True, slots=True)
class Recalled:
    values: dict[str, Any]
    errors: dict[str, str]


class FormMemory:
    """The remembered forms: (session hash, key) → values and errors, bounded."""

    def __init__(self, capacity: int = CAPACITY, max_age: float = MAX_AGE_SECONDS) -> None:
        self._items: OrderedDict[tuple[str, str], tuple[float, Recalled]] = OrderedDict()
        self._capacity = capacity
        self._max_age = max_age

    def put(self, session: str, key: str, values: dict[str, Any], errors: dict[str, str]) -> None:
        self._items[(session, key)] = (time.monotonic(), Recalled(dict(values), dict(errors)))
        self._items.move_to_end((session, key))
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def take(self, session: str, key: str) -> Recalled | None:
        found = self._items.pop((session, key), None)
        if found is None or time.monotonic() - found[0] > self._max_age:
            return None
        return found[1]


FORM_MEMORY = web.AppKey("ngcc112_form_memory", FormMemory)


def setup(app: web.Application) -> None:
    """Give ``app`` its form memory (idempotent; before the app starts)."""
    if FORM_MEMORY not in app:
        app[FORM_MEMORY] = FormMemory()


def _session(request: web.Request) -> str | None:
    return request.get(SESSION_HASH)


def remember(request: web.Request, key: str, values: dict[str, Any], errors: dict[str, str]) -> None:
    """Keep a refused form (``key`` names it, e.g. ``"user-new"``) for the page the user is sent to."""
    session = _session(request)
    if session is not None:
        request.app[FORM_MEMORY].put(session, key, values, errors)


def recall(request: web.Request, key: str) -> Recalled | None:
    """The form remembered under ``key`` for this session, once; None when there is none."""
    session = _session(request)
    if session is None or request.headers.get(LIVE_REFRESH_HEADER):
        return None
    return request.app[FORM_MEMORY].take(session, key)


__all__ = ["FORM_MEMORY", "LIVE_REFRESH_HEADER", "FormMemory", "Recalled", "recall", "remember", "setup"]
