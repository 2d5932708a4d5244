"""The AML intake over HTTP: Android ELS posts and an SMS gateway's forwards.

Two endpoints, both ``POST``, both answering ``200 OK`` whatever arrives
(ELS expects a 2xx and a handset retrying a refused position helps nobody):

``POST /aml/els``
    The Android Emergency Location Service HTTPS form: the body is
    ``application/x-www-form-urlencoded`` (``v=…&device_number=…&location_latitude=…``).
    Stored exactly as received. A body that turns out to be an AML SMS text
    (``A"ML=…``) is read as one.

``POST /aml/sms``
    An SMS gateway forwarding an AML SMS. Two shapes are accepted:

    * ``application/x-www-form-urlencoded`` with the SMS text in ``text``
      (or ``message``, ``body``, ``content``) and the originating number in
      ``from`` (or ``sender``, ``msisdn``, ``originator``); the stored
      message is the SMS text, the sender that number;
    * any other body (``text/plain``…): the body is the SMS text; the
      originating number comes from the ``X-AML-Sender`` header or the
      ``from`` query parameter.

Every message is written to ``aml_messages`` before it is parsed. When the
database cannot take it, the message waits in a bounded in-memory spool and
is written as soon as the database is back; each spooled and each dropped
message is logged at error level. The endpoints need no session or CSRF
token: mount them outside the panel's middlewares.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

import structlog
from aiohttp import web

from ngcc112.tickets.locations import MAX_STORED_BYTES, Locations, aml_channel

log = structlog.get_logger(__name__)

#: Bytes read and thrown away after the stored part of an oversized body, so
#: the client sees its 200; a larger body is cut off (the connection closes).
DRAIN_LIMIT = 4 * 1024 * 1024
#: Messages kept in memory while the database is away.
SPOOL_SIZE = 1000
SMS_TEXT_FIELDS = ("text", "message", "body", "content", "sms")
SMS_SENDER_FIELDS = ("from", "sender", "msisdn", "originator", "phone")
SENDER_HEADER = "X-AML-Sender"
INTAKE_KEY = "aml_intake"


@dataclass(frozen=True, slots=True)
class SpooledMessage:
    body: bytes
    content_type: str
    sender: str
    received_at: datetime
    channel: str | None
    #: The whole body's size (``body`` may be only its beginning).
    size: int = 0
    #: Set when the raw message is already stored and only parsing is left.
    message_id: int | None = None


class AmlIntake:
    """Takes every AML message to the database, through a spool when it is away."""

    def __init__(self, locations: Locations, *, spool_size: int = SPOOL_SIZE,
                 retry_min: float = 0.5, retry_max: float = 30.0,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.locations = locations
        self.spool: deque[SpooledMessage] = deque()
        self.spool_size = spool_size
        self.dropped = 0
        self.received = 0
        self._retry_min, self._retry_max = retry_min, retry_max
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def take(self, body: bytes, content_type: str, sender: str,
                   channel: str | None, *, size: int | None = None) -> str:
        """Store and process one message; ``"stored"`` or ``"spooled"``. Never raises.

        ``size`` is the whole body's size when ``body`` is only its beginning.
        """
        self.received += 1
        item = SpooledMessage(body[:MAX_STORED_BYTES + 1], content_type, sender, self._clock(),
                              channel, max(len(body), size or 0))
        try:
            await self._write(item)
        except _Parsing as exc:
            self._push(replace(item, message_id=exc.message_id), _error(exc.cause))
            return "spooled"
        except Exception as exc:
            self._push(item, _error(exc))
            return "spooled"
        if self.spool:
            self._wake.set()  # the database is back: retry the spool now
        return "stored"

    async def _write(self, item: SpooledMessage) -> None:
        message_id = item.message_id
        if message_id is None:
            message_id = await self.locations.store_aml_raw(
                item.body, item.content_type, item.sender, item.received_at,
                aml_channel(item.body, item.channel), size_bytes=item.size)
        try:
            await self.locations.process_stored(message_id)
        except Exception as exc:
            # The raw message is safe in the database; only parsing and matching wait.
            raise _Parsing(message_id, exc) from exc

    def _push(self, item: SpooledMessage, error: str) -> None:
        if len(self.spool) >= self.spool_size:
            lost = self.spool.popleft()
            self.dropped += 1
            log.error("aml.spool_full_message_lost", received_at=lost.received_at.isoformat(),
                      size=len(lost.body), dropped_total=self.dropped)
        self.spool.append(item)
        log.error("aml.database_unavailable_message_spooled", error=error,
                  spooled=len(self.spool), stored_already=item.message_id is not None)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="ngcc112-aml-spool")

    async def _drain(self) -> None:
        delay = self._retry_min
        while self.spool:
            item = self.spool[0]
            try:
                await self._write(item)
            except _Parsing as exc:
                self.spool[0] = replace(item, message_id=exc.message_id)
                await self._wait(delay, exc.cause)
                delay = min(delay * 2, self._retry_max)
                continue
            except Exception as exc:
                await self._wait(delay, exc)
                delay = min(delay * 2, self._retry_max)
                continue
            self.spool.popleft()
            delay = self._retry_min
            log.warning("aml.spooled_message_stored", left=len(self.spool))

    async def _wait(self, delay: float, exc: BaseException) -> None:
        emit = log.error if delay >= self._retry_max else log.debug
        emit("aml.spool_retry", error=_error(exc), retry_in=delay, spooled=len(self.spool))
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    async def flush(self, timeout: float = 5.0) -> int:
        """Wait (bounded) for the spool to empty; returns how many are still waiting."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._until_empty(), timeout)
        return len(self.spool)

    async def _until_empty(self) -> None:
        while self.spool:
            await asyncio.sleep(0.05)

    async def close(self, timeout: float = 5.0) -> None:
        """At shutdown: a last bounded chance to write the spool, then stop retrying."""
        left = await self.flush(timeout) if self.spool else 0
        if left:
            log.error("aml.shutdown_messages_lost", lost=left)
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def status(self) -> dict[str, Any]:
        return {"aml_received": self.received, "aml_spooled": len(self.spool),
                "aml_dropped": self.dropped}


