"""Replay a recorded AMI transcript over a real TCP socket.

The recordings in ``shared/ami-transcripts`` hold the exact bytes a real
Asterisk 22 sent (``NAME.jsonl``, with timing). :class:`TranscriptServer`
plays them to whatever client connects — the daemon, a benchmark — the way
Asterisk sent them:

* the banner, then the recorded answer to the client's ``Login`` (with the
  client's own ActionID);
* every recorded *event* in order, spaced as recorded, on the injected
  :class:`~ngcc112.clock.Clock` (a :class:`~ngcc112.clock.VirtualClock` in the
  tests: the spacing then costs no real time and cannot be disturbed by load);
* the recording client's own action answers are left out (this client did not
  send those actions); this client's actions are answered with a recorded
  answer to the same action (``CoreShowChannels`` and ``QueueStatus`` as
  Asterisk answered them with no call up, ``Ping`` as recorded);
* with ``timestamps=True`` every event carries ``Timestamp: <epoch>`` of its
  recorded wall-clock time, as Asterisk does with ``timestampevents = yes``; a
  recording made with ``timestampevents = yes`` is sent as it was (its events
  keep their own ``Timestamp``, never a second one).

Several transcripts can be chained: connection *n* plays transcript *n*
(``h_asterisk_restart`` then ``h_asterisk_restart_after``; or the connections of
one recording that holds several, :meth:`Transcript.load_all`). A transcript
whose recording ends with the server closing (restart, bad secret) closes here
too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from ngcc112.ami.message import parse_frame
from ngcc112.clock import SYSTEM_CLOCK, Clock, wait_for

log = structlog.get_logger(__name__)

EOL = b"\r\n"
BANNER = "Asterisk Call Manager/"
#: Transcripts whose answers describe an idle Asterisk; used to answer resync actions.
IDLE_ANSWERS = "h_asterisk_restart_after"


@dataclass(frozen=True, slots=True)
class Frame:
    t: float
    wall: float
    raw: bytes
    action_id: str
    is_event: bool
    name: str


#: One line of a ``.jsonl`` recording: ``dir`` (rx/tx), ``raw`` text and the recording's other keys.
Chunk = dict[str, Any]


def split_connections(chunks: list[Chunk]) -> list[list[Chunk]]:
    """The chunks of a recording, one list per connection: a banner the server sends
    after the first starts the next connection, with the actions the client sent
    since the server's last bytes (its Login, sent as soon as it connected)."""
    connections: list[list[Chunk]] = [[]]
    seen_banner = False
    for chunk in chunks:
        if chunk["dir"] == "rx" and chunk["raw"].startswith(BANNER):
            if seen_banner:
                current = connections[-1]
                last_rx = max((i for i, c in enumerate(current) if c["dir"] == "rx"), default=-1)
                connections[-1], carried = current[: last_rx + 1], current[last_rx + 1 :]
                connections.append(carried)
            seen_banner = True
        connections[-1].append(chunk)
    return connections


def split_frames(chunks: list[Chunk]) -> tuple[bytes, list[Frame]]:
    """(banner line, frames) from the ``rx`` chunks of a ``.jsonl`` recording."""
    banner = b""
    frames: list[Frame] = []
    pending = b""
    for chunk in chunks:
        if chunk["dir"] != "rx":
            continue
        pending += chunk["raw"].encode("utf-8", "surrogateescape")
        if not banner and pending.startswith(BANNER.encode()):
            banner, _, pending = pending.partition(EOL)
            banner += EOL
        *complete, pending = pending.split(EOL + EOL)
        for raw in complete:
            if not raw.strip():
                continue
            message = parse_frame(raw.decode("utf-8", "replace"))
            frames.append(
                Frame(
                    t=chunk["t"],
                    wall=chunk["wall"],
                    raw=raw + EOL + EOL,
                    action_id=message.action_id if message else "",
                    is_event=bool(message and message.kind == "event"),
                    name=message.name if message else "",
                )
            )
    return banner, frames


