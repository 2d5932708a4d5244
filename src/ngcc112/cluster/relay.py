"""A standby's panel actions, carried out by its site's leader: PostgreSQL NOTIFY both ways.

An operator whose browser is on a standby still goes ready, takes a break, logs out: the
standby never talks to Asterisk (fencing), so its AMI link hands those actions to an
:class:`ActionRelay`, which NOTIFYs them on :data:`REQUESTS`. The relay of the node that
leads the site (its link is not fenced) sends each to Asterisk and NOTIFYs the answer back
on :data:`ANSWERS`, cut in parts that fit a NOTIFY payload. Only the presence actions of
:data:`RELAYED` travel; anything else is refused on the standby with
:class:`~ngcc112.ami.link.AmiNotLeader`, as is everything while no leader is heard.

The leader also says every :data:`STATUS_EVERY` seconds whether its link is logged in, so a
standby's panel shows the site's Asterisk as connected exactly when its leader's is.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # ships no type information
import structlog

from ngcc112.ami.actions import AmiAction
from ngcc112.ami.link import AmiActionTimeout, AmiLink, AmiNotConnected, AmiNotLeader
from ngcc112.ami.link_items import AmiResponse
from ngcc112.ami.message import AmiMessage
from ngcc112.backoff import Backoff
from ngcc112.tasks import cancel_all

log = structlog.get_logger(__name__)

REQUESTS = "ngcc112_actions"
ANSWERS = "ngcc112_answers"
#: The actions a standby's panel may have its leader send: the operators' presence.
RELAYED = frozenset({"QueueAdd", "QueueRemove", "QueuePause", "QueueStatus"})
#: Raw bytes of an answer per NOTIFY (base64 makes 6,668 of them: under PostgreSQL's 8,000).
CHUNK = 5000
#: Seconds between the leader's status notes; a standby trusts one for :data:`STATUS_FRESH`.
STATUS_EVERY = 2.0
STATUS_FRESH = 3 * STATUS_EVERY
#: Seconds a standby waits for the answer beyond the action's own timeout (two NOTIFY trips).
GRACE = 3.0
#: Relayed actions the leader carries out at once; more are answered "busy" (operators click,
#: they do not flood: a flood is a fault, and Asterisk is not the place to queue it).
MAX_JOBS = 100

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class ActionRelay:
    """Both ends of the relay on one node; which end works follows the link's fencing."""

    def __init__(
        self,
        dsn: str,
        node: str,
        site: str,
        link: AmiLink,
        *,
        action_timeout: float,
        connect: Connect | None = None,
        clock: Callable[[], float] = time.monotonic,
        status_every: float = STATUS_EVERY,
    ) -> None:
        self.node, self.site = node, site
        self._link = link
        self._action_timeout = action_timeout
        self._connect: Connect = connect or (lambda: asyncpg.connect(dsn))
        self._clock = clock
        self._status_every = status_every
        self._conn: asyncpg.Connection | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._parts: dict[str, dict[int, str]] = {}
        self._leader_seen: tuple[float, bool] | None = None
        self._jobs: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self.log = log.bind(node=node, site=site)

    # lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ngcc112-cluster-relay")

    async def stop(self) -> None:
        await cancel_all([self._task, *self._jobs])
        await self._close()

    async def wait_up(self) -> None:
        """Until the relay's connection listens (for tests and the start-up order)."""
        await self._up.wait()

    # the standby's end -------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """The site's leader said lately that its link is logged in to Asterisk."""
        if self._leader_seen is None:
            return False
        at, connected = self._leader_seen
        return connected and self._clock() - at <= STATUS_FRESH

    async def send(self, action: AmiAction, timeout: float | None = None) -> AmiResponse:
        """Have the site's leader send ``action``; its answer, or the link's errors as the leader met them."""
        if action.name not in RELAYED:
            raise AmiNotLeader(f"{action.name} not sent: this node is a standby; only its site's leader sends it")
        conn = self._conn
        if conn is None or conn.is_closed() or not self.connected:
            raise AmiNotConnected(f"{action.name} not sent: the site's leader is not connected to Asterisk")
        request_id = uuid.uuid4().hex
        limit = timeout or self._action_timeout
        request = {
            "id": request_id,
            "from": self.node,
            "site": self.site,
            "action": action.name,
            "headers": [list(pair) for pair in action.headers],
            "list": action.as_list,
            "timeout": limit,
        }
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            await conn.execute("SELECT pg_notify($1, $2)", REQUESTS, json.dumps(request, separators=(",", ":")))
            answer = await asyncio.wait_for(future, limit + GRACE)
        except asyncio.TimeoutError:
            raise AmiActionTimeout(
                f"the site's leader did not answer {action.name} within {limit + GRACE:g} s"
            ) from None
        finally:
            self._waiting.pop(request_id, None)
            self._parts.pop(request_id, None)
        return _response(action, answer)

    # the leader's end ------------------------------------------------------------------
    @property
    def _leading(self) -> bool:
        return self._link.fenced is None

    def _on_request(self, payload: str) -> None:
        try:
            request = json.loads(payload)
        except ValueError:
            self.log.warning("cluster.relay_bad_request", payload=payload[:200])
            return
        if not self._leading or not isinstance(request, dict) or request.get("site") != self.site:
            return
        if len(self._jobs) >= MAX_JOBS:
            self.log.warning("cluster.relay_busy", requester=request.get("from"), action=request.get("action"))
            busy = {"error": "not_connected", "message": "the site's leader is busy; try again in a moment"}
            job = asyncio.create_task(self._answer(str(request.get("id", "")), str(request.get("from", "")), busy))
        else:
            job = asyncio.create_task(self._carry_out(request))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _carry_out(self, request: dict[str, Any]) -> None:
        name = str(request.get("action", ""))
        answer: dict[str, Any]
        if name not in RELAYED:
            answer = {"error": "refused", "message": f"{name} is not an action a standby may relay"}
        else:
            action = AmiAction(
                name, tuple((str(k), str(v)) for k, v in request.get("headers", ())), bool(request.get("list"))
            )
            try:
                response = await self._link.send(action, float(request.get("timeout") or self._action_timeout))
            except AmiActionTimeout as exc:
                answer = {"error": "timeout", "message": str(exc)}
            except AmiNotConnected as exc:
                answer = {"error": "not_connected", "message": str(exc)}
            else:
                answer = {"response": _pairs(response.response), "items": [_pairs(item) for item in response.items]}
            self.log.info("cluster.relayed", action=name, requester=request.get("from"), error=answer.get("error"))
        await self._answer(str(request.get("id", "")), str(request.get("from", "")), answer)

    async def _answer(self, request_id: str, to: str, answer: dict[str, Any]) -> None:
        data = json.dumps(answer, separators=(",", ":")).encode()
        chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
        conn = self._conn
        if conn is None:
            return
        for index, chunk in enumerate(chunks):
            part = {
                "id": request_id,
                "to": to,
                "part": index,
                "parts": len(chunks),
                "data": base64.b64encode(chunk).decode(),
            }
            with contextlib.suppress(*_FAILURES):
                await conn.execute("SELECT pg_notify($1, $2)", ANSWERS, json.dumps(part, separators=(",", ":")))

    # both ends ----------------------------------------------------------------------
    def _on_answer(self, payload: str) -> None:
        try:
            part = json.loads(payload)
        except ValueError:
            return
        if not isinstance(part, dict):
            return
        if part.get("status") and part.get("site") == self.site and part.get("from") != self.node:
            self._leader_seen = (self._clock(), bool(part.get("connected")))
            return
        future = self._waiting.get(str(part.get("id"))) if part.get("to") == self.node else None
        if future is None or future.done():
            return
        parts = self._parts.setdefault(str(part["id"]), {})
        parts[int(part.get("part", 0))] = str(part.get("data", ""))
        if len(parts) == int(part.get("parts", 1)):
            data = b"".join(base64.b64decode(parts[i]) for i in sorted(parts))
            future.set_result(json.loads(data))

    async def _run(self) -> None:
        backoff = Backoff(0.2, 5.0)
        while True:
            try:
                conn = await asyncio.wait_for(self._connect(), 10.0)
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _conn: closed.set())
                await conn.add_listener(REQUESTS, lambda _c, _pid, _ch, payload: self._on_request(payload))
                await conn.add_listener(ANSWERS, lambda _c, _pid, _ch, payload: self._on_answer(payload))
                self._conn = conn
                self._up.set()
                backoff.reset()
                self.log.info("cluster.relay_listening")
                while not closed.is_set():
                    if self._leading:
                        status = {
                            "status": True,
                            "site": self.site,
                            "from": self.node,
                            "connected": self._link.connected,
                        }
                        await conn.execute("SELECT pg_notify($1, $2)", ANSWERS, json.dumps(status))
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(closed.wait(), self._status_every)
                self.log.warning("cluster.relay_connection_lost")
            except asyncio.CancelledError:
                raise
            except _FAILURES as exc:
                self.log.warning("cluster.relay_connection_failed", error=f"{type(exc).__name__}: {exc}"[:200])
            self._up.clear()
            await self._close()
            await asyncio.sleep(backoff.next())

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(*_FAILURES):
                await asyncio.wait_for(conn.close(), 2.0)


_FAILURES = (OSError, ConnectionError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _pairs(message: AmiMessage) -> list[list[str]]:
    return [[key, value] for key, values in message.headers.items() for value in values]


def _response(action: AmiAction, answer: dict[str, Any]) -> AmiResponse:
    error = answer.get("error")
    if error == "timeout":
        raise AmiActionTimeout(str(answer.get("message") or f"no answer to {action.name}"))
    if error is not None:
        raise AmiNotConnected(str(answer.get("message") or f"{action.name} not sent by the site's leader"))
    response = AmiMessage.from_pairs((str(k), str(v)) for k, v in answer.get("response", ()))
    if response is None:
        raise AmiNotConnected(f"the site's leader answered {action.name} with no response")
    items = tuple(
        item
        for item in (AmiMessage.from_pairs((str(k), str(v)) for k, v in pairs) for pairs in answer.get("items", ()))
        if item
    )
    return AmiResponse(response, items)
