"""One running call as the engine holds it: its phase, its legs, its queue state, its caller id.

:class:`CallRun` is the state the call flow and the AMI interventions share;
:func:`caller_id` and :func:`cid_all` are the pure rules that turn a
:class:`~ngcc112.sim.calls.CallScript` into what Asterisk holds and shows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ngcc112.sim.calls import PRES_ALLOWED, PRES_UNAVAILABLE, PRES_WITHHELD, CallScript, PlacedCall
from ngcc112.sim.model import UNKNOWN, Channel, Entry, Member, Queue
from ngcc112.sim.wire import sip_quote, truncate_name

PHASE_DIALPLAN = "dialplan"
PHASE_PROMPT = "prompt"
PHASE_QUEUE = "queue"
PHASE_BRIDGED = "bridged"
PHASE_ELSEWHERE = "elsewhere"
PHASE_DONE = "done"


@dataclass(eq=False)
class CallRun:
    """One running call: the caller's 112 leg, its Local half, its queue state."""

    script: CallScript
    placed: PlacedCall
    flow: str
    leg: Channel
    local1: Channel | None = None
    originate_action_id: str = ""
    phase: str = PHASE_DIALPLAN
    answered_at: float = 0.0
    queue: Queue | None = None
    entry: Entry | None = None
    ringing: tuple[Member, Channel] | None = None
    #: Resolved with a Hangup cause when the rung operator leg is hung up.
    ring_cut: asyncio.Future[int] | None = None
    operator: Channel | None = None
    member: Member | None = None
    connected_at: float = 0.0
    task: asyncio.Task[None] | None = None
    timer: asyncio.Task[None] | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def caller_id(script: CallScript) -> tuple[str, str, str]:
    """(caller number, caller name, CALLERID(pres)) as Asterisk holds them.

    A SIP caller's name keeps the quoted-pairs of its quoted display name (PJSIP does
    not undo them); any name is cut to 79 bytes. Events C-escape the name on top.
    """

    def held(name: str) -> str:
        return truncate_name(sip_quote(name) if script.kind == "PJSIP" else name)

    if script.presentation == "anonymous":
        return "anonymous", held(script.name or "Anonymous"), PRES_WITHHELD
    number = script.number or UNKNOWN
    name = held(script.name) if script.name else UNKNOWN
    if not script.number and not script.name:
        return UNKNOWN, UNKNOWN, PRES_UNAVAILABLE
    pres = PRES_WITHHELD if script.presentation == "withheld" else PRES_ALLOWED
    return number, name, pres


def cid_all(number: str, name: str) -> str:
    """``${CALLERID(all)}``: ``"Name" <number>``."""
    num = "" if number == UNKNOWN else number
    nm = "" if name == UNKNOWN else name
    return f'"{nm}" <{num}>'
