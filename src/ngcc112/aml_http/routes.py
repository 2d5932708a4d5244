"""The AML endpoints over HTTP: Android ELS posts and an SMS gateway's forwards.

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

import contextlib
from urllib.parse import parse_qsl

import structlog
from aiohttp import web

from ngcc112.aml_http.intake import AmlIntake
from ngcc112.location.throttle import retry_after
from ngcc112.tickets.locations import MAX_STORED_BYTES

log = structlog.get_logger(__name__)

#: Bytes read and thrown away after the stored part of an oversized body, so
#: the client sees its 200; a larger body is cut off (the connection closes).
DRAIN_LIMIT = 4 * 1024 * 1024
SMS_TEXT_FIELDS = ("text", "message", "body", "content", "sms")
SMS_SENDER_FIELDS = ("from", "sender", "msisdn", "originator", "phone")
SENDER_HEADER = "X-AML-Sender"


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
