"""A real Asterisk 22 in a folder of its own, configured the way a sysadmin would.

:class:`AsteriskLab` installs the project's ``asterisk-config/`` the way
``docs/asterisk-install.md`` tells (every ``*.conf`` into the configuration
folder, the silent-call prompt into ``<astdatadir>/sounds/id/``), then makes
only the changes a lab on one machine needs — :data:`LAB_CHANGES` lists each
one with its reason, and every change must match the shipped file exactly once,
so a change in ``asterisk-config/`` that a lab edit no longer fits fails loudly
instead of testing something else.

The build comes from ``scripts/asterisk-build`` (cached by checksum).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "asterisk-config"
BUILD_SCRIPT = ROOT / "scripts" / "asterisk-build"

#: The carrier trunk's address in the lab: callers (SIPp) send from here.
CARRIER_IP = "127.0.0.2"
#: Where operator phones and Asterisk live.
LAB_IP = "127.0.0.1"


def asterisk_prefix() -> Path | None:
    """The cached build's install prefix, or None when it was not built yet."""
    if not BUILD_SCRIPT.exists():
        return None
    done = subprocess.run([str(BUILD_SCRIPT), "--prefix"], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    prefix = Path(done.stdout.strip())
    return prefix if (prefix / "sbin" / "asterisk").exists() else None


def free_port(host: str = LAB_IP, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_udp_tcp_port(host: str = LAB_IP) -> int:
    """A port free for both UDP and TCP (PJSIP binds both transports to one port)."""
    for _ in range(50):
        port = free_port(host, socket.SOCK_DGRAM)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free for both UDP and TCP")


@dataclass(frozen=True)
class LabChange:
    """One edit of a shipped file: ``old`` must occur exactly ``count`` times."""

    file: str
    old: str
    new: str
    why: str
    count: int = 1


def lab_changes(*, sip_port: int, ami_port: int, carrier_port: int) -> list[LabChange]:
    """What a lab on one machine changes in the shipped configuration, and why."""
    return [
        LabChange("pjsip.conf", "bind = 0.0.0.0:5060", f"bind = {LAB_IP}:{sip_port}",
                  "listen on loopback only, on a port of the test's own (UDP and TCP)", count=2),
        LabChange("pjsip.conf", "match = 192.0.2.10\nmatch = 192.0.2.11", f"match = {CARRIER_IP}",
                  "the carrier's SBCs are the SIPp callers, sending from 127.0.0.2"),
        LabChange("pjsip.conf", "contact = sip:192.0.2.10:5060", f"contact = sip:{CARRIER_IP}:{carrier_port}",
                  "callbacks go to the lab's carrier"),
        LabChange("manager.conf", "port = 5038", f"port = {ami_port}", "an AMI port of the test's own"),
        LabChange("manager.conf", "\n[ngcc]\n", f"\n{OBSERVER_SECTION}\n[ngcc]\n",
                  "the test's own AMI client sees every event Asterisk sends (the ngcc user gets only "
                  "what the daemon needs: its eventfilter lines)"),
    ]


#: The manager user of the test's own AMI client (tests/real_asterisk/ami_listener.py): no eventfilter.
OBSERVER_USER = "lab-observer"
OBSERVER_SECRET = "lab-observer-secret"
OBSERVER_SECTION = (f"[{OBSERVER_USER}]\nsecret = {OBSERVER_SECRET}\ndeny = 0.0.0.0/0.0.0.0\n"
                    f"permit = {LAB_IP}/255.255.255.255\nread = all\nwrite = all\n")


#: Where asterisk-config/cel_custom.conf writes, under <astlogdir>.
CEL_CSV = "cel-custom/ngcc112-cel.csv"
#: The PostgreSQL variant of CEL, installed only for the tests that use it.
CEL_PGSQL_CONF = CONFIG_DIR / "postgresql" / "cel_pgsql.conf"


def cel_pgsql_changes(*, dbname: str, user: str = "postgres", host: str = "127.0.0.1",
                      port: int = 5432) -> list[LabChange]:
    """What the lab changes in postgresql/cel_pgsql.conf: its own database, PostgreSQL's trust login."""
    return [
        LabChange("cel_pgsql.conf", "dbname = ngcc112", f"dbname = {dbname}", "a database of the test's own"),
        LabChange("cel_pgsql.conf", "user = asterisk_cel", f"user = {user}",
                  "the lab's PostgreSQL trusts its superuser on 127.0.0.1"),
        LabChange("cel_pgsql.conf", "password = change-me", "password =", "trust: no password"),
        LabChange("cel_pgsql.conf", "hostname = 127.0.0.1", f"hostname = {host}", "the lab's PostgreSQL"),
        LabChange("cel_pgsql.conf", "port = 5432", f"port = {port}", "the lab's PostgreSQL"),
    ]


def drop_sections(text: str, name: str) -> str:
    """Remove every ``[name]`` section (the registering-trunk variant the lab does not use:
    docs/asterisk-install.md tells the sysadmin to delete the variant they do not use)."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            skipping = header.group(1) == name
        if not skipping:
            out.append(line)
    return "".join(out)


def apply_change(text: str, change: LabChange) -> str:
    found = text.count(change.old)
    if found != change.count:
        raise AssertionError(
            f"lab change for {change.file} ({change.why}) expects {change.old!r} {change.count} time(s),"
            f" found {found}: asterisk-config/ changed, update tests/real_asterisk/lab.py")
    return text.replace(change.old, change.new)


class AsteriskLab:
    """One Asterisk process with the project's configuration, under ``root``."""

    def __init__(self, prefix: Path, root: Path) -> None:
        self.prefix = prefix
        self.root = root
        self.etc = root / "etc"
        self.data = root / "data"
        self.log_dir = root / "log"
        self.sip_port = free_udp_tcp_port()
        self.ami_port = free_port()
        self.carrier_port = free_udp_tcp_port(CARRIER_IP)
        self.process: subprocess.Popen[bytes] | None = None
        self.ami_secret = "ngcc-secret"

    # -- installation ----------------------------------------------------------------------------

    def install(self) -> None:
        """Install asterisk-config/ as docs/asterisk-install.md says, plus the lab changes."""
        for folder in (self.etc, self.data, self.log_dir, self.root / "run", self.root / "spool",
                       self.root / "lib"):
            folder.mkdir(parents=True, exist_ok=True)
        # step 2 of the install page: every shipped *.conf into the configuration folder
        for conf in sorted(CONFIG_DIR.glob("*.conf")):
            shutil.copy(conf, self.etc / conf.name)
        changes = lab_changes(sip_port=self.sip_port, ami_port=self.ami_port, carrier_port=self.carrier_port)
        pjsip = (self.etc / "pjsip.conf").read_text()
        (self.etc / "pjsip.conf").write_text(drop_sections(pjsip, "carrier-reg"))
        for change in changes:
            path = self.etc / change.file
            path.write_text(apply_change(path.read_text(), change))
        self._link_data()
        # cel_custom.conf writes into <astlogdir>/cel-custom/, which an install creates
        (self.log_dir / "cel-custom").mkdir(exist_ok=True)
        # step 3: the silent-call prompt into <astdatadir>/sounds/id/
        prompt = CONFIG_DIR / "sounds" / "id" / "ngcc112-silent-prompt.wav"
        if not prompt.exists() and shutil.which("espeak-ng") and shutil.which("sox"):
            subprocess.run(["sh", str(CONFIG_DIR / "sounds" / "make-sounds.sh")], check=True,
                           capture_output=True)
        if prompt.exists():
            (self.data / "sounds" / "id").mkdir(parents=True, exist_ok=True)
            shutil.copy(prompt, self.data / "sounds" / "id" / prompt.name)
        (self.etc / "asterisk.conf").write_text(self._asterisk_conf())
        (self.etc / "logger.conf").write_text(
            "[general]\ndateformat = %F %T.%3q\n[logfiles]\n"
            "messages.log => notice,warning,error,verbose\n")

    def _link_data(self) -> None:
        """<astdatadir> of the lab: the build's files, with a sounds folder the lab can add to."""
        built = self.prefix / "var" / "lib" / "asterisk"
        for entry in built.iterdir():
            target = self.data / entry.name
            if entry.name == "sounds" or target.exists():
                continue
            target.symlink_to(entry)
        (self.data / "sounds").mkdir(exist_ok=True)
        for lang in (built / "sounds").iterdir():
            target = self.data / "sounds" / lang.name
            if not target.exists():
                target.symlink_to(lang)

    def _asterisk_conf(self) -> str:
        # The stock file's [directories](!) is a template Asterisk ignores: a real section here.
        return "\n".join([
            "[directories]",
            f"astetcdir => {self.etc}",
            f"astmoddir => {self.prefix / 'lib' / 'asterisk' / 'modules'}",
            f"astvarlibdir => {self.root / 'lib'}",
            f"astdbdir => {self.root / 'lib'}",
            f"astkeydir => {self.root / 'lib'}",
            f"astdatadir => {self.data}",
            f"astagidir => {self.data / 'agi-bin'}",
            f"astspooldir => {self.root / 'spool'}",
            f"astrundir => {self.root / 'run'}",
            f"astlogdir => {self.log_dir}",
            f"astsbindir => {self.prefix / 'sbin'}",
            "",
            "[options]",
            "verbose = 3",
            "cache_media_frames = yes",
            "",
        ])

    @property
    def cel_csv(self) -> Path:
        """The CEL file Asterisk writes (asterisk-config/cel_custom.conf)."""
        return self.log_dir / CEL_CSV

    def enable_cel_pgsql(self, dbname: str) -> None:
        """Install postgresql/cel_pgsql.conf for ``dbname`` (its cel table must exist) and load it."""
        text = CEL_PGSQL_CONF.read_text()
        for change in cel_pgsql_changes(dbname=dbname):
            text = apply_change(text, change)
        (self.etc / "cel_pgsql.conf").write_text(text)
        self.cli("module unload cel_pgsql.so", check=False)
        done = self.cli("module load cel_pgsql.so", check=False)
        if "Loaded" not in done.stdout + done.stderr:
            raise RuntimeError(f"cel_pgsql did not load: {done.stdout}{done.stderr}")

    def disable_cel_pgsql(self) -> None:
        self.cli("module unload cel_pgsql.so", check=False)
        (self.etc / "cel_pgsql.conf").unlink(missing_ok=True)

    # -- running ---------------------------------------------------------------------------------

    @property
    def binary(self) -> str:
        return str(self.prefix / "sbin" / "asterisk")

    def start(self, timeout: float = 60.0) -> None:
        out = open(self.log_dir / "console.log", "ab")
        self.process = subprocess.Popen(
            [self.binary, "-f", "-n", "-C", str(self.etc / "asterisk.conf")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_booted(timeout)

    def wait_booted(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Asterisk exited with {self.process.returncode}; see {self.log_dir}")
            done = self.cli("core waitfullybooted", timeout=deadline - time.monotonic(), check=False)
            if done.returncode == 0 and "fully booted" in done.stdout.lower():
                return
            time.sleep(0.2)
        raise TimeoutError(f"Asterisk did not boot within {timeout} s; see {self.log_dir}")

    def cli(self, command: str, *, timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.binary, "-C", str(self.etc / "asterisk.conf"), "-rx", command],
            capture_output=True, text=True, timeout=max(timeout, 1.0))
        if check and done.returncode != 0:
            raise RuntimeError(f"asterisk -rx {command!r} failed: {done.stderr or done.stdout}")
        return done

    def restart_now(self, timeout: float = 60.0) -> None:
        """``core restart now``: every call hung up, the process re-executes itself."""
        booted_before = self.boot_count()
        self.cli("core restart now", check=False)
        wait_for(lambda: self.boot_count() > booted_before, timeout, "Asterisk to come back from its restart",
                 interval=0.2)
        self.wait_booted(timeout)

    def boot_count(self) -> int:
        """How often this lab's Asterisk has started (its log says so each time)."""
        return self.messages().count("Asterisk Ready.")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.cli("core stop now", check=False, timeout=10)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def messages(self) -> str:
        path = self.log_dir / "messages.log"
        return path.read_text(errors="replace") if path.exists() else ""


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    """Wait until ``condition()`` is truthy (and return it), or fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
