"""The building blocks every API model uses: storable text, ids, and the two base classes.

* :data:`Storable` — text any column can hold (no NUL, no lone surrogate), the rule
  :func:`ngcc112.panel.bodies.storable` states, as a reusable annotated type.
* :data:`Id` — 1 … 2³¹−1, what every id column holds (:data:`ngcc112.panel.bodies.MAX_ID`).
* :class:`Body` — a request body or query: its fields, their constraints, and the message
  (a msgid) each field is refused with, as the panel's forms say it.
* :class:`Answer` — a response: what it carries, documented; the handler builds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt
from pydantic_core import PydanticUndefined

from ngcc112.panel.bodies import MAX_ID, UNSTORABLE, storable
from ngcc112.tickets.intake_form import N_

#: The message of a field no rule of its own names.
NOT_ACCEPTED = N_("Not accepted")


def _storable(text: str) -> str:
    if not storable(text):
        raise ValueError(UNSTORABLE)
    return text


#: Text a column can hold: valid Unicode without NUL.
Storable = Annotated[str, AfterValidator(_storable)]
#: A number or the text a person typed for one (a form field sent as it is: "-6,9147").
Typed = StrictInt | StrictFloat | Storable
#: An id as the tables hold it.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def unsent(default: Any, *, strict: bool | None = None, **rules: Any) -> Any:
    """A field that may be left out (the handler asks ``model_fields_set``), but not sent as null:
    its placeholder ``default`` is not described; ``rules`` as :func:`checked_later`."""

    def describe(schema: dict[str, Any]) -> None:
        schema.pop("default", None)
        schema.update(rules)

    return Field(default=default, strict=strict, json_schema_extra=describe)


def checked_later(default: Any = PydanticUndefined, **rules: Any) -> Any:
    """A field whose ``rules`` (JSON schema: enum, pattern, minLength …) the use case checks, with
    the body's other fields, so a refusal names every field at fault at once: described here,
    checked there."""
    return Field(default=default, json_schema_extra=rules)


class Body(BaseModel):
    """A request body (or query) the API reads with :func:`ngcc112.panel.api_models.read.read_model`.

    Fields the model does not name are ignored, as the handlers always did. ``messages`` maps a
    field (or ``"field.error_type"``, pydantic's error type, for a finer choice) to the msgid a
    refusal shows; ``secret`` fields are never echoed in a 422's ``values``."""

    model_config = ConfigDict(extra="ignore")

    messages: ClassVar[Mapping[str, str]] = {}
    secret: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def message_for(cls, field: str, error_type: str) -> str:
        found = cls.messages.get(f"{field}.{error_type}") or cls.messages.get(field)
        if found is not None:
            return found
        return UNSTORABLE if error_type == "value_error" else NOT_ACCEPTED


def _promise_only(schema: dict[str, Any], model: type[BaseModel]) -> None:
    promised = getattr(model, "promised", ())
    required = [name for name in schema.get("required", ()) if name in promised]
    if required:
        schema["required"] = required
    else:
        schema.pop("required", None)


class Answer(BaseModel):
    """A JSON answer of the API, for its description: what each field holds.

    A field is documented as always present only when ``promised`` names it (as ``error`` of
    :class:`Error`); the rest are described without a promise."""

    model_config = ConfigDict(json_schema_extra=_promise_only)

    promised: ClassVar[tuple[str, ...]] = ()


class Error(Answer):
    promised = ("error",)

    error: str
    code: str
    detail: str = Field(description="Why, in English")


class Invalid(Answer):
    """A 422: one message per field in the user's language, and the values sent (never a password)."""

    promised = ("errors",)

    error: str
    code: str
    errors: dict[str, str]
    values: dict[str, Any]


class Empty(Body):
    """A body with nothing to say (``{}``): any object."""
