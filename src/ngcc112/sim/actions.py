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
from ngcc112.sim.calls import CallScript, TalkBurst
from ngcc112.sim.model import DEVICE_STATE_NAMES
from ngcc112.sim.queue_actions import (
    queue_add,
    queue_change_priority_caller,
    queue_pause,
    queue_remove,
    queue_status,
    queue_summary,
    queue_withdraw_caller,
)
from ngcc112.sim.replies import echo_id, error, is_true, list_complete, list_start, success
from ngcc112.sim.wire import Pairs, header, headers_all

if TYPE_CHECKING:
    from ngcc112.sim.server import AmiSimulator
    from ngcc112.sim.session import Session

Handler = Callable[["AmiSimulator", "Session", Pairs], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    privilege: tuple[str, ...]
    synopsis: str
    handler: Handler | None


# -- handlers ---------------------------------------------------------------


async def ping(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.send(success(p, ("Ping", "Pong"), ("Timestamp", f"{sim.engine.wall():.6f}")))


async def events(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.set_events(header(p, "EventMask"))
    s.send(success(p, ("Events", "On" if s.event_mask else "Off")))


async def logoff(sim: AmiSimulator, s: Session, p: Pairs) -> None:
    s.send([("Response", "Goodbye"), *echo_id(p), ("Message", "Thanks for all the fish.")])
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
                *echo_id(p),
                *chan.block(),
                ("Application", chan.application),
                ("ApplicationData", chan.appdata),
                ("Duration", duration),
                ("BridgeId", chan.bridge.uniqueid if chan.bridge else ""),
            ]
        )
    s.send(list_complete(p, "CoreShowChannelsComplete", len(chans)))


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
        sim.spawn(
            sim.engine.originate_operator(
                resource,
                exten,
                header(p, "Context") or names.OPERATOR_CONTEXT,
                application,
                header(p, "Data"),
                number,
                name,
                action_id,
            )
        )
        return
    if is_true(header(p, "Async")):
        s.send(success(p, ("Message", "Originate successfully queued")))
        s.send(
            [
                ("Event", "OriginateResponse"),
                ("Privilege", "call,all"),
                *echo_id(p),
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
                *echo_id(p),
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
        s.send([("Event", "DeviceStateChange"), *echo_id(p), ("Device", f"PJSIP/{endpoint}"), ("State", state)])
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


def cli_words(cmd: str) -> list[str]:
    try:
        return shlex.split(cmd)
    except ValueError:
        return cmd.split()


__all__ = ["ACTIONS", "QUEUE_ACTIONS", "ActionSpec", "cli_words"]
