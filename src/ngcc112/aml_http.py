"""The AML intake over HTTP: Android ELS posts and an SMS gateway's forwards.

Two endpoints, both ``POST``. Only configured senders may post
(:mod:`ngcc112.location.senders`: their secret as ``Authorization: Bearer``,
an ``X-AML-Signature`` HMAC of the body or ``?key=``, or a client address in
``[aml] allow_networks``):

* an authenticated sender gets ``200 OK`` whatever it sent (ELS expects a 2xx,
  and a handset retrying a garbled position helps nobody);
* anyone else gets ``401`` with the reason; the message is kept as evidence
  (its first :data:`REFUSED_KEPT_BYTES`, ``refused`` set), never parsed,
  never matched to a call;
* a sender (or refused client address) over its budget — ``rate_per_minute``
  messages, ``bytes_per_hour`` stored bytes — gets ``429`` with
  ``Retry-After``; nothing is stored. All refused clients together share one
  more such budget, so a flood from many addresses cannot fill the disk either.

Refused and rate-limited requests are counted (:meth:`AmlIntake.status`).

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

Every accepted message is written to ``aml_messages`` before it is parsed.
When the database cannot take it, the message waits in a bounded in-memory
spool and is written as soon as the database is back; each spooled and each
dropped message is logged at error level (a refused one is not spooled). The
endpoints need no session or CSRF token: mount them outside the panel's
middlewares. Secrets are never logged, nor stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qsl

import structlog
from aiohttp import web

from ngcc112.addresses import client_address
from ngcc112.backoff import Backoff
from ngcc112.location.senders import Credentials, Verdict, authenticate, parse_senders
from ngcc112.location.throttle import MAX_KEYS, Budget, Throttle, address_key, retry_after
from ngcc112.settings import AmlSettings, Settings
from ngcc112.tickets.locations import (
    MAX_STORED_BYTES,
    Locations,
    aml_channel,
)

log = structlog.get_logger(__name__)

#: Bytes read and thrown away after the stored part of an oversized body, so
#: the client sees its 200; a larger body is cut off (the connection closes).
DRAIN_LIMIT = 4 * 1024 * 1024
#: Messages kept in memory while the database is away.
SPOOL_SIZE = 1000
SMS_TEXT_FIELDS = ("text", "message", "body", "content", "sms")
SMS_SENDER_FIELDS = ("from", "sender", "msisdn", "originator", "phone")
SENDER_HEADER = "X-AML-Sender"
SIGNATURE_HEADER = "X-AML-Signature"
KEY_PARAMETER = "key"
#: Bytes kept of a refused message: evidence of who tried what, not a disk to fill.
REFUSED_KEPT_BYTES = 4096
_ALL_REFUSED = "refused:*"


@dataclass(frozen=True, slots=True)
class Admission:
    """The guard's answer to one request: who it is, and how long it must wait (0: not)."""

    verdict: Verdict
    key: str
    wait: float = 0.0


