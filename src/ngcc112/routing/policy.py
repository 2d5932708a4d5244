"""The thresholds and weights prank/ghost scoring runs on.

Defaults are a starting point for tuning against labelled calls
(``routing.evaluation``); a center overrides them in the ``[routing]`` table of
its settings file, which :meth:`Policy.from_mapping` validates at start.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


class PolicyError(ValueError):
    """The ``[routing]`` settings cannot be used; the message names the key and why."""


@dataclass(frozen=True, slots=True)
class Policy:
    # --- live-call signals -------------------------------------------------
    #: No caller speech within this many seconds after the system answer: a ghost signal.
    no_speech_seconds: float = 10.0
    #: The caller hung up within this many seconds after the answer, without speaking.
    short_call_seconds: float = 5.0
    # --- repeat calls ------------------------------------------------------
    #: A burst: at least ``burst_count`` calls (this one included) within ``burst_window_minutes``.
    burst_window_minutes: float = 5.0
    burst_count: int = 3
    #: Earlier calls ended before an operator answered; at least this many is a ghost signal.
    early_hangup_count: int = 2
    #: Earlier verdicts count for this many days.
    history_days: float = 30.0
    #: At least this many earlier "normal" verdicts make a caller likely real.
    genuine_history_count: int = 1
    # --- weights (each signal's strength, combined as independent evidence) --
    weight_no_speech: float = 0.5
    weight_short_call: float = 0.4
    weight_prompt_hangup: float = 0.5
    weight_early_hangups: float = 0.2
    weight_silent_burst: float = 0.3
    #: How much the silent-call digit 5 takes off the ghost score (fraction).
    weight_silent_digit: float = 0.9
    weight_prank_verdict: float = 0.35
    weight_call_burst: float = 0.3
    weight_blocklist: float = 0.5
    weight_missing_number: float = 0.2
    weight_withheld_number: float = 0.1
    # --- acting on the scores ---------------------------------------------
    #: A score at or above its threshold classifies the call as ghost / prank.
    ghost_threshold: float = 0.6
    prank_threshold: float = 0.6
    #: Queue priorities for QueueChangePriorityCaller. ``priority_normal`` is the
    #: priority calls join the queue with (the shipped dialplan sets no QUEUE_PRIO: 0).
    priority_normal: int = 0
    priority_raise: int = 10
    priority_lower: int = -10

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise PolicyError(f"routing.{f.name} must be an integer, got {value!r}")
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise PolicyError(f"routing.{f.name} must be a number, got {value!r}")
                if not math.isfinite(value):
                    raise PolicyError(f"routing.{f.name} must be finite, got {value!r}")
            if f.name.startswith("weight_") or f.name.endswith("_threshold"):
                if not 0.0 <= value <= 1.0:
                    raise PolicyError(f"routing.{f.name} must be between 0 and 1, got {value!r}")
            elif f.name.endswith(("_seconds", "_minutes", "_days")):
                if value <= 0:
                    raise PolicyError(f"routing.{f.name} must be positive, got {value!r}")
            elif f.name.endswith("_count") and value < 1:
                raise PolicyError(f"routing.{f.name} must be at least 1, got {value!r}")
        if not self.priority_lower < self.priority_normal < self.priority_raise:
            raise PolicyError(
                "routing priorities must satisfy priority_lower < priority_normal < priority_raise,"
                f" got {self.priority_lower}, {self.priority_normal}, {self.priority_raise}"
            )

    @property
    def burst_window(self) -> timedelta:
        return timedelta(minutes=self.burst_window_minutes)

    @property
    def history_window(self) -> timedelta:
        return timedelta(days=self.history_days)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Policy:
        """Build a policy from ``settings.routing``; unknown keys and bad types are refused.

        Integers are accepted where a number is expected (``no_speech_seconds = 8``);
        strings are not converted: a TOML value in quotes is a mistake worth hearing about.
        """
        if not isinstance(values, Mapping):
            raise PolicyError(f"[routing] must be a table, got {type(values).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(str(key) for key in values if key not in known)
        if unknown:
            raise PolicyError(
                f"unknown routing setting(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
            )
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if known[key].type == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            kwargs[key] = value
        return cls(**kwargs)
