"""``ngcc112 check-asterisk``: is this Asterisk ready to take 112 calls for ngcc112?

One AMI connection, a handful of read-only actions, a pass/fail line for each
thing the daemon relies on: the login, the Asterisk version, the modules the
dialplan needs, the two queues, the AMI user's write permissions for every
action the daemon sends, and the operators' phones. Every action has a
timeout; every failure is a line that says what is wrong and where to fix it,
never a traceback.

It reads frames with its own small sequential reader (one action at a time,
logged in with ``Events: off``) and parses them with the link's parser
(:func:`ngcc112.ami.message.parse_frame`), so it shares no state with the
daemon's link and works while the daemon is running.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ngcc112 import names
from ngcc112.ami.message import AmiMessage, parse_frame
from ngcc112.settings import Settings

#: Oldest Asterisk the shipped configuration is written for.
MIN_ASTERISK_MAJOR = 20

#: Modules the shipped dialplan cannot do without (ModuleCheck names, no ``.so``).
REQUIRED_MODULES: tuple[str, ...] = ("app_queue", "res_pjsip", "func_talkdetect", "res_geolocation")

#: Every AMI action the daemon (and this checker) sends, with the write classes
#: Asterisk registers it with; any one of them suffices, ``()`` means none needed.
#: Sources: main/manager.c, apps/app_queue.c, res/res_manager_devicestate.c.
DAEMON_ACTIONS: dict[str, tuple[str, ...]] = {
    "Ping": (),
    "Events": (),
    "ListCommands": (),
    "QueueStatus": (),
    "QueueSummary": (),
    "QueueChangePriorityCaller": (),
    "QueueAdd": ("agent",),
    "QueueRemove": ("agent",),
    "QueuePause": ("agent",),
    "Redirect": ("call",),
    "Setvar": ("call",),
    "Getvar": ("call", "reporting"),
    "DeviceStateList": ("call", "reporting"),
    "Hangup": ("system", "call"),
    "CoreShowChannels": ("system", "reporting"),
    "CoreSettings": ("system", "reporting"),
    "ModuleCheck": ("system",),
    "Originate": ("originate",),
}

#: Longest AMI message accepted (ListCommands on a full Asterisk is tens of kB).
_READ_LIMIT = 1024 * 1024

#: Device states that mean the operator's phone cannot be rung.
UNREACHABLE_STATES = frozenset({"UNAVAILABLE", "INVALID", "UNKNOWN"})


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the report."""

    name: str
    ok: bool
    detail: str


class AmiError(Exception):
    """The AMI exchange failed: closed, timed out or unreadable."""


