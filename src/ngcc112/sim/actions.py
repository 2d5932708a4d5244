"""AMI actions: Asterisk's write privileges, answers and errors.

Privileges are those Asterisk registers them with (``ast_manager_register_xml``
in main/manager.c, apps/app_queue.c, res/res_manager_devicestate.c); a user
whose write classes share none of them gets ``Permission denied``, as
manager.c's ``process_message`` answers. Answers and error texts are the
recorded ones (``d_actions``) where recorded.
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ngcc112 import names
from ngcc112.sim.calls import CallScript
from ngcc112.sim.calls import TalkBurst
from ngcc112.sim.model import DEVICE_STATE_NAMES, UNKNOWN, Entry, Queue
from ngcc112.sim.wire import Pairs, header, headers_all

if TYPE_CHECKING:
    from ngcc112.sim.server import AmiSimulator, Session

Handler = Callable[["AmiSimulator", "Session", Pairs], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    privilege: tuple[str, ...]
    synopsis: str
    handler: Handler | None


def _aid(pairs: Pairs) -> Pairs:
    action_id = header(pairs, "ActionID")
    return [("ActionID", action_id)] if action_id else []


def success(pairs: Pairs, *rest: tuple[str, str]) -> Pairs:
    return [("Response", "Success"), *_aid(pairs), *rest]


def error(pairs: Pairs, message: str) -> Pairs:
    return [("Response", "Error"), *_aid(pairs), ("Message", message)]


def list_start(pairs: Pairs, message: str) -> Pairs:
    return [("Response", "Success"), *_aid(pairs), ("EventList", "start"), ("Message", message)]


def list_complete(pairs: Pairs, event: str, count: int) -> Pairs:
    return [("Event", event), *_aid(pairs), ("EventList", "Complete"), ("ListItems", str(count))]


def is_true(value: str) -> bool:
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")


# -- handlers ---------------------------------------------------------------


async def ping(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.send(success(p, ("Ping", "Pong"), ("Timestamp", f"{sim.engine.wall():.6f}")))


async def events(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.set_events(header(p, "EventMask"))
    s.send(success(p, ("Events", "On" if s.event_mask else "Off")))


async def logoff(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.send([("Response", "Goodbye"), *_aid(p), ("Message", "Thanks for all the fish.")])
    s.close_after_flush()


async def core_show_channels(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.send(list_start(p, "Channels will follow"))
    chans = sorted(sim.engine.channels.values(), key=lambda c: c.name, reverse=True)
    now = sim.engine.now()
    for chan in chans:
        secs = int(now - chan.created)
        duration = f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
        s.send(
            [
                ("Event", "CoreShowChannel"),
                *_aid(p),
                *chan.block(),
                ("Application", chan.application),
                ("ApplicationData", chan.appdata),
                ("Duration", duration),
                ("BridgeId", chan.bridge.uniqueid if chan.bridge else ""),
            ]
        )
    s.send(list_complete(p, "CoreShowChannelsComplete", len(chans)))


def _queues_for(sim: AmiSimulator, p: Pairs) -> list[Queue]:
    wanted = header(p, "Queue")
    return [q for q in sim.engine.queues.values() if not wanted or q.name == wanted]


async def queue_status(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.send(list_start(p, "Queue status will follow"))
    member_filter = header(p, "Member")
    count = 0
    now = sim.engine.now()
    for queue in _queues_for(sim, p):
        s.send([("Event", "QueueParams"), *queue.params(), *_aid(p)])
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
                    *_aid(p),
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
                    *_aid(p),
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
                *_aid(p),
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


async def getvar(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    variable, channel = header(p, "Variable"), header(p, "Channel")
    if not variable:
        s.send(error(p, "No variable specified"))
        return
    if channel:
        chan = sim.engine.find_channel(channel)
        if chan is None:
            s.send(error(p, "No such channel"))
            return
        if variable == "CALLERID(num)":
            value = chan.cid_num
        elif variable == "CALLERID(name)":
            value = chan.cid_name
        else:
            value = chan.variables.get(variable, "")
    else:
        value = sim.engine.globals.get(variable, "")
    s.send(success(p, ("Variable", variable), ("Value", value)))


async def setvar(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    variable, channel = header(p, "Variable"), header(p, "Channel")
    if not variable:
        s.send(error(p, "No variable specified"))
        return
    chan = None
    if channel:
        chan = sim.engine.find_channel(channel)
        if chan is None:
            s.send(error(p, "No such channel"))
            return
    s.send(success(p, ("Message", "Variable Set")))
    sim.engine.varset(chan, variable, header(p, "Value"))


async def redirect(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    channel = header(p, "Channel")
    if not channel:
        s.send(error(p, "Channel not specified"))
        return
    chan = sim.engine.find_channel(channel)
    if chan is None:
        s.send(error(p, f"Channel does not exist: {channel}"))
        return
    try:
        priority = int(header(p, "Priority") or "1")
    except ValueError:
        s.send(error(p, f"Invalid priority '{header(p, 'Priority')}'"))
        return
    s.send(success(p, ("Message", "Redirect successful")))
    sim.engine.redirect(chan, header(p, "Context") or chan.context, header(p, "Exten") or chan.exten, priority)


async def hangup(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    channel = header(p, "Channel")
    if not channel:
        s.send(error(p, "No channel specified"))
        return
    chan = sim.engine.find_channel(channel)
    if chan is None:
        s.send(error(p, "No such channel"))
        return
    try:
        cause = int(header(p, "Cause") or "16")
    except ValueError:
        cause = 16
    s.send(success(p, ("Message", "Channel Hungup")))
    sim.engine.hangup_action(chan, cause)


def parse_callerid(value: str) -> tuple[str, str]:
    """``"Name" <number>`` (or a bare number) into (number, name)."""
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, number = value[:-1].partition("<")
        return number.strip(), name.strip().strip('"')
    return value, ""


async def originate(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    channel = header(p, "Channel")
    if not channel:
        s.send(error(p, "Channel not specified"))
        return
    exten, application = header(p, "Exten"), header(p, "Application")
    if not exten and not application:
        s.send(error(p, "Exten not specified"))
        return
    action_id = header(p, "ActionID")
    number, name = parse_callerid(header(p, "CallerID"))
    variables = []
    for raw in headers_all(p, "Variable"):
        for part in raw.split(","):
            key, sep, val = part.partition("=")
            if sep:
                variables.append((key.strip(), val))
    tech, _, resource = channel.partition("/")
    emergency, _, context = resource.partition("@")
    if tech == "Local" and context == names.INCOMING_CONTEXT and emergency in names.EMERGENCY_NUMBERS:
        hangup_after: float | None = None
        local_exten = None
        if application:
            try:
                hangup_after = float(header(p, "Data") or "0") or None
            except ValueError:
                hangup_after = None
        else:
            local_exten = exten
        script = CallScript(
            number=number,
            name=name,
            kind="Local",
            exten=emergency,
            hangup_after=hangup_after,
            local_application=application or "Wait",
            local_exten=local_exten,
            variables=tuple(variables),
        )
        if local_exten == "talk":
            script = script.with_(talk=(TalkBurst(at=4.0, seconds=1.24), TalkBurst(at=9.4, seconds=2.71)))
        elif local_exten == "dtmf5":
            script = script.with_(dtmf=names.SILENT_DIGIT, dtmf_at=1.0)
        if is_true(header(p, "Async")):
            s.send(success(p, ("Message", "Originate successfully queued")))
            sim.place_from_originate(script, action_id)
        else:
            sim.place_from_originate(script, "")
            s.send(success(p, ("Message", "Originate successfully queued")))
        return
    if tech == "PJSIP" and resource in sim.engine.registered:
        s.send(success(p, ("Message", "Originate successfully queued")))
        sim.originate_operator(
            resource,
            exten,
            header(p, "Context") or names.OPERATOR_CONTEXT,
            application,
            header(p, "Data"),
            number,
            name,
            action_id,
        )
        return
    if is_true(header(p, "Async")):
        s.send(success(p, ("Message", "Originate successfully queued")))
        s.send(
            [
                ("Event", "OriginateResponse"),
                ("Privilege", "call,all"),
                *_aid(p),
                ("Response", "Failure"),
                ("Channel", channel),
                ("Context", header(p, "Context")),
                ("Exten", exten),
                ("Reason", "0"),
                ("Uniqueid", "<null>"),
                ("CallerIDNum", number or "<unknown>"),
                ("CallerIDName", name or "<unknown>"),
            ]
        )
        return
    s.send(error(p, "Originate failed"))


async def command(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    cmd = header(p, "Command")
    if not cmd:
        s.send(error(p, "No command provided"))
        return
    lines = sim.cli(cmd)
    if lines is None:
        s.send(
            [
                ("Response", "Error"),
                *_aid(p),
                ("Message", "Command output follows"),
                ("Output", f"No such command '{cmd}' (type 'core show help {cmd}' for other possible commands)"),
            ]
        )
        return
    s.send(success(p, ("Message", "Command output follows"), *[("Output", line) for line in lines]))


async def core_settings(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.send(
        success(
            p,
            ("AMIversion", "11.0.0"),
            ("AsteriskVersion", sim.config.asterisk_version),
            ("SystemName", ""),
            ("CoreMaxCalls", "0"),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", "asterisk"),
            ("CoreRunGroup", "asterisk"),
            ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "No"),
            ("CoreHTTPenabled", "No"),
            ("SoundsSearchCustomDir", "No"),
        )
    )


async def module_check(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    module = header(p, "Module")
    if not module:
        s.send(error(p, "Module name missing"))
        return
    filename = module.split(".", 1)[0] + ".so"
    if filename not in sim.config.modules_loaded:
        s.send(error(p, "Module not loaded"))
        return
    s.send(success(p, ("Version", "")))


async def list_commands(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    lines: Pairs = []
    for spec in sorted(ACTIONS.values(), key=lambda a: a.name.lower()):
        if not spec.privilege or s.may_write(spec.privilege):
            priv = ",".join(spec.privilege) if spec.privilege else "<none>"
            lines.append((spec.name, f"{spec.synopsis} (Priv: {priv})"))
    s.send(success(p, *lines))


async def device_state_list(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.send(list_start(p, "Device State Changes will follow"))
    endpoints = sorted(sim.engine.registered)
    for endpoint in endpoints:
        state = DEVICE_STATE_NAMES[sim.engine.device_status(endpoint)]
        s.send([("Event", "DeviceStateChange"), *_aid(p), ("Device", f"PJSIP/{endpoint}"), ("State", state)])
    s.send(list_complete(p, "DeviceStateListComplete", len(endpoints)))


ACTIONS: dict[str, ActionSpec] = {
    spec.name.lower(): spec
    for spec in (
        ActionSpec("Login", (), "Login Manager.", None),
        ActionSpec("Challenge", (), "Generate Challenge for MD5 Auth.", None),
        ActionSpec("Logoff", (), "Logoff Manager.", logoff),
        ActionSpec("Ping", (), "Keepalive command.", ping),
        ActionSpec("Events", (), "Control Event Flow.", events),
        ActionSpec("ListCommands", (), "List available manager commands.", list_commands),
        ActionSpec("Hangup", ("system", "call"), "Hangup channel.", hangup),
        ActionSpec("Setvar", ("call",), "Sets a channel variable or function value.", setvar),
        ActionSpec("Getvar", ("call", "reporting"), "Gets a channel variable or function value.", getvar),
        ActionSpec("Redirect", ("call",), "Redirect (transfer) a call.", redirect),
        ActionSpec("Originate", ("originate",), "Originate a call.", originate),
        ActionSpec("Command", ("command",), "Execute Asterisk CLI Command.", command),
        ActionSpec("CoreSettings", ("system", "reporting"), "Show PBX core settings (version etc).", core_settings),
        ActionSpec("CoreShowChannels", ("system", "reporting"), "List currently active channels.", core_show_channels),
        ActionSpec("ModuleCheck", ("system",), "Check if module is loaded.", module_check),
        ActionSpec(
            "DeviceStateList", ("call", "reporting"), "List the current known device states.", device_state_list
        ),
        ActionSpec("QueueStatus", (), "Show queue status.", queue_status),
        ActionSpec("QueueSummary", (), "Show queue summary.", queue_summary),
        ActionSpec("QueueAdd", ("agent",), "Add interface to queue.", queue_add),
        ActionSpec("QueueRemove", ("agent",), "Remove interface from queue.", queue_remove),
        ActionSpec("QueuePause", ("agent",), "Makes a queue member temporarily unavailable.", queue_pause),
        # registered with privilege 0 in app_queue.c ("manager show command" prints <none>)
        ActionSpec(
            "QueueChangePriorityCaller", (), "Change priority of a caller on queue.", queue_change_priority_caller
        ),
        ActionSpec(
            "QueueWithdrawCaller",
            (),
            "Request to withdraw a caller from the queue back to the dialplan.",
            queue_withdraw_caller,
        ),
    )
}

#: Actions only the app_queue module provides (answered as unknown without it).
QUEUE_ACTIONS = frozenset(n for n in ACTIONS if n.startswith("queue"))


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


def cli_words(cmd: str) -> list[str]:
    try:
        return shlex.split(cmd)
    except ValueError:
        return cmd.split()


__all__ = ["ACTIONS", "QUEUE_ACTIONS", "ActionSpec", "cli_words", "queue_show"]
