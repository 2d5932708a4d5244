"""After-call work through AMI: the running daemon pauses the operator at the call's end with
the wrap-up reason, and resumes them on the intake or at the limit; after a reconnect it
resumes a member left paused for wrap-up too long. Against the simulator, over real TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from browser_stack import running_stack

from ngcc112.panel.state import PANEL
from ngcc112.sim.calls import CallScript
from ngcc112.tickets import intake
from ngcc112.tickets import intake_form
from ngcc112.tickets.models import User
from ngcc112.wrapup import WrapUpChanged

OP = "PJSIP/op1"
QUEUE = "ngcc112-operators"
TIMEOUT = 30.0


async def until(condition: Callable[[], object], timeout: float = TIMEOUT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def member(stack):
    return stack.sim.engine.queues[QUEUE].members.get(OP)


def pauses(stack) -> list[tuple[str | None, str | None]]:
    return [(a.get("Paused"), a.get("Reason")) for a in stack.actions("QueuePause")
            if a.get("Interface") == OP]


async def answered_and_ended(stack) -> str:
    panel = stack.services.panel_app[PANEL]
    await panel.control.ready(OP, "op1")
    stack.sim.set_softphone("op1", answers=True, ring_seconds=0.3)
    call = await stack.sim.place_call(CallScript(number="081234567890", hangup_after=6.0))
    await asyncio.wait_for(call.wait(TIMEOUT), TIMEOUT)
    assert call.outcome == "answered"
    return call.linkedid


async def test_call_end_pauses_with_wrap_up_and_the_limit_resumes_with_a_warning(tmp_path, seeded_database):
    async with running_stack(tmp_path / "t.db", wrapup_seconds=1.5, seeded=seeded_database) as stack:
        seen = stack.services.hub.subscribe()
        await answered_and_ended(stack)
        await until(lambda: member(stack).paused)
        assert member(stack).reason == "wrap-up"
        assert pauses(stack)[0] == ("true", "wrap-up")
        panel = stack.services.panel_app[PANEL]
        await until(lambda: panel.presence.get(OP).pause_reason == "wrap-up")
        # no call rings a paused operator: the limit passes, then Asterisk unpauses the member
        await until(lambda: not member(stack).paused)
        assert pauses(stack) == [("true", "wrap-up"), ("false", None)]
        # the simulator unpauses on the action; the service marks the expiry on its response
        await until(lambda: panel.wrapup.expired_at(OP) is not None)
        states = []
        while not seen.queue.empty():
            item = seen.queue.get_nowait()
            if isinstance(item, WrapUpChanged):
                states.append(item.state)
        assert states == ["paused", "expired"]


async def test_submitting_the_intake_resumes_at_once(tmp_path, seeded_database):
    async with running_stack(tmp_path / "t.db", wrapup_seconds=600, seeded=seeded_database) as stack:
        call_id = await answered_and_ended(stack)
        await until(lambda: member(stack).paused)
        ticket = await stack.services.store.by_linkedid(call_id)
        services = stack.services
        async with services.sessions() as session:
            from sqlalchemy import select

            op1 = await session.scalar(select(User).where(User.username == "op1"))
        await intake.complete_intake(services.sessions, services.hub.publish, ticket.id, op1,
                                     intake_form.validate_intake({"verdict": "ghost", "note": "no voice"}))
        await services.wrapup.intake_done(OP, call_id)
        await until(lambda: not member(stack).paused)
        assert pauses(stack) == [("true", "wrap-up"), ("false", None)]
        assert services.wrapup.expired_at(OP) is None


async def test_a_break_chosen_during_wrap_up_is_never_undone(tmp_path, seeded_database):
    async with running_stack(tmp_path / "t.db", wrapup_seconds=1.0, seeded=seeded_database) as stack:
        await answered_and_ended(stack)
        await until(lambda: member(stack).paused)
        panel = stack.services.panel_app[PANEL]
        await panel.control.pause(OP, "op1", "meal")
        await until(lambda: panel.presence.get(OP).pause_reason == "meal")
        await asyncio.sleep(0)  # the wrap-up service reads the same hub event
        await until(lambda: panel.wrapup.rule.wrapping(OP) is None)
        assert member(stack).paused and member(stack).reason == "meal"
        assert pauses(stack) == [("true", "wrap-up"), ("true", "meal")]


async def test_after_a_reconnect_an_overdue_wrap_up_pause_is_resumed(tmp_path, seeded_database):
    async with running_stack(tmp_path / "t.db", wrapup_seconds=60, seeded=seeded_database) as stack:
        panel = stack.services.panel_app[PANEL]
        await panel.control.ready(OP, "op1")
        await until(lambda: member(stack) is not None)
        # as a daemon that died mid wrap-up left it, an hour ago (persistentmembers keeps it)
        stack.sim.engine.queue_pause(member(stack), True, "wrap-up")
        member(stack).last_pause -= 3600
        await until(lambda: panel.presence.get(OP).pause_reason == "wrap-up")
        session = stack.services.daemon.link.status.session
        await stack.sim.drop_clients()
        await until(lambda: stack.services.daemon.link.status.session > session
                    and stack.services.daemon.link.connected)
        await until(lambda: not member(stack).paused)
        assert pauses(stack)[-1] == ("false", None)
        # the service notes the expiry once Asterisk has answered the unpause, a moment after
        # the simulator applied it: wait for that, as the desk's warning does
        await until(lambda: panel.wrapup.expired_at(OP) is not None)
