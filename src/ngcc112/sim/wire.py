"""AMI wire format: encoding messages, splitting the client's byte stream."""

from __future__ import annotations

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
#: Asterisk keeps at most this many bytes of a caller name (80-byte buffer).
MAX_NAME_BYTES = 79

Pairs = list[tuple[str, str]]


def encode(pairs: Pairs) -> bytes:
    """One AMI message: ``Key: Value`` CRLF lines and a blank line."""
    return "".join(f"{key}: {value}\r\n" for key, value in pairs).encode("utf-8") + b"\r\n"


#: ``ast_escape_c`` (main/utils.c): each of these characters becomes a backslash and a letter.
_C_ESCAPES = str.maketrans(
    {
        "\a": "\\a",
        "\b": "\\b",
        "\f": "\\f",
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\v": "\\v",
        "\\": "\\\\",
        "'": "\\'",
        '"': '\\"',
        "?": "\\?",
    }
)


def c_escape(value: str) -> str:
    """``ast_escape_c``: how AMI writes caller ID names and VarSet values.

    Backslash, both quotes, ``?`` and the C control escapes (``\\a \\b \\f \\n \\r
    \\t \\v``) each become a backslash sequence; nothing else changes.
    """
    return value.translate(_C_ESCAPES)


def sip_quote(name: str) -> str:
    """A display name as PJSIP holds it after a quoted SIP display name (RFC 3261 quoted-pairs).

    PJSIP does not undo the quoted-pairs of ``"Pak \\"Budi\\" \\\\ RT 05"``, so Asterisk's
    caller name is ``Pak \\"Budi\\" \\\\ RT 05``: each backslash and double quote the
    caller sent stands behind a backslash.
    """
    return name.replace("\\", "\\\\").replace('"', '\\"')


def truncate_name(name: str) -> str:
    """Cut a caller name to Asterisk's 79 bytes without splitting a UTF-8 character."""
    raw = name.encode("utf-8")
    if len(raw) <= MAX_NAME_BYTES:
        return name
    return raw[:MAX_NAME_BYTES].decode("utf-8", errors="ignore")


class ActionParser:
    """Split the client's byte stream into actions (blank-line separated).

    Keys are kept as sent; :func:`header` looks them up case-insensitively,
    like ``astman_get_header``. Undecodable bytes are replaced, never dropped.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[Pairs]:
        self._buffer += data.replace(b"\r\n", b"\n")
        messages: list[Pairs] = []
        while b"\n\n" in self._buffer:
            block, self._buffer = self._buffer.split(b"\n\n", 1)
            pairs: Pairs = []
            for raw_line in block.split(b"\n"):
                line = raw_line.decode("utf-8", errors="replace").rstrip("\r")
                if not line:
                    continue
                key, sep, value = line.partition(":")
                pairs.append((key.strip(), value.strip() if sep else ""))
            if pairs:
                messages.append(pairs)
        return messages


def header(pairs: Pairs, key: str) -> str:
    """The first value of ``key`` (case-insensitive), or ``""`` like Asterisk."""
    wanted = key.lower()
    for k, v in pairs:
        if k.lower() == wanted:
            return v
    return ""


def headers_all(pairs: Pairs, key: str) -> list[str]:
    wanted = key.lower()
    return [v for k, v in pairs if k.lower() == wanted]
