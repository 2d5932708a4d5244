"""A pytest plugin: no secret the tests use ever shows in a log line of the run.

Every test's captured output (stdout, stderr, log records) is searched for the AMI
secrets, cookie secrets, tokens and passwords the suite configures; the daemons the
real-Asterisk suite runs as processes hand in their log files too
(:func:`scan_file`). A secret found anywhere fails the run at its end, naming the
test and the line (with the secret masked).

The demo prints its demo accounts' passwords on the console on purpose (a newcomer
needs them); that table is the one place a password may appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ngcc112.tickets.users import DEMO_USERS

#: Secrets configured somewhere in the tests (AMI, cookies, metrics, AML senders) and
#: passwords they log in with. Add the new one here when a test introduces one.
SECRETS: tuple[str, ...] = (
    "ngcc-secret", "admin-secret", "test-secret", "fuzz-secret", "s3cret",
    "real-asterisk-lab-cookie-secret", "a-long-metrics-token-0123456789",
    "correct horse", "a-long-password",
    "top-secret-ami", "top-secret-cookie", "top-secret-metrics-token", "top-secret-db", "s3cret-for-cli-test",
)
DEMO_PASSWORDS: tuple[str, ...] = tuple(password for _, password, _, _ in DEMO_USERS)
#: The demo's own table of its accounts: "  op1          op1-demo-112     operator".
_DEMO_TABLE_LINE = re.compile(r"^\s{2}\S+\s+\S+-demo-112\s+\w+\s*$")


@dataclass(frozen=True, slots=True)
class Finding:
    where: str
    line: str


_findings: list[Finding] = []


def findings_in(text: str, where: str) -> list[Finding]:
    """Every line of ``text`` that holds a secret (masked in the finding)."""
    found = []
    for line in text.splitlines():
        hits = [s for s in SECRETS if s in line]
        if not _DEMO_TABLE_LINE.match(line):
            hits += [p for p in DEMO_PASSWORDS if p in line]
        if hits:
            masked = line
            for secret in hits:
                masked = masked.replace(secret, "«" + "*" * len(secret) + "»")
            found.append(Finding(where, masked[:300]))
    return found


def scan_text(text: str, where: str) -> None:
    for finding in findings_in(text, where):
        if finding not in _findings:  # a test's teardown report repeats its call's output
            _findings.append(finding)


def scan_file(path: Path) -> None:
    scan_text(path.read_text(errors="replace"), str(path.name))


def scan_files(paths: Iterable[Path]) -> None:
    for path in paths:
        scan_file(path)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, content in report.sections:
        if name.startswith("Captured"):
            scan_text(content, report.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not _findings:
        return
    terminalreporter.section("secrets in the logs", sep="=", red=True, bold=True)
    for finding in _findings[:50]:
        terminalreporter.write_line(f"{finding.where}: {finding.line}")
    if len(_findings) > 50:
        terminalreporter.write_line(f"… and {len(_findings) - 50} more")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _findings and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
