"""The integration suite on a real Asterisk 22.10.1 with real SIP calls.

One Asterisk for the whole session (``scripts/asterisk-build`` makes it; without
a build every test here is skipped with the reason), one ``ngcc112 run`` per
test module, SIPp callers on the carrier trunk (127.0.0.2) and SIPp operator
phones registered as ``op1`` … ``op3``. Each test asserts the daemon's tickets
against what Asterisk itself reported to the test's own AMI client.

Set ``NGCC112_RECORD_TRANSCRIPTS=DIR`` to keep each test's AMI traffic as a
transcript in DIR (the format of ``../shared/ami-transcripts/``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import log_secrets
import pytest

from .ami_listener import AmiListener
from .daemon import Daemon
from .lab import OBSERVER_SECRET, OBSERVER_USER, AsteriskLab, asterisk_prefix, wait_for
from .sipp import SIPP, Sip

#: Passwords of the sample operator phones in the shipped pjsip.conf.
PHONE_PASSWORDS = {"op1": "op1-sample-password", "op2": "op2-sample-password", "op3": "op3-sample-password"}

OPERATOR_QUEUE = "ngcc112-operators"
SUPERVISOR_QUEUE = "ngcc112-supervisors"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.real_asterisk)


@pytest.fixture(scope="session")
def asterisk_build() -> Path:
    prefix = asterisk_prefix()
    if prefix is None:
        pytest.skip("no real Asterisk build: run scripts/asterisk-build (about 10 minutes), then make test-asterisk")
    if not Path(SIPP).exists():
        pytest.skip("SIPp is not installed: apt-get install sip-tester (scripts/asterisk-build --deps does)")
    return prefix


@pytest.fixture(scope="session")
def lab_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="ngcc112-lab-"))
    print(f"real-Asterisk lab folder: {root}")
    yield root
    log_secrets.scan_files(root.rglob("daemon-*.log"))  # the daemons' own logs: no secret in them
    if not os.environ.get("NGCC112_KEEP_LAB"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def asterisk(asterisk_build: Path, lab_root: Path) -> Iterator[AsteriskLab]:
    lab = AsteriskLab(asterisk_build, lab_root / "asterisk")
    lab.install()
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def ami(asterisk: AsteriskLab, request: pytest.FixtureRequest) -> Iterator[AmiListener]:
    """The test's own AMI client: every event Asterisk sends (its own manager user, no eventfilter)."""
    listener = AmiListener("127.0.0.1", asterisk.ami_port, username=OBSERVER_USER, secret=OBSERVER_SECRET).start()
    yield listener
    record = os.environ.get("NGCC112_RECORD_TRANSCRIPTS")
    if record:
        name = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower()).strip("_")
        listener.write_transcript(Path(record), name, notes=[request.node.nodeid])
    listener.stop()


@pytest.fixture
def ngcc_ami(asterisk: AsteriskLab) -> Iterator[AmiListener]:
    """An AMI client logged in as the daemon's own user: its rights, and only the events its eventfilter passes."""
    listener = AmiListener("127.0.0.1", asterisk.ami_port, secret=asterisk.ami_secret).start()
    yield listener
    listener.stop()


@pytest.fixture
def sip(asterisk: AsteriskLab, lab_root: Path, request: pytest.FixtureRequest) -> Iterator[Sip]:
    name = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())[:60]
    sip = Sip(lab_root / "sipp" / name, asterisk.sip_port)
    yield sip
    sip.stop()


@pytest.fixture
def clean_queues(asterisk: AsteriskLab, ami: AmiListener) -> Iterator[None]:
    """No dynamic operator and no waiting caller left over from an earlier test."""
    _empty_queues(asterisk, ami)
    yield
    _empty_queues(asterisk, ami)


def _empty_queues(asterisk: AsteriskLab, ami: AmiListener) -> None:
    asterisk.cli("channel request hangup all", check=False)
    wait_for(lambda: "0 active channels" in asterisk.cli("core show channels count").stdout, 30,
             "every channel of the previous test to be gone")
    for frame in ami.action("QueueStatus", Queue=OPERATOR_QUEUE):
        if frame.event == "QueueMember" and frame.get("Membership") == "dynamic":
            ami.action("QueueRemove", Queue=OPERATOR_QUEUE, Interface=frame.get("Location"))


@pytest.fixture
def daemon(asterisk: AsteriskLab, lab_root: Path, request: pytest.FixtureRequest,
           clean_queues: None) -> Iterator[Daemon]:
    name = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())[:60]
    daemon = Daemon(lab_root / "daemon" / name, ami_port=asterisk.ami_port, secret=asterisk.ami_secret,
                    cel_csv=asterisk.cel_csv)
    daemon.start()
    yield daemon
    daemon.stop()


def queue_add(ami: AmiListener, interface: str, queue: str = OPERATOR_QUEUE) -> None:
    answer = ami.action("QueueAdd", Queue=queue, Interface=interface, MemberName=interface.split("/")[-1])
    assert answer[0].response == "Success", answer[0].pairs


def device_reachable(ami: AmiListener, interface: str, timeout: float = 20.0) -> None:
    """Wait until Asterisk would ring ``interface`` (registered and answering qualify)."""
    def ok() -> bool:
        for frame in ami.action("DeviceStateList"):
            if frame.get("Device") == interface:
                return frame.get("State") not in ("UNAVAILABLE", "INVALID", "UNKNOWN")
        return False

    wait_for(ok, timeout, f"{interface} to be reachable", interval=0.5)
