"""Password guessing is slowed per (username, address) and per address, never at someone else's
desk (issue 11.4); argon2 runs on bounded worker threads and refuses when too many wait (11.3)."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

from ngcc112.panel.auth import PASSWORDS, THROTTLE
from ngcc112.panel.login_throttle import LoginThrottle
from ngcc112.tickets.passwords import PasswordWork, PasswordWorkBusy
from ngcc112.tickets.users import authenticate

DESK_A, DESK_B = "198.51.100.10", "203.0.113.20"


@pytest.fixture
async def panel(aiohttp_client, services, panel_app):
    """Another panel client; ``panel(throttle=..., passwords=...)`` with its own throttle or workers."""

    async def make(throttle: LoginThrottle | None = None, passwords: PasswordWork | None = None):
        app = panel_app(services)
        if throttle is not None:
            app[THROTTLE] = throttle
        if passwords is not None:
            app[PASSWORDS] = passwords
        return await aiohttp_client(app)

    return make


async def try_login(client, username: str, password: str, address: str):
    token = (await (await client.get("/api/session")).json())["csrf_token"]
    return await client.post("/api/session", json={"username": username, "password": password},
                             headers={"X-CSRF-Token": token, "X-Forwarded-For": address})


async def test_fifty_wrong_passwords_from_one_address_cannot_lock_the_operator_out_elsewhere(client):
    statuses = [(await try_login(client, "op1", f"guess-{n}-wrong", DESK_A)).status for n in range(50)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    # the guesser's address: locked for op1, the right password too, with a clear Retry-After
    locked = await try_login(client, "op1", "op1-demo-112", DESK_A)
    assert locked.status == 429
    assert 50 <= int(locked.headers["Retry-After"]) <= 60
    assert (await locked.json())["error"].startswith("Terlalu banyak percobaan gagal")
    # the operator at their own desk logs in at once; other users at the guesser's address too
    assert (await try_login(client, "op1", "op1-demo-112", DESK_B)).status == 200
    assert (await try_login(client, "op2", "op2-demo-112", DESK_A)).status == 200


async def test_the_login_form_says_so_with_retry_after(client):
    for n in range(5):
        assert (await try_login(client, "op1", f"guess-{n}-wrong", DESK_A)).status == 401
    html = await (await client.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    page = await client.post("/login", data={"username": "op1", "password": "op1-demo-112", "csrf_token": token},
                             headers={"X-Forwarded-For": DESK_A})
    assert page.status == 429 and page.headers["Retry-After"].isdigit()
    assert "Terlalu banyak percobaan gagal" in await page.text()


async def test_an_address_guessing_many_usernames_waits(panel):
    client = await panel(throttle=LoginThrottle(address_limit=3, address_window=300))
    for name in ("alpha", "bravo", "charlie"):
        assert (await try_login(client, name, "guess-wrong-1", DESK_A)).status == 401
    refused = await try_login(client, "op2", "op2-demo-112", DESK_A)
    assert refused.status == 429 and 290 <= int(refused.headers["Retry-After"]) <= 300
    assert (await try_login(client, "op2", "op2-demo-112", DESK_B)).status == 200


async def test_too_many_waiting_password_checks_are_refused_at_once(panel):
    work = PasswordWork(workers=1, max_waiting=0)
    client = await panel(passwords=work)
    release = threading.Event()
    holding = asyncio.ensure_future(work.run(release.wait, 30))  # the only worker is busy
    await until(lambda: work.in_flight == 1)
    try:
        busy = await try_login(client, "op1", "op1-demo-112", DESK_B)
        assert busy.status == 429 and busy.headers["Retry-After"] == "5"
        assert (await busy.json())["error"].startswith("Terlalu banyak percobaan masuk bersamaan")
    finally:
        release.set()
        await holding
        work.close()
    # a refusal for being busy is no failed attempt: op1 is not one step nearer a lock
    assert client.server.app[THROTTLE].tracked() == (0, 0)
    assert (await try_login(client, "op1", "op1-demo-112", DESK_B)).status == 200


async def until(condition, seconds: float = 30.0) -> None:
    """Wait for ``condition()``; a generous bound only against a hang."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.001)


# -- the throttle on its own, with an injected clock ----------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, username: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        assert throttle.admit(username, address) == 0
        throttle.settle(username, address, False)


def test_the_lock_backs_off_doubling_to_a_cap_and_a_success_resets_it():
    clock = Clock()
    throttle = LoginThrottle(limit=5, window=300, lockout=60, max_lockout=900, clock=clock)
    waits = []
    for _ in range(6):
        fail(throttle, "op1", DESK_A, 5)
        waits.append(throttle.retry_after("op1", DESK_A))
        clock.now += waits[-1]
        assert throttle.retry_after("op1", DESK_A) == 0
    assert waits == [60, 120, 240, 480, 900, 900]
    assert throttle.admit("op1", DESK_A) == 0
    throttle.settle("op1", DESK_A, True)
    fail(throttle, "op1", DESK_A, 5)
    assert throttle.retry_after("op1", DESK_A) == 60


