"""The route table the OpenAPI description is generated from, and the generator.

Each module that serves JSON keeps a table of :class:`Route` (method, path, roles, the request
model its handler reads, the answers it gives, the refusals it may give); :func:`describe` turns a
table into OpenAPI ``paths`` and ``components`` (every model's JSON schema, from pydantic). A test
checks each table against the router: every ``/api/`` route described, with the roles its handler
requires and the very model it reads its input with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ngcc112.panel.api_models.fields import Error, Invalid
from ngcc112.panel.bodies import MAX_ID

REF = "#/components/schemas/{model}"
#: Every id (path or body): what the tables hold; beyond it nothing is found (404 in a path).
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
CSRF = {
    "name": "X-CSRF-Token",
    "in": "header",
    "required": True,
    "description": "The session's CSRF token (GET /api/session)",
    "schema": {"type": "string"},
}
#: What each refusal means, unless a table says it more precisely.
REFUSALS: Mapping[int, str] = {
    400: "The body is not a JSON object",
    401: "Not logged in",
    403: "Wrong role, or missing or wrong CSRF token",
    404: "Not found — or not this user's to see",
    409: "Not possible in the current state (the reason is in 'error')",
    422: "Invalid input: per-field errors in the user's language, values kept",
    429: "Too many attempts: wait as Retry-After says",
    502: "Asterisk refused the change",
    503: "Asterisk is not connected",
    504: "Asterisk did not answer in time",
}
_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Content:
    """An answer: a model (JSON), or another media type and its schema (text, CSV …), or nothing."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    schema: Mapping[str, Any] | None = None


def json(model: type[BaseModel], description: str) -> Content:
    return Content(description, model)


#: A websocket's answers: the upgrade, or aiohttp's own plain-text refusal of a plain GET.
SWITCHING = Content("Switching protocols")
NOT_A_WEBSOCKET = Content("Not a websocket upgrade request", media_type="text/plain", schema={"type": "string"})


@dataclass(frozen=True)
class Route:
    """One operation: ``roles`` empty means anyone (or any logged-in user, as the handler says);
    ``answers`` maps a status to a :class:`Content`; ``refusals`` are answered
    :class:`~ngcc112.panel.api_models.fields.Error` (422: :class:`~.fields.Invalid`)."""

    method: str
    path: str
    summary: str
    answers: Mapping[int, Content]
    refusals: Sequence[int] = ()
    roles: Sequence[str] = ()
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    texts: Mapping[int, str] | None = None
    description: str = ""

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def csrf(self) -> bool:
        return self.method not in ("GET", "HEAD") and self.path.startswith("/api/")


def _schema_of(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    """A ``$ref`` to ``model``, its schema (and every model it uses) put in ``components``."""
    schema = model.model_json_schema(ref_template=REF)
    for name, nested in schema.pop("$defs", {}).items():
        components.setdefault(name, nested)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _answer(reply: Content, components: dict[str, Any]) -> dict[str, Any]:
    if reply.model is not None:
        schema = _schema_of(reply.model, components)
    elif reply.schema is not None:
        schema = dict(reply.schema)
    else:
        return {"description": reply.description}
    return {"description": reply.description, "content": {reply.media_type: {"schema": schema}}}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    parameters = []
    for name, field in schema.get("properties", {}).items():
        field = {key: value for key, value in field.items() if key != "title"}
        description = field.pop("description", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "schema": field}
        if name in schema.get("required", ()):
            parameter["required"] = True
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    texts = {**REFUSALS, **(route.texts or {})}
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": ID if name.endswith("_id") else {"type": "string"}}
        for name in _PARAMETER.findall(route.path)
    ]
    if route.query is not None:
        parameters.extend(_query_parameters(route.query))
    if route.csrf:
        parameters.append(CSRF)
    responses: dict[str, Any] = {str(status): _answer(reply, components) for status, reply in route.answers.items()}
    for status in route.refusals:
        model = Invalid if status == 422 else Error
        responses[str(status)] = {
            "description": texts[status],
            "content": {"application/json": {"schema": _schema_of(model, components)}},
        }
    operation: dict[str, Any] = {"summary": route.summary, "responses": responses}
    description = route.description
    if route.roles:
        description = f"{description}\n\nRoles: {', '.join(route.roles)}.".strip()
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_of(route.body, components)}},
        }
    return operation


def describe(routes: Sequence[Route]) -> dict[str, Any]:
    """``{"paths": …, "components": {"schemas": …}}`` of ``routes``, every model's schema included."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return {"paths": paths, "components": {"schemas": components}}
