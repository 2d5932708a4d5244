"""One AMI message (event or response), normalised at the edge.

Keys are case-insensitive on the wire; here they are folded to lower case once.
A repeated key keeps every value in order (:meth:`AmiMessage.getall`), while
:meth:`AmiMessage.get` returns the first, so nothing downstream has to care
whether a header came once or many times. A missing key reads as ``""``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True, slots=True)
class AmiMessage:
    """An event (``kind == "event"``) or a response (``kind == "response"``)."""

    kind: str
    name: str
    headers: Mapping[str, tuple[str, ...]] = field(repr=False)
    #: When the daemon received it, or Asterisk's ``Timestamp`` when present
    #: (manager.conf ``timestampevents = yes``).
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def get(self, key: str, default: str = "") -> str:
        values = self.headers.get(key.lower())
        return values[0] if values else default

    def getall(self, key: str) -> tuple[str, ...]:
        return self.headers.get(key.lower(), ())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self.headers

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    @property
    def success(self) -> bool:
        return self.kind == "event" or self.name in ("Success", "Follows", "Goodbye")

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], received_at: datetime | None = None) -> AmiMessage | None:
        """Build from ``(key, value)`` pairs in wire order; None without Event/Response."""
        headers: dict[str, list[str]] = {}
        for key, value in pairs:
            headers.setdefault(key.strip().lower(), []).append(value)
        frozen = {key: tuple(values) for key, values in headers.items()}
        if "event" in frozen:
            kind, name = "event", frozen["event"][0]
        elif "response" in frozen:
            kind, name = "response", frozen["response"][0]
        else:
            return None
        at = received_at or datetime.now(timezone.utc)
        stamp = frozen.get("timestamp")
        if stamp:
            at = _parse_timestamp(stamp[0]) or at
        return cls(kind=kind, name=name, headers=frozen, received_at=at)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], received_at: datetime | None = None) -> AmiMessage | None:
        """Build from a panoramisk ``Message`` (values are a string or a list)."""
        pairs: list[tuple[str, str]] = []
        for key, value in mapping.items():
            if isinstance(value, list):
                pairs.extend((key, str(item)) for item in value)
            else:
                pairs.append((key, str(value)))
        return cls.from_pairs(pairs, received_at)


def parse_frame(text: str, received_at: datetime | None = None) -> AmiMessage | None:
    """Parse one CRLF-separated AMI frame; None when it holds no Event/Response."""
    pairs = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key and " " not in key.strip():
            pairs.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return AmiMessage.from_pairs(pairs, received_at)


def unescape(value: str) -> str:
    """Undo the C-style escaping AMI applies to the values it writes (``\\"`` → ``"``).

    Asterisk's ``ast_escape_c`` escapes ``\\a \\b \\f \\n \\r \\t \\v``, the backslash
    and both quotes; every other ``\\x`` reads as ``x``.
    """
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        nxt = next(chars, "")
        out.append(simple.get(nxt, nxt))
    return "".join(out)


def _parse_timestamp(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
