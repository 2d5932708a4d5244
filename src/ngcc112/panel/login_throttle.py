"""Password guessing, slowed without letting anyone lock out someone else.

Pure bookkeeping on an injected clock (no I/O): :mod:`ngcc112.panel.auth` asks it
before each password check and tells it the outcome.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def _address_key(address: str) -> str:
    """One key per client: an IPv4 address, or an IPv6 /64 (one host's usual share)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(slots=True)
class _Pair:
    """One username from one address."""

    failures: list[float] = field(default_factory=list)
    pending: int = 0
    strikes: int = 0
    locked_until: float = -math.inf


@dataclass(slots=True)
class _Address:
    failures: deque[float]
    pending: int = 0


class LoginThrottle:
    """Slows password guessing without letting anyone lock out someone else.

    * per (username, address): after ``limit`` failures within ``window`` seconds that pair
      waits ``lockout`` seconds, doubling with each further lock up to ``max_lockout``
      (the count starts again after ``forget`` quiet seconds, or at a success);
    * per address: after ``address_limit`` failures within ``address_window`` seconds,
      whatever the usernames, the address waits until the oldest of them is that old.

    Attempts in flight count as failures until they are settled, so a burst cannot slip
    past the limits. Keys are bounded (``max_tracked`` of each; idle ones go first).
    """

    #: What an attempt waits while earlier ones from the same place are still being checked.
    IN_FLIGHT_WAIT = 1.0
    _MAX_STRIKES = 16

    def __init__(
        self,
        *,
        limit: int = 5,
        window: float = 300.0,
        lockout: float = 60.0,
        max_lockout: float = 900.0,
        forget: float = 3600.0,
        address_limit: int = 20,
        address_window: float = 300.0,
        max_tracked: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.lockout, self.max_lockout = limit, window, lockout, max_lockout
        self.forget, self.address_limit, self.address_window = forget, address_limit, address_window
        self.max_tracked, self._clock = max_tracked, clock
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._addresses: dict[str, _Address] = {}

    @staticmethod
    def _keys(username: str, address: str) -> tuple[tuple[str, str], str]:
        where = _address_key(address)
        return (username.strip().lower()[:64], where), where

    def _pair_wait(self, pair: _Pair | None, now: float) -> float:
        if pair is None:
            return 0.0
        if pair.locked_until > now:
            return pair.locked_until - now
        recent = sum(1 for t in pair.failures if now - t < self.window)
        return self.IN_FLIGHT_WAIT if recent + pair.pending >= self.limit else 0.0

    def _address_wait(self, entry: _Address | None, now: float) -> float:
        if entry is None:
            return 0.0
        while entry.failures and now - entry.failures[0] >= self.address_window:
            entry.failures.popleft()
        if len(entry.failures) >= self.address_limit:
            return entry.failures[-self.address_limit] + self.address_window - now
        if len(entry.failures) + entry.pending >= self.address_limit:
            return self.IN_FLIGHT_WAIT
        return 0.0

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until ``username`` may try again from ``address``; 0 when it may try now."""
        pair_key, where = self._keys(username, address)
        now = self._clock()
        return max(self._pair_wait(self._pairs.get(pair_key), now), self._address_wait(self._addresses.get(where), now))

    def admit(self, username: str, address: str) -> float:
        """0 and the attempt is counted in flight (settle it with :meth:`settle`), or the
        seconds to wait before trying again."""
        wait = self.retry_after(username, address)
        if wait > 0:
            return wait
        pair_key, where = self._keys(username, address)
        pair = self._pairs.pop(pair_key, None) or _Pair()
        self._pairs[pair_key] = pair  # newest last: the oldest go first when bounding
        pair.pending += 1
        entry = self._addresses.pop(where, None) or _Address(deque(maxlen=self.address_limit))
        self._addresses[where] = entry
        entry.pending += 1
        self._bound()
        return 0.0

    def settle(self, username: str, address: str, succeeded: bool | None) -> float:
        """The attempt's outcome: True right, False wrong, None no verdict (busy, an error).
        Returns the lock that a wrong password started (seconds), else 0."""
        pair_key, where = self._keys(username, address)
        now = self._clock()
        pair, entry = self._pairs.get(pair_key), self._addresses.get(where)
        locked = 0.0
        if entry is not None:
            entry.pending = max(0, entry.pending - 1)
            if succeeded is False:
                entry.failures.append(now)
        if pair is not None:
            pair.pending = max(0, pair.pending - 1)
            if succeeded:
                pair.failures, pair.strikes, pair.locked_until = [], 0, -math.inf
            elif succeeded is False:
                pair.failures = [t for t in pair.failures if now - t < self.window] + [now]
                if len(pair.failures) >= self.limit:
                    if now - pair.locked_until >= self.forget:
                        pair.strikes = 0
                    pair.strikes = min(pair.strikes + 1, self._MAX_STRIKES)
                    locked = min(self.lockout * 2 ** (pair.strikes - 1), self.max_lockout)
                    pair.locked_until = now + locked
                    pair.failures = []
        self._drop_idle(pair_key, where, now)
        return locked

    def _pair_idle(self, pair: _Pair, now: float) -> bool:
        return (
            pair.pending == 0
            and now - pair.locked_until >= self.forget
            and not any(now - t < self.window for t in pair.failures)
        )

    def _address_idle(self, entry: _Address, now: float) -> bool:
        return entry.pending == 0 and not any(now - t < self.address_window for t in entry.failures)

    def _drop_idle(self, pair_key: tuple[str, str], where: str, now: float) -> None:
        pair, entry = self._pairs.get(pair_key), self._addresses.get(where)
        if pair is not None and self._pair_idle(pair, now):
            del self._pairs[pair_key]
        if entry is not None and self._address_idle(entry, now):
            del self._addresses[where]

    def _bound(self) -> None:
        now = self._clock()
        _forget_when_full(self._pairs, self._pair_idle, now, self.max_tracked)
        _forget_when_full(self._addresses, self._address_idle, now, self.max_tracked)

    def tracked(self) -> tuple[int, int]:
        """How many (username, address) pairs and addresses are remembered now."""
        return len(self._pairs), len(self._addresses)


def _forget_when_full(entries: dict[K, V], idle: Callable[[V, float], bool], now: float, most: int) -> None:
    """Over ``most`` entries: forget the idle ones, then (still full) the least recently tried,
    keeping a tenth free so this is rare."""
    if len(entries) <= most:
        return
    for key in [k for k, v in entries.items() if idle(v, now)]:
        del entries[key]
    for key in list(entries)[: max(0, len(entries) - most * 9 // 10)]:
        del entries[key]
