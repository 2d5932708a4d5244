"""How much one AML sender may post: messages a minute, stored bytes an hour, bounded memory."""

from __future__ import annotations

import pytest

from ngcc112.location.throttle import Budget, Throttle, address_key, retry_after


class Monotonic:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def spend(throttle: Throttle, key: str, size: int) -> float:
    """Like the guard: ask, and spend only when it may go now."""
    wait = throttle.wait(key, size)
    if wait == 0:
        throttle.take(key, size)
    return wait


def test_a_minutes_messages_pass_then_the_next_waits_for_its_share() -> None:
    clock = Monotonic()
    throttle = Throttle(Budget(messages_per_minute=120, bytes_per_hour=10**9), clock)
    assert all(spend(throttle, "sender:gw", 100) == 0 for _ in range(120))
    assert spend(throttle, "sender:gw", 100) == pytest.approx(0.5)  # 120 a minute: one every 0.5 s
    clock.now += 0.5
    assert spend(throttle, "sender:gw", 100) == 0
    assert spend(throttle, "sender:gw", 100) > 0


def test_an_hours_bytes_pass_then_the_next_waits_until_enough_have_refilled() -> None:
    clock = Monotonic()
    throttle = Throttle(Budget(messages_per_minute=10**6, bytes_per_hour=3600 * 100), clock)
    assert spend(throttle, "address:203.0.113.9", 3600 * 100) == 0
    assert spend(throttle, "address:203.0.113.9", 1000) == pytest.approx(10.0)  # 100 bytes a second
    clock.now += 10
    assert spend(throttle, "address:203.0.113.9", 1000) == 0


def test_a_message_larger_than_the_whole_budget_waits_for_a_full_budget() -> None:
    clock = Monotonic()
    throttle = Throttle(Budget(messages_per_minute=60, bytes_per_hour=3600), clock)
    assert spend(throttle, "k", 10**6) == 0
    assert spend(throttle, "k", 10**6) == pytest.approx(3600)


def test_senders_have_their_own_budgets() -> None:
    throttle = Throttle(Budget(messages_per_minute=1, bytes_per_hour=10**6), Monotonic())
    assert spend(throttle, "sender:a", 1) == 0
    assert spend(throttle, "sender:a", 1) > 0
    assert spend(throttle, "sender:b", 1) == 0


def test_memory_is_bounded_and_the_least_recent_key_is_forgotten() -> None:
    throttle = Throttle(Budget(messages_per_minute=1, bytes_per_hour=10**6), Monotonic(), max_keys=3)
    for key in ("a", "b", "c"):
        spend(throttle, key, 1)
    spend(throttle, "a", 1)  # a was seen again: b is now the oldest
    spend(throttle, "d", 1)
    assert len(throttle) == 3
    assert spend(throttle, "a", 1) > 0  # still remembered: still out of budget
    assert spend(throttle, "b", 1) == 0  # forgotten: a fresh budget


def test_a_clock_going_back_refills_nothing() -> None:
    clock = Monotonic()
    throttle = Throttle(Budget(messages_per_minute=1, bytes_per_hour=10**6), clock)
    spend(throttle, "k", 1)
    clock.now -= 100  # a monotonic clock never does this; if it did, no budget is made up
    assert spend(throttle, "k", 1) > 0


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Budget(messages_per_minute=0, bytes_per_hour=1)


@pytest.mark.parametrize("address, key", [
    ("203.0.113.9", "203.0.113.9"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::7", "2001:db8:1:2::/64"),
    ("", "unknown"),
    ("not an address", "not an address"),
])
def test_an_ipv6_client_shares_one_budget_for_its_slash_64(address, key) -> None:
    assert address_key(address) == key


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(x) for x in (0.01, 0.5, 1.0, 1.2, 59.9)] == [1, 1, 1, 2, 60]
