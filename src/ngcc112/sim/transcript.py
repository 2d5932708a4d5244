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


# -- comparing event sequences ----------------------------------------------

import re  # noqa: E402

_CHANNEL_RE = re.compile(r"^(?P<tech>PJSIP|Local)/(?P<res>.+)-(?P<seq>[0-9a-f]{8})(?P<half>;[12])?$")
_EPOCH_RE = re.compile(r"\b1\d{9}(\.\d+)?\b")
#: ``${ASTDATADIR}`` in a value: wherever the recording lab had it (``/tmp/ngcc112-lab-…``).
_ASTDATADIR_RE = re.compile(r"/\S*?/sounds/")

#: Events whose order and key fields the conformance tests compare, with
#: the fields compared (besides the event name and the channel's role).
SIGNIFICANT: dict[str, tuple[str, ...]] = {
    "Newchannel": ("ChannelStateDesc", "Context", "Exten"),
    "Newstate": ("ChannelStateDesc",),
    "Newexten": ("Context", "Application", "AppData"),
    "VarSet": ("Variable", "Value"),
    "QueueCallerJoin": ("Queue", "Position", "Count"),
    "QueueCallerLeave": ("Queue", "Position", "Count"),
    "QueueCallerAbandon": ("Queue", "Position", "OriginalPosition"),
    "AgentCalled": ("DestChannel", "Queue", "Interface", "MemberName"),
    "AgentRingNoAnswer": ("DestChannel", "Interface", "RingTime"),
    "AgentConnect": ("DestChannel", "Queue", "Interface"),
    "AgentComplete": ("DestChannel", "Queue", "Interface", "Reason"),
    "DialBegin": ("DestChannel", "DialString"),
    "DialEnd": ("DestChannel", "DialStatus"),
    "BridgeEnter": (),
    "BridgeLeave": (),
    "HangupRequest": ("Cause",),
    "SoftHangupRequest": ("Cause",),
    "Hangup": ("Cause",),
    "ChannelTalkingStart": (),
    "ChannelTalkingStop": (),
    "DTMFBegin": ("Digit", "Direction"),
    "DTMFEnd": ("Digit", "Direction", "DurationMs"),
    "QueueMemberAdded": ("Queue", "MemberName", "Interface", "Paused"),
    "QueueMemberRemoved": ("Queue", "MemberName", "Interface"),
    "QueueMemberPause": ("Queue", "MemberName", "Interface", "Paused", "PausedReason"),
    "OriginateResponse": (
        "Response",
        "Channel",
        "Application",
        "Data",
        "Context",
        "Exten",
        "Reason",
        "CallerIDNum",
        "CallerIDName",
    ),
    "Shutdown": ("Shutdown", "Restart"),
    "MusicOnHoldStart": (),
    "MusicOnHoldStop": (),
    "NewConnectedLine": (),
    "NewCallerid": (),
    "DialState": ("DialStatus",),
    "LocalBridge": (),
    "QueueMemberStatus": ("Interface", "Status"),
}

#: VarSets compared: all but RTP statistics, bridge peers and the queue's
#: statistics variables (their values depend on the recording host's history).
SIGNIFICANT_VARIABLES = re.compile(r"^(?!RTPAUDIO|BRIDGEP|SIPCALLID|MEMBER|QE|QUEUE(?!STATUS$)[A-Z])")
#: VarSets whose values are durations: compared by presence, not value.
_DURATION_VARIABLES = re.compile(r"TIME(_MS)?$|^PLAYBACKSTATUS$")


class RoleMap:
    """Names channels by role and order of appearance: ``caller#1``, ``half#1``, ``op1#2``."""

    def __init__(self) -> None:
        self._roles: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def __call__(self, channel: str) -> str:
        if channel in self._roles:
            return self._roles[channel]
        match = _CHANNEL_RE.match(channel)
        if match is None:
            return channel
        if match["tech"] == "Local":
            base = "half" if match["half"] == ";1" else "caller"
            key = f"Local/{match['res']}-{match['seq']}"
            if key not in self._roles:
                self._counts["local"] = self._counts.get("local", 0) + 1
                self._roles[key] = str(self._counts["local"])
            role = f"{base}#{self._roles[key]}"
        else:
            base = "caller" if match["res"].startswith("caller") else match["res"]
            counter = "local" if base == "caller" else base
            self._counts[counter] = self._counts.get(counter, 0) + 1
            role = f"{base}#{self._counts[counter]}"
        self._roles[channel] = role
        return role


def signature(
    messages: list[dict[str, str]], *, skip: frozenset[str] = frozenset()
) -> dict[str, list[tuple[str, ...]]]:
    """Per role, the ordered significant events with their key fields.

    Channel names become roles, epoch times become ``T``; events on no
    channel go under ``queue`` (member events) or ``system``.
    """
    roles = RoleMap()
    out: dict[str, list[tuple[str, ...]]] = {}
    for msg in messages:
        event = msg.get("Event", "")
        if event not in SIGNIFICANT or event in skip:
            continue
        if event == "VarSet" and not SIGNIFICANT_VARIABLES.search(msg.get("Variable", "")):
            continue
        if event == "VarSet" and msg.get("Channel") == "none":
            continue
        fields: list[str] = [event]
        for key in SIGNIFICANT[event]:
            if key not in msg:
                continue
            value = msg[key]
            if key in ("DestChannel", "Channel"):
                value = roles(value)
            elif key == "Value" and _DURATION_VARIABLES.search(msg.get("Variable", "")):
                value = "<duration>"
            elif key in ("AppData", "Value"):
                value = _EPOCH_RE.sub("T", value)
                value = _ASTDATADIR_RE.sub("<astdatadir>/sounds/", value)
                value = re.sub(r"(PJSIP|Local)/\S+-[0-9a-f]{8}(;[12])?", lambda m: roles(m.group(0)), value)
            fields.append(f"{key}={value}")
        if "Channel" in msg and event != "OriginateResponse":
            role = roles(msg["Channel"])
        elif "DestChannel" in msg:
            role = roles(msg["DestChannel"])
        elif event.startswith("QueueMember"):
            role = "queue"
        else:
            role = "system"
        out.setdefault(role, []).append(tuple(fields))
    return out


def diff_signatures(got: dict[str, list[tuple[str, ...]]], want: dict[str, list[tuple[str, ...]]]) -> str:
    """A readable report of where two :func:`signature` results differ; "" if equal."""
    lines: list[str] = []
    if sorted(got) != sorted(want):
        lines.append(f"roles differ: {sorted(got)} != {sorted(want)}")
    for role in sorted(set(got) & set(want)):
        if got[role] == want[role]:
            continue
        lines.append(f"role {role}: first line simulated, second recorded")
        for i in range(max(len(got[role]), len(want[role]))):
            g = got[role][i] if i < len(got[role]) else "-"
            w = want[role][i] if i < len(want[role]) else "-"
            lines.append(f"{'  ' if g == w else '!!'} {g}\n   {w}")
    return "\n".join(lines)
