"""Cluster nodes and the simulated Asterisk as separate processes, started the way a sysadmin starts them.

Each :class:`Node` is one ``ngcc112 run`` with ``NGCC112_CLUSTER=on`` and its own name,
panel port and state folder (so its journal is its own); :class:`Simulator` is
``ngcc112 sim`` with a surge. Everything is read from the outside: ``/readyz``, the JSON log,
the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

NGCC112 = str(Path(sys.executable).with_name("ngcc112"))
HOST = "127.0.0.1"
COOKIE_SECRET = "cluster-test-cookie-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def until(condition: Any, what: str, patience: float) -> Any:
    """Until ``condition()`` is truthy (returned); a bound only a hang reaches, never a timed assertion."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"gave up after {patience:g} s waiting for {what}")
        await asyncio.sleep(0.05)


class Process:
    def __init__(self, folder: Path, name: str, env: dict[str, str]) -> None:
        self.folder = folder
        self.name = name
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / f"{name}.log"

    def spawn(self, *args: str) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child holds it; closed with the process)
        self.process = subprocess.Popen(
            [NGCC112, *args], env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye to PostgreSQL or Asterisk."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, as systemd stops it (then SIGKILL if it hangs)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Simulator(Process):
    def __init__(self, folder: Path, *, rate: float, calls: int, hold: float) -> None:
        self.port = free_port()
        super().__init__(folder, "sim", {**os.environ, "NGCC112_LOG_LEVEL": "warning"})
        self.placed_path = folder / "placed.jsonl"
        self.args = ("sim", "--port", str(self.port), "--surge", str(rate), "--calls", str(calls),
                     "--hold", str(hold), "--placed", str(self.placed_path))

    async def start(self, patience: float) -> None:
        self.spawn(*self.args)
        await until(lambda: self.check_alive() or "AMI listening" in self.log(), "the simulator to listen", patience)

    def placed(self) -> list[dict[str, Any]]:
        if not self.placed_path.exists():
            return []
        return [json.loads(line) for line in self.placed_path.read_text().splitlines() if line.strip()]

    @property
    def surge_done(self) -> bool:
        return "surge done" in self.log()


class Node(Process):
    def __init__(self, folder: Path, name: str, *, database_url: str, ami_port: int, site: str = "main") -> None:
        self.panel_port = free_port()
        state = folder / f"state-{name}"
        state.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "NGCC112_DATABASE_URL": database_url,
            "NGCC112_CLUSTER": "on",
            "NGCC112_NODE_NAME": name,
            "NGCC112_SITE": site,
            "NGCC112_AMI_HOST": HOST,
            "NGCC112_AMI_PORT": str(ami_port),
            "NGCC112_PANEL_LISTEN": f"{HOST}:{self.panel_port}",
            "NGCC112_PANEL_COOKIE_SECRET": COOKIE_SECRET,
            "NGCC112_LOG_FORMAT": "json",
            "NGCC112_LOG_LEVEL": "info",
            "NGCC112_WRAPUP_SECONDS": "5",
            "XDG_STATE_HOME": str(state),
        }
        super().__init__(folder, name, env)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.panel_port}"

    def start(self) -> None:
        self.spawn("run")

    def readyz(self) -> dict[str, Any] | None:
        """The node's /readyz body (from loopback: the monitoring's whole body), None while it does not answer."""
        self.check_alive()
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as answer:
                return dict(json.loads(answer.read()))
        except urllib.error.HTTPError as error:
            return dict(json.loads(error.read()))
        except OSError:
            return None

    def is_role(self, role: str) -> bool:
        body = self.readyz()
        return body is not None and body["status"] == "ok" and body["role"] == role

    def log_events(self, event: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("event") == event:
                found.append(entry)
        return found

    def logged_at(self, event: str) -> datetime | None:
        events = self.log_events(event)
        return datetime.fromisoformat(events[0]["timestamp"]) if events else None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([NGCC112, *args], env=self.env, capture_output=True, text=True, timeout=60)


def _bench_faults() -> Any:
    """bench/faults.py as a module (its :class:`Proxy` between a node and PostgreSQL)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "bench" / "faults.py"
    spec = importlib.util.spec_from_file_location("ngcc112_bench_faults", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class DatabaseProxy:
    """bench/faults.py's TCP proxy to PostgreSQL, on an event loop of its own thread, so a test
    that blocks (urllib) never holds a node's database traffic up."""

    def __init__(self) -> None:
        import threading

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="db-proxy", daemon=True)
        self._thread.start()
        self._proxy = _bench_faults().Proxy()
        self._run(self._proxy.start())
        self.port: int = self._proxy.port

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def set(self, mode: str) -> None:
        """``up``, or ``refuse``: every connection through it closed at once and new ones refused."""
        self._loop.call_soon_threadsafe(self._proxy.set, mode)

    def url(self, database_url: str) -> str:
        return database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{self.port}/")

    def close(self) -> None:
        self._run(self._proxy.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
