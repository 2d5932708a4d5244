"""The middleware that answers a request whose database did not answer: one clear 503
(:data:`~ngcc112.panel.outage.MESSAGE`, ``code: database_unavailable``, ``Retry-After``), as JSON
or as a small page in the request's language. It is the panel's outermost middleware."""

from __future__ import annotations

import structlog
from aiohttp import web

from ngcc112.panel.auth import Handler, _prepare_language, error_response
from ngcc112.panel.outage import MESSAGE, is_database_away
from ngcc112.panel.state import LANG

log = structlog.get_logger(__name__)


@web.middleware
async def database_outage_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        if not is_database_away(exc):
            raise
        log.warning(
            "panel.database_unavailable",
            path=request.path,
            error=type(exc).__name__,
            detail=str(exc).splitlines()[0][:200] if str(exc) else "",
        )
        if LANG not in request:
            await _prepare_language(request)
        response = await error_response(request, 503, MESSAGE, code="database_unavailable")
        response.headers["Retry-After"] = "5"
        return response
