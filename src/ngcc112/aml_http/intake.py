"""The AML intake: every admitted message to the database, through a bounded spool when it is away.

Every accepted message is written to ``aml_messages`` before it is parsed. When the
database cannot take it, the message waits in a bounded in-memory spool and is written
as soon as the database is back; each spooled and each dropped message is logged at
error level (a refused one is not spooled, only its beginning kept as evidence).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from ngcc112.aml_http.guard import REFUSED_KEPT_BYTES, Admission, AmlGuard
from ngcc112.backoff import Backoff
from ngcc112.location.senders import Credentials
from ngcc112.settings import Settings
from ngcc112.tickets.aml_locations import AmlLocations, aml_channel
from ngcc112.tickets.locations import MAX_STORED_BYTES

log = structlog.get_logger(__name__)

#: Messages kept in memory while the database is away.
SPOOL_SIZE = 1000


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
        aml_locations: AmlLocations,
        *,
        guard: AmlGuard | None = None,
        spool_size: int = SPOOL_SIZE,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.aml_locations = aml_locations
        #: Without one, no sender is configured: every message is refused.
        self.guard = guard or AmlGuard()
        self.spool: deque[SpooledMessage] = deque()
        self.spool_size = spool_size
        self.dropped = 0
        self.received = 0
        self.refused = 0
        self.rate_limited = 0
        self._backoff = Backoff(first=retry_min, cap=retry_max)
        self._clock = clock or aml_locations.locations.now
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
            await self.aml_locations.store_aml_raw(
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
            message_id = await self.aml_locations.store_aml_raw(
                item.body,
                item.content_type,
                item.sender,
                item.received_at,
                aml_channel(item.body, item.channel),
                size_bytes=item.size,
                authenticated_as=item.authenticated_as,
            )
        try:
            await self.aml_locations.process_stored(message_id)
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


def intake_from_settings(settings: Settings, aml_locations: AmlLocations) -> AmlIntake:
    """The intake guarded by the ``[aml]`` settings, on ``aml_locations`` (the composition root
    passes the one :class:`AmlLocations` triage uses: the same windows, limits and clock)."""
    guard = AmlGuard(settings.aml, trusted_proxies=settings.panel.trusted_proxies)
    return AmlIntake(aml_locations, guard=guard)
