"""The panel's input boundary: request bodies and ids are checked here, once, before any handler.

What a request may carry, whatever page or API call it goes to:

* **JSON bodies** (:func:`read_json`, under :func:`ngcc112.panel.api_models.read.read_model`, the
  one way a handler reads one): UTF-8, an object at the top, nested at most :data:`MAX_DEPTH`
  deep, every string valid Unicode without NUL (a lone surrogate such as ``"\\ud800"`` cannot be
  written as UTF-8: stored, it would break every page that shows it; PostgreSQL refuses NUL),
  every number finite and within 64 bits. Anything else is refused: 400 (not JSON, too deep) or
  422 with the field (``code: invalid``); then the handler's model, 422 per field.
* **Forms** (:func:`input_guard`, a middleware in front of the CSRF check, which reads the form
  first): UTF-8 (``%ED%A0%80``, raw invalid bytes or another charset are refused, not replaced
  by U+FFFD), no NUL, text fields only (no file uploads). 422 for invalid text, 400 for a form
  that cannot be read at all.
* **Ids** in the path (every ``{…_id}``) and in bodies (:func:`parse_id`): 1 … 2³¹−1, the range
  every id column holds on SQLite and PostgreSQL. An id outside it names nothing: 404, before
  any query (asyncpg refuses such a value with an error, SQLite overflows).

Refusals have the panel's usual shapes (:func:`ngcc112.panel.auth.error_response`): JSON for the
API (``error``, ``code``; ``errors`` and ``values`` for 422), a small page for forms. The
router's own 404 and 405 (no such path, wrong method) get the API's shape on the API too.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ngcc112.panel.auth import (
    _NO_SESSION_PREFIXES,
    UNSAFE_METHODS,
    _prepare_language,
    csrf_middleware,
    error_response,
    wants_json,
)
from ngcc112.panel.i18n import add_domain
from ngcc112.panel.state import GETTEXT, PANEL
from ngcc112.tickets.intake_form import N_

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DOMAIN = "bodies"
#: The largest id any table holds (PostgreSQL ``integer``); ids start at 1.
MAX_ID = 2**31 - 1
#: How deep a JSON body may nest: the panel's own bodies are 2 deep at most.
MAX_DEPTH = 16
#: The largest integer a JSON body may carry (a PostgreSQL ``bigint``).
MAX_INT = 2**63 - 1
#: Form fields in one request (the largest form has a dozen).
MAX_FIELDS = 200
#: Charsets a body may declare: UTF-8 (ASCII is a subset of it).
UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

NOT_JSON = N_("The request is not valid JSON")
TOO_DEEP = N_("The request is nested too deeply")
CORRECT = N_("Please correct the marked fields")
UNSTORABLE = N_("Contains characters that cannot be stored (invalid Unicode or NUL)")
OUT_OF_RANGE = N_("A number out of range")
FORM_UNREADABLE = N_("The form could not be read. Reload the page and send it again.")
FORM_UNSTORABLE = N_(
    "The form contains characters that cannot be stored (invalid Unicode or NUL). Remove them and send it again."
)
NOT_FOUND = N_("Not found")
NOT_ALLOWED = N_("This method is not allowed here")
#: A report day outside :data:`ngcc112.reports.build.FIRST_DAY` … ``LAST_DAY``.
DATE_RANGE = N_("Enter a date between 2000-01-01 and 2099-12-31")
#: Every message this module shows (translated in ``locale/<lang>/LC_MESSAGES/bodies.po``).
MESSAGES = (
    NOT_JSON,
    TOO_DEEP,
    CORRECT,
    UNSTORABLE,
    OUT_OF_RANGE,
    FORM_UNREADABLE,
    FORM_UNSTORABLE,
    NOT_FOUND,
    NOT_ALLOWED,
    DATE_RANGE,
)


class BodyRefused(Exception):
    """A request body the panel does not accept: ``status`` 400 or 422; for a 422 either one
    ``field`` (and its message) or ``errors`` (field → msgid, from a model) with the ``values`` sent."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        field: str | None = None,
        field_message: str | None = None,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.field, self.field_message = field, field_message
        self.errors = errors if errors is not None else {field or "body": field_message or message}
        self.values = values or {}


# -- values -----------------------------------------------------------------------------------


def storable(text: str) -> bool:
    """Can ``text`` be written as UTF-8 and stored in any column (no lone surrogate, no NUL)?"""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def in_id_range(value: int) -> bool:
    return 1 <= value <= MAX_ID


