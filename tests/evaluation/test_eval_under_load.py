"""The evaluation gives the same result on a busy machine: virtual time, not wall time.

Two (or one per core) CPU-burning processes hog the machine while the labelled
calls are replayed five times; every run must equal the one made before the
load started, to the last fact, score and priority.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ngcc112.tools.evaluation import EvaluationRun, evaluate_cases
from ngcc112.tools.heuristic_cases import DEFAULT_PATH
from ngcc112.routing.evaluation import render
from ngcc112.routing.policy import Policy

RUNS = 5
BURN = "while True: pass"

pytestmark = pytest.mark.timeout(90)


def outcome(run: EvaluationRun) -> tuple[str, list[tuple[object, ...]]]:
    """Everything a run decided, without how long it took."""
    return render(run.report), [(r.case.id, r.facts, r.assessment, r.predicted, r.priorities)
                                for r in run.results]


async def test_five_runs_with_every_core_busy_equal_the_idle_run():
    idle = outcome(await evaluate_cases(DEFAULT_PATH, policy=Policy()))
    burners = [subprocess.Popen([sys.executable, "-c", BURN])
               for _ in range(max(2, os.cpu_count() or 2))]
    try:
        for attempt in range(RUNS):
            assert all(b.poll() is None for b in burners), "a busy loop stopped"
            busy = outcome(await evaluate_cases(DEFAULT_PATH, policy=Policy()))
            assert busy == idle, f"run {attempt + 1} under load differs from the idle run"
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait()