def sent_actions(chunks: list[Chunk]) -> dict[str, str]:
    """ActionID → action name for what the recording client sent."""
    out: dict[str, str] = {}
    text = "".join(c["raw"] for c in chunks if c["dir"] == "tx")
    for block in text.split("\r\n\r\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "ActionID" in fields and "Action" in fields:
            out[fields["ActionID"]] = fields["Action"]
    return out


@dataclass(frozen=True, slots=True)
class Transcript:
    name: str
    banner: bytes
    frames: tuple[Frame, ...]
    actions: dict[str, str]
    #: True when Asterisk closed the connection at the end of the recording.
    server_closes: bool

    @classmethod
    def load(cls, path: Path) -> Transcript:
        """The recording's (first) connection; see :meth:`load_all` for the others."""
        return cls.load_all(path)[0]

    @classmethod
    def load_all(cls, path: Path) -> list[Transcript]:
        """Every connection of a recording, in order (``r_asterisk_restart``: the one
        Asterisk closed when it restarted, then the client's new one)."""
        path = path.with_suffix(".jsonl")
        chunks = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        connections = split_connections(chunks)
        out = []
        for index, part in enumerate(connections):
            banner, frames = split_frames(part)
            actions = sent_actions(part)
            names = {f.name for f in frames}
            # Asterisk closed it: a restart, a refused login, or a next connection followed
            closes = (
                "Shutdown" in names
                or index + 1 < len(connections)
                or (
                    "Goodbye" not in names
                    and any(f.name == "Error" and actions.get(f.action_id, "").lower() == "login" for f in frames)
                )
            )
            name = path.stem if len(connections) == 1 else f"{path.stem}#{index + 1}"
            out.append(cls(name, banner, tuple(frames), actions, server_closes=closes))
        return out

    def answers(self) -> dict[str, list[list[bytes]]]:
        """Action name → recorded answers (each a list of frames)."""
        by_id: dict[str, list[bytes]] = {}
        for frame in self.frames:
            if frame.action_id in self.actions:
                by_id.setdefault(frame.action_id, []).append(frame.raw)
        out: dict[str, list[list[bytes]]] = {}
        for action_id, raws in by_id.items():
            out.setdefault(self.actions[action_id].lower(), []).append(raws)
        return out

    @property
    def stamped(self) -> bool:
        """Recorded with ``timestampevents = yes``: the events carry Asterisk's own
        ``Timestamp`` (and those Asterisk sends without one, like the FullyBooted of a
        login, have none)."""
        return any(b"\r\nTimestamp: " in f.raw for f in self.frames if f.is_event)

    def events(self) -> list[Frame]:
        """The frames this replay streams: events not answering the recorder's actions."""
        return [f for f in self.frames if f.is_event and f.action_id not in self.actions]

    def login_answer(self) -> list[bytes]:
        return self.answers().get("login", [[b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"]])[0]


class AnswerBook:
    """Recorded answers to each action, from every transcript in a folder."""

    def __init__(self, folder: Path) -> None:
        self._answers: dict[str, list[list[bytes]]] = {}
        idle = folder / f"{IDLE_ANSWERS}.jsonl"
        paths = [idle] + sorted(p for p in folder.glob("*.jsonl") if p != idle)
        for path in paths:
            for name, answers in Transcript.load(path).answers().items():
                self._answers.setdefault(name, []).extend(answers)

    def answer(self, action: str, action_id: str) -> bytes:
        recorded = self._answers.get(action.lower())
        if not recorded:
            recorded = (
                self._answers["unknownaction"]
                if "unknownaction" in self._answers
                else [[b"Response: Error\r\nMessage: Invalid/unknown command\r\n\r\n"]]
            )
        return b"".join(_with_action_id(raw, action_id) for raw in recorded[0])


def _with_action_id(raw: bytes, action_id: str) -> bytes:
    """The recorded frame, answering this client's ActionID instead of the recorder's."""
    lines = raw.split(EOL)
    for index, line in enumerate(lines):
        if line.lower().startswith(b"actionid:"):
            if action_id:
                lines[index] = b"ActionID: " + action_id.encode()
            else:
                del lines[index]
            return EOL.join(lines)
    if not action_id:
        return raw
    return EOL.join([lines[0], b"ActionID: " + action_id.encode(), *lines[1:]])


def _with_timestamp(raw: bytes, wall: float) -> bytes:
    """The event with ``Timestamp: <wall>`` after ``Privilege``, unless it was recorded
    with one (``timestampevents = yes``): never two."""
    lines = raw.split(EOL)
    if any(line.lower().startswith(b"timestamp:") for line in lines):
        return raw
    at = 2 if len(lines) > 1 and lines[1].lower().startswith(b"privilege:") else 1
    return EOL.join([*lines[:at], f"Timestamp: {wall:.6f}".encode(), *lines[at:]])


class TranscriptServer:
    """Serves recorded transcripts to one client connection after another.

    ``clock`` paces the events: the host's by default (the recording's own pace), a
    :class:`~ngcc112.clock.VirtualClock` moved by a :class:`~ngcc112.sim.driver.Driver`
    in the tests.
    """

    def __init__(
        self,
        transcripts: list[Transcript],
        book: AnswerBook,
        *,
        clock: Clock | None = None,
        timestamps: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self._transcripts = list(transcripts)
        self._book = book
        self.clock = clock or SYSTEM_CLOCK
        self._timestamps = timestamps
        self._host = host
        self._server: asyncio.Server | None = None
        self.connections = 0
        #: How long the stream waits after FullyBooted for the client's CoreShowChannels.
        self.resync_grace = 2.0
        self.received: list[dict[str, str]] = []
        #: Recorded events written so far (a harness compares it with what arrived).
        self.events_sent = 0
        #: Set when the last transcript's events have all been sent.
        self.finished = asyncio.Event()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        if index >= len(self._transcripts):
            writer.close()
            return
        transcript = self._transcripts[index]
        resynced = asyncio.Event()
        writer.write(transcript.banner)
        streamer: asyncio.Task[None] | None = None
        try:
            while True:
                block = await reader.readuntil(EOL + EOL)
                fields = dict(line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line)
                self.received.append(fields)
                name, action_id = fields.get("Action", ""), fields.get("ActionID", "")
                if name.lower() == "login":
                    for raw in transcript.login_answer():
                        writer.write(_with_action_id(raw, action_id))
                    if transcript.name.startswith("d_login_bad_secret"):
                        await writer.drain()
                        break
                    streamer = asyncio.create_task(self._stream(transcript, writer, resynced))
                elif name.lower() == "logoff":
                    goodbye = b"Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n"
                    writer.write(_with_action_id(goodbye, action_id))
                    await writer.drain()
                    break
                else:
                    writer.write(self._book.answer(name, action_id))
                    if name.lower() == "coreshowchannels":
                        resynced.set()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if streamer is not None and not streamer.done():
                streamer.cancel()
            writer.close()

    async def _stream(self, transcript: Transcript, writer: asyncio.StreamWriter, resynced: asyncio.Event) -> None:
        frames = transcript.events()
        # Up to FullyBooted at once; then wait for the client's resync, so that the
        # recorded idle CoreShowChannels answer is true when the client gets it.
        booted = next((i for i, f in enumerate(frames) if f.name == "FullyBooted"), -1)
        stamp = self._timestamps and not transcript.stamped
        for frame in frames[: booted + 1]:
            self._write_event(writer, frame, stamp)
        await writer.drain()
        if booted >= 0:
            with contextlib.suppress(TimeoutError):
                await wait_for(self.clock, resynced.wait(), self.resync_grace)
        frames = frames[booted + 1 :]
        start = frames[0].t if frames else 0.0
        began = self.clock.monotonic()
        for frame in frames:
            await self.clock.sleep(began + (frame.t - start) - self.clock.monotonic())
            self._write_event(writer, frame, stamp)
            await writer.drain()
        if transcript is self._transcripts[-1]:
            self.finished.set()
        if transcript.server_closes:
            writer.close()

    def _write_event(self, writer: asyncio.StreamWriter, frame: Frame, stamp: bool) -> None:
        writer.write(_with_timestamp(frame.raw, frame.wall) if stamp else frame.raw)
        self.events_sent += 1
