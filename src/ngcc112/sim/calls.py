"""What a simulated caller does, and the handle a placed call returns."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from ngcc112 import names

#: Caller-ID presentations as ``CALLERID(pres)`` reads them.
PRES_ALLOWED = "allowed_not_screened"
PRES_WITHHELD = "prohib_not_screened"
PRES_UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class TalkBurst:
    """The caller speaks for ``seconds``, starting ``at`` seconds after answer.

    ``silence_after``: the caller then sends silent audio, so TALK_DETECT
    reports ``ChannelTalkingStop`` 2.5 s later; with ``False`` the audio just
    stops and no Stop ever comes (``f_talk_detect_no_stop``).
    """

    at: float
    seconds: float
    silence_after: bool = True


@dataclass(frozen=True, slots=True)
class Location:
    """A SIP Geolocation header with a PIDF-LO body, as res_geolocation reads it."""

    header: str = "<cid:ngcc-loc-1@caller1.ngcc.test>"
    routing: str = "yes"
    format: str = "GML"
    location: str = 'shape="Circle",crs="2d",pos="-6.2000 106.8166",radius="50"'
    effective: str = ""
    method: str = "GPS"
    element: str = "device"
    element_id: str = "ngcc-dev-1"
    device_id: str = "mac:00112233445a"
    confidence: str = 'pdf="normal",value="95"'
    routing_use: str = "yes"
    usage: str = 'retransmission-allowed="false",retention-expiry="2030-01-01T00:00:00Z"'
    reference: str = ""
    source: str = ""
    profile_id: str = "sip:caller1@127.0.0.1"

    @classmethod
    def circle(cls, lat: float, lon: float, radius: int = 50, confidence: int = 95) -> Location:
        shape = f'shape="Circle",crs="2d",pos="{lat:.4f} {lon:.4f}",radius="{radius}"'
        return cls(location=shape, confidence=f'pdf="normal",value="{confidence}"')


@dataclass(frozen=True, slots=True)
class CallScript:
    """One simulated caller.

    Times are seconds on the simulator's clock.
    ``hangup_after`` counts from the moment Asterisk answers (like sipp's
    "BYE N s after 200 OK"); ``None`` means the caller never hangs up and the
    call ends when the operator hangs up.
    """

    number: str = "08123456789"
    #: The caller's name as the caller sent it (a SIP caller: the display name with
    #: its quoting undone); Asterisk holds and shows it its own way (see ``caller_id``).
    name: str = ""
    #: "allowed" (default), "withheld" (Privacy: id; the number is still shown)
    #: or "anonymous" (PAI anonymous@anonymous.invalid).
    presentation: str = "allowed"
    #: "PJSIP" (a SIP caller on a trunk endpoint) or "Local" (AMI Originate).
    kind: str = "PJSIP"
    #: The caller's PJSIP endpoint (channel name ``PJSIP/<endpoint>-0000000N``).
    endpoint: str = "caller1"
    #: The number dialled: 112 or another emergency number (NGCC_CATEGORY).
    exten: str = names.EMERGENCY_EXTEN
    #: "shipped" (asterisk-config/extensions.conf: the r_ recordings), "final"
    #: (TALK_DETECT, CID pres, ngcc-geo, beep Read prompt, Queue: the f_..m_ recordings)
    #: or "legacy" (Answer then Queue: the a_..e_ recordings); None: the simulator's.
    flow: str | None = None
    talk: tuple[TalkBurst, ...] = ()
    #: A digit pressed during the silent-call prompt, ``dtmf_at`` s after answer.
    dtmf: str | None = None
    dtmf_at: float = 1.0
    #: How long the key is held, in ms; None: as recorded (Local SendDTMF 250,
    #: SIP RFC 4733 10-packet event 280).
    dtmf_ms: int | None = None
    location: Location | None = None
    hangup_after: float | None = 30.0
    #: Local callers: the Originate Application and Data the caller half runs.
    local_application: str = "Wait"
    #: Local callers: run ``ngcc-test,<exten>`` instead of an application
    #: ("talk", "dtmf5", "wait"), as the f_/g_ recordings did.
    local_exten: str | None = None
    variables: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.presentation not in ("allowed", "withheld", "anonymous"):
            raise ValueError("presentation must be 'allowed', 'withheld' or 'anonymous'")
        if self.kind not in ("PJSIP", "Local"):
            raise ValueError("kind must be 'PJSIP' or 'Local'")
        if self.exten not in names.EMERGENCY_NUMBERS:
            raise ValueError(f"{self.exten!r} is not an emergency number")
        if self.flow not in (None, "shipped", "final", "legacy"):
            raise ValueError("flow must be 'shipped', 'final', 'legacy' or None")
        if self.dtmf is not None and (len(self.dtmf) != 1 or self.dtmf not in "0123456789*#"):
            raise ValueError("dtmf must be one digit")
        for value in (self.number, self.name):
            if "\r" in value or "\n" in value:
                raise ValueError("caller ID must not contain a line break")

    # -- scenario helpers ---------------------------------------------------

    @classmethod
    def answered(cls, number: str = "5550101", name: str = "Anrufer Eins", **kw: object) -> CallScript:
        """A caller who talks and stays until the operator ends the call."""
        kw.setdefault("talk", (TalkBurst(at=4.0, seconds=3.0),))
        kw.setdefault("hangup_after", None)
        return cls(number=number, name=name, **kw)  # type: ignore[arg-type]

    @classmethod
    def abandon_in_queue(cls, number: str = "5550202", name: str = "", after: float = 9.0, **kw: object) -> CallScript:
        return cls(number=number, name=name, hangup_after=after, **kw)  # type: ignore[arg-type]

    @classmethod
    def ghost(cls, number: str = "5550303", name: str = "Ghost", after: float = 8.0, **kw: object) -> CallScript:
        """A silent call that reaches the queue and hangs up without a word."""
        return cls(number=number, name=name, hangup_after=after, **kw)  # type: ignore[arg-type]

    @classmethod
    def ghost_in_prompt(
        cls, number: str = "5551301", name: str = "Hantu Senyap", after: float = 1.2, **kw: object
    ) -> CallScript:
        """Hangs up during the silent-call prompt: never queued (m_ghost_in_prompt)."""
        return cls(number=number, name=name, hangup_after=after, **kw)  # type: ignore[arg-type]

    @classmethod
    def silent_pressing(
        cls,
        digit: str = names.SILENT_DIGIT,
        number: str = "5550702",
        name: str = "Stiller SIP",
        after: float = 8.0,
        **kw: object,
    ) -> CallScript:
        """A caller who cannot speak and presses 5 during the prompt."""
        return cls(number=number, name=name, dtmf=digit, hangup_after=after, **kw)  # type: ignore[arg-type]

    @classmethod
    def with_location(
        cls, number: str = "5551201", name: str = "Lokasi Test", location: Location | None = None, **kw: object
    ) -> CallScript:
        kw.setdefault("hangup_after", 6.5)
        return cls(number=number, name=name, location=location or Location(), **kw)  # type: ignore[arg-type]

    @classmethod
    def prank_repeats(cls, count: int, number: str = "081299990000", **kw: object) -> list[CallScript]:
        """The same number calling ``count`` times (each call a short one)."""
        kw.setdefault("hangup_after", 5.0)
        return [cls(number=number, **kw) for _ in range(count)]  # type: ignore[arg-type]

    @classmethod
    def surge(cls, count: int, first_number: int = 5551001, **kw: object) -> list[CallScript]:
        """``count`` different callers at once (e_ten_concurrent)."""
        return [cls(number=str(first_number + i), **kw) for i in range(count)]  # type: ignore[arg-type]

    def with_(self, **changes: object) -> CallScript:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(eq=False)
class PlacedCall:
    """A call the simulator is running; await :attr:`ended` or :meth:`wait`."""

    script: CallScript
    channel: str = ""
    uniqueid: str = ""
    linkedid: str = ""
    #: How it ended: "answered", "abandoned", "prompt", "withdrawn" (the older
    #: dialplans only: the shipped one takes a withdrawn caller to the next queue),
    #: "hangup", "restart", "failed".
    outcome: str = ""
    answered_by: str = ""
    ended: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    async def wait(self, timeout: float | None = None) -> str:
        return await asyncio.wait_for(asyncio.shield(self.ended), timeout)

    def _finish(self, outcome: str) -> None:
        if not self.outcome:
            self.outcome = outcome
        if not self.ended.done():
            self.ended.set_result(self.outcome)
