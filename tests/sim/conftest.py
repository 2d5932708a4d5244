"""Shared fixtures for the simulator tests: simulators on virtual time and raw AMI clients.

Every simulator of a test runs on the test's one :class:`~ngcc112.clock.VirtualClock`
(``drive.clock``). Time moves only while a test waits through ``drive`` (or a
client's ``event``/``action``/``wait_for``, which wait through it), and only at
quiet moments: every byte a simulator wrote has been read by its client and
every action a client sent has been handled. So a test acts at the simulated
moment it means to, whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from ngcc112.clock import VirtualClock
from ngcc112.sim.calls import PlacedCall
from ngcc112.sim.config import AmiUser, SimulatorConfig
from ngcc112.sim.driver import Driver
from ngcc112.sim.server import AmiSimulator
from ngcc112.sim.transcript import parse_messages, split_messages

#: Real seconds a wait may take before the test fails (a hang, never a slow machine).
REAL_TIMEOUT = 20.0
T = TypeVar("T")


class Drive:
    """The test's virtual clock, and waiting on it: time moves only inside these waits."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.driver = Driver(self.clock)
        self.sims: list[AmiSimulator] = []
        self.clients: list[AmiClient] = []
        self.driver.watch(quiet=self._clients_caught_up, probe=self._counters)

    def _clients_caught_up(self) -> bool:
        sessions = {s.peer_port: s for sim in self.sims for s in sim.sessions}
        for client in self.clients:
            if client.closed.is_set():
                continue
            session = sessions.get(client.port)
            if session is None:  # not accepted yet, or closed by the simulator: EOF is coming
                return False
            if session.bytes_out != client.bytes_in or session.bytes_in != client.bytes_out:
                return False
        return True

    def _counters(self) -> tuple[int, ...]:
        return (sum(sim.events_delivered + len(sim.engine.calls) + len(sim.sessions)
                    for sim in self.sims),
                sum(c.bytes_in + c.bytes_out + len(c.messages) for c in self.clients))

    async def settle(self) -> None:
        await self.driver.settle(REAL_TIMEOUT)

    async def until(self, condition: Callable[[], object], *, within: float | None = None) -> None:
        """Let virtual time pass until ``condition()`` is true at a quiet moment."""
        await self.driver.run_until(lambda: bool(condition()), within=within, timeout=REAL_TIMEOUT)

    async def advance(self, seconds: float) -> None:
        await self.driver.advance(seconds, timeout=REAL_TIMEOUT)

    async def ended(self, call: PlacedCall, within: float | None = None) -> str:
        """The call's outcome, once it has ended (and its events have all arrived)."""
        await self.until(call.ended.done, within=within)
        return call.outcome

    async def idle(self, sim: AmiSimulator) -> None:
        await self.until(lambda: not sim.engine.calls)

    async def run(self, awaitable: Awaitable[T]) -> T:
        """Await something that itself waits on the clock (a restart, …) while driving it."""
        task = asyncio.ensure_future(awaitable)
        await self.until(task.done)
        return task.result()


