"""Usernames and softphone interfaces are one clean line; log lines never carry what was typed
into the username field unless it is shaped like a username."""

from __future__ import annotations

import pytest

from ngcc112.panel.auth import _loggable
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.users import UserError, add_user


@pytest.mark.parametrize("field, values", [
    ("username", {"username": "op9\n"}),
    ("interface", {"username": "op9", "interface": "PJSIP/op9\n"}),  # \n ends an AMI header
])
async def test_a_trailing_newline_is_refused(database_url, field, values):
    engine = make_engine(database_url)
    try:
        with pytest.raises(UserError) as refused:
            await add_user(make_sessions(engine), role="operator", password="long-enough-1",
                           **{"interface": None, **values})
        assert refused.value.field == field
    finally:
        await engine.dispose()


def test_only_username_shaped_input_is_logged():
    assert _loggable("op1") == "op1"
    for typed in ("op1\n", "Op1 Demo", "x" * 80, "\x1b[31mred", "", "a"):
        assert _loggable(typed) == "(not a username)"
