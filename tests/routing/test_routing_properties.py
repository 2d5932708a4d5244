"""Properties scoring must keep for any call, any history and any valid policy."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ngcc112.routing.facts import BlocklistEntry, CallerHistory, CallFacts, PastCall, TalkSpan
from ngcc112.routing.policy import Policy
from ngcc112.routing.scoring import Assessment, PriorityAdvice, score_call

T0 = datetime(2026, 11, 28, 6, 0, 0, tzinfo=UTC)


def offsets(low: float, high: float) -> st.SearchStrategy[datetime]:
    return st.floats(low, high, allow_nan=False).map(lambda sec: T0 + timedelta(seconds=sec))


maybe = st.none
numbers = st.sampled_from(
    ["081234567890", "+6281234567890", "5550601", "", "<unknown>", "anonymous"]
)

talk_spans = st.builds(
    TalkSpan,
    started_at=offsets(0, 120),
    duration=maybe() | st.floats(0, 60).map(lambda sec: timedelta(seconds=sec)),
)

call_facts = st.builds(
    CallFacts,
    arrived_at=st.just(T0),
    caller_number=numbers,
    presentation_withheld=st.booleans(),
    answered_at=maybe() | offsets(0, 2),
    queued_at=maybe() | offsets(3, 6),
    operator_answered_at=maybe() | offsets(5, 90),
    ended_at=maybe() | offsets(0, 300),
    talk=st.lists(talk_spans, max_size=3).map(tuple),
    silent_digit=st.sampled_from([None, "", "1", "5", "9"]),
    hung_up_in_prompt=st.booleans(),
)

verdicts = st.sampled_from([None, "normal", "ghost", "prank", "information"])
past_calls = st.builds(
    PastCall,
    arrived_at=offsets(-60 * 86400, 60),
    answered_by_operator=st.booleans(),
    duration=maybe() | st.floats(0, 600).map(lambda sec: timedelta(seconds=sec)),
    ended_before_answer=st.booleans(),
    verdict=verdicts,
)
blocklist_entries = st.builds(
    BlocklistEntry,
    reason=st.text(max_size=20),
    added_by=st.sampled_from(["spv.ani", "spv.budi"]),
    added_at=offsets(-30 * 86400, 60),
    expires_at=maybe() | offsets(-86400, 30 * 86400),
)
histories = st.builds(
    CallerHistory,
    calls=st.lists(past_calls, max_size=8).map(tuple),
    blocklist=st.lists(blocklist_entries, max_size=2).map(tuple),
)

unit = st.floats(0, 1, allow_nan=False)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    normal = draw(st.integers(-5, 5))
    return Policy(
        no_speech_seconds=draw(st.floats(1, 30)),
        short_call_seconds=draw(st.floats(1, 30)),
        burst_window_minutes=draw(st.floats(0.5, 60)),
        burst_count=draw(st.integers(1, 6)),
        early_hangup_count=draw(st.integers(1, 6)),
        history_days=draw(st.floats(1, 90)),
        genuine_history_count=draw(st.integers(1, 3)),
        weight_no_speech=draw(unit),
        weight_short_call=draw(unit),
        weight_prompt_hangup=draw(unit),
        weight_early_hangups=draw(unit),
        weight_silent_burst=draw(unit),
        weight_silent_digit=draw(unit),
        weight_prank_verdict=draw(unit),
        weight_call_burst=draw(unit),
        weight_blocklist=draw(unit),
        weight_missing_number=draw(unit),
        weight_withheld_number=draw(unit),
        ghost_threshold=draw(unit),
        prank_threshold=draw(unit),
        priority_normal=normal,
        priority_raise=normal + draw(st.integers(1, 20)),
        priority_lower=normal - draw(st.integers(1, 20)),
    )


moments = offsets(0, 400)


@given(call_facts, histories, policies(), moments)
def test_scores_are_always_between_0_and_1(
    facts: CallFacts, history: CallerHistory, policy: Policy, now: datetime
) -> None:
    result = score_call(facts, history, policy, now)
    assert 0.0 <= result.ghost.value <= 1.0
    assert 0.0 <= result.prank.value <= 1.0
    for reason in result.ghost.reasons + result.prank.reasons + result.real_reasons:
        assert 0.0 <= reason.weight <= 1.0
        assert reason.code and reason.text_en and reason.text_id


@st.composite
def more_prank_evidence(draw: st.DrawFn, history: CallerHistory) -> tuple[CallFacts, CallerHistory]:
    """The same call with one more piece of prank evidence."""
    kind = draw(st.sampled_from(["verdict", "earlier_call", "blocklist"]))
    facts = draw(call_facts)
    if kind == "verdict":
        call = dataclasses.replace(draw(past_calls), verdict="prank")
        return facts, dataclasses.replace(history, calls=(*history.calls, call))
    if kind == "earlier_call":
        return facts, dataclasses.replace(history, calls=(*history.calls, draw(past_calls)))
    entry = dataclasses.replace(
        draw(blocklist_entries), added_at=T0 - timedelta(days=1), expires_at=None
    )
    return facts, dataclasses.replace(history, blocklist=(*history.blocklist, entry))


@given(st.data(), histories, policies(), moments)
@settings(max_examples=300)
def test_more_prank_evidence_never_lowers_the_prank_score(
    data: st.DataObject, history: CallerHistory, policy: Policy, now: datetime
) -> None:
    facts, richer = data.draw(more_prank_evidence(history))
    withheld = dataclasses.replace(facts, presentation_withheld=True)
    before = score_call(facts, history, policy, now).prank.value
    assert score_call(facts, richer, policy, now).prank.value >= before
    assert score_call(withheld, history, policy, now).prank.value >= before


@given(call_facts, histories, policies(), moments)
def test_digit_5_never_lowers_priority(
    facts: CallFacts, history: CallerHistory, policy: Policy, now: datetime
) -> None:
    result = score_call(dataclasses.replace(facts, silent_digit="5"), history, policy, now)
    assert result.likely_real
    assert result.priority is None or result.priority.priority == policy.priority_raise
    assert "silent_digit" in result.ghost.codes


@given(call_facts, histories, policies(), moments)
def test_the_only_advice_is_a_priority_number(
    facts: CallFacts, history: CallerHistory, policy: Policy, now: datetime
) -> None:
    result = score_call(facts, history, policy, now)
    assert {f.name for f in dataclasses.fields(Assessment)} == {
        "ghost",
        "prank",
        "likely_real",
        "priority",
        "real_reasons",
    }
    assert {f.name for f in dataclasses.fields(PriorityAdvice)} == {"priority", "reason"}
    if result.priority is not None:
        assert type(result.priority.priority) is int
        assert result.priority.priority in (policy.priority_raise, policy.priority_lower)
        if result.priority.priority == policy.priority_lower:
            assert not result.likely_real
            assert result.prank.value >= policy.prank_threshold


@given(call_facts, histories, policies(), moments)
def test_no_advice_for_a_call_no_longer_waiting(
    facts: CallFacts, history: CallerHistory, policy: Policy, now: datetime
) -> None:
    if facts.ended_at is not None or facts.operator_answered_at is not None:
        assert score_call(facts, history, policy, now).priority is None
