"""The two Asterisk labs the recordings came from, as simulator settings, and their files.

* the older lab of ``../shared/ami-transcripts`` (its ``dialplan-used.conf``: the "final"
  dialplan, "legacy" for a_..e_, queues without static members);
* the shipped configuration (``asterisk-config/``) on the real Asterisk 22.10.1 of the
  integration suite, whose recordings are ``tests/data/transcripts/r_*`` (every phone down
  until a test registers it, the daemon's manager account).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ngcc112 import names
from ngcc112.sim.calls import CallScript
from ngcc112.sim.config import AmiUser
from ngcc112.sim.transcript import parse_messages, parse_transcript

ROOT = Path(__file__).resolve().parents[2]
SHARED_RECORDINGS = ROOT.parent / "shared" / "ami-transcripts"
SHIPPED_RECORDINGS = ROOT / "tests" / "data" / "transcripts"
CONFIG = ROOT / "asterisk-config"


def conf_sections(path: Path) -> dict[str, list[tuple[str, str]]]:
    """An Asterisk .conf file: section → its ``key = value`` / ``key => value`` lines."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            current = sections.setdefault(line[1 : line.index("]")], [])
        elif "=" in line:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.lstrip(">").strip()))
    return sections


def shipped_user() -> AmiUser:
    """The daemon's account of the shipped manager.conf (the recording client used it)."""
    fields = dict(conf_sections(CONFIG / "manager.conf")[names.AMI_USERNAME])
    return AmiUser(
        secret=fields["secret"],
        read=tuple(c.strip() for c in fields["read"].split(",")),
        write=tuple(c.strip() for c in fields["write"].split(",")),
    )


@dataclass(frozen=True)
class Lab:
    """Where a recording was made: its folder and the simulator settings that match it."""

    name: str
    recordings: Path

    def overrides(self, flow: str | None) -> dict[str, object]:
        if self is SHIPPED:
            return {"users": {names.AMI_USERNAME: shipped_user()}, "endpoints": PHONES_DOWN}
        return {"flow": flow or "final", "static_members": {}}

    def recorded(self, name: str) -> list[dict[str, str]]:
        return parse_transcript(self.recordings / f"{name}.ami")

    def sent(self, name: str) -> list[list[tuple[str, str]]]:
        return parse_messages(self.recordings / f"{name}.sent")


#: Every phone is down until a test registers it, as in the lab between tests.
PHONES_DOWN = {op: False for op in names.SAMPLE_OPERATORS}
OLDER = Lab("older", SHARED_RECORDINGS)
SHIPPED = Lab("shipped", SHIPPED_RECORDINGS)


#: A SIP display name with quotes and a backslash (r_quotes_backslash, r_caller_id_variants).
QUOTED = 'Pak "Budi" \\ RT 05'


def carrier(number: str, name: str, **kw: object) -> CallScript:
    """A caller on the shipped carrier trunk (channel ``PJSIP/carrier-…``)."""
    return CallScript(number=number, name=name, endpoint="carrier", **kw)  # type: ignore[arg-type]
