"""What every dispatch-side page's template gets (:func:`page_values`): the label tables, a click id,
the flash, the form's errors and values, and the error summary built from them."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from ngcc112.panel.dispatch_labels import DispatchLabels
from ngcc112.panel.forms import error_summary


def page_values(request: web.Request, **values: Any) -> dict[str, Any]:
    """What every dispatch page's template gets; the error summary is built from ``errors``
    (and ``form_error``, about the form as a whole) unless a page passes its own."""
    page = {
        "dlabels": DispatchLabels,
        "click_id": secrets.token_urlsafe(12),
        "error": None,
        "flash": None,
        "errors": {},
        "values": {},
        **values,
    }
    if "summary" not in values:
        whole = values.get("form_error")
        first = [{"href": None, "field": None, "text": whole}] if whole else []
        page["summary"] = first + error_summary(page["errors"])
    return page
