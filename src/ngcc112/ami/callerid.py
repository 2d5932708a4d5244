"""Caller ID as the caller sent it, from what an AMI event shows.

Two layers of escaping stand between a caller's display name and an AMI event,
both seen on a real Asterisk 22.10.1 (tests/real_asterisk/test_asterisk_facts.py):

1. PJSIP keeps the quoted-pairs of a quoted SIP display name (RFC 3261 §25.1):
   ``"Pak \\"Budi\\" \\\\ RT 05"`` on the wire is held by Asterisk as
   ``Pak \\"Budi\\" \\\\ RT 05``.
2. AMI C-escapes every value it writes, so the event reads
   ``Pak \\\\\\"Budi\\\\\\" \\\\\\\\ RT 05``.

Each layer is undone exactly once, the SIP one only for PJSIP channels (a Local
channel's name was set by the dialplan or an Originate, with no SIP quoting).
``<unknown>`` and the empty string mean "no caller ID".
"""

from __future__ import annotations

from ngcc112.ami.message import unescape

#: What Asterisk shows when a caller sent no number or no name.
UNKNOWN = frozenset({"", "<unknown>"})


def caller_number(value: str) -> str | None:
    """The caller's number from ``CallerIDNum``; None when there is none."""
    if value in UNKNOWN:
        return None
    return unescape(value) or None


def caller_name(value: str, channel: str = "") -> str | None:
    """The caller's name from ``CallerIDName`` on ``channel``; None when there is none."""
    if value in UNKNOWN:
        return None
    name = unescape(value)
    if channel.upper().startswith("PJSIP/"):
        name = sip_unquote(name)
    return name or None


def sip_unquote(text: str) -> str:
    """Undo SIP quoted-pairs: ``\\x`` stands for ``x`` (RFC 3261 §25.1)."""
    if "\\" not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)
