"""asterisklint checks the shipped dialplan; it must be clean.

asterisklint 0.4.3 knows Asterisk 13's functions; the dialplan also uses
IFMODULE (func_module) and GEOLOC_PROFILE (res_geolocation, Asterisk 19+).
They are taught to it through its documented extension point, a command in an
``asterisklint/commands`` folder on the Python path:
asterisk-config/lint/asterisklint/commands/ngcc-dialplan-check.py, which
registers exactly those two and then runs the stock dialplan-check. Nothing is
silenced: no ALINT_IGNORE, every other message fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ASTERISKLINT = Path(sys.executable).with_name("asterisklint")


def _lint(command: str, dialplan: Path, config_dir: Path) -> subprocess.CompletedProcess[str]:
    if not ASTERISKLINT.exists():
        pytest.fail(f"asterisklint is not installed next to {sys.executable}: pip install -e '.[test]'")
    env = {k: v for k, v in os.environ.items() if k != "ALINT_IGNORE"}
    env["PYTHONPATH"] = str(config_dir / "lint")
    return subprocess.run(
        [str(ASTERISKLINT), command, str(dialplan)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_shipped_dialplan_is_clean(config_dir):
    result = _lint("ngcc-dialplan-check", config_dir / "extensions.conf", config_dir)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout + result.stderr
    )


def test_stock_check_reports_only_the_two_taught_functions(config_dir):
    """Without the plugin, the only complaints are IFMODULE and GEOLOC_PROFILE."""
    result = _lint("dialplan-check", config_dir / "extensions.conf", config_dir)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert "E_FUNC_MISSING" in line, line
        assert "'IFMODULE'" in line or "'GEOLOC_PROFILE'" in line, line


def test_lint_still_catches_mistakes(config_dir, tmp_path):
    text = (config_dir / "extensions.conf").read_text(encoding="utf-8")
    broken = tmp_path / "extensions.conf"
    broken.write_text(
        text.replace("GEOLOC_PROFILE(format)", "GEOLOC_PROFIL(format)", 1).replace(
            "exten => s,1,Goto(112,1)", "exten => s,1,Goto(ngcc112-flwo,112,1)", 1
        ),
        encoding="utf-8",
    )
    result = _lint("ngcc-dialplan-check", broken, config_dir)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "'GEOLOC_PROFIL'" in output
    assert "ngcc112-flwo" in output
