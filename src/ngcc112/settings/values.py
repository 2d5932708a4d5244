"""The checked value types the settings tables are built from: one-line text, ports, seconds, networks, tokens."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr
from pydantic_settings import NoDecode


def one_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain a line break")
    return value


def listed(value: Any) -> Any:
    """A list from TOML as it is; ``"a, b"`` from the environment split at the commas."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an address or network like 10.0.0.0/8") from None
    return value


#: Text that goes into AMI actions, file names or headers: one line.
Line = Annotated[str, AfterValidator(one_line)]
Port = Annotated[int, Field(gt=0, lt=65536)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Names = Annotated[tuple[Line, ...], NoDecode, BeforeValidator(listed)]
Networks = Annotated[tuple[Annotated[str, AfterValidator(_network)], ...], NoDecode, BeforeValidator(listed)]


def _token(value: SecretStr) -> SecretStr:
    if value and len(value) < 16:
        raise ValueError("must be at least 16 characters (or empty)")
    return value


#: A secret that may be empty (not configured), or else at least 16 characters.
OptionalToken = Annotated[SecretStr, AfterValidator(_token)]
