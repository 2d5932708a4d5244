"""The transition table, pinned cell by cell: every (state, target, role) of the cross product."""

from __future__ import annotations

import itertools

import pytest

from ngcc112.tickets.states import TRANSITIONS, Role, State, TransitionRefused, allowed_targets, check_transition

# The specification, written out independently of states.py: (from, to) -> roles allowed.
# o operator, d dispatcher, a agency, s system; admin is never in the ticket workflow.
SPEC: dict[tuple[str, str], str] = {
    ("new", "in_call"): "so",
    ("new", "classified"): "od",        # abandoned calls classified on callback
    ("in_call", "classified"): "od",
    ("classified", "escalated"): "od",
    ("classified", "closed"): "od",     # ghost / prank / information
    ("escalated", "dispatched"): "d",
    ("escalated", "closed"): "d",       # with an override reason (dispatch.close)
    ("dispatched", "on_scene"): "ad",   # first agency on scene (dispatcher on its behalf)
    ("dispatched", "reported"): "ad",   # every agency finished without going on scene
    ("on_scene", "reported"): "ad",
    ("dispatched", "closed"): "d",      # override
    ("on_scene", "closed"): "d",        # override
    ("reported", "closed"): "d",        # Close Ticket
}
LETTER = {"o": Role.OPERATOR, "d": Role.DISPATCHER, "a": Role.AGENCY, "s": Role.SYSTEM}

CASES = [
    pytest.param(source, target, role, id=f"{source.value}->{target.value}:{role.value}")
    for source, target, role in itertools.product(State, State, Role)
]


def test_the_cross_product_is_complete():
    assert len(CASES) == len(State) * len(State) * len(Role) == 8 * 8 * 5


@pytest.mark.parametrize(("source", "target", "role"), CASES)
def test_each_cell_is_allowed_or_refused_exactly_as_specified(source, target, role):
    allowed = {LETTER[c] for c in SPEC.get((source.value, target.value), "")}
    if role in allowed:
        transition = check_transition(source, target, role)
        assert (transition.source, transition.target) == (source, target)
        assert role in transition.roles
        assert target in allowed_targets(source, role)
    else:
        with pytest.raises(TransitionRefused) as refused:
            check_transition(source, target, role)
        assert refused.value.reason == str(refused.value)
        assert source.value in refused.value.reason and target.value in refused.value.reason
        assert target not in allowed_targets(source, role)


def test_the_table_has_nothing_beyond_the_spec():
    table = {(t.source.value, t.target.value): {r for r in t.roles} for t in TRANSITIONS}
    assert table == {pair: {LETTER[c] for c in roles} for pair, roles in SPEC.items()}
    assert len(table) == len(TRANSITIONS), "one row per (from, to)"


def test_refusals_say_why():
    with pytest.raises(TransitionRefused, match="is for: dispatcher; not for operator"):
        check_transition("escalated", "dispatched", "operator")
    with pytest.raises(TransitionRefused, match="it can go to: closed"):
        check_transition("reported", "dispatched", "dispatcher")
    with pytest.raises(TransitionRefused, match="it is final"):
        check_transition("closed", "new", "dispatcher")


def test_every_state_but_closed_leads_on_and_closed_is_final():
    for state in State:
        onward = {t.target for t in TRANSITIONS if t.source == state}
        assert bool(onward) == (state is not State.CLOSED), state