class _Parsing(Exception):
    def __init__(self, message_id: int, cause: BaseException) -> None:
        super().__init__(f"message {message_id} stored, not yet parsed: {_error(cause)}")
        self.message_id = message_id
        self.cause = cause


def _error(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return text or type(exc).__name__


def intake_for(services: Any) -> AmlIntake:
    """The one intake of these services (kept in ``services.extras["aml_intake"]``)."""
    intake = services.extras.get(INTAKE_KEY)
    if intake is None:
        intake = AmlIntake(Locations(services.sessions, services.hub.publish))
        services.extras[INTAKE_KEY] = intake
    return intake


def aml_routes(services: Any, intake: AmlIntake | None = None) -> list[web.RouteDef]:
    """``POST /aml/els`` and ``POST /aml/sms``; see the module docstring."""
    intake = intake or intake_for(services)

    async def els(request: web.Request) -> web.Response:
        return await _receive(request, intake, "els")

    async def sms(request: web.Request) -> web.Response:
        return await _receive(request, intake, "sms")

    return [web.post("/aml/els", els), web.post("/aml/sms", sms)]


async def _receive(request: web.Request, intake: AmlIntake, route: str) -> web.Response:
    try:
        body, size = await _read_body(request)
        content_type = request.headers.get("Content-Type", "")[:200]
        peer = request.remote or ""
        if route == "els":
            outcome = await intake.take(body, content_type, f"http:{peer}"[:200], None, size=size)
        else:
            text, sender = _sms_parts(body, content_type, request)
            whole = size if text is body else len(text)
            outcome = await intake.take(text, content_type, sender, "sms", size=whole)
        if size > len(body):
            log.warning("aml.body_cut", route=route, size=size, kept=len(body))
    except Exception:  # whatever happened, the sender gets its 2xx; we log it
        log.exception("aml.intake_failed", route=route)
        outcome = "failed"
    return web.Response(status=200, text="OK\n", headers={"X-AML-Intake": outcome})


async def _read_body(request: web.Request) -> tuple[bytes, int]:
    """The body's first ``MAX_STORED_BYTES + 1`` bytes and its full size (drained up to a limit)."""
    kept = bytearray()
    size = 0
    with contextlib.suppress(Exception):  # a client that goes away mid-body: keep what came
        while size <= DRAIN_LIMIT:
            chunk = await request.content.read(65536)
            if not chunk:
                break
            size += len(chunk)
            room = MAX_STORED_BYTES + 1 - len(kept)
            if room > 0:
                kept += chunk[:room]
    return bytes(kept), size


def _sms_parts(body: bytes, content_type: str, request: web.Request) -> tuple[bytes, str]:
    """(the SMS text, the originating number) from a gateway's request."""
    sender = request.headers.get(SENDER_HEADER, "") or request.query.get("from", "")
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True,
                              max_num_fields=50)
        except ValueError:
            pairs = []
        fields: dict[str, str] = {}
        for name, value in pairs:
            fields.setdefault(name.strip().lower(), value)
        text = next((fields[f] for f in SMS_TEXT_FIELDS if fields.get(f)), None)
        sender = next((fields[f] for f in SMS_SENDER_FIELDS if fields.get(f)), sender)
        if text is not None:
            return text.encode("utf-8"), sender[:200]
    return body, sender[:200]
