"""The one way a JSON handler reads its input: :func:`read_model` (body), :func:`read_query` (query).

The body first passes the panel's boundary (:func:`ngcc112.panel.bodies.read_json`: UTF-8, depth,
storable strings, finite numbers), then the handler's :class:`~.fields.Body` model. A refusal is a
:class:`~ngcc112.panel.bodies.BodyRefused` the handler answers with
:func:`ngcc112.panel.bodies.refusal`: 400 for what is not a JSON object, 422 with one message per
field (the model's msgid, translated there) and the values sent (secrets blanked).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web
from pydantic import ValidationError

from ngcc112.panel.api_models.fields import Body
from ngcc112.panel.bodies import CORRECT, BodyRefused, read_json

M = TypeVar("M", bound=Body)

#: Where the model a request was read with is kept on the request (the route table's test reads it).
READ_WITH = "ngcc112.read_with"


def _shown(value: Any) -> Any:
    """A value as a 422 echoes it: JSON scalars and lists of them, anything else as ""."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list) and all(isinstance(item, (str, int, float, bool)) for item in value):
        return value
    return ""


def refused(model: type[Body], error: ValidationError, raw: Mapping[str, Any]) -> BodyRefused:
    """The 422 for ``raw`` that ``model`` does not accept: the first message of each field."""
    errors: dict[str, str] = {}
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "body"
        errors.setdefault(field, model.message_for(field, problem["type"]))
    values = {
        name: "" if name in model.secret else _shown(raw.get(name, ""))
        for name in model.model_fields
        if name in raw or name in errors
    }
    return BodyRefused(422, CORRECT, "invalid", errors=errors, values=values)


def validate(model: type[M], raw: Mapping[str, Any]) -> M:
    """``raw`` as ``model``, or the 422 that names each refused field."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise refused(model, error, raw) from None


async def read_model(request: web.Request, model: type[M]) -> M:
    """The request's JSON body as ``model``; :class:`BodyRefused` (400 or 422) otherwise."""
    request[READ_WITH] = model
    return validate(model, await read_json(request))


def read_query(request: web.Request, model: type[M]) -> M:
    """The request's query string as ``model`` (each parameter once, as text); 422 otherwise."""
    request[READ_WITH] = model
    return validate(model, dict(request.query))