class AmiClient:
    """A bare AMI client over a real TCP socket, recording every message it gets."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 drive: Drive) -> None:
        self.reader, self.writer = reader, writer
        self.drive = drive
        self.port: int = writer.get_extra_info("sockname")[1]
        self.banner = b""
        self.messages: list[dict[str, str]] = []
        self.raw = b""
        self.bytes_out = 0
        self.closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._counter = 0

    @property
    def bytes_in(self) -> int:
        return len(self.banner) + len(self.raw)

    @classmethod
    async def connect(cls, port: int, drive: Drive) -> AmiClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer, drive)
        client.banner = await asyncio.wait_for(reader.readline(), REAL_TIMEOUT)
        client._task = asyncio.create_task(client._read())
        drive.clients.append(client)
        return client

    async def _read(self) -> None:
        buffer = ""
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                self.raw += data
                buffer += data.decode("utf-8", errors="replace")
                while "\r\n\r\n" in buffer:
                    block, buffer = buffer.split("\r\n\r\n", 1)
                    for pairs in split_messages(block + "\r\n\r\n"):
                        self.messages.append(dict(pairs))
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        self.bytes_out += len(data)

    def send(self, pairs: list[tuple[str, str]] | dict[str, str]) -> str:
        items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
        if not any(k.lower() == "actionid" for k, _ in items):
            self._counter += 1
            items.insert(1, ("ActionID", f"t-{self._counter}"))
        action_id = next(v for k, v in items if k.lower() == "actionid")
        self.send_raw("".join(f"{k}: {v}\r\n" for k, v in items).encode() + b"\r\n")
        return action_id

    async def wait_for(self, predicate: Callable[[dict[str, str]], bool], count: int = 1,
                       within: float | None = None) -> list[dict[str, str]]:
        """The messages matching ``predicate`` once there are ``count``, letting time pass
        (at most ``within`` virtual seconds)."""
        def enough() -> bool:
            if self.closed.is_set():
                return True
            return sum(1 for m in self.messages if predicate(m)) >= count

        await self.drive.until(enough, within=within)
        found = [m for m in self.messages if predicate(m)]
        if len(found) < count:
            raise ConnectionError(f"closed while waiting; got {len(found)} of {count}")
        return found

    async def event(self, name: str, count: int = 1, within: float | None = None,
                    **fields: str) -> list[dict[str, str]]:
        return await self.wait_for(
            lambda m: m.get("Event") == name and all(m.get(k) == v for k, v in fields.items()),
            count, within)

    async def action(self, pairs: list[tuple[str, str]] | dict[str, str]) -> dict[str, str]:
        action_id = self.send(pairs)
        found = await self.wait_for(lambda m: "Response" in m and m.get("ActionID") == action_id)
        return found[0]

    async def list_action(self, pairs: list[tuple[str, str]] | dict[str, str],
                          complete: str) -> list[dict[str, str]]:
        action_id = self.send(pairs)
        await self.wait_for(lambda m: m.get("Event") == complete and m.get("ActionID") == action_id)
        return [m for m in self.messages if m.get("ActionID") == action_id]

    async def login(self, username: str = "ngcc", secret: str = "ngcc-secret",
                    events: str | None = "on") -> dict[str, str]:
        pairs = [("Action", "Login"), ("Username", username), ("Secret", secret)]
        if events is not None:
            pairs.append(("Events", events))
        return await self.action(pairs)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def sent_actions(path: Path) -> list[list[tuple[str, str]]]:
    """The actions of a recorded ``.sent`` file, as ordered pairs."""
    return parse_messages(path)


@pytest.fixture
def drive() -> Drive:
    return Drive()


@pytest.fixture
async def make_sim(drive: Drive) -> AsyncIterator[Callable[..., Awaitable[AmiSimulator]]]:
    sims: list[AmiSimulator] = []

    async def factory(**overrides: object) -> AmiSimulator:
        # the recording account: every class, like the transcripts' manager.conf
        overrides.setdefault("users", {"ngcc": AmiUser(secret="ngcc-secret", read=("all",),
                                                        write=("all",))})
        sim = AmiSimulator(SimulatorConfig(**overrides), clock=drive.clock)  # type: ignore[arg-type]
        await sim.start()
        sims.append(sim)
        drive.sims.append(sim)
        return sim

    yield factory
    for sim in sims:
        await sim.stop()


@pytest.fixture
async def sim(make_sim: Callable[..., Awaitable[AmiSimulator]]) -> AmiSimulator:
    return await make_sim()


@pytest.fixture
async def connect(drive: Drive) -> AsyncIterator[Callable[[int], Awaitable[AmiClient]]]:
    clients: list[AmiClient] = []

    async def factory(port: int) -> AmiClient:
        client = await AmiClient.connect(port, drive)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()