class AmlGuard:
    """Who may post AML messages, and how much each may store.

    The budget of a sender that proved itself with its secret is its name's;
    anyone else's is its client address's (an IPv6 client's /64), and refused
    clients also share one budget between them all. ``monotonic`` is the clock
    the budgets refill on (injected by tests).
    """

    def __init__(
        self,
        settings: AmlSettings | None = None,
        *,
        trusted_proxies: tuple[str, ...] = (),
        monotonic: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        settings = settings or AmlSettings()
        self.senders = parse_senders(entry.get_secret_value() for entry in settings.senders)
        self.allow_networks = tuple(settings.allow_networks)
        self.trusted_proxies = tuple(trusted_proxies)
        budget = Budget(settings.rate_per_minute, settings.bytes_per_hour)
        self.throttle = Throttle(budget, monotonic, max_keys)
        #: Every refused client together: many addresses cannot fill the disk either.
        self.refused_throttle = Throttle(budget, monotonic, 1)
        self._limited: set[str] = set()

    def credentials(self, request: web.BaseRequest, body: bytes, size: int) -> Credentials:
        """What the request offers as proof, and the client's address (behind trusted proxies)."""
        bearer, problem = None, None
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            scheme, _, value = authorization.strip().partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                bearer = value.strip()
            else:
                problem = "the Authorization header must be Bearer <secret>"
        return Credentials(
            address=client_address(request, self.trusted_proxies),
            body=body,
            bearer=bearer,
            signature=request.headers.get(SIGNATURE_HEADER),
            key=request.query.get(KEY_PARAMETER),
            body_cut=size > len(body),
            problem=problem,
        )

    def admit(self, credentials: Credentials, size: int) -> Admission:
        """Authenticate, then spend the budget of the sender (or of the refused address)."""
        verdict = authenticate(credentials, self.senders, self.allow_networks)
        if verdict.sender is not None:
            key = f"sender:{verdict.sender}"
        else:
            key = f"address:{address_key(credentials.address)}"
        kept = min(size, REFUSED_KEPT_BYTES if verdict.refused else MAX_STORED_BYTES)
        budgets = [(self.throttle, key)]
        if verdict.refused is not None:
            budgets.append((self.refused_throttle, _ALL_REFUSED))
        wait = max(throttle.wait(name, kept) for throttle, name in budgets)
        if wait > 0:
            self._note_limited(key, wait)
            return Admission(verdict, key, wait)
        for throttle, name in budgets:
            throttle.take(name, kept)
        self._limited.discard(key)
        return Admission(verdict, key)

    def _note_limited(self, key: str, wait: float) -> None:
        """The first refusal of an episode is a warning, the repeats debug (no log storm)."""
        first = key not in self._limited
        if first:
            if len(self._limited) >= MAX_KEYS:
                self._limited.clear()
            self._limited.add(key)
        (log.warning if first else log.debug)("aml.rate_limited", key=key, retry_after=retry_after(wait))


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
    #: How the sender proved itself (``secret:<name>``, ``network:<cidr>``).
    authenticated_as: str | None = None


class AmlIntake:
    """Takes every admitted AML message to the database, through a spool when it is away;
    counts what it refused and what it held back (:meth:`status`)."""

    def __init__(
        self,
        locations: Locations,
        *,
        guard: AmlGuard | None = None,
        spool_size: int = SPOOL_SIZE,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.locations = locations
        #: Without one, no sender is configured: every message is refused.
        self.guard = guard or AmlGuard()
        self.spool: deque[SpooledMessage] = deque()
        self.spool_size = spool_size
        self.dropped = 0
        self.received = 0
        self.refused = 0
        self.rate_limited = 0
        self._backoff = Backoff(first=retry_min, cap=retry_max)
        self._clock = clock or locations.now
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def admit(self, credentials: Credentials, size: int) -> Admission:
        """The guard's verdict on one request, counted."""
        self.received += 1
        admission = self.guard.admit(credentials, size)
        if admission.wait > 0:
            self.rate_limited += 1
        if admission.verdict.refused is not None:
            self.refused += 1
        return admission

    async def take(
        self,
        body: bytes,
        content_type: str,
        sender: str,
        channel: str | None,
        *,
        size: int | None = None,
        authenticated_as: str | None = None,
    ) -> str:
        """Store and process one message; ``"stored"`` or ``"spooled"``. Never raises.

        ``size`` is the whole body's size when ``body`` is only its beginning;
        ``authenticated_as`` how its sender proved itself.
        """
        item = SpooledMessage(
            body[: MAX_STORED_BYTES + 1],
            content_type,
            sender,
            self._clock(),
            channel,
            max(len(body), size or 0),
            authenticated_as=authenticated_as,
        )
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

    async def keep_refused(
        self, body: bytes, content_type: str, sender: str, channel: str | None, refused: str, *, size: int
    ) -> str:
        """Store a refused message's beginning as evidence; ``"refused"``, or ``"lost"``
        when the database is away (it is not spooled: the spool is for callers). Never raises."""
        kept = body[:REFUSED_KEPT_BYTES]
        try:
            await self.locations.store_aml_raw(
                kept,
                content_type,
                sender,
                self._clock(),
                aml_channel(kept, channel),
                size_bytes=max(size, len(body)),
                refused=refused,
            )
        except Exception as exc:
            log.warning("aml.refused_message_not_stored", error=_error(exc), sender=sender)
            return "lost"
        return "refused"

    async def _write(self, item: SpooledMessage) -> None:
        message_id = item.message_id
        if message_id is None:
            message_id = await self.locations.store_aml_raw(
                item.body,
                item.content_type,
                item.sender,
                item.received_at,
                aml_channel(item.body, item.channel),
                size_bytes=item.size,
                authenticated_as=item.authenticated_as,
            )
        try:
            await self.locations.process_stored(message_id)
        except Exception as exc:
            # The raw message is safe in the database; only parsing and matching wait.
            raise _Parsing(message_id, exc) from exc

    def _push(self, item: SpooledMessage, error: str) -> None:
        if len(self.spool) >= self.spool_size:
            lost = self.spool.popleft()
            self.dropped += 1
            log.error(
                "aml.spool_full_message_lost",
                received_at=lost.received_at.isoformat(),
                size=len(lost.body),
                dropped_total=self.dropped,
            )
        self.spool.append(item)
        log.error(
            "aml.database_unavailable_message_spooled",
            error=error,
            spooled=len(self.spool),
            stored_already=item.message_id is not None,
        )
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="ngcc112-aml-spool")

    async def _drain(self) -> None:
        self._backoff.reset()
        while self.spool:
            item = self.spool[0]
            try:
                await self._write(item)
            except _Parsing as exc:
                self.spool[0] = replace(item, message_id=exc.message_id)
                await self._wait(self._backoff.next(), exc.cause)
                continue
            except Exception as exc:
                await self._wait(self._backoff.next(), exc)
                continue
            self.spool.popleft()
            self._backoff.reset()
            log.warning("aml.spooled_message_stored", left=len(self.spool))

    async def _wait(self, delay: float, exc: BaseException) -> None:
        emit = log.error if self._backoff.at_cap else log.debug
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

    def status(self) -> dict[str, int]:
        """Counters since start: every request, the refused (401) and rate-limited (429) ones."""
        return {
            "aml_received": self.received,
            "aml_spooled": len(self.spool),
            "aml_dropped": self.dropped,
            "aml_refused": self.refused,
            "aml_rate_limited": self.rate_limited,
        }


class _Parsing(Exception):
    def __init__(self, message_id: int, cause: BaseException) -> None:
        super().__init__(f"message {message_id} stored, not yet parsed: {_error(cause)}")
        self.message_id = message_id
        self.cause = cause


def _error(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return text or type(exc).__name__


def intake_from_settings(settings: Settings, locations: Locations) -> AmlIntake:
    """The intake guarded by the ``[aml]`` settings, on ``locations`` (the composition root
    passes the one :class:`Locations` triage uses: the same windows, limits and clock)."""
    guard = AmlGuard(settings.aml, trusted_proxies=settings.panel.trusted_proxies)
    return AmlIntake(locations, guard=guard)


def aml_routes(intake: AmlIntake) -> list[web.RouteDef]:
    """``POST /aml/els`` and ``POST /aml/sms``; see the module docstring."""

    async def els(request: web.Request) -> web.Response:
        return await _receive(request, intake, "els")

    async def sms(request: web.Request) -> web.Response:
        return await _receive(request, intake, "sms")

    return [web.post("/aml/els", els), web.post("/aml/sms", sms)]


async def _receive(request: web.Request, intake: AmlIntake, route: str) -> web.Response:
    body, size = await _read_body(request)
    credentials = intake.guard.credentials(request, body, size)
    admission = intake.admit(credentials, size)
    if admission.wait > 0:
        return web.Response(
            status=429,
            text="Too many AML messages from this sender\n",
            headers={"Retry-After": str(retry_after(admission.wait)), "X-AML-Intake": "rate-limited"},
        )
    content_type = request.headers.get("Content-Type", "")[:200]
    client = f"http:{credentials.address}"[:200]
    channel = "sms" if route == "sms" else None
    refused = admission.verdict.refused
    if refused is not None:
        outcome = await intake.keep_refused(body, content_type, client, channel, refused, size=size)
        log.warning("aml.refused", route=route, client=credentials.address, reason=refused, outcome=outcome)
        return web.Response(
            status=401,
            text=f"AML message refused: {refused}\n",
            headers={"WWW-Authenticate": 'Bearer realm="ngcc112-aml"', "X-AML-Intake": outcome},
        )
    try:
        authenticated_as = admission.verdict.authenticated_as
        if route == "els":
            outcome = await intake.take(body, content_type, client, None, size=size, authenticated_as=authenticated_as)
        else:
            text, sender = _sms_parts(body, content_type, request)
            whole = size if text is body else len(text)
            outcome = await intake.take(
                text, content_type, sender, "sms", size=whole, authenticated_as=authenticated_as
            )
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
            pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=50)
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
