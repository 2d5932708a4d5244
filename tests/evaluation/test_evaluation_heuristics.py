"""eval-heuristics in CI: replay the labelled calls, print the table, hold the floors.

The floors are where the shipped policy stands today, with a little room: a
change to the scoring or the triage that makes it worse fails here, with the
table in the output (``pytest -s`` or the captured stdout of a failure).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from ngcc112.tools.evaluation import evaluate_cases, main_eval, render_run
from ngcc112.tools.heuristic_cases import DEFAULT_PATH, CaseError, load_cases
import ngcc112
from ngcc112.routing.policy import Policy
from ngcc112.settings import Settings

#: The labelled cases ship inside the package (routing/cases/), so an installed wheel has them.
DATA = DEFAULT_PATH

#: Regression floors for the shipped policy on the shipped cases.
FLOORS = {
    ("ghost", "recall"): 0.75,
    ("prank", "recall"): 0.50,
    ("normal", "recall"): 1.00,   # no real emergency called a ghost or a prank
    ("ghost", "precision"): 0.90,
    ("prank", "precision"): 0.90,
}


def test_the_shipped_case_set_is_a_realistic_mix_with_hard_cases():
    cases = load_cases(DATA)
    assert DATA.is_relative_to(Path(ngcc112.__file__).parent), "package data, not the tests' folder"
    assert len(cases) >= 30
    by_type = {t: [c for c in cases if c.type == t] for t in ("normal", "ghost", "prank")}
    assert all(len(group) >= 8 for group in by_type.values())
    ids = {c.id for c in cases}
    assert {"normal-silent-pressing-5", "normal-withheld-real-emergency",
            "normal-genuine-repeat-caller"} <= ids


async def test_the_heuristics_hold_their_floors_on_the_labelled_calls(capsys):
    run = await evaluate_cases(DATA, policy=Policy())
    with capsys.disabled():
        print("\n" + render_run(run))
    report = run.report
    for (call_type, measure), floor in FLOORS.items():
        value = getattr(report.stats(call_type), measure)
        assert value is not None and value >= floor, \
            f"{call_type} {measure} {value} fell below {floor}"
    # The safety property: triage never pushed a real emergency down the queue ...
    assert run.lowered("normal") == []
    # ... and the hard normal cases are exactly that: normal, the silent ones raised.
    results = {r.case.id: r for r in run.results}
    for case_id in ("normal-silent-pressing-5", "normal-withheld-real-emergency",
                    "normal-genuine-repeat-caller", "normal-redials-after-dropped-line"):
        assert results[case_id].predicted == "normal", case_id
    assert results["normal-silent-pressing-5"].priorities == (Policy().priority_raise,)


def test_main_eval_prints_the_table(capsys):
    lines: list[str] = []
    assert main_eval(Settings(), DATA, out=lines.append) == 0
    text = "\n".join(lines)
    assert "precision" in text and "true \\ predicted" in text and "lowered" in text


def test_main_eval_refuses_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cases": [{"id": "x", "type": "emergency",
                                          "calls": [{"hangup_after": 5}]}]}))
    assert main_eval(Settings(), bad) == 2
    assert "type" in capsys.readouterr().err
    # a bad policy never reaches main_eval: the settings refuse it, naming the key
    with pytest.raises(ValidationError, match="ghost_threshold"):
        Settings(routing={"ghost_threshold": 2})


@pytest.mark.parametrize("document, message", [
    ({"cases": [{"id": "a", "type": "ghost", "calls": []}]}, "calls"),
    ({"cases": [{"id": "a", "type": "ghost", "calls": [{"number": "0812", "hangup_after": -1}]}]},
     "hangup_after"),
    ({"cases": [{"id": "a", "type": "ghost", "calls": [{"hangup_after": 5, "colour": "red"}]}]},
     "colour"),
    ({"cases": [{"id": "a", "type": "prank", "calls": [{"hangup_after": 5}],
                 "history": [{"verdict": "prank"}]}]}, "minutes_ago"),
    ({"cases": [{"id": "a", "type": "ghost", "calls": [{"number": "081200000001", "hangup_after": 5}]},
                {"id": "b", "type": "ghost", "calls": [{"number": "+6281200000001", "hangup_after": 5}]}]},
     "share numbers"),
    ({"items": []}, "cases"),
])
def test_a_bad_case_file_is_refused_naming_the_problem(tmp_path, document, message):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CaseError, match=message):
        load_cases(path)
