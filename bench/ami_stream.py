"""Recorded AMI traffic for the benchmarks, and a local server that plays it as fast as a client reads.

The frames come from the raw Asterisk 22 transcripts (``/work/shared/ami-transcripts``, or
``$NGCC112_AMI_TRANSCRIPTS``; see its README.md), read as bytes so the CRLF line ends stay
exactly as Asterisk wrote them. Only ``Event`` frames are kept, minus ``FullyBooted`` and
``Shutdown`` (a client resyncs or drops on those, which is not what is measured) and
minus events that answer an action (they carry an ``ActionID`` the client never sent).

Copies are renumbered so every copy is a new set of calls: each Uniqueid / Linkedid
(``1795843077.14``) gets the copy number appended, each channel name's instance
suffix (``PJSIP/caller2-0000000a``, ``Local/112@from-pstn-00000001;1``) too, and each
bridge UUID's first group becomes the copy number. ``Timestamp`` and every other value
stay as recorded.

* :func:`mixed_stream`: every transcript in turn, copy after copy, ``frames`` frames in all;
* :func:`queued_calls`: ``calls`` callers who entered the queue and are still waiting
  (``b_abandon_in_queue`` up to its ``HangupRequest``);
* :func:`serve`: an asyncio server that sends the banner, answers every action the way
  Asterisk does (Login, FullyBooted after it, Ping, CoreShowChannels and QueueStatus as
  empty lists, Logoff, anything else ``Success``) and writes the stream, then the
  sentinel ``UserEvent: BenchEnd``, as fast as the client reads (``drain`` per chunk).

The stream starts after the Login, or, when the Login's ``Username`` reads
``NAME:ACTION:COUNT`` (``bench:queuestatus:2``), once COUNT ``ACTION`` actions were
answered: the daemon's link resyncs (CoreShowChannels, one QueueStatus per queue)
before it takes calls, so its stream waits for that, as a real client's would not
have to (an empty resync in the middle of the stream would end the calls it knows).

Run as a script it serves until killed: ``python bench/ami_stream.py --frames N``
(or ``--queued-calls N``) prints ``listening PORT FRAMES`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TRANSCRIPTS = Path(os.environ.get("NGCC112_AMI_TRANSCRIPTS", "/work/shared/ami-transcripts"))
SEP = b"\r\n\r\n"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
SENTINEL = b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: BenchEnd\r\n\r\n"
FULLY_BOOTED = (
    b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 155\r\nLastReload: 155\r\nStatus: Fully Booted\r\n\r\n"
)
#: Events a client reacts to by resyncing or dropping the link: not part of a steady stream.
SKIPPED = frozenset({"FullyBooted", "Shutdown"})
#: Bytes per write: whole frames, about this many.
CHUNK = 64 * 1024

_UNIQUEID = re.compile(r"(?<![\d.])(\d{9,10}\.\d+)(?![\d.])")
_CHANNEL = re.compile(r"(\b[A-Za-z]+/[^\s,;]*-[0-9a-f]{8})(?![0-9a-f])")
_UUID = re.compile(r"\b[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")
_ID_MARK, _CHANNEL_MARK, _UUID_MARK = "\x01", "\x02", "\x03"


def event_frames(path: Path) -> list[str]:
    """The Event frames of one transcript, in wire order (decoded losslessly, CRLF kept)."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    frames = []
    for frame in text.split("\r\n\r\n"):
        if frame.startswith("Asterisk Call Manager/"):
            frame = frame.partition("\r\n")[2]
        if not frame.startswith("Event:"):
            continue
        name = frame.partition("\r\n")[0][len("Event:") :].strip()
        if name in SKIPPED or "\r\nActionID:" in frame:
            continue
        frames.append(frame + "\r\n\r\n")
    return frames


@dataclass(frozen=True, slots=True)
class Template:
    """Frames with their identifiers marked, so each copy is one ``str.replace`` per kind."""

    name: str
    text: str
    frames: int

    @classmethod
    def of(cls, name: str, frames: list[str]) -> Template:
        text = "".join(frames)
        text = _UNIQUEID.sub(lambda m: m.group(1) + _ID_MARK, text)
        text = _CHANNEL.sub(lambda m: m.group(1) + _CHANNEL_MARK, text)
        text = _UUID.sub(lambda m: _UUID_MARK + m.group(1), text)
        return cls(name, text, len(frames))

    def copy(self, number: int) -> str:
        return (
            self.text.replace(_ID_MARK, f"{number:06d}")
            .replace(_CHANNEL_MARK, f"{number:06x}")
            .replace(_UUID_MARK, f"{number:08x}")
        )


def templates(folder: Path = TRANSCRIPTS) -> list[Template]:
    found = []
    for path in sorted(folder.glob("*.ami")):
        frames = event_frames(path)
        if frames:
            found.append(Template.of(path.stem, frames))
    if not found:
        raise FileNotFoundError(f"no AMI transcripts (*.ami) in {folder}")
    return found


