"""Scoring calls for ghost/prank likelihood, with reasons, and the priority it may advise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ngcc112.routing.facts import (
    BlocklistEntry,
    CallerHistory,
    CallFacts,
    PastCall,
    TalkSpan,
    is_missing_number,
    is_withheld_presentation,
)
from ngcc112.routing.policy import Policy
from ngcc112.routing.scoring import PriorityAdvice, explain, score_call

T0 = datetime(2026, 11, 28, 6, 0, 0, tzinfo=UTC)
POLICY = Policy()
NONE = CallerHistory()


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def live(**overrides: object) -> CallFacts:
    """A call from 081234567890 answered by the dialplan at T0 + 0.1 s."""
    values: dict[str, object] = {
        "arrived_at": T0,
        "caller_number": "081234567890",
        "answered_at": T0 + s(0.1),
        "queued_at": T0 + s(4.2),
    }
    values.update(overrides)
    return CallFacts(**values)  # type: ignore[arg-type]


def earlier(minutes_ago: float, **overrides: object) -> PastCall:
    values: dict[str, object] = {"arrived_at": T0 - timedelta(minutes=minutes_ago)}
    values.update(overrides)
    return PastCall(**values)  # type: ignore[arg-type]


# --- a call that behaves normally ------------------------------------------------


def test_a_caller_who_speaks_is_neither_ghost_nor_prank() -> None:
    facts = live(talk=(TalkSpan(T0 + s(4.5), s(1.4)),))
    result = score_call(facts, NONE, POLICY, now=T0 + s(20))
    assert result.ghost.value == 0.0
    assert result.prank.value == 0.0
    assert result.ghost.reasons == () and result.prank.reasons == ()
    assert not result.likely_real
    assert result.priority is None


def test_talk_start_without_a_stop_still_counts_as_speech() -> None:
    # f_talk_detect_no_stop / f_talk_detect_sip: ChannelTalkingStart, no Stop.
    facts = live(talk=(TalkSpan(T0 + s(4.08)),), ended_at=T0 + s(13))
    result = score_call(facts, NONE, POLICY, now=T0 + s(13))
    assert "no_speech" not in result.ghost.codes
    assert "short_call" not in result.ghost.codes


def test_no_speech_is_not_claimed_before_the_window_has_passed() -> None:
    result = score_call(live(), NONE, POLICY, now=T0 + s(9.0))
    assert "no_speech" not in result.ghost.codes


# --- ghost signals ---------------------------------------------------------------


def test_no_speech_for_n_seconds_after_answer_is_a_ghost_signal() -> None:
    # f_talk_detect_silent: no RTP at all, still waiting in the queue.
    result = score_call(live(), NONE, POLICY, now=T0 + s(10.1))
    (reason,) = result.ghost.reasons
    assert reason.code == "no_speech"
    assert reason.text_en == "no speech in 10 s"
    assert reason.text_id == "tidak ada suara dalam 10 detik"
    assert result.ghost.value == pytest.approx(POLICY.weight_no_speech)


def test_speech_that_starts_only_after_the_window_does_not_undo_no_speech() -> None:
    facts = live(talk=(TalkSpan(T0 + s(12)),))
    result = score_call(facts, NONE, POLICY, now=T0 + s(15))
    assert "no_speech" in result.ghost.codes


def test_hang_up_during_the_prompt_is_a_strong_ghost() -> None:
    # m_ghost_in_prompt: BYE 1.2 s after 200 OK, never queued.
    facts = live(queued_at=None, ended_at=T0 + s(1.3), hung_up_in_prompt=True)
    result = score_call(facts, NONE, POLICY, now=T0 + s(1.3))
    assert set(result.ghost.codes) == {"no_speech", "short_call", "prompt_hangup"}
    assert result.ghost.value >= POLICY.ghost_threshold
    short = next(r for r in result.ghost.reasons if r.code == "short_call")
    assert short.text_en == "hung up 1.2 s after answer without speaking"
    assert not facts.reached_queue
    assert result.priority is None  # the call is over: nothing to reorder


def test_earlier_hang_ups_before_answer_add_to_the_ghost_score() -> None:
    history = CallerHistory(
        calls=(
            earlier(60 * 24, ended_before_answer=True),
            earlier(60 * 5, ended_before_answer=True),
            earlier(60 * 2, ended_before_answer=True),
        )
    )
    result = score_call(live(), history, POLICY, now=T0 + s(10.1))
    reason = next(r for r in result.ghost.reasons if r.code == "repeated_hangups")
    assert reason.text_en == "3 earlier calls ended before an operator answered"
    assert reason.text_id == "3 panggilan sebelumnya berakhir sebelum dijawab operator"


def test_a_burst_of_silent_calls_from_one_number() -> None:
    history = CallerHistory(calls=(earlier(4, verdict="ghost"), earlier(2, duration=s(3))))
    result = score_call(live(), history, POLICY, now=T0 + s(10.1))
    reason = next(r for r in result.ghost.reasons if r.code == "silent_burst")
    assert reason.text_en == "3 silent calls in 5 min"
    assert reason.text_id == "3 panggilan tanpa suara dalam 5 menit"
    assert result.ghost.value >= POLICY.ghost_threshold


def test_calls_outside_the_burst_window_do_not_make_a_burst() -> None:
    history = CallerHistory(calls=(earlier(6, verdict="ghost"), earlier(2, verdict="ghost")))
    result = score_call(live(), history, POLICY, now=T0 + s(10.1))
    assert "silent_burst" not in result.ghost.codes
    assert "call_burst" not in result.prank.codes


# --- the silent-call digit 5 -----------------------------------------------------


def test_digit_5_marks_the_call_real_lowers_ghost_and_raises_priority() -> None:
    # g_dtmf_silent_prompt: the caller pressed 5 and then stayed silent.
    facts = live(silent_digit="5", silent_digit_at=T0 + s(1.2))
    without = score_call(live(), NONE, POLICY, now=T0 + s(10.1))
    result = score_call(facts, NONE, POLICY, now=T0 + s(10.1))
    assert result.ghost.value < without.ghost.value
    assert result.ghost.value < POLICY.ghost_threshold
    silent = result.ghost.reasons[-1]
    assert silent.code == "silent_digit"
    assert silent.text_en == "silent-call digit 5 pressed — caller may be unable to speak"
    assert silent.text_id == "tombol 5 ditekan — penelepon mungkin tidak dapat berbicara"
    assert result.likely_real
    assert result.priority == PriorityAdvice(POLICY.priority_raise, silent)


def test_digit_5_raises_priority_even_for_a_number_with_prank_history() -> None:
    history = CallerHistory(calls=tuple(earlier(60 * 24 * d, verdict="prank") for d in (1, 2, 3)))
    facts = live(silent_digit="5")
    result = score_call(facts, history, POLICY, now=T0 + s(5))
    assert result.prank.value >= POLICY.prank_threshold
    assert result.priority is not None
    assert result.priority.priority == POLICY.priority_raise


def test_another_digit_is_not_the_silent_call_signal() -> None:
    result = score_call(live(silent_digit="1"), NONE, POLICY, now=T0 + s(5))
    assert not result.likely_real
    assert result.priority is None


# --- prank signals ----------------------------------------------------------------


def test_earlier_prank_verdicts_count_and_lower_priority() -> None:
    history = CallerHistory(
        calls=(
            earlier(60 * 24 * 3, verdict="prank"),
            earlier(60 * 24, verdict="prank"),
            earlier(60, verdict="prank"),
        )
    )
    result = score_call(live(talk=(TalkSpan(T0 + s(5)),)), history, POLICY, now=T0 + s(6))
    (reason,) = result.prank.reasons
    assert reason.text_en == "3 earlier prank verdicts"
    assert reason.text_id == "3 panggilan sebelumnya dinilai iseng"
    assert result.prank.value == pytest.approx(1 - (1 - POLICY.weight_prank_verdict) ** 3)
    assert result.priority is not None
    assert result.priority.priority == POLICY.priority_lower
    assert result.priority.reason == reason


def test_one_prank_verdict_alone_does_not_lower_priority() -> None:
    history = CallerHistory(calls=(earlier(60, verdict="prank"),))
    result = score_call(live(), history, POLICY, now=T0 + s(5))
    assert result.prank.reasons[0].text_en == "1 earlier prank verdict"
    assert result.priority is None


def test_verdicts_older_than_the_history_window_are_forgotten() -> None:
    old = T0 - POLICY.history_window - s(1)
    history = CallerHistory(calls=tuple(PastCall(old, verdict="prank") for _ in range(5)))
    assert score_call(live(), history, POLICY, now=T0 + s(5)).prank.value == 0.0


def test_calls_at_or_after_this_one_are_not_its_history() -> None:
    history = CallerHistory(
        calls=(PastCall(T0, verdict="prank"), PastCall(T0 + s(30), verdict="prank"))
    )
    assert score_call(live(), history, POLICY, now=T0 + s(60)).prank.value == 0.0


def test_a_burst_of_calls_is_a_prank_signal() -> None:
    history = CallerHistory(calls=(earlier(3), earlier(1.5)))
    facts = live(talk=(TalkSpan(T0 + s(4)),))
    result = score_call(facts, history, POLICY, now=T0 + s(6))
    (reason,) = result.prank.reasons
    assert (reason.code, reason.text_en, reason.text_id) == (
        "call_burst",
        "3 calls in 5 min",
        "3 panggilan dalam 5 menit",
    )


def test_an_active_blocklist_entry_is_evidence_never_a_block() -> None:
    entry = BlocklistEntry(
        "repeated prank calls", "spv.ani", T0 - timedelta(days=2), T0 + timedelta(days=5)
    )
    result = score_call(live(), CallerHistory(blocklist=(entry,)), POLICY, now=T0 + s(5))
    (reason,) = result.prank.reasons
    assert reason.code == "blocklisted"
    assert reason.text_en == "on the misuse list: repeated prank calls (by spv.ani)"
    assert "oleh spv.ani" in reason.text_id
    assert result.priority is None or isinstance(result.priority.priority, int)


def test_an_expired_blocklist_entry_is_ignored() -> None:
    entry = BlocklistEntry("pranks", "spv.ani", T0 - timedelta(days=9), T0 - timedelta(days=2))
    result = score_call(live(), CallerHistory(blocklist=(entry,)), POLICY, now=T0 + s(5))
    assert result.prank.value == 0.0


def test_expiry_is_judged_at_now_not_at_arrival() -> None:
    entry = BlocklistEntry("pranks", "spv.ani", T0 - timedelta(days=1), T0 + s(3))
    assert (
        score_call(live(), CallerHistory(blocklist=(entry,)), POLICY, now=T0 + s(2)).prank.value > 0
    )
    assert (
        score_call(live(), CallerHistory(blocklist=(entry,)), POLICY, now=T0 + s(3)).prank.value
        == 0
    )


@pytest.mark.parametrize("number", ["", "<unknown>", "anonymous", " Anonymous "])
def test_a_missing_number_is_weak_prank_evidence(number: str) -> None:
    result = score_call(live(caller_number=number), NONE, POLICY, now=T0 + s(5))
    assert result.prank.codes == ("missing_number",)
    assert result.prank.reasons[0].text_id == "nomor penelepon tidak tersedia"
    assert result.prank.value < POLICY.prank_threshold


def test_a_missing_number_gets_no_history_all_unknown_callers_would_share_it() -> None:
    history = CallerHistory(
        calls=tuple(earlier(m, verdict="prank") for m in (1, 2, 3, 4)),
        blocklist=(BlocklistEntry("x", "spv", T0 - timedelta(days=1)),),
    )
    result = score_call(live(caller_number="<unknown>"), history, POLICY, now=T0 + s(5))
    assert result.prank.codes == ("missing_number",)


def test_a_withheld_number_is_noted() -> None:
    # k_caller_id_variants (1b): Privacy: id, the number still shows.
    facts = live(caller_number="5551101", presentation_withheld=True)
    result = score_call(facts, NONE, POLICY, now=T0 + s(5))
    (reason,) = result.prank.reasons
    assert (reason.code, reason.text_en, reason.text_id) == (
        "withheld_number",
        "withheld caller ID",
        "nomor penelepon disembunyikan",
    )


# --- likely real ---------------------------------------------------------------------


def test_a_history_of_genuine_emergencies_raises_priority() -> None:
    history = CallerHistory(
        calls=(earlier(60 * 24 * 7, verdict="normal", answered_by_operator=True),)
    )
    result = score_call(live(), history, POLICY, now=T0 + s(5))
    assert result.likely_real
    assert result.real_reasons[0].text_en == "1 earlier genuine emergency"
    assert result.priority is not None and result.priority.priority == POLICY.priority_raise


def test_genuine_history_does_not_outweigh_a_prank_record() -> None:
    pranks = tuple(earlier(60 * h, verdict="prank") for h in (1, 2, 3))
    calls = (earlier(60 * 24 * 7, verdict="normal"), *pranks)
    result = score_call(live(), CallerHistory(calls=calls), POLICY, now=T0 + s(5))
    assert not result.likely_real
    assert result.priority is not None and result.priority.priority == POLICY.priority_lower


def test_no_advice_once_an_operator_has_answered() -> None:
    history = CallerHistory(calls=tuple(earlier(60 * h, verdict="prank") for h in (1, 2, 3)))
    facts = live(operator_answered_at=T0 + s(8))
    assert score_call(facts, history, POLICY, now=T0 + s(9)).priority is None


# --- facts -----------------------------------------------------------------------------


def test_naive_times_are_refused_at_the_edge() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CallFacts(arrived_at=datetime(2026, 11, 28, 6, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        score_call(live(), NONE, POLICY, now=datetime(2026, 11, 28, 6, 0))


def test_presentation_and_number_helpers() -> None:
    assert is_withheld_presentation("prohib_not_screened")
    assert not is_withheld_presentation("allowed_not_screened")
    assert not is_withheld_presentation("unavailable")
    assert is_missing_number("<unknown>") and is_missing_number("")
    assert not is_missing_number("+6281234567890")


def test_scoring_is_deterministic() -> None:
    history = CallerHistory(calls=(earlier(2, verdict="ghost"), earlier(1)))
    facts = live(presentation_withheld=True)
    assert score_call(facts, history, POLICY, T0 + s(11)) == score_call(
        facts, history, POLICY, T0 + s(11)
    )


def test_a_zero_threshold_never_lowers_a_call_without_any_prank_evidence() -> None:
    # Found by hypothesis: prank 0.0 >= threshold 0.0 with no reason to give.
    assert score_call(live(), NONE, Policy(prank_threshold=0.0), now=T0 + s(5)).priority is None


def test_talk_events_build_the_spans() -> None:
    facts = live().talk_started(T0 + s(4)).talk_stopped(T0 + s(8), s(1.4))
    facts = facts.talk_started(T0 + s(12))  # no Stop ever comes (fact 2)
    assert facts.talk == (TalkSpan(T0 + s(4), s(1.4)), TalkSpan(T0 + s(12)))
    assert facts.first_talk_at == T0 + s(4)


def test_a_stop_without_its_start_still_proves_speech() -> None:
    facts = live().talk_stopped(T0 + s(9), s(3))
    assert facts.talk == (TalkSpan(T0 + s(6), s(3)),)
    assert "no_speech" not in score_call(facts, NONE, POLICY, now=T0 + s(20)).ghost.codes


def test_explain_gives_one_line_in_either_language() -> None:
    facts = live(queued_at=None, ended_at=T0 + s(1.3), hung_up_in_prompt=True, silent_digit="5")
    result = score_call(facts, NONE, POLICY, now=T0 + s(1.3))
    assert explain(result) == (
        f"ghost {result.ghost.value:.2f} (no speech in 1.2 s;"
        " hung up 1.2 s after answer without speaking;"
        " hung up during the silent-call prompt;"
        " silent-call digit 5 pressed — caller may be unable to speak)"
        " · prank 0.00"
        " · likely real (silent-call digit 5 pressed — caller may be unable to speak)"
    )
    assert explain(result, "id").startswith(f"panggilan kosong {result.ghost.value:.2f} (tidak ada")
    assert explain(result, "id").endswith(
        "kemungkinan nyata (tombol 5 ditekan — penelepon mungkin tidak dapat berbicara)"
    )
