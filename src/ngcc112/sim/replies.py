"""The shapes of AMI answers: Success, Error, an event list's start and end, the echoed ActionID.

Every action handler (:mod:`ngcc112.sim.actions`, :mod:`ngcc112.sim.queue_actions`)
answers through these, so an answer carries its ``ActionID`` exactly where
Asterisk's ``astman_send_*`` puts it.
"""

from __future__ import annotations

from ngcc112.sim.wire import Pairs, header


def echo_id(pairs: Pairs) -> Pairs:
    """The request's ``ActionID`` pair, to echo in every answer and listed event (none if it sent none)."""
    action_id = header(pairs, "ActionID")
    return [("ActionID", action_id)] if action_id else []


def success(pairs: Pairs, *rest: tuple[str, str]) -> Pairs:
    return [("Response", "Success"), *echo_id(pairs), *rest]


def error(pairs: Pairs, message: str) -> Pairs:
    return [("Response", "Error"), *echo_id(pairs), ("Message", message)]


def list_start(pairs: Pairs, message: str) -> Pairs:
    return [("Response", "Success"), *echo_id(pairs), ("EventList", "start"), ("Message", message)]


def list_complete(pairs: Pairs, event: str, count: int) -> Pairs:
    return [("Event", event), *echo_id(pairs), ("EventList", "Complete"), ("ListItems", str(count))]


def is_true(value: str) -> bool:
    """A manager header's yes/no value, read as Asterisk's ``ast_true`` reads it."""
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")
