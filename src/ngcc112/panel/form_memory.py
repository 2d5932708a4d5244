"""What a refused form said, kept on the server between its POST and the GET it redirects to.

Post/redirect/get: a form that is refused answers ``303 See Other`` to its page, never a page
on the POST address (Enter in the address bar would give 405, and the page's live updates,
which fetch the page's own address, would stop). What the person typed and what was wrong
with it must survive the redirect, so the handler remembers them and the page recalls them::

    remember(request, f"ticket-{ticket_id}", values, errors)
    raise web.HTTPSeeOther(f"/dispatch/tickets/{ticket_id}")
    ...
    kept = recall(request, f"ticket-{ticket_id}")   # a Recalled, once; then None
    values, errors = (kept.values, kept.errors) if kept else ({}, {})

The memory is per login session (the session's hash, never the cookie itself), in this
process, bounded (:data:`MAX_ENTRIES`, oldest first) and short-lived (:data:`KEEP`): typed
text never goes into the cookie (which has a size limit) nor into the database. A recall
returns it once, so a reload shows the clean page. After a restart between the POST and the
GET the page simply shows without the errors: nothing was saved, and the person sees it.

``errors`` maps a form field to its (already translated) message; the key :data:`FORM`
holds a message about the whole form (e.g. a refusal from the state table).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ngcc112.panel.state import SESSION_HASH

#: The errors key for a message about the whole form rather than one field.
FORM = "_form"
#: How long a refused form waits for its page (seconds).
KEEP = 600.0
#: How many refused forms are kept at most (every session together).
MAX_ENTRIES = 5000
#: The header a page's own live refresh sends (dispatch.js): such a fetch neither shows nor takes
#: a remembered form — one still in flight when the form is posted must not take it from the redirect.
LIVE_REFRESH_HEADER = "X-Live-Refresh"


@dataclass(frozen=True, slots=True)
class Recalled:
    values: dict[str, Any]
    errors: dict[str, str]


class FormMemory:
    """(session hash, key) → what was typed and what was wrong; bounded, expiring, read once."""

    def __init__(
        self, *, keep: float = KEEP, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.keep = keep
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, Recalled]] = OrderedDict()

    def put(self, session: str, key: str, values: Mapping[str, Any], errors: Mapping[str, str]) -> None:
        now = self._clock()
        self._entries.pop((session, key), None)
        self._entries[(session, key)] = (now + self.keep, Recalled(dict(values), dict(errors)))
        self._prune(now)

    def take(self, session: str, key: str) -> Recalled | None:
        found = self._entries.pop((session, key), None)
        if found is None or found[0] <= self._clock():
            return None
        return found[1]

    def forget_session(self, session: str) -> None:
        for entry in [k for k in self._entries if k[0] == session]:
            del self._entries[entry]

    def __len__(self) -> int:
        return len(self._entries)

    def _prune(self, now: float) -> None:
        for entry in [k for k, (expires, _r) in self._entries.items() if expires <= now]:
            del self._entries[entry]
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


#: The app's :class:`FormMemory` (see :func:`install`).
FORM_MEMORY = web.AppKey("ngcc112_form_memory", FormMemory)


def install(app: web.Application) -> FormMemory:
    """Give ``app`` its form memory (before it starts); idempotent."""
    if FORM_MEMORY not in app:
        app[FORM_MEMORY] = FormMemory()
    return app[FORM_MEMORY]


def _where(request: web.Request) -> tuple[FormMemory, str] | None:
    memory = request.config_dict.get(FORM_MEMORY)
    session = request.get(SESSION_HASH)
    if memory is None or not session:
        return None
    return memory, session


def remember(request: web.Request, key: str, values: Mapping[str, Any], errors: Mapping[str, str]) -> bool:
    """Keep a refused form's ``values`` and ``errors`` for this login session's next :func:`recall`.

    False when there is nowhere to keep them (no login session, or no memory installed).
    """
    where = _where(request)
    if where is None:
        return False
    memory, session = where
    memory.put(session, key, values, errors)
    return True


def recall(request: web.Request, key: str) -> Recalled | None:
    """What :func:`remember` kept under ``key`` for this login session, once; else None
    (always None for a page's own live refresh)."""
    where = _where(request)
    if where is None or request.headers.get(LIVE_REFRESH_HEADER):
        return None
    memory, session = where
    return memory.take(session, key)


__all__ = ["FORM", "FORM_MEMORY", "LIVE_REFRESH_HEADER", "FormMemory", "Recalled", "install", "recall", "remember"]
