"""How much one AML sender may post: messages a minute and stored bytes an hour.

Two token buckets per key (a sender's name, or a refused client's address):
each starts full (a minute's messages, an hour's bytes) and refills evenly, so
a burst up to the budget passes and a steady flood is held to the rate. Time
is an injected monotonic clock; the number of keys tracked is bounded (the
least recently seen is forgotten first, which only ever gives it a fresh budget).
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Keys tracked at most; a flood from many addresses cannot grow memory past this.
MAX_KEYS = 10_000
#: An IPv6 client owns at least a /64: its addresses share one budget.
IPV6_PREFIX = 64


@dataclass(frozen=True, slots=True)
class Budget:
    messages_per_minute: int
    bytes_per_hour: int

    def __post_init__(self) -> None:
        if self.messages_per_minute < 1 or self.bytes_per_hour < 1:
            raise ValueError(f"an AML budget must be positive, got {self}")


@dataclass(slots=True)
class _Buckets:
    messages: float
    bytes: float
    at: float


class Throttle:
    """Per-key budgets: :meth:`wait` asks, :meth:`take` spends."""

    def __init__(self, budget: Budget, monotonic: Callable[[], float], max_keys: int = MAX_KEYS) -> None:
        self.budget = budget
        self._monotonic = monotonic
        self._max_keys = max(1, max_keys)
        self._keys: OrderedDict[str, _Buckets] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def wait(self, key: str, size: int) -> float:
        """Seconds until ``key`` may store one more message of ``size`` bytes (0: now)."""
        buckets = self._refilled(key)
        size = min(size, self.budget.bytes_per_hour)  # larger: it waits for a full hour's budget
        message_rate = self.budget.messages_per_minute / 60.0
        byte_rate = self.budget.bytes_per_hour / 3600.0
        return max(0.0, (1.0 - buckets.messages) / message_rate, (size - buckets.bytes) / byte_rate)

    def take(self, key: str, size: int) -> None:
        """Spend one message and ``size`` bytes of ``key``'s budget."""
        buckets = self._refilled(key)
        buckets.messages -= 1.0
        buckets.bytes -= min(size, self.budget.bytes_per_hour)

    def _refilled(self, key: str) -> _Buckets:
        now = self._monotonic()
        buckets = self._keys.get(key)
        if buckets is None:
            buckets = _Buckets(float(self.budget.messages_per_minute), float(self.budget.bytes_per_hour), now)
            self._keys[key] = buckets
            while len(self._keys) > self._max_keys:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        elapsed = max(0.0, now - buckets.at)
        buckets.messages = min(
            float(self.budget.messages_per_minute), buckets.messages + elapsed * self.budget.messages_per_minute / 60.0
        )
        buckets.bytes = min(
            float(self.budget.bytes_per_hour), buckets.bytes + elapsed * self.budget.bytes_per_hour / 3600.0
        )
        buckets.at = now
        return buckets


def address_key(address: str) -> str:
    """The budget key of a client address: itself (IPv4), its /64 (IPv6)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def retry_after(seconds: float) -> int:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))
