"""One mapping from the use cases' refusals to the panel's answers, for the pages and the API alike.

:func:`refusal_middleware` answers the refusals every handler answered the same way, so handlers
let them rise: a ticket or dispatch that is not there or not the user's
(:class:`~ngcc112.tickets.dispatch.NotFoundOrForbidden`) is 404 ``not_found``; what the user's role
may not do (:class:`~ngcc112.tickets.agencies.NotPermitted`) is 403 ``role``. Both are JSON for the
API and a small page for the browser (:func:`~ngcc112.panel.auth.error_response`).
:func:`field_error` is a use case's refusal of one field, in the user's language, for the form
that shows it next to that field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ngcc112.panel.auth import error_response
from ngcc112.panel.state import GETTEXT
from ngcc112.tickets.agencies import NotPermitted
from ngcc112.tickets.dispatch import DispatchError, NotFoundOrForbidden
from ngcc112.tickets.users import UserError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def refusal_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotFoundOrForbidden:
        return await error_response(request, 404, "Not found", code="not_found")
    except NotPermitted:
        return await error_response(request, 403, "Your role may not do this", code="role")


def field_error(request: web.Request, exc: DispatchError | UserError) -> dict[str, str]:
    """``{field: message}`` in the request's language."""
    return {exc.field: exc.translated(request[GETTEXT])}


__all__ = ["field_error", "refusal_middleware"]