def parse_id(value: object) -> int | None:
    """An id as sent (an integer, or digits in a string), or None when it cannot name a row."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if in_id_range(value) else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 10 and in_id_range(int(text)):
            return int(text)
    return None


def _charset_ok(request: web.Request) -> bool:
    charset = request.charset
    return charset is None or charset.strip().lower() in UTF8_NAMES


# -- JSON -------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_tree(body: Any) -> None:
    """Walk the parsed body without recursion: depth, strings, numbers."""
    stack: list[tuple[Any, int, str]] = [(body, 0, "body")]
    while stack:
        value, depth, field = stack.pop()
        if depth > MAX_DEPTH:
            raise BodyRefused(400, TOO_DEEP, "json")
        if isinstance(value, str):
            if not storable(value):
                raise BodyRefused(422, CORRECT, "invalid", field, UNSTORABLE)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_INT:
                raise BodyRefused(422, CORRECT, "invalid", field, OUT_OF_RANGE)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise BodyRefused(422, CORRECT, "invalid", field, OUT_OF_RANGE)
        elif isinstance(value, dict):
            for key, item in value.items():
                if not storable(key):
                    raise BodyRefused(422, CORRECT, "invalid", field, UNSTORABLE)
                stack.append((item, depth + 1, key if depth == 0 else field))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, field) for item in value)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, checked (see the module's docstring); :class:`BodyRefused` otherwise."""
    if not _charset_ok(request):
        raise BodyRefused(400, NOT_JSON, "json")
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyRefused(422, CORRECT, "invalid", "body", UNSTORABLE) from None
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise BodyRefused(400, NOT_JSON, "json") from None
    if not isinstance(body, dict):
        raise BodyRefused(400, NOT_JSON, "json")
    _check_tree(body)
    return body


async def refusal(request: web.Request, refused: BodyRefused) -> web.Response:
    """The answer to a refused body: the API's JSON (a 422 names each field, as every 422 of the
    API does; only a model's refusal echoes the values sent) or a page."""
    if refused.status == 422 and wants_json(request):
        translate = request.get(GETTEXT) or (lambda text: text)
        return web.json_response(
            {
                "error": translate(CORRECT),
                "code": refused.code,
                "errors": {field: translate(message) for field, message in refused.errors.items()},
                "values": refused.values,
            },
            status=422,
        )
    return await error_response(request, refused.status, refused.message, code=refused.code)


# -- forms ------------------------------------------------------------------------------------


async def _check_urlencoded(request: web.Request) -> None:
    raw = (await request.read()).rstrip()
    try:
        pairs = urllib.parse.parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS
        )
    except UnicodeDecodeError:
        raise BodyRefused(422, FORM_UNSTORABLE, "invalid") from None
    except ValueError:  # more fields than any form has
        raise BodyRefused(400, FORM_UNREADABLE, "form") from None
    if not all(storable(name) and storable(value) for name, value in pairs):
        raise BodyRefused(422, FORM_UNSTORABLE, "invalid")


async def check_form(request: web.Request) -> None:
    """Refuse a form the handlers must not see: not UTF-8, NUL, a file, or unreadable."""
    if not _charset_ok(request):
        raise BodyRefused(400, FORM_UNREADABLE, "form")
    if request.content_type == "application/x-www-form-urlencoded":
        await _check_urlencoded(request)
    try:
        form = await request.post()
    except web.HTTPException:
        raise
    except UnicodeDecodeError:
        raise BodyRefused(422, FORM_UNSTORABLE, "invalid") from None
    except Exception:  # a malformed multipart body: no boundary, no name, nested parts …
        raise BodyRefused(400, FORM_UNREADABLE, "form") from None
    if len(form) > MAX_FIELDS:
        raise BodyRefused(400, FORM_UNREADABLE, "form")
    for name, value in form.items():
        if not isinstance(value, str):  # a file or a binary part: no form of the panel has one
            raise BodyRefused(400, FORM_UNREADABLE, "form")
        if not (storable(name) and storable(value)):
            raise BodyRefused(422, FORM_UNSTORABLE, "invalid")


def _path_ids_ok(request: web.Request) -> bool:
    for key, value in request.match_info.items():
        if key.endswith("_id") and parse_id(value) is None:
            return False
    return True


@web.middleware
async def input_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The boundary in front of the CSRF check: path ids in range, forms readable and storable;
    the router's own 404 and 405 as the panel's translated page (the API's shape on the API)."""
    if request.path.startswith(_NO_SESSION_PREFIXES):
        return await handler(request)
    if not _path_ids_ok(request):
        await _prepare_language(request)
        return await error_response(request, 404, NOT_FOUND, code="not_found")
    if request.method in UNSAFE_METHODS and request.content_type in FORM_TYPES:
        try:
            await check_form(request)
        except BodyRefused as refused:
            await _prepare_language(request)
            return await refusal(request, refused)
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        # The router's refusals, translated like every other page (JSON on the API).
        await _prepare_language(request)
        answer = await error_response(
            request,
            exc.status,
            NOT_FOUND if exc.status == 404 else NOT_ALLOWED,
            code="not_found" if exc.status == 404 else "method",
        )
        if "Allow" in exc.headers:
            answer.headers["Allow"] = exc.headers["Allow"]
        return answer


def setup(app: web.Application) -> None:
    """Put :func:`input_guard` right in front of the CSRF middleware (which reads forms) and add
    this module's catalog. Call after :func:`ngcc112.panel.auth.setup`. Idempotent."""
    if input_guard not in app.middlewares:
        app.middlewares.insert(app.middlewares.index(csrf_middleware), input_guard)
    add_domain(app[PANEL].catalogs, DOMAIN)
