"""A session's manager.conf ``eventfilter``: which events Asterisk writes to that client at all.

Asterisk drops an event a user's include filters do not match before it is written to the socket
(manager.c ``filter_cmp_fn``); the simulator does the same with the rules of
:mod:`ngcc112.ami.needed_events`, so a client of the simulator reads what it would read from a
real Asterisk with the shipped manager.conf. Matching works on the event's wire pairs, before any
parsing, once per event and session.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ngcc112.ami.needed_events import EventRule
from ngcc112.sim.wire import Pairs


@dataclass(frozen=True, slots=True)
class _Check:
    header: str | None
    method: str
    pattern: str
    regex: re.Pattern[str] | None

    def passes(self, pairs: Pairs) -> bool:
        if self.header is None:
            return True
        value = next((v for k, v in pairs if k.lower() == self.header), "")
        if self.regex is None:
            return value == self.pattern
        return self.regex.search(value) is not None


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Include rules by event name; no rules at all: every event passes (no filter configured)."""

    checks: Mapping[str, tuple[_Check, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, rules: tuple[EventRule, ...]) -> EventFilter:
        checks: dict[str, list[_Check]] = {}
        for rule in rules:
            regex = re.compile(rule.pattern) if rule.header is not None and rule.method != "exact" else None
            header = rule.header.lower() if rule.header is not None else None
            checks.setdefault(rule.name, []).append(_Check(header, rule.method, rule.pattern, regex))
        return cls({name: tuple(found) for name, found in checks.items()})

    def passes(self, pairs: Pairs) -> bool:
        if not self.checks:
            return True
        name = pairs[0][1] if pairs and pairs[0][0] == "Event" else ""
        return any(check.passes(pairs) for check in self.checks.get(name, ()))


#: No filter: what a session has before login and for a user without ``eventfilter`` lines.
NO_FILTER = EventFilter()
