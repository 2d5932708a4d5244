"""Form helpers the HTML pages share: translated errors and refusals, the error summary linked to
each field, and post/redirect/get for a refused form (what was typed and why, kept for the page)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ngcc112.panel import form_memory
from ngcc112.panel.state import GETTEXT
from ngcc112.tickets.states import TransitionRefused


def translate_errors(request: web.Request, errors: dict[str, str]) -> dict[str, str]:
    translate = request[GETTEXT]
    return {key: translate(value) for key, value in errors.items()}


def refusal_reason(request: web.Request, exc: TransitionRefused) -> str:
    """Why it was refused: translated when the refusal carries a ``msgid``, else the use case's words."""
    msgid = getattr(exc, "msgid", None)
    if msgid is None:
        return exc.reason
    return request[GETTEXT](msgid).format(**getattr(exc, "params", {}))


def refused_text(request: web.Request, exc: TransitionRefused) -> str:
    return f"{request[GETTEXT]('This action is not possible for this ticket now')}: {refusal_reason(request, exc)}"


def form_list(form: Any, key: str) -> list[str]:
    return [str(v) for v in form.getall(key, [])] if hasattr(form, "getall") else []


#: Where the error summary's link for each form field goes (the field itself, or its group).
FIELD_ANCHORS = {
    "agencies": "agencies-error",
    "instructions": "instructions",
    "override_reason": "override_reason",
    "page": "page-error",
}


def error_summary(errors: dict[str, str]) -> list[dict[str, str | None]]:
    """The page-top summary of a refused form: each (translated) message, linked to its field."""
    return [
        {
            "href": None if key in (form_memory.FORM, "") else "#" + FIELD_ANCHORS.get(key, key),
            "field": key,
            "text": text,
        }
        for key, text in errors.items()
    ]


def refuse_form(
    request: web.Request, key: str, values: dict[str, Any], errors: dict[str, str], back: str
) -> web.HTTPSeeOther:
    """Post/redirect/get for a refused form: keep what was typed and why, and go back to ``back``."""
    form_memory.remember(request, key, values, errors)
    return web.HTTPSeeOther(back)


def page_form_key(path: str) -> str:
    return f"page-{path}"


def page_refusal(request: web.Request, path: str) -> dict[str, Any]:
    """A refusal kept for a page without a form of its own (the board, the callbacks page)."""
    kept = form_memory.recall(request, page_form_key(path))
    if kept is None:
        return {"summary": []}
    return {
        "summary": error_summary(kept.errors),
        "values": kept.values,
        "errors": {k: v for k, v in kept.errors.items() if k != form_memory.FORM},
    }
