"""The leadership's moves, with a lock that answers what a test says: fenced first, then lead on or stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ngcc112.cluster.leadership import Leadership, Role

AT = datetime(2026, 12, 8, tzinfo=UTC)
#: Only a bound so a hang fails instead of blocking; never a timed assertion.
PATIENCE = 10.0


class ScriptedLock:
    """``held()`` returns when the test says the lock is lost; ``answer()`` says who holds it then."""

    lease = 1.0

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.lose = asyncio.Event()
        self.released = 0
        self.calls: list[str] = []

    async def acquire(self) -> None:
        self.calls.append("acquire")

    async def held(self) -> str:
        await self.lose.wait()
        self.lose.clear()
        self.calls.append("lost")
        return "the lock's database connection closed"

    async def answer(self) -> bool:
        self.calls.append("answer")
        return self.answers.pop(0)

    async def release(self) -> None:
        self.released += 1


class Rows:
    node, site = "node-a", "main"

    def __init__(self) -> None:
        self.beats: list[str] = []

    async def beat(self, role: str, since: datetime, now: datetime) -> None:
        self.beats.append(role)

    async def leave(self) -> None:
        self.beats.append("left")


async def leading(answers: list[bool]) -> tuple[Leadership, ScriptedLock, Rows, list[str]]:
    lock, rows, moves = ScriptedLock(answers), Rows(), []
    leadership = Leadership(
        lock,  # type: ignore[arg-type]
        rows,  # type: ignore[arg-type]
        now=lambda: AT,
        on_lost=lambda reason: moves.append(f"fenced: {reason} (lock calls so far: {lock.calls})"),
        on_regained=lambda: moves.append("unfenced"),
        heartbeat=3600,
    )
    await leadership.start()
    await leadership.lead()
    return leadership, lock, rows, moves


async def test_replaced_by_another_node_it_is_fenced_before_it_asks_and_then_stops() -> None:
    leadership, lock, rows, moves = await leading([False])
    lock.lose.set()
    async with asyncio.timeout(PATIENCE):
        reason = await leadership.lost
    assert "another node leads" in reason
    assert moves == [f"fenced: the lock's database connection closed (lock calls so far: {['acquire', 'lost']})"]
    assert leadership.role is Role.STANDBY
    await leadership.stop()
    assert rows.beats == ["standby", "leader", "left"]


async def test_the_lock_its_own_again_it_leads_on_and_watches_again() -> None:
    leadership, lock, rows, moves = await leading([True, False])
    lock.lose.set()
    async with asyncio.timeout(PATIENCE):
        while "unfenced" not in moves:
            await asyncio.sleep(0)
    assert leadership.role is Role.LEADER and not leadership.lost.done()
    lock.lose.set()  # lost a second time, and this time another node has it
    async with asyncio.timeout(PATIENCE):
        await leadership.lost
    assert [move.split(":")[0] for move in moves] == ["fenced", "unfenced", "fenced"]
    await leadership.stop()
