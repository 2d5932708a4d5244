"""The simulated Asterisk's state: channels, bridges, queues and members."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ngcc112.sim.wire import Pairs, c_escape

if TYPE_CHECKING:
    from ngcc112.sim.run import CallRun

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
UNKNOWN = "<unknown>"

#: Queue member / device states (app_queue Status numbers).
DEV_NOT_INUSE = 1
DEV_INUSE = 2
DEV_UNAVAILABLE = 5
DEV_RINGING = 6
DEVICE_STATE_NAMES = {
    DEV_NOT_INUSE: "NOT_INUSE",
    DEV_INUSE: "INUSE",
    DEV_UNAVAILABLE: "UNAVAILABLE",
    DEV_RINGING: "RINGING",
}


@dataclass(eq=False)
class Channel:
    """A channel; ``cid_name`` and ``cl_name`` hold the names as Asterisk holds them
    (for a SIP caller with PJSIP's quoted-pairs kept), events C-escape them."""

    name: str
    uniqueid: str
    linkedid: str
    state: int
    cid_num: str
    cid_name: str
    context: str
    exten: str
    priority: int = 1
    cl_num: str = UNKNOWN
    cl_name: str = UNKNOWN
    language: str = "en"
    accountcode: str = ""
    application: str = ""
    appdata: str = ""
    created: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)
    call: CallRun | None = None
    #: Operator softphone endpoint for operator legs ("op1"), else "".
    endpoint: str = ""
    bridge: Bridge | None = None

    def block(self, prefix: str = "") -> Pairs:
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(self.state)),
            (f"{prefix}ChannelStateDesc", STATE_DESC[self.state]),
            (f"{prefix}CallerIDNum", self.cid_num),
            # ast_manager_build_channel_state_string_prefix: ast_escape_c on both names
            (f"{prefix}CallerIDName", c_escape(self.cid_name)),
            (f"{prefix}ConnectedLineNum", self.cl_num),
            (f"{prefix}ConnectedLineName", c_escape(self.cl_name)),
            (f"{prefix}Language", self.language),
            (f"{prefix}AccountCode", self.accountcode),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    technology: str = "simple_bridge"
    channels: list[Channel] = field(default_factory=list)

    def block(self) -> Pairs:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", self.technology),
            ("BridgeCreator", UNKNOWN),
            ("BridgeName", UNKNOWN),
            ("BridgeNumChannels", str(len(self.channels))),
            ("BridgeVideoSourceMode", "none"),
        ]


@dataclass(eq=False)
class Member:
    queue: str
    interface: str
    name: str
    state_interface: str
    penalty: int
    paused: bool
    reason: str
    login_time: int
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    #: "dynamic" (QueueAdd) or "static" (a ``member =>`` line of queues.conf).
    membership: str = "dynamic"

    @property
    def dynamic(self) -> bool:
        return self.membership == "dynamic"

    @property
    def endpoint(self) -> str:
        return self.state_interface.partition("/")[2]

    def block(self, status: int, in_call: bool) -> Pairs:
        return [
            ("Queue", self.queue),
            ("MemberName", self.name),
            ("Interface", self.interface),
            ("StateInterface", self.state_interface),
            ("Membership", self.membership),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", "1" if in_call else "0"),
            ("Status", str(status)),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.reason),
            ("Ringinuse", "0"),
            ("Wrapuptime", "0"),
        ]


@dataclass(eq=False)
class Entry:
    """A caller waiting in a queue."""

    call: CallRun
    joined: float
    seq: int
    original_position: int
    priority: int = 0
    #: Resolved by the dispatcher with the member to ring.
    offer: asyncio.Future[Member] | None = None
    #: Set by QueueWithdrawCaller (with its WithdrawInfo); app_queue acts on it at its next look.
    withdraw_info: str | None = None
    withdraw: asyncio.Future[None] | None = None


@dataclass(eq=False)
class Queue:
    name: str
    #: queues.conf ``strategy``.
    strategy: str = "rrmemory"
    members: dict[str, Member] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    holdtime: int = 0
    talktime: int = 0
    #: rrmemory: the interface rung last.
    last_rung: str = ""
    joined_total: int = 0

    def position(self, entry: Entry) -> int:
        return self.entries.index(entry) + 1

    def insert(self, entry: Entry) -> None:
        """Place ``entry`` behind every caller of equal or higher priority (app_queue's join)."""
        index = len(self.entries)
        for i, other in enumerate(self.entries):
            if entry.priority > other.priority:
                index = i
                break
        self.entries.insert(index, entry)

    def sl_perf(self) -> str:
        total = self.completed + self.abandoned
        return f"{(100.0 * self.completed / total) if total else 0.0:.1f}"

    def params(self) -> Pairs:
        return [
            ("Queue", self.name),
            ("Max", "0"),
            ("Strategy", self.strategy),
            ("Calls", str(len(self.entries))),
            ("Holdtime", str(self.holdtime)),
            ("TalkTime", str(self.talktime)),
            ("Completed", str(self.completed)),
            ("Abandoned", str(self.abandoned)),
            ("ServiceLevel", "0"),
            ("ServicelevelPerf", self.sl_perf()),
            ("ServicelevelPerf2", self.sl_perf()),
            ("Weight", "0"),
        ]

    def channel_vars(self) -> list[tuple[str, str]]:
        """The QUEUE* variables ``setqueuevar`` puts on the channels."""
        return [
            ("QUEUENAME", self.name),
            ("QUEUEMAX", "0"),
            ("QUEUESTRATEGY", self.strategy),
            ("QUEUECALLS", str(len(self.entries))),
            ("QUEUEHOLDTIME", str(self.holdtime)),
            ("QUEUETALKTIME", str(self.talktime)),
            ("QUEUECOMPLETED", str(self.completed)),
            ("QUEUEABANDONED", str(self.abandoned)),
            ("QUEUESRVLEVEL", "0"),
            ("QUEUESRVLEVELPERF", self.sl_perf()),
        ]


@dataclass
class Softphone:
    """How a simulated operator softphone behaves when the queue rings it."""

    answers: bool = True
    ring_seconds: float = 0.5
    #: The operator hangs up this long after answering; None: never (the caller ends).
    talk_seconds: float | None = None
