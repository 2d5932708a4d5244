"""The fail-safe rule, checked on the shipped dialplan.

Every path a caller can take through the 112 flow -- every branch of every
GotoIf, every emergency number, the catch-all extensions -- is walked to its
end. A path may only end by looping back (the queue loop), and before it does
it must have been through Queue(ngcc112-operators, 60 s) and then
Queue(ngcc112-supervisors). Nothing on the way may hang up, send to voicemail,
or fall off the end of an extension (which Asterisk treats as a hang-up). The
caller's own hang-up is the only way out, and it needs no dialplan.
"""

from __future__ import annotations

import pytest

from ngcc112 import names

#: Applications that end or abandon the caller's call.
TERMINAL_APPS = {
    "Hangup",
    "VoiceMail",
    "Voicemail",
    "VoiceMailMain",
    "Busy",
    "Congestion",
    "SoftHangup",
    "ChannelRedirect",
    "Macro",
    "AGI",
    "EAGI",
    "FastAGI",
    "Stasis",
    "ContinueWhile",
}

#: Applications the walker understands as plain "do something, go to the next priority".
LINEAR_APPS = {
    "NoOp",
    "Answer",
    "Set",
    "Read",
    "Queue",
    "Dial",
    "MusicOnHold",
    "Wait",
    "Playback",
    "Progress",
    "Ringing",
}

