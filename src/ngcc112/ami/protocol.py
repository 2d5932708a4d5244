"""The byte-level side of the AMI link, on panoramisk's ``AMIProtocol``.

Two things are done differently from panoramisk on purpose:

* bytes are decoded with an incremental UTF-8 decoder and ``errors="replace"``,
  so a caller name split across two TCP reads stays intact and a name in a
  legacy encoding shows a replacement mark instead of silently losing letters;
* nothing is ever re-sent after a reconnect (panoramisk re-sends pending
  actions on the next ``FullyBooted``; an ``Originate`` could happen twice).
  Pending actions fail with :class:`ConnectionError` when the link drops.

Frames that carry neither ``Event`` nor ``Response`` are logged and counted,
never fatal. An event that answers no action (nearly all of them) is read straight into
an :class:`AmiMessage`, header by header as panoramisk reads them, without building
panoramisk's ``Message`` first: that double conversion was half the pipeline's time
(bench/throughput.py). Responses and the events of a list action go through panoramisk.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Callable
from datetime import datetime, timezone
from urllib.parse import unquote

import structlog
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from ngcc112.ami.message import AmiMessage

log = structlog.get_logger(__name__)

EOL = "\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"
#: A peer that sends this much without ending a frame is not speaking AMI.
MAX_PENDING = 1 << 20


#: Headers that tie a frame to an action (panoramisk's ``Message.id``): such frames go through panoramisk.
_ACTION_KEYS = ("actionid", "commandid")


def plain_event(frame: str, received_at: datetime) -> AmiMessage | None:
    """An event frame that answers no action, as an :class:`AmiMessage`; None for anything else.

    Reads the headers exactly as panoramisk's ``Message.from_line`` does (``key: value``
    lines, split at the first ``": "``, ``Result`` unquoted), so both paths agree.
    """
    pairs: list[tuple[str, str]] = []
    is_event = False
    for line in frame.split(EOL):
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        folded = key.lower()
        if folded in _ACTION_KEYS:
            return None
        if folded == "result":
            value = unquote(value).strip()
        is_event = is_event or key == "Event"
        pairs.append((key, value))
    return AmiMessage.from_pairs(pairs, received_at) if is_event else None


class AmiProtocol(AMIProtocol):  # type: ignore[misc]  # panoramisk is untyped
    """One TCP connection to Asterisk. Events go to ``on_event`` in wire order."""

    def __init__(
        self,
        on_event: Callable[[AmiMessage], None],
        on_lost: Callable[[Exception | None], None],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self._on_event = on_event
        self._on_lost = on_lost
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.malformed_frames = 0
        self.closed = False

    # asyncio.Protocol ---------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.encoding = "utf-8"
        self.factory = self  # panoramisk's close() looks for these two on the factory
        self.forgetable_actions = ()
        self.awaiting_actions: list[object] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self.banner: str | None = None
        #: ActionID → callback run the moment that action's answer is complete,
        #: in wire order with the events around it.
        self.completion_hooks: dict[str, Callable[[object], None]] = {}

    def data_received(self, data: bytes) -> None:
        self._pending += self._decoder.decode(data)
        if self.banner is None:
            line, sep, rest = self._pending.partition(EOL)
            if not sep:
                return
            if line.startswith(BANNER_PREFIX):
                self.banner = line
                self.version = line[len(BANNER_PREFIX) :].strip()
                self._pending = rest
            else:
                self.banner = ""
                log.warning("ami.no_banner", first_line=line[:120])
        *frames, self._pending = self._pending.split(EOL + EOL)
        if len(self._pending) > MAX_PENDING:
            log.error("ami.frame_too_large", pending_bytes=len(self._pending))
            self._pending = ""
            self.transport.abort()
            return
        now = self._clock()
        for frame in frames:
            frame = frame.strip("\r\n")
            if not frame:
                continue
            event = plain_event(frame, now)
            if event is not None:
                self._on_event(event)
                continue
            message = Message.from_line(frame)
            if message is None:
                self.malformed_frames += 1
                log.warning("ami.malformed_frame", frame=frame[:200])
                continue
            self._now = now
            self.handle_message(message)

    def handle_message(self, message: Message) -> None:
        pending = self.responses.get(message.id)
        if pending is None and message.action_id:
            pending = self.responses.get(message.action_id)
        if pending is not None:
            if pending.add_message(message):
                self.responses.pop(pending.id, None)
                if pending.action_id:
                    self.responses.pop(pending.action_id, None)
                hook = self.completion_hooks.pop(pending.id, None)
                if hook is not None:
                    hook(pending.future.result())
            return
        if "event" in message:
            event = AmiMessage.from_mapping(message, self._now)
            if event is not None:
                self._on_event(event)
            return
        log.debug("ami.unmatched_response", action_id=message.action_id, response=message.get("response"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        self._fail_pending(exc)
        self._on_lost(exc)

    def close(self) -> None:
        self._fail_pending(None)
        if not self.closed:
            self.closed = True
            self.transport.close()
            self._on_lost(None)

    def _fail_pending(self, exc: Exception | None) -> None:
        for pending in list(self.responses.values()):
            if not pending.future.done():
                pending.future.set_exception(ConnectionError(f"AMI link closed ({exc or 'closed'})"))
        self.responses.clear()
        self.completion_hooks.clear()
