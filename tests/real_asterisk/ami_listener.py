"""The test's own AMI client: what Asterisk itself reported, independent of the daemon.

A thread with a plain socket logs in with ``Events: on``, keeps every byte
(:meth:`AmiListener.raw`, written as a transcript in the format of
``../shared/ami-transcripts/``) and every parsed message, and lets a test wait
for the message it needs. It reconnects by itself (an Asterisk restart), and
sends actions one at a time with their own ``ActionID``.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Frame:
    """One AMI message as Asterisk sent it (keys as sent, values raw: still C-escaped)."""

    pairs: tuple[tuple[str, str], ...]
    t: float = field(compare=False)
    connection: int = field(compare=False, default=0)

    def get(self, key: str, default: str = "") -> str:
        lower = key.lower()
        return next((v for k, v in self.pairs if k.lower() == lower), default)

    def getall(self, key: str) -> list[str]:
        lower = key.lower()
        return [v for k, v in self.pairs if k.lower() == lower]

    def keys(self) -> list[str]:
        return [k for k, _ in self.pairs]

    @property
    def event(self) -> str:
        return self.get("Event")

    @property
    def response(self) -> str:
        return self.get("Response")


def parse_block(text: str, t: float, connection: int) -> Frame:
    pairs = []
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
        if sep:
            pairs.append((key, value))
    return Frame(tuple(pairs), t, connection)


class AmiListener:
    def __init__(self, host: str, port: int, username: str = "ngcc", secret: str = "ngcc-secret") -> None:
        self.host, self.port, self.username, self.secret = host, port, username, secret
        self.frames: list[Frame] = []
        self._chunks: list[tuple[float, str, bytes]] = []
        self._cond = threading.Condition()
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._thread = threading.Thread(target=self._run, name="ami-listener", daemon=True)
        self._t0 = time.monotonic()
        self._wall0 = time.time()
        self.connections = 0
        self._logged_in = threading.Event()

    # -- life --------------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> AmiListener:
        self._thread.start()
        if not self._logged_in.wait(timeout):
            raise TimeoutError(f"the test's AMI client could not log in to {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.sendall(b"Action: Logoff\r\nActionID: bye\r\n\r\n")
            except OSError:
                pass
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except OSError:
                pass
            self._logged_in.clear()
            if not self._stop.is_set():
                time.sleep(0.1)

    def _session(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=5)
        sock.settimeout(None)
        self._sock = sock
        self.connections += 1
        conn = self.connections
        buf = b""
        self._send_raw(
            f"Action: Login\r\nActionID: login-{conn}\r\nUsername: {self.username}\r\n"
            f"Secret: {self.secret}\r\nEvents: on\r\n\r\n".encode())
        while not self._stop.is_set():
            chunk = sock.recv(65536)
            if not chunk:
                break
            t = time.monotonic() - self._t0
            with self._cond:
                self._chunks.append((t, "rx", chunk))
            buf += chunk
            while True:
                if buf.startswith(b"Asterisk Call Manager"):
                    line, sep, rest = buf.partition(b"\r\n")
                    if not sep:
                        break
                    buf = rest
                    continue
                block, sep, rest = buf.partition(b"\r\n\r\n")
                if not sep:
                    break
                buf = rest
                frame = parse_block(block.decode("utf-8", "replace"), t, conn)
                with self._cond:
                    self.frames.append(frame)
                    self._cond.notify_all()
                if frame.get("ActionID") == f"login-{conn}" and frame.response == "Success":
                    self._logged_in.set()
        sock.close()

    def _send_raw(self, data: bytes) -> None:
        assert self._sock is not None
        with self._cond:
            self._chunks.append((time.monotonic() - self._t0, "tx", data))
        self._sock.sendall(data)

    # -- asking --------------------------------------------------------------------------------------

    def action(self, name: str, timeout: float = 10.0, **headers: str) -> list[Frame]:
        """Send one action; the response and, for list actions, every event up to ...Complete."""
        if not self._logged_in.wait(timeout):
            raise TimeoutError("AMI not logged in")
        action_id = f"t{next(self._ids)}"
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        start = len(self.frames)
        self._send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())

        def done() -> list[Frame] | None:
            mine = [f for f in self.frames[start:] if f.get("ActionID") == action_id]
            if not mine:
                return None
            first = mine[0]
            listing = first.get("EventList").lower() == "start" or "will follow" in first.get("Message").lower()
            if listing and first.response == "Success":
                if not any(f.get("EventList").lower() == "complete" for f in mine[1:]):
                    return None
            return mine

        return self.wait(done, timeout, f"the answer to {name}")

    def wait(self, condition: Callable[[], object], timeout: float, what: str):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = condition()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
                self._cond.wait(min(left, 0.5))

    def events(self, name: str | None = None, **match: str) -> list[Frame]:
        with self._cond:
            frames = list(self.frames)
        return [f for f in frames if f.event and (name is None or f.event == name)
                and all(f.get(k) == v for k, v in match.items())]

    def wait_event(self, name: str, timeout: float = 30.0, count: int = 1, **match: str) -> list[Frame]:
        return self.wait(lambda: (found := self.events(name, **match)) and len(found) >= count and found,
                         timeout, f"{count} × {name} {match or ''}")

    def mark(self) -> int:
        return len(self.frames)

    # -- what Asterisk said about the calls ----------------------------------------------------------

    def calls(self, context: str = "from-pstn", since: int = 0) -> dict[str, dict[str, str]]:
        """Per Linkedid of a channel that entered ``context``: its first 112 leg's facts."""
        calls: dict[str, dict[str, str]] = {}
        for frame in self.frames[since:]:
            if frame.event == "Newchannel" and frame.get("Context") == context:
                calls.setdefault(frame.get("Linkedid"), {
                    "channel": frame.get("Channel"), "uniqueid": frame.get("Uniqueid"),
                    "number": frame.get("CallerIDNum"), "name": frame.get("CallerIDName"),
                    "exten": frame.get("Exten")})
        for frame in self.frames[since:]:
            call = calls.get(frame.get("Linkedid"))
            if call is None:
                continue
            if frame.event == "AgentConnect":
                call["answered_by"] = frame.get("Interface")
            elif frame.event == "QueueCallerAbandon":
                call["abandoned"] = "1"
            elif frame.event == "QueueCallerJoin":
                call.setdefault("queue", frame.get("Queue"))
            elif frame.event == "Hangup" and frame.get("Uniqueid") == call["uniqueid"]:
                call["hungup"] = "1"
        return calls

    # -- transcripts -----------------------------------------------------------------------------------

    def write_transcript(self, folder: Path, name: str, notes: Iterable[str] = ()) -> None:
        """``NAME.ami`` (bytes received), ``NAME.sent`` and ``NAME.jsonl``, as in shared/ami-transcripts."""
        folder.mkdir(parents=True, exist_ok=True)
        with self._cond:
            chunks = list(self._chunks)
        (folder / f"{name}.ami").write_bytes(b"".join(c for _, d, c in chunks if d == "rx"))
        (folder / f"{name}.sent").write_bytes(b"".join(c for _, d, c in chunks if d == "tx"))
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for t, direction, chunk in chunks:
                out.write(json.dumps({"t": round(t, 6), "wall": round(self._wall0 + t, 6), "dir": direction,
                                      "raw": chunk.decode("utf-8", "replace")}, ensure_ascii=False) + "\n")
        if notes:
            (folder / f"{name}.txt").write_text("\n".join(notes) + "\n", encoding="utf-8")
