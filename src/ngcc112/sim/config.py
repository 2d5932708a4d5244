"""Configuration of the AMI simulator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ngcc112 import names

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
class SimulatorConfig:
    """What the simulated Asterisk looks like (its time is the injected clock's)."""

    host: str = "127.0.0.1"
    #: 0 picks a free port; read it back from :attr:`AmiSimulator.port`.
    port: int = 0
    users: Mapping[str, AmiUser] = field(
        default_factory=lambda: {names.AMI_USERNAME: AmiUser(secret="ngcc-secret")}
    )
    modules_loaded: frozenset[str] = DEFAULT_MODULES
    queues: tuple[str, ...] = (names.OPERATOR_QUEUE, names.SUPERVISOR_QUEUE)
    #: Operator softphone endpoints and whether each is registered.
    endpoints: Mapping[str, bool] = field(
        default_factory=lambda: {ep: True for ep in names.SAMPLE_OPERATORS}
    )
    asterisk_version: str = "22.10.1"
    #: manager.conf ``timestampevents``: every event carries ``Timestamp: <epoch.usec>``
    #: right after ``Privilege`` (the shipped manager.conf says yes; the recordings were
    #: made with no).
    timestamp_events: bool = True
    #: Deprecated, for callers not yet on an injected clock: with no ``clock`` given,
    #: :class:`~ngcc112.sim.server.AmiSimulator` runs its timers this many times faster
    #: than the host's clock (:class:`~ngcc112.clock.ScaledClock`). Pass a
    #: :class:`~ngcc112.clock.VirtualClock` instead.
    speed: float = 1.0
    #: Background generated calls per (simulated) minute; 0 disables.
    rate_per_minute: float = 0.0
    seed: int = 112
    #: Dialplan flavour for calls that do not choose: "final" or "legacy".
    flow: str = "final"
    #: Queue(…) timeout before overflowing into the supervisor queue, seconds.
    queue_timeout: float = 60.0
    #: Member ring timeout and retry pause (queues.conf timeout / retry).
    member_timeout: float = 15.0
    member_retry: float = 2.0
    #: Asterisk's uptime when the simulator starts (FullyBooted Uptime).
    initial_uptime: int = 155

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        if self.flow not in ("final", "legacy"):
            raise ValueError("flow must be 'final' or 'legacy'")
        if self.rate_per_minute < 0:
            raise ValueError("rate_per_minute must not be negative")
