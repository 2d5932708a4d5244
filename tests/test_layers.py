"""The layers the folders show hold: the import contracts of pyproject.toml ([tool.importlinter]).

`make lint` runs the same check in CI before the suites; here it also guards a plain `pytest`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ngcc112

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is in the [test] extras")
def test_the_import_contracts_hold():
    source = Path(ngcc112.__file__).resolve().parent.parent
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(source)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_runtime_does_not_import_the_tools_or_the_simulator():
    """Nothing the daemon runs needs the simulator, the demo or the evaluation (tools sit on top)."""
    code = ("import sys, ngcc112.app, ngcc112.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('ngcc112.sim', 'ngcc112.tools'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(Path(ngcc112.__file__).resolve().parent.parent)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
