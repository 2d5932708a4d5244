"""app_queue's AMI actions and its ``queue show``: status, summary, members, waiting callers.

QueueStatus, QueueSummary, QueueAdd, QueueRemove, QueuePause,
QueueChangePriorityCaller and QueueWithdrawCaller as apps/app_queue.c answers
them, and the ``queue show <name>`` CLI text. The action table is in
:mod:`ngcc112.sim.actions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ngcc112.sim.model import UNKNOWN, Entry, Queue
from ngcc112.sim.replies import echo_id, error, is_true, list_complete, list_start, success
from ngcc112.sim.wire import Pairs, header

if TYPE_CHECKING:
    from ngcc112.sim.server import AmiSimulator
    from ngcc112.sim.session import Session


def _queues_for(sim: AmiSimulator, p: Pairs) -> list[Queue]:
    wanted = header(p, "Queue")
    return [q for q in sim.engine.queues.values() if not wanted or q.name == wanted]


async def queue_status(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.send(list_start(p, "Queue status will follow"))
    member_filter = header(p, "Member")
    count = 0
    now = sim.engine.now()
    for queue in _queues_for(sim, p):
        s.send([("Event", "QueueParams"), *queue.params(), *echo_id(p)])
        count += 1
        for member in queue.members.values():
            if member_filter and member_filter not in (member.interface, member.name):
                continue
            status = sim.engine.device_status(member.endpoint)
            in_call = "1" if status == 2 else "0"
            s.send(
                [
                    ("Event", "QueueMember"),
                    ("Queue", queue.name),
                    ("Name", member.name),
                    ("Location", member.interface),
                    ("StateInterface", member.state_interface),
                    ("Membership", member.membership),
                    ("Penalty", str(member.penalty)),
                    ("CallsTaken", str(member.calls_taken)),
                    ("LastCall", str(member.last_call)),
                    ("LastPause", str(member.last_pause)),
                    ("LoginTime", str(member.login_time)),
                    ("InCall", in_call),
                    ("Status", str(status)),
                    ("Paused", "1" if member.paused else "0"),
                    ("PausedReason", member.reason),
                    ("Wrapuptime", "0"),
                    *echo_id(p),
                ]
            )
            count += 1
        for position, entry in enumerate(queue.entries, start=1):
            leg = entry.call.leg
            # app_queue writes these itself: not C-escaped, "unknown" for an invalid part
            s.send(
                [
                    ("Event", "QueueEntry"),
                    ("Queue", queue.name),
                    ("Position", str(position)),
                    ("Channel", leg.name),
                    ("Uniqueid", leg.uniqueid),
                    ("CallerIDNum", _or_unknown(leg.cid_num)),
                    ("CallerIDName", _or_unknown(leg.cid_name)),
                    ("ConnectedLineNum", _or_unknown(leg.cl_num)),
                    ("ConnectedLineName", _or_unknown(leg.cl_name)),
                    ("Wait", str(int(now - entry.joined))),
                    ("Priority", str(entry.priority)),
                    *echo_id(p),
                ]
            )
            count += 1
    s.send(list_complete(p, "QueueStatusComplete", count))


def _or_unknown(value: str) -> str:
    return "unknown" if value == UNKNOWN else value


async def queue_summary(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.send(list_start(p, "Queue summary will follow"))
    queues = _queues_for(sim, p)
    now = sim.engine.now()
    for queue in queues:
        logged_in = sum(1 for m in queue.members.values() if sim.engine.device_status(m.endpoint) not in (5,))
        available = sum(1 for m in queue.members.values() if not m.paused and sim.engine.device_status(m.endpoint) == 1)
        longest = max((int(now - e.joined) for e in queue.entries), default=0)
        s.send(
            [
                ("Event", "QueueSummary"),
                ("Queue", queue.name),
                ("LoggedIn", str(logged_in)),
                ("Available", str(available)),
                ("Callers", str(len(queue.entries))),
                ("HoldTime", str(queue.holdtime)),
                ("TalkTime", str(queue.talktime)),
                ("LongestHoldTime", str(longest)),
                *echo_id(p),
            ]
        )
    s.send(list_complete(p, "QueueSummaryComplete", len(queues)))


async def queue_add(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    queue_name, interface = header(p, "Queue"), header(p, "Interface")
    if not queue_name:
        s.send(error(p, "'Queue' not specified."))
        return
    if not interface:
        s.send(error(p, "'Interface' not specified."))
        return
    queue = sim.engine.queues.get(queue_name)
    if queue is None:
        s.send(error(p, "Unable to add interface to queue: No such queue"))
        return
    if interface in queue.members:
        s.send(error(p, "Unable to add interface: Already there"))
        return
    penalty_raw = header(p, "Penalty")
    try:
        penalty = int(penalty_raw) if penalty_raw else 0
    except ValueError:
        penalty = 0
    s.send(success(p, ("Message", "Added interface to queue")))
    sim.engine.queue_add(
        queue,
        interface,
        header(p, "MemberName"),
        header(p, "StateInterface"),
        penalty,
        is_true(header(p, "Paused")),
        header(p, "Reason"),
    )


async def queue_remove(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    queue_name, interface = header(p, "Queue"), header(p, "Interface")
    if not queue_name or not interface:
        s.send(error(p, "Need 'Queue' and 'Interface' parameters."))
        return
    queue = sim.engine.queues.get(queue_name)
    if queue is None:
        s.send(error(p, "Unable to remove interface from queue: No such queue"))
        return
    member = queue.members.get(interface)
    if member is None:
        s.send(error(p, "Unable to remove interface: Not there"))
        return
    if not member.dynamic:
        s.send(error(p, "Member not dynamic"))
        return
    s.send(success(p, ("Message", "Removed interface from queue")))
    sim.engine.queue_remove(queue, member)


async def queue_pause(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    interface, paused_raw = header(p, "Interface"), header(p, "Paused")
    if not interface or not paused_raw:
        s.send(error(p, "Need 'Interface' and 'Paused' parameters."))
        return
    queue_name = header(p, "Queue")
    paused = is_true(paused_raw)
    members = [
        q.members[interface]
        for q in sim.engine.queues.values()
        if interface in q.members and (not queue_name or q.name == queue_name)
    ]
    if not members:
        s.send(error(p, "Interface not found"))
        return
    s.send(success(p, ("Message", f"Interface {'paused' if paused else 'unpaused'} successfully")))
    for member in members:
        sim.engine.queue_pause(member, paused, header(p, "Reason"))


def _queued_call(sim: AmiSimulator, queue_name: str, caller: str) -> tuple[Queue, Entry] | None:
    queue = sim.engine.queues.get(queue_name)
    if queue is None:
        return None
    for entry in queue.entries:
        if entry.call.leg.name == caller:
            return queue, entry
    return None


async def queue_change_priority_caller(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    for key in ("Queue", "Caller", "Priority"):
        if not header(p, key):
            s.send(error(p, f"'{key}' not specified."))
            return
    try:
        priority = int(header(p, "Priority"))
    except ValueError:
        s.send(error(p, "'Priority' need integer."))
        return
    found = _queued_call(sim, header(p, "Queue"), header(p, "Caller"))
    if found is None:
        s.send(error(p, "Unable to change priority caller on queue: No such caller"))
        return
    queue, entry = found
    s.send(success(p, ("Message", "Priority change for caller on queue")))
    # no event; without Immediate the caller keeps its place (only callers who join
    # later are ranked against the new priority), with it the queue is reordered now
    entry.priority = priority
    if is_true(header(p, "Immediate")):
        queue.entries.remove(entry)
        queue.insert(entry)
        sim.engine.dispatch(queue)


async def queue_withdraw_caller(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    for key in ("Queue", "Caller"):
        if not header(p, key):
            s.send(error(p, f"'{key}' not specified."))
            return
    found = _queued_call(sim, header(p, "Queue"), header(p, "Caller"))
    if found is None:
        s.send(error(p, "Unable to request withdraw from queue: No such caller"))
        return
    _queue, entry = found
    if entry.withdraw_info is not None:
        s.send(error(p, "Unable to request withdraw from queue: Already requested"))
        return
    s.send(success(p, ("Message", "Withdraw requested successfully")))
    sim.engine.request_withdraw(entry, header(p, "WithdrawInfo"))


def queue_show(sim: AmiSimulator, name: str) -> list[str]:
    """``queue show <name>`` as app_queue prints it."""
    queue = sim.engine.queues.get(name)
    if queue is None:
        return [f"No such queue: {name}.", ""]
    total = queue.completed + queue.abandoned
    perf = f"{(100.0 * queue.completed / total) if total else 0.0:.1f}"
    lines = [
        f"{queue.name} has {len(queue.entries)} calls (max unlimited) in '{queue.strategy}' strategy "
        f"({queue.holdtime}s holdtime, {queue.talktime}s talktime), W:0, C:{queue.completed}, "
        f"A:{queue.abandoned}, SL:{perf}%, SL2:{perf}% within 0s"
    ]
    if queue.members:
        lines.append("   Members: ")
        for member in queue.members.values():
            status = sim.engine.device_status(member.endpoint)
            state = {1: "Not in use", 2: "In use", 5: "Unavailable", 6: "Ringing"}[status]
            paused = (
                f" (paused:{member.reason})"
                if member.paused and member.reason
                else (" (paused)" if member.paused else "")
            )
            lines.append(
                f"      {member.name} ({member.interface} from {member.state_interface})"
                f" (ringinuse disabled){' (dynamic)' if member.dynamic else ''}{paused}"
                f" ({state}) has taken "
                f"{member.calls_taken} calls (last was 0 secs ago) and was logged in "
                f"{int(sim.engine.wall()) - member.login_time} secs ago"
            )
    else:
        lines.append("   No Members")
    if queue.entries:
        lines.append("   Callers: ")
        now = sim.engine.now()
        for i, entry in enumerate(queue.entries, start=1):
            wait = int(now - entry.joined)
            lines.append(
                f"      {i}. {entry.call.leg.name} (wait: {wait // 60}:{wait % 60:02d}, prio: {entry.priority})"
            )
    else:
        lines.append("   No Callers")
    lines.append("")
    return lines
