"""Prank/ghost scoring of a call, with reasons an operator can read.

Each signal found adds a :class:`Reason` with a weight; a score combines its
reasons as independent evidence (``1 - Π(1 - weight)``), so it stays in [0, 1],
and more evidence never lowers it. One reason works the other way: the
silent-call digit 5 (the caller cannot speak) takes a fraction off the ghost
score, and makes the call likely real.

The only thing a score may lead to is :class:`PriorityAdvice`, a new queue
priority for ``QueueChangePriorityCaller``. There is deliberately no way to
express "drop", "block" or "refuse": every caller reaches an operator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ngcc112 import names
from ngcc112.routing.facts import CallerHistory, CallFacts, PastCall
from ngcc112.routing.policy import Policy


@dataclass(frozen=True, slots=True)
class Reason:
    """One explained signal: a stable machine ``code`` and one sentence in English and in
    Bahasa Indonesia.

    ``weight`` is its strength in [0, 1]; for ``silent_digit`` on the ghost
    score it is the fraction taken off rather than added.
    """

    code: str
    text_en: str
    text_id: str
    weight: float = 0.0

    def text(self, language: str = "en") -> str:
        return self.text_id if language == "id" else self.text_en


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    reasons: tuple[Reason, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.value <= 1.0:
            raise ValueError(f"Score.value must be in [0, 1], got {self.value!r}")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)


@dataclass(frozen=True, slots=True)
class PriorityAdvice:
    """Set the waiting caller's queue priority to ``priority``. Nothing else.

    The daemon sends it as ``QueueChangePriorityCaller``; there is no other kind of advice.
    """

    priority: int
    reason: Reason

    def __post_init__(self) -> None:
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise TypeError(f"PriorityAdvice.priority must be an int, got {self.priority!r}")


@dataclass(frozen=True, slots=True)
class Assessment:
    ghost: Score
    prank: Score
    likely_real: bool
    priority: PriorityAdvice | None
    #: Why the call is likely real (digit 5, genuine history), empty otherwise.
    real_reasons: tuple[Reason, ...] = ()


def score_call(facts: CallFacts, history: CallerHistory, policy: Policy, now: datetime) -> Assessment:
    """Score ``facts`` at ``now`` against ``history`` under ``policy``. Pure and deterministic.

    History is read only for calls that arrived before this one, within
    ``policy.history_days``. A call without a usable number gets no history
    at all: every ``<unknown>`` caller would otherwise share one.
    """
    if now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
    earlier = _earlier_calls(facts, history, policy)
    digit5 = facts.silent_digit == names.SILENT_DIGIT

    ghost_reasons = _ghost_reasons(facts, earlier, policy, now)
    ghost_value = _combine(ghost_reasons)
    if digit5:
        silent = _silent_digit_reason(policy.weight_silent_digit)
        ghost_value *= 1.0 - silent.weight
        ghost_reasons = (*ghost_reasons, silent)

    prank_reasons = _prank_reasons(facts, history, earlier, policy, now)
    prank = Score(_clamp(_combine(prank_reasons)), prank_reasons)
    ghost = Score(_clamp(ghost_value), ghost_reasons)

    real_reasons = _real_reasons(facts, earlier, policy, prank)
    likely_real = bool(real_reasons)
    return Assessment(
        ghost=ghost,
        prank=prank,
        likely_real=likely_real,
        priority=_advise(facts, prank, real_reasons, policy),
        real_reasons=real_reasons,
    )


_LABELS = {
    "en": ("ghost", "prank", "likely real"),
    "id": ("panggilan kosong", "iseng", "kemungkinan nyata"),
}


def explain(assessment: Assessment, language: str = "en") -> str:
    """One line for the operator's screen, in ``en`` or ``id``.

    ``ghost 0.85 (no speech in 10 s; hung up during the silent-call prompt) · prank 0.00``
    """
    ghost_label, prank_label, real_label = _LABELS.get(language, _LABELS["en"])
    parts = [
        _explain_score(ghost_label, assessment.ghost, language),
        _explain_score(prank_label, assessment.prank, language),
    ]
    if assessment.likely_real:
        why = "; ".join(reason.text(language) for reason in assessment.real_reasons)
        parts.append(f"{real_label} ({why})")
    return " · ".join(parts)


def _explain_score(label: str, score: Score, language: str) -> str:
    text = f"{label} {score.value:.2f}"
    if score.reasons:
        text += " (" + "; ".join(reason.text(language) for reason in score.reasons) + ")"
    return text


# --- signals ---------------------------------------------------------------


def _ghost_reasons(
    facts: CallFacts, earlier: tuple[PastCall, ...], policy: Policy, now: datetime
) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    start = facts.answered_at or facts.arrived_at
    first_talk = facts.first_talk_at
    spoke = first_talk is not None

    # No speech for the whole N s after the answer, or none at all before an
    # earlier hang-up (then the sentence says how long it was listened to).
    if facts.answered_at is not None:
        no_speech_until = start + timedelta(seconds=policy.no_speech_seconds)
        end = facts.ended_at
        ended_early = end is not None and end < no_speech_until
        listened_until = end if end is not None and ended_early else min(now, no_speech_until)
        window_observed = ended_early or now >= no_speech_until
        if window_observed and (first_talk is None or first_talk > listened_until):
            n = _num(max((listened_until - start).total_seconds(), 0.0))
            reasons.append(
                Reason(
                    "no_speech",
                    f"no speech in {n} s",
                    f"tidak ada suara dalam {n} detik",
                    policy.weight_no_speech,
                )
            )

    if facts.ended_at is not None and not spoke:
        lasted = facts.ended_at - start
        if lasted < timedelta(seconds=policy.short_call_seconds):
            n = _num(max(lasted.total_seconds(), 0.0))
            reasons.append(
                Reason(
                    "short_call",
                    f"hung up {n} s after answer without speaking",
                    f"menutup telepon {n} detik setelah diangkat tanpa berbicara",
                    policy.weight_short_call,
                )
            )

    if facts.hung_up_in_prompt:
        reasons.append(
            Reason(
                "prompt_hangup",
                "hung up during the silent-call prompt",
                "menutup telepon saat pesan panggilan senyap diputar",
                policy.weight_prompt_hangup,
            )
        )

    hangups = sum(1 for call in earlier if call.ended_before_answer)
    if hangups >= policy.early_hangup_count:
        reasons.append(
            Reason(
                "repeated_hangups",
                f"{hangups} earlier calls ended before an operator answered",
                f"{hangups} panggilan sebelumnya berakhir sebelum dijawab operator",
                _repeat(policy.weight_early_hangups, hangups - policy.early_hangup_count + 1),
            )
        )

    if not spoke:
        window_start = facts.arrived_at - policy.burst_window
        silent = 1 + sum(1 for call in earlier if call.arrived_at >= window_start and _looked_silent(call, policy))
        if silent >= policy.burst_count:
            m = _num(policy.burst_window_minutes)
            reasons.append(
                Reason(
                    "silent_burst",
                    f"{silent} silent calls in {m} min",
                    f"{silent} panggilan tanpa suara dalam {m} menit",
                    _repeat(policy.weight_silent_burst, silent - policy.burst_count + 1),
                )
            )
    return tuple(reasons)


def _prank_reasons(
    facts: CallFacts,
    history: CallerHistory,
    earlier: tuple[PastCall, ...],
    policy: Policy,
    now: datetime,
) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    pranks = sum(1 for call in earlier if call.verdict == "prank")
    if pranks:
        reasons.append(
            Reason(
                "prank_verdicts",
                f"{pranks} earlier prank verdict{'s' if pranks != 1 else ''}",
                f"{pranks} panggilan sebelumnya dinilai iseng",
                _repeat(policy.weight_prank_verdict, pranks),
            )
        )

    window_start = facts.arrived_at - policy.burst_window
    recent = 1 + sum(1 for call in earlier if call.arrived_at >= window_start)
    if recent >= policy.burst_count:
        m = _num(policy.burst_window_minutes)
        reasons.append(
            Reason(
                "call_burst",
                f"{recent} calls in {m} min",
                f"{recent} panggilan dalam {m} menit",
                _repeat(policy.weight_call_burst, recent - policy.burst_count + 1),
            )
        )

    if not facts.number_missing:
        active = [entry for entry in history.blocklist if entry.active_at(now)]
        if active:
            latest = max(active, key=lambda entry: entry.added_at)
            more_en = f" (+{len(active) - 1} more)" if len(active) > 1 else ""
            more_id = f" (+{len(active) - 1} lainnya)" if len(active) > 1 else ""
            reasons.append(
                Reason(
                    "blocklisted",
                    f"on the misuse list: {latest.reason} (by {latest.added_by}){more_en}",
                    f"tercatat dalam daftar penyalahgunaan: {latest.reason} (oleh {latest.added_by}){more_id}",
                    policy.weight_blocklist,
                )
            )

    if facts.number_missing:
        reasons.append(
            Reason(
                "missing_number",
                "no caller number",
                "nomor penelepon tidak tersedia",
                policy.weight_missing_number,
            )
        )
    elif facts.presentation_withheld:
        reasons.append(
            Reason(
                "withheld_number",
                "withheld caller ID",
                "nomor penelepon disembunyikan",
                policy.weight_withheld_number,
            )
        )
    return tuple(reasons)


def _real_reasons(facts: CallFacts, earlier: tuple[PastCall, ...], policy: Policy, prank: Score) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    if facts.silent_digit == names.SILENT_DIGIT:
        reasons.append(_silent_digit_reason(policy.weight_silent_digit))
    genuine = sum(1 for call in earlier if call.verdict == "normal")
    if genuine >= policy.genuine_history_count and prank.value < policy.prank_threshold:
        reasons.append(
            Reason(
                "genuine_history",
                f"{genuine} earlier genuine emergenc{'ies' if genuine != 1 else 'y'}",
                f"{genuine} keadaan darurat nyata sebelumnya",
            )
        )
    return tuple(reasons)


def _silent_digit_reason(weight: float) -> Reason:
    d = names.SILENT_DIGIT
    return Reason(
        "silent_digit",
        f"silent-call digit {d} pressed — caller may be unable to speak",
        f"tombol {d} ditekan — penelepon mungkin tidak dapat berbicara",
        weight,
    )


def _advise(facts: CallFacts, prank: Score, real_reasons: tuple[Reason, ...], policy: Policy) -> PriorityAdvice | None:
    """A new queue priority while the caller can still be waiting, or None."""
    if facts.ended_at is not None or facts.operator_answered_at is not None:
        return None
    if real_reasons:
        return PriorityAdvice(policy.priority_raise, real_reasons[0])
    if prank.reasons and prank.value > 0.0 and prank.value >= policy.prank_threshold:
        strongest = max(prank.reasons, key=lambda reason: reason.weight)
        return PriorityAdvice(policy.priority_lower, strongest)
    return None


# --- helpers ---------------------------------------------------------------


def _earlier_calls(facts: CallFacts, history: CallerHistory, policy: Policy) -> tuple[PastCall, ...]:
    if facts.number_missing:
        return ()
    since = facts.arrived_at - policy.history_window
    return tuple(call for call in history.calls if since <= call.arrived_at < facts.arrived_at)


def _looked_silent(call: PastCall, policy: Policy) -> bool:
    """An earlier call counts as silent: judged ghost, or unjudged and ended early."""
    if call.verdict is not None:
        return call.verdict == "ghost"
    if call.ended_before_answer:
        return True
    return call.duration is not None and call.duration < timedelta(seconds=policy.short_call_seconds)


def _combine(reasons: Iterable[Reason]) -> float:
    remaining = 1.0
    for reason in reasons:
        remaining *= 1.0 - reason.weight
    return 1.0 - remaining


def _repeat(weight: float, times: int) -> float:
    """The weight of ``times`` independent repetitions of one signal."""
    return 1.0 - (1.0 - weight) ** max(times, 0)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _num(value: float) -> str:
    """Seconds/minutes for a sentence: ``10``, ``2.5``."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)
