"""Read recorded AMI traffic (``.ami`` / ``.sent`` files) into messages.

A transcript is the exact bytes of one direction of an AMI session: an
optional banner line, then messages made of ``Key: Value`` lines, each
message ended by a blank line (CRLF line ends). Keys may repeat; a message
here is a ``dict`` whose repeated keys keep the last value, which is what
the tests of this project need. Use :func:`parse_messages` for the ordered
``(key, value)`` pairs when repeats matter.
"""

from __future__ import annotations

from pathlib import Path

BANNER_PREFIX = "Asterisk Call Manager/"


def split_messages(text: str) -> list[list[tuple[str, str]]]:
    """Split AMI text into messages of ordered ``(key, value)`` pairs.

    The banner line, if present, is skipped. Lines without a colon are kept
    with an empty value under their whole text as key (Asterisk's
    ``Command`` output in older versions), so nothing is silently lost.
    """
    text = text.replace("\r\n", "\n")
    messages: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if line.startswith(BANNER_PREFIX) and not current and not messages:
            continue
        if line == "":
            if current:
                messages.append(current)
                current = []
            continue
        key, sep, value = line.partition(":")
        if sep:
            current.append((key, value[1:] if value.startswith(" ") else value))
        else:
            current.append((line, ""))
    if current:
        messages.append(current)
    return messages


def parse_messages(path: str | Path) -> list[list[tuple[str, str]]]:
    """The messages of a transcript file as ordered ``(key, value)`` pairs."""
    raw = Path(path).read_bytes().decode("utf-8", errors="replace")
    return split_messages(raw)


def parse_transcript(path: str | Path) -> list[dict[str, str]]:
    """The messages of a transcript file, each as a dict (last repeat wins)."""
    return [dict(pairs) for pairs in parse_messages(path)]
