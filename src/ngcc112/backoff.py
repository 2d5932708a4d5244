"""How long to wait before the next try: capped exponential backoff with jitter. Pure; no sleeping.

Every retry loop of the daemon (the AMI reconnect, the ticket writer, triage's saves,
the AML spool) takes its delays from one :class:`Backoff` and sleeps them its own way
(an injected ``sleep``, an event's timeout), so a test fires the waits without real time.
Jitter takes up to ``jitter`` (a fraction) off each delay, so retries against a database
that is back do not all land at the same moment; ``rand`` is injectable for tests.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


def capped_delay(attempt: int, first: float, cap: float) -> float:
    """The delay before try ``attempt + 1`` without jitter: first, 2·first, 4·first … cap."""
    return min(cap, first * 2.0 ** min(max(0, attempt), 64))


@dataclass(slots=True)
class Backoff:
    """The delays of one retry loop: :meth:`next` after each failure, :meth:`reset` after a success."""

    first: float
    cap: float
    #: The fraction (0 to 1) a delay may be shortened by at random.
    jitter: float = 0.2
    rand: Callable[[], float] = field(default=random.random, repr=False)
    #: Failures since the last success.
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.cap:
            raise ValueError(f"backoff needs 0 < first <= cap, got {self.first} and {self.cap}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"backoff jitter is a fraction from 0 to 1, got {self.jitter}")

    def next(self) -> float:
        """The wait before the next try; the following one is twice as long, up to the cap."""
        delay = capped_delay(self.attempt, self.first, self.cap)
        self.attempt += 1
        return delay * (1.0 - self.jitter * self.rand())

    def reset(self) -> None:
        self.attempt = 0

    @property
    def at_cap(self) -> bool:
        """The last delay was already the longest (time to say it louder)."""
        return self.attempt > 0 and capped_delay(self.attempt - 1, self.first, self.cap) >= self.cap
