"""Fixtures shared by every test module."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The recorded Asterisk 22 traffic: ../shared/ami-transcripts beside the checkout.
TRANSCRIPTS = ROOT.parent / "shared" / "ami-transcripts"


@pytest.fixture(scope="session")
def transcripts_dir() -> Path:
    if not TRANSCRIPTS.is_dir():
        pytest.fail(f"the AMI transcripts are missing: expected {TRANSCRIPTS}")
    return TRANSCRIPTS