class _AmiSession:
    """A minimal, sequential AMI client: one action in flight at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._ids = itertools.count(1)
        self.banner = ""

    @classmethod
    async def connect(cls, host: str, port: int, timeout: float) -> _AmiSession:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=_READ_LIMIT), timeout)
        session = cls(reader, writer, timeout)
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
        except (asyncio.TimeoutError, OSError) as exc:
            await session.close()
            raise AmiError(f"no AMI banner within {timeout:g} s ({exc!r})") from None
        session.banner = line.decode("utf-8", errors="replace").strip()
        if not line:
            await session.close()
            raise AmiError("the server closed the connection before the AMI banner")
        if not session.banner.startswith("Asterisk Call Manager"):
            await session.close()
            raise AmiError(f"not an Asterisk manager port (it said {session.banner!r})")
        return session

    async def close(self) -> None:
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), self._timeout)
        except (asyncio.TimeoutError, OSError):
            pass

    async def _read(self) -> AmiMessage:
        """The next frame that is an event or a response (anything else is skipped)."""
        while True:
            try:
                raw = await asyncio.wait_for(self._reader.readuntil(b"\r\n\r\n"), self._timeout)
            except asyncio.TimeoutError:
                raise AmiError(f"no answer within {self._timeout:g} s") from None
            except asyncio.IncompleteReadError:
                raise AmiError("Asterisk closed the connection") from None
            except (asyncio.LimitOverrunError, OSError) as exc:
                raise AmiError(f"AMI read failed: {exc}") from None
            message = parse_frame(raw[:-4].decode("utf-8", errors="replace"))
            if message is not None:
                return message

    async def _send(self, action: str, fields: dict[str, str]) -> str:
        action_id = f"ngcc-check-{next(self._ids)}"
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        for key, value in fields.items():
            if "\r" in value or "\n" in value:
                raise ValueError(f"AMI header {key} must not contain a line break")
            lines.append(f"{key}: {value}")
        try:
            self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
            await asyncio.wait_for(self._writer.drain(), self._timeout)
        except asyncio.TimeoutError:
            raise AmiError(f"could not send {action} within {self._timeout:g} s") from None
        except OSError as exc:
            raise AmiError(f"could not send {action}: {exc}") from None
        return action_id

    async def action(self, action: str, **fields: str) -> AmiMessage:
        """Send one action and return its response (skipping anything else)."""
        action_id = await self._send(action, fields)
        while True:
            message = await self._read()
            if message.kind == "response" and message.action_id in (action_id, ""):
                return message

    async def list_action(self, action: str, **fields: str) -> tuple[AmiMessage, list[AmiMessage]]:
        """Send a list action; return its response and the events of its list."""
        action_id = await self._send(action, fields)
        response: AmiMessage | None = None
        events: list[AmiMessage] = []
        while True:
            message = await self._read()
            if message.kind == "response" and message.action_id in (action_id, ""):
                response = message
                if not message.success or message.get("EventList").lower() != "start":
                    return response, events
                continue
            if message.kind != "event" or message.action_id != action_id:
                continue
            if message.get("EventList").lower() == "complete":
                return response or message, events
            events.append(message)


def _missing_detail(action: str) -> str:
    classes = DAEMON_ACTIONS.get(action, ())
    return f"{action} (write class {' or '.join(classes)})" if classes else action


def _major(version: str) -> int | None:
    # "22.10.1", "certified-20.7-cert3", "GIT-master-abc" ...
    for part in version.replace("-", ".").split("."):
        if part.isdigit():
            return int(part)
    return None


async def check_asterisk(settings: Settings, *, operators: Sequence[str] = names.SAMPLE_OPERATORS) -> list[CheckResult]:
    """Check the live Asterisk named in ``settings.ami``; one result per check."""
    ami = settings.ami
    where = f"{ami.host}:{ami.port}"
    timeout = ami.action_timeout
    results: list[CheckResult] = []
    try:
        session = await _AmiSession.connect(ami.host, ami.port, timeout)
    except asyncio.TimeoutError:
        return [CheckResult("connect", False, f"no connection to {where} within {timeout:g} s")]
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return [CheckResult("connect", False, f"cannot reach AMI at {where}: {reason}")]
    except AmiError as exc:
        return [CheckResult("connect", False, f"{where}: {exc}")]
    results.append(CheckResult("connect", True, f"{where}: {session.banner}"))
    step = "login"
    try:
        login = await session.action("Login", Username=ami.username, Secret=ami.secret.get_secret_value(), Events="off")
        if not login.success:
            results.append(
                CheckResult(
                    "login",
                    False,
                    f"user {ami.username!r} refused: {login.get('Message') or 'error'}"
                    " (check the secret in manager.conf and NGCC112_AMI_SECRET, and that"
                    " manager.conf 'permit' allows this host)",
                )
            )
            return results
        results.append(CheckResult("login", True, f"logged in as {ami.username!r}"))
        step = "Asterisk version"
        results.append(await _check_version(session))
        step = "modules"
        results.extend(await _check_modules(session))
        step = "queues"
        results.extend(await _check_queues(session, (settings.calls.queue, settings.calls.supervisor_queue)))
        step = "AMI permissions"
        results.append(await _check_permissions(session))
        step = "operator phones"
        results.extend(await _check_operators(session, operators))
        try:
            await session.action("Logoff")
        except AmiError:
            pass
    except AmiError as exc:
        results.append(CheckResult(step, False, f"{where}: {exc}; the checks after it did not run"))
    finally:
        await session.close()
    return results


async def _check_version(session: _AmiSession) -> CheckResult:
    response = await session.action("CoreSettings")
    if not response.success:
        return CheckResult(
            "Asterisk version",
            False,
            f"CoreSettings refused: {response.get('Message')}"
            f" (needs write class {' or '.join(DAEMON_ACTIONS['CoreSettings'])})",
        )
    version = response.get("AsteriskVersion")
    major = _major(version)
    if major is None:
        return CheckResult("Asterisk version", False, f"cannot read the version {version!r}")
    if major < MIN_ASTERISK_MAJOR:
        return CheckResult(
            "Asterisk version",
            False,
            f"Asterisk {version}: ngcc112 needs Asterisk {MIN_ASTERISK_MAJOR} or newer",
        )
    return CheckResult("Asterisk version", True, f"Asterisk {version}")


async def _check_modules(session: _AmiSession) -> list[CheckResult]:
    results = []
    for module in REQUIRED_MODULES:
        response = await session.action("ModuleCheck", Module=module)
        name = f"module {module}"
        if response.success:
            results.append(CheckResult(name, True, "loaded"))
            continue
        message = response.get("Message")
        if "permission" in message.lower():
            detail = f"cannot check: {message} (ModuleCheck needs write class system)"
        else:
            detail = f"{message or 'not loaded'}: load {module}.so (see asterisk-config/modules.conf)"
        results.append(CheckResult(name, False, detail))
    return results


async def _check_queues(session: _AmiSession, queues: Iterable[str]) -> list[CheckResult]:
    results = []
    for queue in queues:
        name = f"queue {queue}"
        response, events = await session.list_action("QueueSummary", Queue=queue)
        if not response.success:
            results.append(CheckResult(name, False, f"QueueSummary failed: {response.get('Message')}"))
            continue
        summary = next(
            (e for e in events if e.get("Event") == "QueueSummary" and e.get("Queue") == queue),
            None,
        )
        if summary is None:
            results.append(
                CheckResult(
                    name,
                    False,
                    "no such queue: add it to queues.conf and 'module reload app_queue.so'",
                )
            )
            continue
        results.append(
            CheckResult(
                name,
                True,
                f"exists: {summary.get('LoggedIn') or '0'} members logged in,"
                f" {summary.get('Available') or '0'} available,"
                f" {summary.get('Callers') or '0'} callers waiting",
            )
        )
    return results


async def _check_permissions(session: _AmiSession) -> CheckResult:
    name = "AMI permissions"
    response = await session.action("ListCommands")
    if not response.success:
        return CheckResult(name, False, f"ListCommands refused: {response.get('Message')}")
    skip = {"response", "actionid", "message", ""}
    permitted = {key for key in response.headers if key not in skip}
    missing = [action for action in DAEMON_ACTIONS if action.lower() not in permitted]
    if missing:
        return CheckResult(
            name,
            False,
            "the AMI user may not send: "
            + ", ".join(_missing_detail(action) for action in missing)
            + " (manager.conf 'write' line; or the module is not loaded)",
        )
    return CheckResult(name, True, f"all {len(DAEMON_ACTIONS)} actions the daemon sends are allowed")


async def _check_operators(session: _AmiSession, operators: Sequence[str]) -> list[CheckResult]:
    if not operators:
        return []
    response, events = await session.list_action("DeviceStateList")
    if not response.success:
        detail = f"DeviceStateList failed: {response.get('Message')}"
        if "permission" not in detail.lower():
            detail += " (is res_manager_devicestate.so loaded?)"
        return [CheckResult("operator phones", False, detail)]
    states = {e.get("Device").lower(): e.get("State") for e in events if e.get("Device")}
    results = []
    for endpoint in operators:
        interface = names.operator_interface(endpoint)
        state = states.get(interface.lower())
        name = f"operator {interface}"
        if state is None:
            results.append(
                CheckResult(
                    name,
                    False,
                    "no device state: the endpoint is missing from pjsip.conf,"
                    " or its phone has not registered since Asterisk started",
                )
            )
        elif state.upper() in UNREACHABLE_STATES:
            results.append(
                CheckResult(name, False, f"{state}: the softphone is not registered or not answering OPTIONS")
            )
        else:
            results.append(CheckResult(name, True, state))
    return results


def render(results: Sequence[CheckResult]) -> str:
    """The report: one ``[ OK ]`` / ``[FAIL]`` line per check, then a summary."""
    lines = [f"[{' OK ' if r.ok else 'FAIL'}] {r.name}: {r.detail}" for r in results]
    failed = sum(1 for r in results if not r.ok)
    if failed:
        lines.append(f"{failed} of {len(results)} checks FAILED")
    else:
        lines.append(f"all {len(results)} checks passed")
    return "\n".join(lines)


async def main_check(settings: Settings, *, operators: Sequence[str] = names.SAMPLE_OPERATORS) -> int:
    """Run the checks, print the report; exit code 0 when all pass, 1 otherwise.

    ``operators``: the PJSIP endpoints whose phones must be reachable (default: the
    sample operators of the shipped pjsip.conf).
    """
    results = await check_asterisk(settings, operators=operators)
    print(render(results), flush=True)
    return 0 if results and all(r.ok for r in results) else 1
