"""An ended session closes its live channels too.

A websocket is authorised once, when it opens; without this, a copied cookie's
``/ws`` kept receiving callers' numbers after its session was ended. Every open
websocket is held here with the session it was opened by. When this panel ends
sessions (logout, a password change, an administrator's disable or role change)
it calls :meth:`SessionSockets.recheck` at once; a watcher also rechecks every
:data:`RECHECK_SECONDS`, which catches what other processes ended (``ngcc112
user passwd``) and sessions that simply expired. A closed page reconnects, is
refused with 401 and goes to the login.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import structlog
from aiohttp import WSCloseCode, web

log = structlog.get_logger(__name__)

#: How often every open websocket's session is checked against the database.
RECHECK_SECONDS = 15.0
#: The close frame's reason: the page's reconnect meets the login.
CLOSE_MESSAGE = b"session ended"

StillOpen = Callable[[set[str]], Awaitable[set[str]]]


class SessionSockets:
    """The open websockets, each with the hash of the session that opened it."""

    def __init__(self, still_open: StillOpen) -> None:
        self._still_open = still_open
        self._open: dict[web.WebSocketResponse, str] = {}
        self._lock = asyncio.Lock()

    @contextlib.contextmanager
    def holding(self, ws: web.WebSocketResponse, session_hash: str) -> Iterator[None]:
        """Hold ``ws`` for the time of the ``with`` block (the socket's life)."""
        self._open[ws] = session_hash
        try:
            yield
        finally:
            self._open.pop(ws, None)

    def __len__(self) -> int:
        return len(self._open)

    async def close_session(self, session_hash: str) -> int:
        """Close this session's sockets now (a logout: no need to ask the database)."""
        async with self._lock:
            return await self._close([ws for ws, hashed in self._open.items() if hashed == session_hash])

    async def _close(self, sockets: list[web.WebSocketResponse]) -> int:
        for ws in sockets:
            log.info("panel.websocket_session_ended", session=self._open.get(ws, "")[:12])
            self._open.pop(ws, None)
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=CLOSE_MESSAGE)
        return len(sockets)

    async def recheck(self) -> int:
        """Close every socket whose session no longer counts; how many were closed.

        A database that does not answer closes nothing: the desk keeps its live channel
        through an outage, as its pages keep their sessions.
        """
        async with self._lock:
            if not self._open:
                return 0
            try:
                alive = await self._still_open(set(self._open.values()))
            except Exception as exc:
                log.warning("panel.session_recheck_failed", error=type(exc).__name__, sockets=len(self._open))
                return 0
            return await self._close([ws for ws, hashed in self._open.items() if hashed not in alive])

    async def watch(self, every: float = RECHECK_SECONDS) -> None:
        """Recheck forever (a task of the app's life)."""
        while True:
            await asyncio.sleep(every)
            await self.recheck()


SOCKETS = web.AppKey("ngcc112_session_sockets", SessionSockets)


def setup(app: web.Application, still_open: StillOpen, every: float = RECHECK_SECONDS) -> None:
    app[SOCKETS] = SessionSockets(still_open)

    async def watcher(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(app[SOCKETS].watch(every), name="ngcc112-session-sockets")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(watcher)


async def sessions_changed(request: web.Request) -> None:
    """This request ended sessions: close their live channels now."""
    sockets = request.app.get(SOCKETS)
    if sockets is not None:
        await sockets.recheck()
