"""Typed AMI actions: what the daemon may ask of Asterisk.

Every value is checked before it reaches the wire: a CR or LF inside a header
value would start a new header or a new action (AMI injection), so it is
refused with :class:`AmiInjectionError`. ``as_list`` is explicit for every
action so that panoramisk never has to guess whether a response is a list.
"""

from __future__ import annotations

from dataclasses import dataclass


class AmiInjectionError(ValueError):
    """A value for an AMI header contains a line break or is otherwise unsafe."""


@dataclass(frozen=True, slots=True)
class AmiAction:
    name: str
    headers: tuple[tuple[str, str], ...] = ()
    #: True for list actions answered by ``EventList: start`` … ``…Complete``.
    as_list: bool = False

    def as_dict(self) -> dict[str, str | list[str]]:
        out: dict[str, str | list[str]] = {"Action": self.name}
        for key, value in self.headers:
            if key in out:
                existing = out[key]
                out[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
            else:
                out[key] = value
        return out

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == key.lower()), None)


def _action(name: str, *pairs: tuple[str, object | None], as_list: bool = False) -> AmiAction:
    headers = []
    for key, value in pairs:
        if value is None:
            continue
        text = _clean(key, value)
        headers.append((key, text))
    return AmiAction(name=name, headers=tuple(headers), as_list=as_list)


def _clean(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if "\r" in text or "\n" in text:
        raise AmiInjectionError(f"AMI header {key!r} must not contain a line break: {text!r}")
    if "\x00" in text:
        raise AmiInjectionError(f"AMI header {key!r} must not contain a NUL byte")
    return text


def login(username: str, secret: str) -> AmiAction:
    return _action("Login", ("Username", username), ("Secret", secret), ("Events", "on"))


def ping() -> AmiAction:
    return _action("Ping")


def logoff() -> AmiAction:
    return _action("Logoff")


def core_show_channels() -> AmiAction:
    return _action("CoreShowChannels", as_list=True)


def queue_status(queue: str | None = None) -> AmiAction:
    return _action("QueueStatus", ("Queue", queue), as_list=True)


def queue_summary(queue: str | None = None) -> AmiAction:
    return _action("QueueSummary", ("Queue", queue), as_list=True)


def queue_add(queue: str, interface: str, member_name: str, *, paused: bool = False, penalty: int = 0) -> AmiAction:
    return _action(
        "QueueAdd",
        ("Queue", queue),
        ("Interface", interface),
        ("MemberName", member_name),
        ("StateInterface", interface),
        ("Penalty", penalty),
        ("Paused", paused),
    )


def queue_remove(queue: str, interface: str) -> AmiAction:
    return _action("QueueRemove", ("Queue", queue), ("Interface", interface))


def queue_pause(interface: str, paused: bool, *, queue: str | None = None, reason: str | None = None) -> AmiAction:
    return _action("QueuePause", ("Interface", interface), ("Paused", paused), ("Queue", queue), ("Reason", reason))


def change_priority(queue: str, caller_channel: str, priority: int) -> AmiAction:
    """Set a waiting caller's queue priority and reorder the queue at once.

    Without ``Immediate: yes`` Asterisk 22 keeps the caller where it is: the new
    priority would only rank it against callers who join later
    (tests/real_asterisk/test_asterisk_facts.py).
    """
    return _action(
        "QueueChangePriorityCaller",
        ("Queue", queue),
        ("Caller", caller_channel),
        ("Priority", int(priority)),
        ("Immediate", "yes"),
    )


def redirect(channel: str, context: str, exten: str, priority: int = 1) -> AmiAction:
    return _action("Redirect", ("Channel", channel), ("Context", context), ("Exten", exten), ("Priority", priority))


def hangup(channel: str, cause: int | None = None) -> AmiAction:
    return _action("Hangup", ("Channel", channel), ("Cause", cause))


def originate(
    channel: str,
    *,
    context: str,
    exten: str,
    caller_id: str | None = None,
    timeout_ms: int = 30000,
    variables: dict[str, str] | None = None,
) -> AmiAction:
    """Async Originate: answered by a Response, then ``OriginateResponse``."""
    pairs: list[tuple[str, object | None]] = [
        ("Channel", channel),
        ("Context", context),
        ("Exten", exten),
        ("Priority", 1),
        ("CallerID", caller_id),
        ("Timeout", timeout_ms),
        ("Async", "true"),
    ]
    for name, value in (variables or {}).items():
        pairs.append(("Variable", f"{_clean('Variable', name)}={_clean('Variable', value)}"))
    return _action("Originate", *pairs)


def getvar(variable: str, channel: str | None = None) -> AmiAction:
    return _action("Getvar", ("Channel", channel), ("Variable", variable))


def setvar(variable: str, value: str, channel: str | None = None) -> AmiAction:
    return _action("Setvar", ("Channel", channel), ("Variable", variable), ("Value", value))
