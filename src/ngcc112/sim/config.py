"""Configuration of the AMI simulator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ngcc112 import names
from ngcc112.ami.needed_events import EventRule
from ngcc112.sim.model import Member, Queue

#: Every AMI permission class Asterisk knows (manager.c ``perms``), in its order.
ALL_CLASSES: tuple[str, ...] = (
    "system",
    "call",
    "log",
    "verbose",
    "command",
    "agent",
    "user",
    "config",
    "dtmf",
    "reporting",
    "cdr",
    "dialplan",
    "originate",
    "agi",
    "cc",
    "aoc",
    "test",
    "security",
    "message",
)

#: Write classes the ngcc112 daemon needs for the actions it sends.
DAEMON_WRITE: tuple[str, ...] = ("system", "call", "agent", "command", "reporting", "originate")
#: Read classes the daemon asks for.
DAEMON_READ: tuple[str, ...] = ("system", "call", "agent", "dialplan", "user", "reporting", "dtmf")


@dataclass(frozen=True, slots=True)
class AmiUser:
    """One manager.conf account: its secret and its read/write classes."""

    secret: str = field(repr=False)
    read: tuple[str, ...] = DAEMON_READ
    write: tuple[str, ...] = DAEMON_WRITE
    #: The account's manager.conf ``eventfilter`` include rules; empty: every event of its
    #: read classes (Asterisk without filters).
    eventfilter: tuple[EventRule, ...] = ()

    def __post_init__(self) -> None:
        for cls in (*self.read, *self.write):
            if cls not in ALL_CLASSES and cls != "all":
                raise ValueError(f"unknown AMI permission class {cls!r}")


DEFAULT_MODULES: frozenset[str] = frozenset(
    {
        "app_queue.so",
        "app_dial.so",
        "app_read.so",
        "app_stack.so",
        "chan_pjsip.so",
        "res_pjsip.so",
        "func_talkdetect.so",
        "func_callerid.so",
        "res_geolocation.so",
        "res_pjsip_geolocation.so",
        "res_musiconhold.so",
        "pbx_config.so",
    }
)


@dataclass(frozen=True, slots=True)
class StaticMember:
    """A ``member => interface,penalty,name,state_interface`` line of queues.conf."""

    interface: str
    penalty: int = 0
    name: str = ""
    state_interface: str = ""


#: The static members the shipped asterisk-config/queues.conf gives each queue (a test
#: keeps this in step with the file): the supervisors' queue rings the three sample
#: phones without any daemon.
SHIPPED_STATIC_MEMBERS: Mapping[str, tuple[StaticMember, ...]] = MappingProxyType(
    {
        names.SUPERVISOR_QUEUE: tuple(
            StaticMember(names.operator_interface(op), 0, f"Operator {op[2:]}", names.operator_interface(op))
            for op in names.SAMPLE_OPERATORS
        ),
    }
)
#: queues.conf ``strategy`` of each shipped queue.
SHIPPED_STRATEGIES: Mapping[str, str] = MappingProxyType(
    {
        names.OPERATOR_QUEUE: "rrmemory",
        names.SUPERVISOR_QUEUE: "ringall",
    }
)
#: The dialplan flavours: "shipped" (asterisk-config/extensions.conf, the r_ recordings),
#: "final" (the f_..m_ recordings' dialplan-used.conf), "legacy" (the a_..e_ recordings).
FLOWS = ("shipped", "final", "legacy")


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """What the simulated Asterisk looks like (its time is the injected clock's)."""

    host: str = "127.0.0.1"
    #: 0 picks a free port; read it back from :attr:`AmiSimulator.port`.
    port: int = 0
    users: Mapping[str, AmiUser] = field(default_factory=lambda: {names.AMI_USERNAME: AmiUser(secret="ngcc-secret")})
    modules_loaded: frozenset[str] = DEFAULT_MODULES
    queues: tuple[str, ...] = (names.OPERATOR_QUEUE, names.SUPERVISOR_QUEUE)
    #: Operator softphone endpoints and whether each is registered.
    endpoints: Mapping[str, bool] = field(default_factory=lambda: {ep: True for ep in names.SAMPLE_OPERATORS})
    asterisk_version: str = "22.10.1"
    #: manager.conf ``timestampevents``: every event carries ``Timestamp: <epoch.usec>``
    #: right after ``Privilege`` (the shipped manager.conf says yes; the recordings were
    #: made with no).
    timestamp_events: bool = True
    #: Background generated calls per (simulated) minute; 0 disables.
    rate_per_minute: float = 0.0
    seed: int = 112
    #: Dialplan flavour for calls that do not choose (see :data:`FLOWS`).
    flow: str = "shipped"
    #: Queue(…) timeout before overflowing into the supervisor queue, seconds (the
    #: shipped dialplan gives the supervisors' queue the same; the older ones none).
    queue_timeout: float = 60.0
    #: queues.conf static members per queue, loaded at every (re)start.
    static_members: Mapping[str, tuple[StaticMember, ...]] = field(default_factory=lambda: SHIPPED_STATIC_MEMBERS)
    #: queues.conf ``strategy`` per queue ("rrmemory" for any queue not named).
    strategies: Mapping[str, str] = field(default_factory=lambda: SHIPPED_STRATEGIES)
    #: The shipped flow: the silent-call prompt file is installed (its speech lasts
    #: ``prompt_seconds``: asterisk-config/sounds/id/ngcc112-silent-prompt.wav is 3.548 s,
    #: so the Read() phase lasts about 6.5 s); False: the dialplan falls back to a beep.
    prompt_sound: bool = True
    prompt_seconds: float = 3.548
    #: The shipped flow: from ``Answer()`` to the next dialplan step (Asterisk waits
    #: for the answered channel's media), seconds.
    answer_seconds: float = 0.5
    #: ``${ASTDATADIR}``, where the prompt is looked for.
    astdatadir: str = "/var/lib/asterisk"
    #: Member ring timeout and retry pause (queues.conf timeout / retry).
    member_timeout: float = 15.0
    member_retry: float = 2.0
    #: Asterisk's uptime when the simulator starts (FullyBooted Uptime).
    initial_uptime: int = 155

    def __post_init__(self) -> None:
        if self.flow not in FLOWS:
            raise ValueError(f"flow must be one of {', '.join(FLOWS)}")
        if self.rate_per_minute < 0:
            raise ValueError("rate_per_minute must not be negative")


def configured_queues(config: SimulatorConfig, *, login_time: int) -> dict[str, Queue]:
    """The queues of queues.conf as a (re)started Asterisk has them: empty but for their static
    members (dynamic members are gone until added again)."""
    queues: dict[str, Queue] = {}
    for name in config.queues:
        queue = Queue(name, strategy=config.strategies.get(name, "rrmemory"))
        for static in config.static_members.get(name, ()):
            queue.members[static.interface] = Member(
                queue=name,
                interface=static.interface,
                name=static.name or static.interface,
                state_interface=static.state_interface or static.interface,
                penalty=static.penalty,
                paused=False,
                reason="",
                login_time=login_time,
                membership="static",
            )
        queues[name] = queue
    return queues
