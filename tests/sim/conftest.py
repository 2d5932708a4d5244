"""Shared fixtures for the simulator tests: a started simulator and a raw AMI client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ngcc112.sim.config import AmiUser, SimulatorConfig
from ngcc112.sim.server import AmiSimulator
from ngcc112.sim.transcript import parse_messages, split_messages

#: Fast enough for the whole run to stay well under a minute, slow enough that
#: event order is deterministic on a loaded machine.
SPEED = 60.0


class AmiClient:
    """A bare AMI client over a real TCP socket, recording every message it gets."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.banner = b""
        self.messages: list[dict[str, str]] = []
        self.raw = b""
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._counter = 0

    @classmethod
    async def connect(cls, port: int) -> AmiClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        client.banner = await asyncio.wait_for(reader.readline(), 5)
        client._task = asyncio.create_task(client._read())
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
                self._changed.set()
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            self._changed.set()

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, pairs: list[tuple[str, str]] | dict[str, str]) -> str:
        items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
        if not any(k.lower() == "actionid" for k, _ in items):
            self._counter += 1
            items.insert(1, ("ActionID", f"t-{self._counter}"))
        action_id = next(v for k, v in items if k.lower() == "actionid")
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in items).encode() + b"\r\n")
        return action_id

    async def wait_for(self, predicate: Callable[[dict[str, str]], bool], count: int = 1,
                       timeout: float = 10.0) -> list[dict[str, str]]:
        async def waiter() -> list[dict[str, str]]:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if len(found) >= count:
                    return found
                if self.closed.is_set():
                    raise ConnectionError(f"closed while waiting; got {len(found)} of {count}")
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(waiter(), timeout)

    async def event(self, name: str, count: int = 1, timeout: float = 10.0,
                    **fields: str) -> list[dict[str, str]]:
        return await self.wait_for(
            lambda m: m.get("Event") == name and all(m.get(k) == v for k, v in fields.items()),
            count, timeout)

    async def action(self, pairs: list[tuple[str, str]] | dict[str, str],
                     timeout: float = 10.0) -> dict[str, str]:
        action_id = self.send(pairs)
        found = await self.wait_for(lambda m: "Response" in m and m.get("ActionID") == action_id,
                                    timeout=timeout)
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
async def make_sim() -> AsyncIterator[Callable[..., Awaitable[AmiSimulator]]]:
    sims: list[AmiSimulator] = []

    async def factory(**overrides: object) -> AmiSimulator:
        overrides.setdefault("speed", SPEED)
        # the recording account: every class, like the transcripts' manager.conf
        overrides.setdefault("users", {"ngcc": AmiUser(secret="ngcc-secret", read=("all",),
                                                        write=("all",))})
        sim = AmiSimulator(SimulatorConfig(**overrides))  # type: ignore[arg-type]
        await sim.start()
        sims.append(sim)
        return sim

    yield factory
    for sim in sims:
        await sim.stop()


@pytest.fixture
async def sim(make_sim: Callable[..., Awaitable[AmiSimulator]]) -> AmiSimulator:
    return await make_sim()


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[int], Awaitable[AmiClient]]]:
    clients: list[AmiClient] = []

    async def factory(port: int) -> AmiClient:
        client = await AmiClient.connect(port)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()
