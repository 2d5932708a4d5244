"""Measuring the heuristics against labelled calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ngcc112.routing.evaluation import classify, evaluate, render
from ngcc112.routing.facts import CallerHistory, CallFacts, PastCall, TalkSpan
from ngcc112.routing.policy import Policy
from ngcc112.routing.scoring import Assessment, Score, score_call

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
POLICY = Policy()


def assessed(ghost: float = 0.0, prank: float = 0.0, real: bool = False) -> Assessment:
    return Assessment(Score(ghost), Score(prank), likely_real=real, priority=None)


@pytest.mark.parametrize(
    ("assessment", "expected"),
    [
        (assessed(), "normal"),
        (assessed(ghost=0.6), "ghost"),
        (assessed(prank=0.6), "prank"),
        (assessed(ghost=0.59, prank=0.59), "normal"),
        (assessed(ghost=0.9, prank=0.7), "ghost"),
        (assessed(ghost=0.7, prank=0.9), "prank"),
        (assessed(ghost=0.8, prank=0.8), "prank"),
        (assessed(ghost=0.95, prank=0.95, real=True), "normal"),
    ],
)
def test_classify_uses_the_policy_thresholds(assessment: Assessment, expected: str) -> None:
    assert classify(assessment, POLICY) == expected


def test_thresholds_come_from_the_policy() -> None:
    strict = Policy(ghost_threshold=0.95)
    assert classify(assessed(ghost=0.9), POLICY) == "ghost"
    assert classify(assessed(ghost=0.9), strict) == "normal"


def labelled_calls() -> list[tuple[str, Assessment]]:
    """Six small scenarios, scored for real: two of each type, one of which is missed."""
    now = T0 + timedelta(seconds=12)
    talking = CallFacts(T0, "081111", answered_at=T0, talk=(TalkSpan(T0 + timedelta(seconds=4)),))
    # A real caller who hung up at once without a word: reads as a ghost.
    hung_up = CallFacts(T0, "082222", answered_at=T0, ended_at=T0 + timedelta(seconds=3))
    in_prompt = CallFacts(
        T0, "083333", answered_at=T0, ended_at=T0 + timedelta(seconds=1), hung_up_in_prompt=True
    )
    pranks = CallerHistory(
        calls=tuple(PastCall(T0 - timedelta(hours=h), verdict="prank") for h in (1, 2, 3))
    )
    quiet_prankster = CallerHistory(calls=(PastCall(T0 - timedelta(days=2), verdict="prank"),))
    return [
        ("normal", score_call(talking, CallerHistory(), POLICY, now)),
        ("normal", score_call(hung_up, CallerHistory(), POLICY, now)),
        ("ghost", score_call(in_prompt, CallerHistory(), POLICY, now)),
        (
            "ghost",
            score_call(
                CallFacts(T0, "", answered_at=T0, ended_at=T0 + timedelta(seconds=2)),
                CallerHistory(),
                POLICY,
                now,
            ),
        ),
        ("prank", score_call(talking, pranks, POLICY, now)),
        ("prank", score_call(talking, quiet_prankster, POLICY, now)),  # missed
    ]


def test_evaluate_counts_the_confusion_table_and_per_type_figures() -> None:
    report = evaluate(labelled_calls(), POLICY)
    assert report.total == 6
    assert report.confusion[("normal", "normal")] == 1
    assert report.confusion[("normal", "ghost")] == 1
    assert report.confusion[("ghost", "ghost")] == 2
    assert report.confusion[("prank", "prank")] == 1
    assert report.confusion[("prank", "normal")] == 1
    assert sum(report.confusion.values()) == 6
    ghost = report.stats("ghost")
    assert (ghost.support, ghost.predicted, ghost.correct) == (2, 3, 2)
    assert ghost.precision == pytest.approx(2 / 3)
    assert ghost.recall == 1.0
    assert report.stats("prank").recall == 0.5
    assert report.stats("prank").precision == 1.0
    assert report.stats("normal").precision == 0.5
    assert report.accuracy == pytest.approx(4 / 6)


def test_undefined_figures_are_none_not_zero() -> None:
    report = evaluate([("ghost", assessed(ghost=0.9))], POLICY)
    assert report.stats("prank").precision is None
    assert report.stats("prank").recall is None
    assert report.stats("normal").precision is None
    assert evaluate([], POLICY).accuracy is None


def test_an_unknown_true_type_is_refused_naming_the_case() -> None:
    with pytest.raises(ValueError, match=r"case 1: true type must be one of .* got 'information'"):
        evaluate([("normal", assessed()), ("information", assessed())], POLICY)


def test_render_is_a_plain_text_table() -> None:
    text = render(evaluate(labelled_calls(), POLICY))
    assert text == (
        "6 calls, accuracy 66.7%\n"
        "\n"
        "type     precision    recall   calls  predicted\n"
        "normal       50.0%     50.0%       2          2\n"
        "ghost        66.7%    100.0%       2          3\n"
        "prank       100.0%     50.0%       2          1\n"
        "\n"
        "true \\ predicted    normal   ghost   prank\n"
        "normal                   1       1       0\n"
        "ghost                    0       2       0\n"
        "prank                    1       0       1\n"
    )


def test_render_shows_undefined_figures_as_a_dash() -> None:
    text = render(evaluate([("ghost", assessed(ghost=0.9))], POLICY))
    assert "prank            —         —       0          0" in text
