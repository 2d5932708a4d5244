"""The labelled call cases ``ngcc112 eval-heuristics`` replays: their types and the checked loader.

A case file (JSON, in the package's ``routing/cases/`` by default) holds labelled
cases. Each case is a short story about one number: the calls it places
(simulator :class:`~ngcc112.sim.calls.CallScript` fields plus ``at``, when
the call starts, in simulated seconds from the case's start), what the
database already knows of it (earlier calls with operators' verdicts, misuse
list entries), and the true type of its **last** call: ``normal``, ``ghost``
or ``prank``. Earlier calls of a case become history exactly as they would
live (unjudged unless the call says ``"verdict"``).

:func:`load_cases` refuses a file it cannot use with a :class:`CaseError` naming
the file, the case and the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from ngcc112 import names
from ngcc112.location.numbers import canonical_number
from ngcc112.routing.evaluation import CALL_TYPES
from ngcc112.routing.facts import is_missing_number
from ngcc112.sim.calls import CallScript, TalkBurst

#: The longest a case may run, simulated seconds.
MAX_CASE_SECONDS = 600.0
#: The labelled cases shipped with the package (so the tool works from a wheel too).
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "routing" / "cases"

_CALL_KEYS = {
    "at",
    "number",
    "name",
    "presentation",
    "kind",
    "exten",
    "talk",
    "dtmf",
    "dtmf_at",
    "hangup_after",
    "verdict",
}
_CASE_KEYS = {"id", "type", "note", "calls", "history", "blocklist"}
_HISTORY_KEYS = {"minutes_ago", "days_ago", "verdict", "answered", "duration_seconds"}
_BLOCKLIST_KEYS = {"reason", "added_by", "days_ago", "expires_in_days"}


class CaseError(ValueError):
    """A case file cannot be used; the message names the file, the case and the field."""


@dataclass(frozen=True, slots=True)
class CaseCall:
    at: float
    script: CallScript
    verdict: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryCall:
    ago: timedelta
    verdict: str | None
    answered: bool
    duration: timedelta


@dataclass(frozen=True, slots=True)
class ListedNumber:
    reason: str
    added_by: str
    ago: timedelta
    expires_in: timedelta | None


@dataclass(frozen=True, slots=True)
class HeuristicCase:
    id: str
    type: str
    calls: tuple[CaseCall, ...]
    history: tuple[HistoryCall, ...] = ()
    blocklist: tuple[ListedNumber, ...] = ()
    note: str = ""
    source: str = ""


# --- loading ----------------------------------------------------------------------


def load_cases(path: str | Path | None = None) -> list[HeuristicCase]:
    """Every case in ``path`` (a ``.json`` file, or a directory of them), checked."""
    root = Path(path) if path is not None else DEFAULT_PATH
    if root.is_dir():
        files = sorted(root.glob("*.json"))
        if not files:
            raise CaseError(f"{root}: no .json case files")
    elif root.is_file():
        files = [root]
    else:
        raise CaseError(f"{root}: no such file or directory")
    cases: list[HeuristicCase] = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CaseError(f"{file}: cannot read: {exc}") from None
        items = data.get("cases") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise CaseError(f'{file}: expected an object with a "cases" list')
        for index, item in enumerate(items):
            cases.append(_case(item, f"{file.name}#{index}"))
    _check_unique(cases)
    return cases


def _check_unique(cases: Sequence[HeuristicCase]) -> None:
    ids: set[str] = set()
    owners: dict[str, str] = {}
    for case in cases:
        if case.id in ids:
            raise CaseError(f"{case.source}: case id {case.id!r} is used twice")
        ids.add(case.id)
        for call in case.calls:
            number = call.script.number
            if is_missing_number(number):
                continue
            key = canonical_number(number) or number
            owner = owners.setdefault(key, case.id)
            if owner != case.id:
                raise CaseError(
                    f"{case.source}: number {number} is also used by case {owner!r};"
                    " cases run at once and must not share numbers"
                )


def _case(item: Any, where: str) -> HeuristicCase:
    if not isinstance(item, Mapping):
        raise CaseError(f"{where}: a case must be an object")
    _known(item, _CASE_KEYS, where)
    case_id = item.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise CaseError(f'{where}: "id" must be a non-empty string')
    where = f"{where} ({case_id})"
    true_type = item.get("type")
    if true_type not in CALL_TYPES:
        raise CaseError(f'{where}: "type" must be one of {", ".join(CALL_TYPES)}, got {true_type!r}')
    calls = item.get("calls")
    if not isinstance(calls, list) or not calls:
        raise CaseError(f'{where}: "calls" must be a non-empty list')
    return HeuristicCase(
        id=case_id,
        type=true_type,
        note=str(item.get("note", "")),
        source=where,
        calls=tuple(_call(c, f"{where} call {i}") for i, c in enumerate(calls)),
        history=tuple(_history(h, f"{where} history {i}") for i, h in enumerate(_list(item, "history", where))),
        blocklist=tuple(_listed(b, f"{where} blocklist {i}") for i, b in enumerate(_list(item, "blocklist", where))),
    )


def _list(item: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = item.get(key, [])
    if not isinstance(value, list):
        raise CaseError(f'{where}: "{key}" must be a list')
    return value


def _known(item: Mapping[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(item) - keys)
    if unknown:
        raise CaseError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(keys))}")


def _number(item: Mapping[str, Any], key: str, where: str, default: float | None = None, minimum: float = 0.0) -> float:
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise CaseError(f'{where}: "{key}" must be a number ≥ {minimum:g}, got {value!r}')
    return float(value)


def _call(item: Any, where: str) -> CaseCall:
    if not isinstance(item, Mapping):
        raise CaseError(f"{where}: a call must be an object")
    _known(item, _CALL_KEYS, where)
    hangup = _number(item, "hangup_after", where)
    if hangup > MAX_CASE_SECONDS:
        raise CaseError(f'{where}: "hangup_after" must be at most {MAX_CASE_SECONDS:g} s')
    talk = []
    for i, burst in enumerate(item.get("talk", [])):
        if not isinstance(burst, Mapping):
            raise CaseError(f"{where} talk {i}: must be an object with at and seconds")
        talk.append(
            TalkBurst(
                at=_number(burst, "at", where),
                seconds=_number(burst, "seconds", where),
                silence_after=bool(burst.get("silence_after", True)),
            )
        )
    verdict = item.get("verdict")
    if verdict is not None and verdict not in ("normal", "ghost", "prank", "information"):
        raise CaseError(f'{where}: "verdict" must be normal, ghost, prank or information')
    try:
        script = CallScript(
            number=str(item.get("number", "")),
            name=str(item.get("name", "")),
            presentation=str(item.get("presentation", "allowed")),
            kind=str(item.get("kind", "PJSIP")),
            exten=str(item.get("exten", names.EMERGENCY_EXTEN)),
            talk=tuple(talk),
            dtmf=item.get("dtmf"),
            dtmf_at=_number(item, "dtmf_at", where, default=1.0),
            hangup_after=hangup,
        )
    except ValueError as exc:
        raise CaseError(f"{where}: {exc}") from None
    at = _number(item, "at", where, default=0.0)
    if at > MAX_CASE_SECONDS:
        raise CaseError(f'{where}: "at" must be at most {MAX_CASE_SECONDS:g} s')
    return CaseCall(at=at, script=script, verdict=verdict)


def _history(item: Any, where: str) -> HistoryCall:
    if not isinstance(item, Mapping):
        raise CaseError(f"{where}: must be an object")
    _known(item, _HISTORY_KEYS, where)
    if ("minutes_ago" in item) == ("days_ago" in item):
        raise CaseError(f"{where}: give exactly one of minutes_ago or days_ago")
    ago = (
        timedelta(minutes=_number(item, "minutes_ago", where))
        if "minutes_ago" in item
        else timedelta(days=_number(item, "days_ago", where))
    )
    verdict = item.get("verdict")
    if verdict is not None and verdict not in ("normal", "ghost", "prank", "information"):
        raise CaseError(f'{where}: "verdict" must be normal, ghost, prank, information or null')
    if ago <= timedelta(0):
        raise CaseError(f"{where}: an earlier call must be in the past")
    return HistoryCall(
        ago=ago,
        verdict=verdict,
        answered=bool(item.get("answered", True)),
        duration=timedelta(seconds=_number(item, "duration_seconds", where, 30.0)),
    )


def _listed(item: Any, where: str) -> ListedNumber:
    if not isinstance(item, Mapping):
        raise CaseError(f"{where}: must be an object")
    _known(item, _BLOCKLIST_KEYS, where)
    expires = item.get("expires_in_days")
    return ListedNumber(
        reason=str(item.get("reason", "misuse")),
        added_by=str(item.get("added_by", "supervisor")),
        ago=timedelta(days=_number(item, "days_ago", where, 1.0)),
        expires_in=None
        if expires is None
        else timedelta(days=_number(item, "expires_in_days", where, minimum=-3650.0)),
    )