def _target(step, text: str) -> tuple[str, str, str]:
    """Resolve a Goto target (label | exten,label | context,exten,label)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 1:
        return step.context, step.exten, parts[0]
    if len(parts) == 2:
        return step.context, parts[0], parts[1]
    return parts[0], parts[1], parts[2]


def _index(dialplan, context: str, exten: str, label: str) -> tuple[str, str, int]:
    found = dialplan.find(context, exten)
    assert found, f"Goto to missing {context},{exten}"
    for i, step in enumerate(found.steps):
        if step.label == label or str(step.priority) == label:
            return found.context, found.exten, i
    raise AssertionError(f"no priority/label {label!r} in {found.context},{found.exten}")


def _branches(condition_and_targets: str) -> list[str]:
    """GotoIf(cond?then[:else]) -> [then, else]; an empty target falls through."""
    _, _, targets = condition_and_targets.rpartition("?")
    then, _, otherwise = targets.partition(":")
    return [then, otherwise]


def _walk_subroutine(dialplan, context: str, exten: str) -> None:
    """A Gosub target must run linearly to Return() with nothing terminal on the way."""
    found = dialplan.find(context, exten)
    assert found, f"Gosub to missing {context},{exten}"
    ctx, steps = found.context, found.steps
    for step in steps:
        assert step.app not in TERMINAL_APPS, f"{ctx},{exten} line {step.line}: {step.app}"
        assert step.app in LINEAR_APPS | {"GotoIf", "Return"}, f"line {step.line}: {step.app}"
        if step.app == "GotoIf":
            for target in _branches(step.args):
                if target:
                    _index(dialplan, *_target(step, target))
    assert steps[-1].app == "Return", f"{ctx},{exten} does not end in Return()"


def _paths(dialplan, context: str, exten: str) -> list[list]:
    """Every path from (context, exten, priority 1) to the point it loops back."""
    found = dialplan.find(context, exten)
    assert found, f"{exten} not found in {context}"
    start = (found.context, found.exten, 0)
    complete: list[list] = []

    def walk(state, path, seen):
        ctx, ext, index = state
        steps = dialplan.steps[ctx][ext]
        if state in seen:
            complete.append(path + [("loop", state)])
            return
        assert index < len(steps), f"falls off the end of {ctx},{ext} after {path[-1]}"
        step = steps[index]
        seen = seen | {state}
        path = path + [step]
        assert step.app not in TERMINAL_APPS, f"line {step.line}: {step.app} in the caller's flow"
        if step.app == "ExecIf":
            inner = step.args.partition("?")[2]
            app = inner.partition("(")[0]
            assert app not in TERMINAL_APPS, f"line {step.line}: ExecIf runs {app}"
            walk((ctx, ext, index + 1), path, seen)
        elif step.app == "Goto":
            walk(_index(dialplan, *_target(step, step.args)), path, seen)
        elif step.app == "GotoIf":
            for target in _branches(step.args):
                nxt = _index(dialplan, *_target(step, target)) if target else (ctx, ext, index + 1)
                walk(nxt, path, seen)
        elif step.app == "GosubIf":
            target = _branches(step.args)[0].partition("(")[0]
            sub_ctx, sub_ext, _ = _target(step, target)
            _walk_subroutine(dialplan, sub_ctx, sub_ext)
            walk((ctx, ext, index + 1), path, seen)
        else:
            assert step.app in LINEAR_APPS, f"line {step.line}: the walker does not know {step.app}"
            walk((ctx, ext, index + 1), path, seen)

    walk(start, [], frozenset())
    return complete


#: What a carrier may deliver: the emergency numbers, a prefixed or mangled number,
#: a one-digit number, no number at all.
DIALLED = [*names.EMERGENCY_NUMBERS, "+62112", "0215551234", "9", "+", "s"]


@pytest.mark.parametrize("exten", DIALLED)
def test_every_path_loops_through_both_queues(dialplan, exten):
    paths = _paths(dialplan, names.INCOMING_CONTEXT, exten)
    assert paths
    for path in paths:
        steps = [p for p in path if not isinstance(p, tuple)]
        queues = [(s.arg(0), s.arg(4)) for s in steps if s.app == "Queue"]
        dials = [s for s in steps if s.app == "Dial"]
        # the normal path: operators for 60 s, then supervisors, then round again;
        # the last-resort path (no app_queue / no queue) rings the phones directly
        if queues:
            assert queues[0] == (names.OPERATOR_QUEUE, "60"), path
            assert (names.SUPERVISOR_QUEUE, "60") in queues, path
        else:
            assert dials, f"a path reaches neither a queue nor a phone: {path}"
        if dials:
            # a Dial that fails at once (no phone registered) must not make a busy loop
            after = steps[steps.index(dials[-1]) + 1 :]
            assert any(s.app == "Wait" for s in after), "no pause between direct-dial rounds"


def test_queue_comes_after_answer_prompt_and_marks(dialplan):
    paths = _paths(dialplan, names.INCOMING_CONTEXT, names.EMERGENCY_EXTEN)
    (path, *_) = [p for p in paths if any(getattr(s, "app", "") == "Queue" for s in p)]
    apps = [s.app if s.app != "Set" else s.args.partition("=")[0] for s in path if not isinstance(s, tuple)]
    order = [
        "Answer",
        "TALK_DETECT(set)",
        f"__{names.VAR_CALL_MARK}",
        names.VAR_ANSWERED_AT,
        names.VAR_CID_PRES,
        "GosubIf",
        "Read",
        names.VAR_SILENT_READSTATUS,
        "Queue",
    ]
    positions = [apps.index(item) for item in order]
    assert positions == sorted(positions), apps


def test_no_voicemail_or_hangup_reachable_by_a_caller(dialplan):
    reachable = {names.INCOMING_CONTEXT, "ngcc-geo"}
    assert reachable <= set(dialplan.steps)
    for step in dialplan.all_steps():
        if step.context in reachable:
            assert step.app not in TERMINAL_APPS, f"line {step.line}: {step.app}"
            assert "voicemail" not in step.args.lower(), f"line {step.line}"


@pytest.mark.parametrize(
    "mutation",
    [
        # a Hangup after the operators' queue: the overflow would be dead
        (" same => n,Set(QUEUE_PRIO=10)", " same => n,Hangup()"),
        # voicemail instead of the supervisors' queue
        ("Queue(ngcc112-supervisors,,,,60)", "VoiceMail(112@default)"),
        # the loop removed: the flow falls off the end after the direct dial
        (" same => n,Goto(queue)\n", ""),
        # a hang-up hidden in an ExecIf before the queue
        (" same => n,Set(NGCC_SILENT_READSTATUS=${READSTATUS})",
         " same => n,ExecIf($[${LEN(${CALLERID(num)})} = 0]?Hangup())"),
    ],
)
def test_the_walker_catches_a_broken_flow(config_dir, tmp_path, read_dialplan, mutation):
    old, new = mutation
    text = (config_dir / "extensions.conf").read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "extensions.conf"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(AssertionError):
        test_every_path_loops_through_both_queues(read_dialplan(broken), names.EMERGENCY_EXTEN)


# --- the same rule, run: the simulator with no AMI client at all -------------------------


async def test_call_reaches_an_operator_with_no_ami_client(queues_conf):
    """No daemon logged in, nobody in the operators' queue (an Asterisk restart with the
    daemon down): the caller waits the operators' 60 s, overflows to the supervisors'
    queue, whose static members from the shipped queues.conf ring without any daemon.

    The simulator runs on virtual time: its 60 s pass at quiet moments, so the result
    is the same on an idle machine and a busy one."""
    from ngcc112.clock import VirtualClock
    from ngcc112.sim.calls import CallScript
    from ngcc112.sim.config import SimulatorConfig, StaticMember
    from ngcc112.sim.driver import Driver
    from ngcc112.sim.server import AmiSimulator

    (supervisors,) = [s for s in queues_conf if s.name == names.SUPERVISOR_QUEUE]
    static = [m.split(",") for m in supervisors.get("member")]
    assert static, "the supervisors' queue has no static members: nothing rings without the daemon"

    # queues.conf's static members, as Asterisk loads them at start (no AMI involved)
    members = tuple(StaticMember(interface.strip(), int(penalty), name.strip(), state.strip())
                    for interface, penalty, name, state in static)
    clock = VirtualClock()
    sim = AmiSimulator(SimulatorConfig(users={}, static_members={names.SUPERVISOR_QUEUE: members}),
                       clock=clock)
    await sim.start()
    try:
        assert not sim.sessions
        assert not sim.engine.queues[names.OPERATOR_QUEUE].members
        assert [m.membership for m in sim.engine.queues[names.SUPERVISOR_QUEUE].members.values()] == [
            "static"] * len(members)
        placed = await sim.place_call(CallScript.answered(hangup_after=120.0))
        # generous real-time bound: only a hang, never a slow machine, can reach it
        await Driver(clock).run_until(lambda: bool(placed.answered_by) or placed.ended.done(),
                                      within=120.0, timeout=60.0)
        assert placed.answered_by in {names.operator_interface(op) for op in names.SAMPLE_OPERATORS}
        assert sim.engine.now() >= 60.0  # it waited the operators' queue out first
        assert not sim.sessions
    finally:
        await sim.stop()
