"""The fault table: every 112 call gets exactly one ticket, whatever breaks.

    python bench/faults.py              # every fault, full size, simulator and real Asterisk
    python bench/faults.py --quick      # every fault, small
    python bench/faults.py --on sim --only "database" --out docs/fault-table.md

Each fault runs on its own: a fresh PostgreSQL database (127.0.0.1:5432, user
postgres) reached through a proxy this script controls (up / refusing /
silent), the AMI simulator in this process on the host's clock (the calls it
places are the ground truth: their Linkedids), Asterisk's own CEL written
beside it in the shipped ``cel_custom.conf`` layout (what a real Asterisk
writes, for the backfill), and ``ngcc112 run`` as a separate process (so a
SIGKILL is a real one), with its event journal. At the end the database's
tickets are compared with the calls placed:

    fault → calls → tickets → lost → duplicated

``lost`` counts calls with no ticket, ``duplicated`` tickets beyond one per call
(and tickets of calls never placed). All zeros are the target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ngcc112.ami.message import unescape
from ngcc112.sim import AmiSimulator, CallScript, SimulatorConfig

NGCC112 = str(Path(sys.executable).with_name("ngcc112"))
POSTGRES = ("127.0.0.1", 5432)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the database, behind a proxy the faults control ------------------------------------------


class Proxy:
    """TCP between the daemon and PostgreSQL (or Asterisk's AMI): ``up``, ``refuse``
    (connections closed at once) or ``silent`` (accepted, nothing forwarded either way);
    :meth:`cut` drops every connection once (an AMI drop)."""

    def __init__(self, upstream: tuple[str, int] = POSTGRES) -> None:
        self.upstream = upstream
        self.mode = "up"
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self._open = asyncio.Event()
        self._open.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._cut()

    def set(self, mode: str) -> None:
        self.mode = mode
        if mode == "up":
            self._open.set()
        else:
            self._open.clear()
            if mode == "refuse":
                self._cut()

    def cut(self) -> None:
        self._cut()

    def _cut(self) -> None:
        for client, upstream in list(self._links):
            client.transport.abort()
            if upstream is not None:
                upstream.transport.abort()
        self._links.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refuse":
            writer.transport.abort()
            return
        entry: tuple[asyncio.StreamWriter, asyncio.StreamWriter | None] = (writer, None)
        self._links.add(entry)
        try:
            early = await self._hold(reader)  # silent: the connection hangs here
            if early is None:
                return  # the client gave up while the server was silent
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            self._links.discard(entry)
            entry = (writer, up_writer)
            self._links.add(entry)
            if early:
                up_writer.write(early)
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(entry)
            writer.transport.abort()
            if entry[1] is not None:
                entry[1].transport.abort()

    async def _hold(self, reader: asyncio.StreamReader) -> bytes | None:
        """Wait until the proxy is open, keeping what the client sends meanwhile; None when the
        client hangs up first (its timeout), so no upstream connection is made for it."""
        kept = b""
        while not self._open.is_set():
            read = asyncio.ensure_future(reader.read(65536))
            opened = asyncio.ensure_future(self._open.wait())
            done, _ = await asyncio.wait({read, opened}, return_when=asyncio.FIRST_COMPLETED)
            if read in done:
                opened.cancel()
                data = read.result()
                if not data:
                    return None
                kept += data
            else:
                read.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await read
        return kept

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await self._open.wait()  # silent: bytes stop flowing both ways
            writer.write(data)
            await writer.drain()
        writer.transport.abort()


async def fresh_database() -> str:
    name = f"ngcc112_faults_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres", database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return name


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres", database="postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def ticket_linkedids(name: str) -> list[str]:
    db = await asyncpg.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres", database=name)
    try:
        return [row["linkedid"] for row in await db.fetch("SELECT linkedid FROM tickets")]
    finally:
        await db.close()


# -- Asterisk's own record of every channel (CEL), from the simulator's events ----------------


class CelWriter:
    """What a real Asterisk with the shipped cel.conf / cel_custom.conf writes, derived from the
    simulator's events: CHAN_START, APP_START (Queue), BRIDGE_ENTER, HANGUP, CHAN_END,
    LINKEDID_END, one CSV line each, in the ``ngcc112-cel-1`` layout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out = open(path, "a", encoding="utf-8", newline="")
        self._channels: dict[str, dict[str, str]] = {}
        self._bridges: dict[str, set[str]] = {}
        self._live: dict[str, set[str]] = {}

    def close(self) -> None:
        self._out.close()

    def __call__(self, pairs: list[tuple[str, str]]) -> None:
        event = dict(pairs)
        name = event.get("Event", "")
        uid = event.get("Uniqueid", "")
        stamp = event.get("Timestamp") or f"{time.time():.6f}"
        if name == "Newchannel":
            chan = {
                "channel": event.get("Channel", ""),
                "linkedid": event.get("Linkedid", uid),
                "context": event.get("Context", ""),
                "exten": event.get("Exten", ""),
                "num": unescape(event.get("CallerIDNum", "")),
                "name": unescape(event.get("CallerIDName", "")),
            }
            self._channels[uid] = chan
            self._live.setdefault(chan["linkedid"], set()).add(uid)
            self._row("CHAN_START", stamp, uid, chan)
        elif name == "Newexten" and event.get("Application") == "Queue" and uid in self._channels:
            self._row("APP_START", stamp, uid, self._channels[uid], app="Queue", data=event.get("AppData", ""))
        elif name == "BridgeEnter" and uid in self._channels:
            members = self._bridges.setdefault(event.get("BridgeUniqueid", ""), set())
            members.add(uid)
            for other in members - {uid}:
                peer = self._channels.get(other, {}).get("channel", "")
                self._row("BRIDGE_ENTER", stamp, uid, self._channels[uid], peer=peer)
        elif name == "BridgeLeave":
            self._bridges.get(event.get("BridgeUniqueid", ""), set()).discard(uid)
        elif name == "Hangup" and uid in self._channels:
            chan = self._channels.pop(uid)
            self._row("HANGUP", stamp, uid, chan, extra=f'{{"hangupcause":{event.get("Cause") or 0}}}')
            self._row("CHAN_END", stamp, uid, chan)
            live = self._live.get(chan["linkedid"], set())
            live.discard(uid)
            if not live:
                self._live.pop(chan["linkedid"], None)
                self._row("LINKEDID_END", stamp, uid, chan)
        self._out.flush()

    def _row(
        self,
        kind: str,
        stamp: str,
        uid: str,
        chan: dict[str, str],
        *,
        app: str = "",
        data: str = "",
        peer: str = "",
        extra: str = "",
    ) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(
            [
                "ngcc112-cel-1",
                kind,
                stamp,
                uid,
                chan["linkedid"],
                chan["channel"],
                chan["context"],
                chan["exten"],
                chan["num"],
                chan["name"],
                app,
                data,
                peer,
                extra,
            ]
        )
        self._out.write(buffer.getvalue())


def attach_cel(sim: AmiSimulator, writer: CelWriter) -> None:
    """Every event the simulator emits also goes to the CEL writer (as Asterisk's CEL engine
    hears every channel, logged-in AMI client or not)."""
    sim.engine.tap(lambda cls, pairs: writer(pairs))


# -- the daemon ------------------------------------------------------------------------------------


@dataclass
class Daemon:
    folder: Path
    env: dict[str, str]
    panel_port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.folder / f"daemon-{self.starts}.log", "ab")
        self.process = subprocess.Popen(
            [NGCC112, "run"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    async def ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"ngcc112 run exited {self.process.returncode}; see {self.folder}")
            try:
                answer = await asyncio.to_thread(
                    urllib.request.urlopen, f"http://127.0.0.1:{self.panel_port}/healthz", timeout=1
                )
                if answer.status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise TimeoutError(f"ngcc112 run did not come up; see {self.folder}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None


# -- one fault ------------------------------------------------------------------------------------


@dataclass
class Lab:
    """What a fault can act on, the same on the simulator and on a real Asterisk."""

    proxy: Proxy
    daemon: Daemon
    restart_asterisk: Callable[[], Awaitable[None]]
    drop_ami: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Row:
    fault: str
    calls: int
    tickets: int
    lost: int
    duplicated: int
    seconds: float


Fault = Callable[[Lab, float], Awaitable[None]]


async def place_sim_calls(sim: AmiSimulator, placed: list, count: int, rate: float, rng: random.Random) -> None:
    for _ in range(count):
        roll = rng.random()
        hangup = rng.uniform(0.5, 3.0) if roll < 0.2 else rng.uniform(4.0, 12.0)
        script = CallScript(
            number=f"08{rng.randrange(10**10):010d}", name=rng.choice(("Budi", 'Pak "B"', "")), hangup_after=hangup
        )
        placed.append(await sim.place_call(script))
        await asyncio.sleep(1.0 / rate)


def daemon_env(folder: Path, database: str, proxy: Proxy, ami_port: int, panel_port: int, cel: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NGCC112_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{database}",
        "NGCC112_AMI_PORT": str(ami_port),
        "NGCC112_AMI_SECRET": "ngcc-secret",
        "NGCC112_PANEL_LISTEN": f"127.0.0.1:{panel_port}",
        "NGCC112_JOURNAL_PATH": str(folder / "events.db"),
        "NGCC112_BACKFILL_SOURCE": "csv",
        "NGCC112_CEL_CSV": str(cel),
        "NGCC112_LOG_FORMAT": "json",
        "NGCC112_LOG_LEVEL": "info",
    }


async def run_fault(name: str, fault: Fault, *, calls: int, rate: float, work: Path) -> Row:
    """One fault on the simulator."""
    began = time.monotonic()
    folder = work / name
    folder.mkdir(parents=True)
    database = await fresh_database()
    proxy = Proxy()
    await proxy.start()
    sim = AmiSimulator(SimulatorConfig(port=0))
    await sim.start()
    cel = CelWriter(folder / "ngcc112-cel.csv")
    attach_cel(sim, cel)
    panel_port = free_port()
    daemon = Daemon(folder, daemon_env(folder, database, proxy, sim.port, panel_port, cel.path), panel_port)
    lab = Lab(proxy, daemon, restart_asterisk=sim.restart, drop_ami=sim.drop_clients)
    placed_calls: list = []
    try:
        daemon.start()
        await daemon.ready()
        await asyncio.gather(
            place_sim_calls(sim, placed_calls, calls, rate, random.Random(name)), fault(lab, calls / rate)
        )
        await asyncio.gather(*(call.wait(300) for call in placed_calls), return_exceptions=True)
        placed = {call.linkedid for call in placed_calls if call.linkedid}
        tickets = await finish(lab, database, placed)
    finally:
        daemon.stop()
        await sim.stop()
        cel.close()
        await proxy.stop()
    return await count(name, placed, tickets, database, folder, began)


async def run_fault_real(name: str, fault: Fault, *, calls: int, rate: float, work: Path, asterisk: object) -> Row:
    """One fault on the real Asterisk of the integration suite (SIPp callers, its own CEL)."""
    from real_asterisk.ami_listener import AmiListener
    from real_asterisk.lab import CEL_CSV, LAB_IP, AsteriskLab
    from real_asterisk.sipp import Caller, Sip

    assert isinstance(asterisk, AsteriskLab)
    began = time.monotonic()
    folder = work / name
    folder.mkdir(parents=True)
    database = await fresh_database()
    proxy = Proxy()
    await proxy.start()
    ami_proxy = Proxy((LAB_IP, asterisk.ami_port))
    await ami_proxy.start()
    listener = AmiListener(LAB_IP, asterisk.ami_port, secret=asterisk.ami_secret).start()
    mark = listener.mark()
    panel_port = free_port()
    daemon = Daemon(
        folder, daemon_env(folder, database, proxy, ami_proxy.port, panel_port, asterisk.log_dir / CEL_CSV), panel_port
    )

    async def drop() -> None:
        ami_proxy.cut()

    async def restart() -> None:
        await asyncio.to_thread(asterisk.restart_now)

    lab = Lab(proxy, daemon, restart_asterisk=restart, drop_ami=drop)
    sip = Sip(folder / "sipp", asterisk.sip_port)
    try:
        daemon.start()
        await daemon.ready()
        short = max(calls // 5, 1)
        callers = [
            sip.call(Caller(number="5559[call_number]", name='Pak \\"B\\"', hold_ms=1200), calls=short, rate=rate / 5),
            sip.call(
                Caller(number="5558[call_number]", name="Budi", hold_ms=9000), calls=calls - short, rate=rate * 4 / 5
            ),
        ]
        await asyncio.gather(
            fault(lab, calls / rate),
            *(asyncio.to_thread(c.wait, calls / rate + 120) for c in callers),
            return_exceptions=True,
        )

        def quiet() -> bool:
            return "0 active channels" in asterisk.cli("core show channels count").stdout

        await asyncio.to_thread(listener.wait, quiet, 120, "every call to end")
        placed = set(listener.calls(since=mark))
        tickets = await finish(lab, database, placed)
    finally:
        daemon.stop()
        sip.stop()
        listener.stop()
        await ami_proxy.stop()
        await proxy.stop()
    return await count(name, placed, tickets, database, folder, began)


async def finish(lab: Lab, database: str, placed: set[str]) -> list[str]:
    """Every fault over: the database up, the daemon running; the tickets once they settle."""
    lab.proxy.set("up")
    if lab.daemon.process is None:
        lab.daemon.start()
    await lab.daemon.ready()
    return await settle(database, placed)


async def count(name: str, placed: set[str], tickets: list[str], database: str, folder: Path, began: float) -> Row:
    tickets_set = set(tickets)
    lost = len(placed - tickets_set)
    duplicated = (len(tickets) - len(tickets_set)) + len(tickets_set - placed)
    row = Row(name, len(placed), len(tickets_set & placed), lost, duplicated, time.monotonic() - began)
    if lost == 0 and duplicated == 0:
        await drop_database(database)
        shutil.rmtree(folder, ignore_errors=True)
    return row


async def settle(database: str, placed: set[str], quiet: float = 15.0, limit: float = 180.0) -> list[str]:
    """The tickets once every call has one, or nothing changed for ``quiet`` seconds."""
    deadline = time.monotonic() + limit
    last: list[str] = []
    changed = time.monotonic()
    while time.monotonic() < deadline:
        tickets = await ticket_linkedids(database)
        if len(tickets) != len(last):
            last, changed = tickets, time.monotonic()
        if placed <= set(tickets) or time.monotonic() - changed > quiet:
            return tickets
        await asyncio.sleep(0.5)
    return last


# -- the faults ------------------------------------------------------------------------------------


async def no_fault(lab: Lab, duration: float) -> None:
    return None


async def daemon_down_for_whole_calls(lab: Lab, duration: float) -> None:
    await asyncio.sleep(duration * 0.2)
    lab.daemon.stop()
    await asyncio.sleep(max(duration * 0.4, 15.0))  # calls start and end while it is down
    lab.daemon.start()


async def sigkill_mid_surge(lab: Lab, duration: float) -> None:
    await asyncio.sleep(duration * 0.5)
    lab.daemon.kill()
    await asyncio.sleep(2.0)
    lab.daemon.start()


def database_away(mode: str, seconds: float) -> Fault:
    async def fault(lab: Lab, duration: float) -> None:
        await asyncio.sleep(duration * 0.2)
        lab.proxy.set(mode)
        await asyncio.sleep(seconds)
        lab.proxy.set("up")

    return fault


def sigkill_during_database_outage(seconds: float) -> Fault:
    async def fault(lab: Lab, duration: float) -> None:
        await asyncio.sleep(duration * 0.2)
        lab.proxy.set("refuse")
        await asyncio.sleep(seconds / 2)
        lab.daemon.kill()
        await asyncio.sleep(1.0)
        lab.daemon.start()  # comes up with the database still away
        await asyncio.sleep(seconds / 2)
        lab.proxy.set("up")

    return fault


async def asterisk_restart(lab: Lab, duration: float) -> None:
    await asyncio.sleep(duration * 0.5)
    await lab.restart_asterisk()


def ami_drops(count: int) -> Fault:
    async def fault(lab: Lab, duration: float) -> None:
        for _ in range(count):
            await asyncio.sleep(duration / (count + 1))
            await lab.drop_ami()

    return fault


def faults(quick: bool) -> list[tuple[str, Fault, int, float]]:
    """(name, fault, calls, calls per second): full size, or a fifth of the calls and shorter
    outages with ``quick`` (the names say the sizes actually run)."""
    scale = 0.2 if quick else 1.0

    def n(full: int) -> int:
        return max(int(full * scale), 10)

    refused, silent, outage, drops = (6, 30, 20, 10) if quick else (30, 90, 40, 50)
    return [
        ("none", no_fault, n(100), 10.0),
        ("daemon down for whole calls", daemon_down_for_whole_calls, n(100), 2.0),
        ("SIGKILL mid-surge", sigkill_mid_surge, n(300), 20.0),
        (f"database refused {refused} s", database_away("refuse", refused), n(150), 3.0),
        (f"database silent {silent} s", database_away("silent", silent), n(200), 2.0),
        (f"SIGKILL during a {outage} s database outage", sigkill_during_database_outage(outage), n(150), 3.0),
        ("Asterisk restart", asterisk_restart, n(100), 5.0),
        (f"{drops} AMI drops in a {n(500)}-call run", ami_drops(drops), n(500), 10.0),
    ]


def table(rows: list[Row]) -> str:
    lines = ["| fault | calls | tickets | lost | duplicated | seconds |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r.fault} | {r.calls} | {r.tickets} | {r.lost} | {r.duplicated} | {r.seconds:.0f} |" for r in rows]
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small runs (about 5 minutes per target)")
    parser.add_argument("--only", help="run the faults whose name contains this")
    parser.add_argument(
        "--on",
        choices=("sim", "asterisk", "both"),
        default="both",
        help="the simulator, the real Asterisk (scripts/asterisk-build), or both (default;"
        " the real one only where it is built)",
    )
    parser.add_argument("--out", type=Path, help="also write the tables (Markdown) to this file")
    args = parser.parse_args(argv)
    from ngcc112 import logs

    logs.configure("console", "warning")
    targets = ["sim"] if args.on == "sim" else ["asterisk"] if args.on == "asterisk" else ["sim", "asterisk"]
    tables: list[str] = []
    failed = False
    for target in targets:
        rows = await run_target(target, args)
        if rows is None:
            tables.append(f"On the real Asterisk: not run ({NO_BUILD}).")
            continue
        failed |= any(r.lost or r.duplicated for r in rows)
        title = "On the simulator" if target == "sim" else "On the real Asterisk 22.10.1 (SIPp callers)"
        tables.append(f"{title}:\n\n{table(rows)}")
    print()
    print("\n\n".join(tables))
    if args.out:
        stamp = time.strftime("%Y-%m-%d", time.gmtime())
        args.out.write_text(
            "# The fault table\n\nEvery 112 call gets exactly one ticket, whatever breaks "
            "(`make faults`, `bench/faults.py`).\n\n"
            + "\n\n".join(tables)
            + f"\n\n(`python bench/faults.py{' --quick' if args.quick else ''}`, {stamp}, "
            "on a 2-core machine of the project's kind)\n",
            encoding="utf-8",
        )
    return 1 if failed else 0


NO_BUILD = "no Asterisk build: make asterisk"


async def run_target(target: str, args: argparse.Namespace) -> list[Row] | None:
    asterisk = None
    tmp = Path(tempfile.mkdtemp(prefix=f"ngcc112-faults-{target}-"))
    if target == "asterisk":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from real_asterisk.lab import AsteriskLab, asterisk_prefix

        prefix = asterisk_prefix()
        if prefix is None:
            print(f"real Asterisk: skipped ({NO_BUILD})", flush=True)
            return None
        asterisk = AsteriskLab(prefix, tmp / "asterisk")
        asterisk.install()
        asterisk.start()
    rows: list[Row] = []
    try:
        for name, fault, calls, rate in faults(args.quick):
            if args.only and args.only.lower() not in name.lower():
                continue
            slug = name.replace(" ", "-")
            if asterisk is None:
                row = await run_fault(slug, fault, calls=calls, rate=rate, work=tmp)
            else:
                row = await run_fault_real(slug, fault, calls=calls, rate=rate, work=tmp, asterisk=asterisk)
            row = Row(name, row.calls, row.tickets, row.lost, row.duplicated, row.seconds)
            rows.append(row)
            print(
                f"[{target}] {row.fault}: calls {row.calls} → tickets {row.tickets}, lost {row.lost}, "
                f"duplicated {row.duplicated} ({row.seconds:.0f} s)",
                flush=True,
            )
            if row.lost or row.duplicated:
                print(f"  kept for inspection: {tmp / slug}", flush=True)
    finally:
        if asterisk is not None:
            asterisk.stop()
    if not any(r.lost or r.duplicated for r in rows):
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main()))