def test_the_backoff_is_forgotten_after_a_quiet_hour():
    clock = Clock()
    throttle = LoginThrottle(limit=2, lockout=60, forget=3600, clock=clock)
    fail(throttle, "op1", DESK_A, 2)
    clock.now += 60
    fail(throttle, "op1", DESK_A, 2)
    assert throttle.retry_after("op1", DESK_A) == 120
    clock.now += 120 + 3600
    fail(throttle, "op1", DESK_A, 2)
    assert throttle.retry_after("op1", DESK_A) == 60


def test_the_address_budget_counts_every_username_and_ages_out():
    clock = Clock()
    throttle = LoginThrottle(address_limit=20, address_window=300, clock=clock)
    for n in range(20):
        fail(throttle, f"user{n}", DESK_A)
        clock.now += 1
    assert throttle.retry_after("op1", DESK_A) == 300 - 20
    assert throttle.retry_after("op1", DESK_B) == 0
    clock.now += 300 - 20
    assert throttle.retry_after("op1", DESK_A) == 0


def test_attempts_in_flight_count_so_a_burst_cannot_slip_past():
    throttle = LoginThrottle(limit=5, address_limit=20, clock=Clock())
    assert [throttle.admit("op1", DESK_A) for _ in range(6)] == [0] * 5 + [LoginThrottle.IN_FLIGHT_WAIT]
    for _ in range(5):
        throttle.settle("op1", DESK_A, None)  # no verdict (busy, an error): nothing counted
    assert throttle.retry_after("op1", DESK_A) == 0 and throttle.tracked() == (0, 0)
    burst = [throttle.admit(f"user{n}", DESK_B) for n in range(21)]
    assert burst[:20] == [0] * 20 and burst[20] == LoginThrottle.IN_FLIGHT_WAIT


def test_an_ipv6_host_is_one_address_across_its_64():
    throttle = LoginThrottle(address_limit=3, clock=Clock())
    for n in range(3):
        fail(throttle, f"user{n}", f"2001:db8:1:2::{n + 1}")
    assert throttle.retry_after("someone", "2001:db8:1:2:ffff::9") > 0
    assert throttle.retry_after("someone", "2001:db8:1:3::1") == 0
    fail(LoginThrottle(address_limit=1, clock=Clock()), "x", "::ffff:192.0.2.1")


def test_memory_stays_bounded_under_a_spray():
    clock = Clock()
    throttle = LoginThrottle(limit=5, address_limit=20, max_tracked=100, clock=clock)
    for n in range(5000):
        fail(throttle, f"user{n}", f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    pairs, addresses = throttle.tracked()
    assert pairs <= 100 and addresses <= 100
    # a lock still in force is not the first thing forgotten
    fail(throttle, "op1", DESK_A, 5)
    for n in range(30):
        fail(throttle, f"late{n}", f"10.200.0.{n}")
    assert throttle.retry_after("op1", DESK_A) == 60


# -- the password workers ------------------------------------------------------------------------------


async def test_the_worker_queue_refuses_beyond_its_bound_and_recovers():
    work = PasswordWork(workers=1, max_waiting=1)
    release = threading.Event()
    try:
        running = asyncio.ensure_future(work.run(release.wait, 30, refuse_when_busy=True))
        queued = asyncio.ensure_future(work.run(release.wait, 30, refuse_when_busy=True))
        await until(lambda: work.in_flight == 2)
        with pytest.raises(PasswordWorkBusy):
            await work.run(release.wait, 30, refuse_when_busy=True)
        assert work.in_flight == 2
        admin = asyncio.ensure_future(work.run(lambda: "hashed"))  # not refused: it waits its turn
        await until(lambda: work.in_flight == 3)
        queued.cancel()  # a caller who gives up leaves the queue
        await until(lambda: work.in_flight == 2)
        release.set()
        assert await running is True and await admin == "hashed"
        assert work.in_flight == 0
    finally:
        release.set()
        work.close()


async def test_an_unknown_user_costs_one_check_on_the_workers_like_a_known_one(services):
    class Counting(PasswordWork):
        def __init__(self) -> None:
            super().__init__(workers=1)
            self.jobs: list[str] = []

        async def run(self, work, *args, refuse_when_busy=False):
            self.jobs.append(threading.current_thread().name)
            return await super().run(work, *args, refuse_when_busy=refuse_when_busy)

    counting = Counting()
    try:
        assert await authenticate(services.sessions, "nobody-here", "whatever-1", work=counting) is None
        assert await authenticate(services.sessions, "op1", "whatever-1", work=counting) is None
        assert await authenticate(services.sessions, "op1", "op1-demo-112", work=counting) is not None
        assert len(counting.jobs) == 3
    finally:
        counting.close()