def mixed_stream(frames: int, folder: Path = TRANSCRIPTS) -> list[str]:
    """``frames`` Event frames: every transcript in turn, each copy renumbered."""
    out: list[str] = []
    parts = templates(folder)
    number = 0
    while len(out) < frames:
        for template in parts:
            copied = template.copy(number)
            number += 1
            out.extend(_split(copied))
            if len(out) >= frames:
                break
    return out[:frames]


def queued_calls(calls: int, folder: Path = TRANSCRIPTS) -> list[str]:
    """The frames of ``calls`` callers who joined the queue and are still waiting in it."""
    recorded = event_frames(folder / "b_abandon_in_queue.ami")
    start = next(i for i, f in enumerate(recorded) if f.startswith("Event: Newchannel\r\n"))
    end = next(i for i, f in enumerate(recorded) if f.startswith("Event: HangupRequest\r\n"))
    template = Template.of("queued_call", recorded[start:end])
    out: list[str] = []
    for number in range(calls):
        out.extend(_split(template.copy(number)))
    return out


def _split(text: str) -> Iterator[str]:
    for frame in text.split("\r\n\r\n"):
        if frame:
            yield frame + "\r\n\r\n"


def chunks(frames: list[str]) -> list[bytes]:
    """The frames as bytes in writes of about :data:`CHUNK` bytes, whole frames each, sentinel last."""
    out: list[bytes] = []
    pending: list[bytes] = []
    size = 0
    for frame in frames:
        data = frame.encode("utf-8", errors="surrogateescape")
        pending.append(data)
        size += len(data)
        if size >= CHUNK:
            out.append(b"".join(pending))
            pending, size = [], 0
    pending.append(SENTINEL)
    out.append(b"".join(pending))
    return out


# the server -------------------------------------------------------------------------


def _headers(frame: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in frame.decode("utf-8", errors="replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            headers.setdefault(key.strip().lower(), value.strip())
    return headers


def answer(action: str, action_id: str) -> bytes:
    """What Asterisk 22 answers (the shapes of d_actions.ami); lists are empty."""
    aid = f"ActionID: {action_id}\r\n" if action_id else ""
    if action == "login":
        return f"Response: Success\r\n{aid}Message: Authentication accepted\r\n\r\n".encode() + FULLY_BOOTED
    if action == "ping":
        return f"Response: Success\r\n{aid}Ping: Pong\r\nTimestamp: {time.time():.6f}\r\n\r\n".encode()
    if action == "logoff":
        return f"Response: Goodbye\r\n{aid}Message: Thanks for all the fish.\r\n\r\n".encode()
    lists = {
        "coreshowchannels": ("Channels will follow", "CoreShowChannelsComplete"),
        "queuestatus": ("Queue status will follow", "QueueStatusComplete"),
        "queuesummary": ("Queue summary will follow", "QueueSummaryComplete"),
    }
    if action in lists:
        message, complete = lists[action]
        return (
            f"Response: Success\r\n{aid}EventList: start\r\nMessage: {message}\r\n\r\n"
            f"Event: {complete}\r\n{aid}EventList: Complete\r\nListItems: 0\r\n\r\n"
        ).encode()
    return f"Response: Success\r\n{aid}Message: Done\r\n\r\n".encode()


def _trigger(username: str) -> tuple[str, int]:
    """``NAME:ACTION:COUNT`` → (action, count); a plain name streams after the Login."""
    parts = username.split(":")
    if len(parts) == 3 and parts[2].isdigit():
        return parts[1].lower(), int(parts[2])
    return "login", 1


async def _session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: list[bytes]) -> None:
    transport = writer.transport
    if isinstance(transport, asyncio.WriteTransport):
        transport.set_write_buffer_limits(high=4 * CHUNK)
    writer.write(BANNER)
    answered: Counter[str] = Counter()
    trigger: tuple[str, int] | None = None
    streamer: asyncio.Task[None] | None = None
    try:
        while True:
            try:
                frame = await reader.readuntil(SEP)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                break
            headers = _headers(frame)
            action = headers.get("action", "").lower()
            if not action:
                continue
            writer.write(answer(action, headers.get("actionid", "")))
            answered[action] += 1
            if action == "login":
                trigger = _trigger(headers.get("username", ""))
            if streamer is None and trigger is not None and answered[trigger[0]] >= trigger[1]:
                streamer = asyncio.create_task(_stream(writer, data))
            if action == "logoff":
                break
    finally:
        if streamer is not None:
            streamer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await streamer
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _stream(writer: asyncio.StreamWriter, data: list[bytes]) -> None:
    try:
        for chunk in data:
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        return


async def serve(data: list[bytes], host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """A server that plays ``data`` (from :func:`chunks`) to every client that logs in."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _session(reader, writer, data)

    return await asyncio.start_server(session, host, port)


async def _main(args: argparse.Namespace) -> None:
    frames = queued_calls(args.queued_calls) if args.queued_calls else mixed_stream(args.frames)
    data = chunks(frames)
    server = await serve(data, args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port} {len(frames)} {sum(len(c) for c in data)}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--frames", type=int, help="a mixed stream of this many Event frames")
    what.add_argument("--queued-calls", type=int, help="this many callers waiting in the queue")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
