"""What is known of a live call and of its number's earlier calls.

The call tracker and the ticket store fill these in; scoring only reads them.
All times are timezone-aware datetimes (a naive one is refused at once, rather
than failing later in a comparison in the middle of a call).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

#: The operator's verdict on a call (the SOP's four classes).
Verdict = Literal["normal", "ghost", "prank", "information"]
VERDICTS: tuple[Verdict, ...] = ("normal", "ghost", "prank", "information")

#: Caller numbers Asterisk reports when there is no usable number (fact 7:
#: an empty caller ID reads ``<unknown>``; ``Privacy: id`` callers may arrive as
#: ``anonymous``).
_MISSING_NUMBERS = frozenset({"", "<unknown>", "unknown", "anonymous", "restricted", "private"})


def is_missing_number(number: str) -> bool:
    """True when ``number`` carries no usable caller number."""
    return number.strip().lower() in _MISSING_NUMBERS


def is_withheld_presentation(presentation: str) -> bool:
    """True when Asterisk's ``CALLERID(pres)`` (``NGCC_CID_PRES``) withholds the number.

    The number itself still shows in every AMI event (fact 7); only the
    presentation says it is withheld: ``prohib_not_screened``, ``prohib`` ...
    """
    return presentation.strip().lower().startswith("prohib")


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True, slots=True)
class TalkSpan:
    """One stretch of caller speech seen by TALK_DETECT.

    ``duration`` is None when no ``ChannelTalkingStop`` came: Stop needs 2.5 s of
    received silence, so a caller whose audio simply stops, or who hangs up
    while talking, never gets one (fact 2).
    """

    started_at: datetime
    duration: timedelta | None = None

    def __post_init__(self) -> None:
        _require_aware("TalkSpan.started_at", self.started_at)
        if self.duration is not None and self.duration < timedelta(0):
            raise ValueError(f"TalkSpan.duration must not be negative, got {self.duration}")


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What is known of one call so far.

    ``answered_at`` is the system's answer (the dialplan's ``Answer``), before
    the silent-call prompt; ``operator_answered_at`` is ``AgentConnect``.
    ``silent_digit`` is ``NGCC_SILENT_DIGIT`` ("5": the caller cannot speak).
    """

    arrived_at: datetime
    caller_number: str = ""
    caller_name: str = ""
    presentation_withheld: bool = False
    answered_at: datetime | None = None
    queued_at: datetime | None = None
    operator_answered_at: datetime | None = None
    ended_at: datetime | None = None
    talk: tuple[TalkSpan, ...] = ()
    silent_digit: str | None = None
    silent_digit_at: datetime | None = None
    hung_up_in_prompt: bool = False
    category: str = ""

    def __post_init__(self) -> None:
        for name in (
            "arrived_at",
            "answered_at",
            "queued_at",
            "operator_answered_at",
            "ended_at",
            "silent_digit_at",
        ):
            _require_aware(f"CallFacts.{name}", getattr(self, name))
        if not all(isinstance(span, TalkSpan) for span in self.talk):
            raise ValueError("CallFacts.talk must hold TalkSpan values")

    @property
    def number_missing(self) -> bool:
        """No usable caller number (``<unknown>``, empty, ``anonymous``)."""
        return is_missing_number(self.caller_number)

    @property
    def reached_queue(self) -> bool:
        return self.queued_at is not None

    @property
    def first_talk_at(self) -> datetime | None:
        """When the caller first spoke, if ever."""
        return min((span.started_at for span in self.talk), default=None)

    def talk_started(self, at: datetime) -> CallFacts:
        """These facts after a ``ChannelTalkingStart`` at ``at``."""
        return replace(self, talk=(*self.talk, TalkSpan(at)))

    def talk_stopped(self, at: datetime, duration: timedelta) -> CallFacts:
        """These facts after a ``ChannelTalkingStop`` at ``at`` (``Duration`` ms as a timedelta).

        It closes the latest open span. A Stop with no open span (the tracker
        missed the Start, e.g. it reconnected mid-call) still proves speech: it
        adds the span that ended at ``at``.
        """
        for index in range(len(self.talk) - 1, -1, -1):
            if self.talk[index].duration is None:
                closed = replace(self.talk[index], duration=duration)
                return replace(self, talk=(*self.talk[:index], closed, *self.talk[index + 1 :]))
        return replace(self, talk=(*self.talk, TalkSpan(at - duration, duration)))


@dataclass(frozen=True, slots=True)
class PastCall:
    """One earlier call from the same number, as the ticket store remembers it."""

    arrived_at: datetime
    answered_by_operator: bool = False
    duration: timedelta | None = None
    ended_before_answer: bool = False
    verdict: Verdict | None = None

    def __post_init__(self) -> None:
        _require_aware("PastCall.arrived_at", self.arrived_at)
        if self.verdict is not None and self.verdict not in VERDICTS:
            raise ValueError(f"PastCall.verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass(frozen=True, slots=True)
class BlocklistEntry:
    """A supervisor's note that a number misuses 112.

    Despite the name it blocks nothing: it is one more piece of prank evidence
    for the score, which at most lowers the call's queue priority.
    """

    reason: str
    added_by: str
    added_at: datetime
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("BlocklistEntry.added_at", self.added_at)
        _require_aware("BlocklistEntry.expires_at", self.expires_at)

    def active_at(self, now: datetime) -> bool:
        """In force at ``now``: added by then and not yet expired."""
        return self.added_at <= now and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class CallerHistory:
    """This number's earlier calls and blocklist entries.

    It may include the current call or later ones: scoring ignores them.
    """

    calls: tuple[PastCall, ...] = ()
    blocklist: tuple[BlocklistEntry, ...] = ()

    def __post_init__(self) -> None:
        if not all(isinstance(call, PastCall) for call in self.calls):
            raise ValueError("CallerHistory.calls must hold PastCall values")
        if not all(isinstance(entry, BlocklistEntry) for entry in self.blocklist):
            raise ValueError("CallerHistory.blocklist must hold BlocklistEntry values")


NO_HISTORY = CallerHistory()
