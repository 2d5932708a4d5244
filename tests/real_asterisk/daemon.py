"""``ngcc112 run`` as a sysadmin runs it: a separate process, settings from the environment.

Tickets are read straight from its SQLite database (``sqlite3``, read-only), so
a test sees exactly what was committed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from .lab import LAB_IP, free_port, wait_for

NGCC112 = str(Path(sys.executable).with_name("ngcc112"))


class Daemon:
    def __init__(self, folder: Path, *, ami_port: int, secret: str = "ngcc-secret",
                 cel_csv: Path | None = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.db_path = folder / "ngcc112.db"
        self.panel_port = free_port()
        self.env = {
            **os.environ,
            "NGCC112_DATABASE_URL": f"sqlite+aiosqlite:///{self.db_path}",
            "NGCC112_AMI_HOST": LAB_IP,
            "NGCC112_AMI_PORT": str(ami_port),
            "NGCC112_AMI_SECRET": secret,
            "NGCC112_PANEL_LISTEN": f"{LAB_IP}:{self.panel_port}",
            "NGCC112_PANEL_COOKIE_SECRET": "real-asterisk-lab-cookie-secret-0123456789abcdef",
            "NGCC112_LOG_FORMAT": "json",
            "NGCC112_LOG_LEVEL": "debug",
        }
        if cel_csv is not None:  # Asterisk's own record, as a sysadmin sets it up: the backfill runs too
            self.env["NGCC112_CEL_CSV"] = str(cel_csv)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://{LAB_IP}:{self.panel_port}"

    def cli(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([NGCC112, *args], env=self.env, input=stdin, capture_output=True, text=True,
                              timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"ngcc112 {' '.join(args)} exited {done.returncode}: {done.stderr}")
        return done

    def add_user(self, name: str, role: str, password: str, interface: str | None = None) -> None:
        args = ["user", "add", "--role", role, "--name", name, "--password-stdin"]
        if interface:
            args += ["--interface", interface]
        self.cli(*args, stdin=password + "\n")

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        log = open(self.folder / f"daemon-{self.starts}.log", "ab")
        self.process = subprocess.Popen([NGCC112, "run"], env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self._ready(), timeout, "ngcc112 run to log in to Asterisk and serve its panel")

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"ngcc112 run exited with {self.process.returncode}:\n{self.log()[-3000:]}")
        current = self.folder / f"daemon-{self.starts}.log"
        if "ami.resynced" not in current.read_text(errors="replace"):
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, as systemd stops it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def log(self) -> str:
        return "".join(path.read_text(errors="replace") for path in sorted(self.folder.glob("daemon-*.log")))

    def log_events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    # -- what it stored -------------------------------------------------------------------------------

    def tickets(self) -> list[dict[str, Any]]:
        if not self.db_path.exists():
            return []
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as db:
            db.row_factory = sqlite3.Row
            try:
                rows = db.execute("SELECT * FROM tickets ORDER BY id").fetchall()
            except sqlite3.OperationalError:
                return []
        tickets = []
        for row in rows:
            ticket = dict(row)
            for key in ("variables", "score_reasons", "intake"):
                if isinstance(ticket.get(key), str):
                    ticket[key] = json.loads(ticket[key])
            tickets.append(ticket)
        return tickets

    def ticket(self, linkedid: str) -> dict[str, Any] | None:
        return next((t for t in self.tickets() if t["linkedid"] == linkedid), None)

    def wait_ticket(self, linkedid: str, timeout: float = 20.0, **want: Any) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            ticket = self.ticket(linkedid)
            if ticket is None:
                return None
            for key, value in want.items():
                if callable(value):
                    if not value(ticket.get(key)):
                        return None
                elif ticket.get(key) != value:
                    return None
            return ticket

        try:
            return wait_for(check, timeout, f"ticket {linkedid} with {want}")  # type: ignore[return-value]
        except AssertionError:
            raise AssertionError(f"ticket {linkedid} never matched {want}; it is {self.ticket(linkedid)}") from None

    def audit(self, ticket_id: int) -> list[dict[str, Any]]:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM audit_log WHERE ticket_id = ? ORDER BY id",
                                                 (ticket_id,))]


def until(deadline_s: float) -> float:
    return time.monotonic() + deadline_s
