"""The AMI events the daemon needs, and the manager.conf ``eventfilter`` lines that ask for only those.

In a surge most of what Asterisk sends is of no use to the daemon: a queued call that is never
answered brings about 78 events, 53 of them ``VarSet`` (``QUEUE*``, ``RTPAUDIOQOS*``, ``GOSUB_RETVAL``
…) and 17 ``Newexten`` (one per dialplan step); the daemon acts on about 14. Every one of them is
read, parsed, queued and dispatched by the daemon, so the shipped manager.conf has Asterisk drop
the rest before it is written to the socket (an *include* filter, Asterisk 22's advanced syntax).

:data:`NEEDED` is the one list: ``asterisk-config/manager.conf`` must hold exactly
:func:`manager_conf_lines` (tests/asterisk/test_ast_config.py), every event the tracker, the link
and the callbacks handle must be in it (same test), and a real Asterisk must pass exactly what
:func:`needed` says on real calls (tests/real_asterisk/test_event_filter.py). A name-only rule is
matched by Asterisk on a hash of the event name; a header rule looks at one header's value only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ngcc112.ami.message import AmiMessage


@dataclass(frozen=True, slots=True)
class EventRule:
    """Include ``name`` events; with ``header``, only those whose ``header`` value matches.

    ``method`` is Asterisk's: ``exact`` or ``regex`` (POSIX extended, against the value
    alone, CR/LF stripped).
    """

    name: str
    why: str
    header: str | None = None
    method: str = "none"
    pattern: str = ""

    def matches(self, message: AmiMessage) -> bool:
        if message.name != self.name:
            return False
        if self.header is None:
            return True
        value = message.get(self.header)
        if self.method == "exact":
            return value == self.pattern
        return re.search(self.pattern, value) is not None

    def conf_line(self) -> str:
        criteria = ["action(include)", f"name({self.name})"]
        if self.header is not None:
            criteria += [f"header({self.header})", f"method({self.method})"]
        return f"eventfilter({','.join(criteria)}) = {self.pattern}".rstrip()


#: The VarSet variables the daemon reads: the shipped dialplan's NGCC_* (``__NGCC_CALL`` is
#: inherited, hence the underscores) and ``QUEUESTATUS`` (WITHDRAW: taken out of the queue).
VARSET_PATTERN = "^(_{0,2}NGCC_|QUEUESTATUS$)"

NEEDED: tuple[EventRule, ...] = (
    EventRule("Newchannel", "every channel: a 112 call opens here (its Timestamp is the call's start)"),
    EventRule(
        "Newexten",
        "a channel sent into the 112 context (an operator's phone dialling 112): entering a context is its priority 1",
        header="Priority",
        method="exact",
        pattern="1",
    ),
    EventRule("NewCallerid", "the caller's number or name changed"),
    EventRule(
        "VarSet",
        "the NGCC_* variables of the dialplan, QUEUESTATUS=WITHDRAW",
        header="Variable",
        method="regex",
        pattern=VARSET_PATTERN,
    ),
    EventRule("QueueCallerJoin", "the call waits in a queue"),
    EventRule("QueueCallerAbandon", "the caller left the queue (or was withdrawn)"),
    EventRule("AgentCalled", "an operator's phone rings"),
    EventRule("AgentRingNoAnswer", "it rang out"),
    EventRule("AgentConnect", "an operator answered"),
    EventRule("AgentComplete", "the operator's leg is over (wrap-up starts)"),
    EventRule("ChannelTalkingStart", "the caller speaks (silent-call detection)"),
    EventRule("ChannelTalkingStop", "the caller stopped speaking"),
    EventRule("DTMFEnd", "the silent caller's digit 5"),
    EventRule("Hangup", "a channel is gone; the caller's last leg ends the call"),
    EventRule("QueueMemberAdded", "an operator went Ready"),
    EventRule("QueueMemberRemoved", "an operator left the queue"),
    EventRule("QueueMemberPause", "Break, wrap-up"),
    EventRule("QueueMemberStatus", "an operator's phone state"),
    EventRule("OriginateResponse", "a callback was placed or failed"),
    EventRule("FullyBooted", "Asterisk (re)started under a live link: resync"),
    EventRule("Shutdown", "Asterisk is going down"),
)


def needed(message: AmiMessage) -> bool:
    """Whether the daemon has any use for this event (what the shipped filter lets through)."""
    return any(rule.matches(message) for rule in NEEDED)


def needed_names() -> frozenset[str]:
    return frozenset(rule.name for rule in NEEDED)


def manager_conf_lines() -> list[str]:
    """The ``eventfilter`` lines of the ``ngcc`` user in the shipped manager.conf, in order."""
    return [rule.conf_line() for rule in NEEDED]
