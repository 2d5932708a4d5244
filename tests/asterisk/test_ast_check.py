"""``ngcc112 check-asterisk`` against the AMI simulator, over real TCP.

The AMI account is built from the shipped manager.conf (its read/write
classes), so these tests also prove that the shipped permissions are enough.
Each failure the checker must report gets its own simulator: a missing module,
a missing queue, a missing permission, an unreachable operator phone, a bad
secret, an unreachable host, a port that is not AMI.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import pytest

from ngcc112 import names
from ngcc112.ami.checker import (
    DAEMON_ACTIONS,
    REQUIRED_MODULES,
    CheckResult,
    check_asterisk,
    main_check,
    render,
)
from ngcc112.clock import VirtualClock
from ngcc112.settings import AmiSettings, Settings
from ngcc112.sim.config import DEFAULT_MODULES, AmiUser, SimulatorConfig
from ngcc112.sim.server import AmiSimulator

SECRET = "ngcc-secret"
#: Real seconds the checker waits for each answer of the simulator: generous, since a
#: busy machine is no fault (a passing check never waits for it).
ANSWER_TIMEOUT = 15.0


def simulator(config: SimulatorConfig) -> AmiSimulator:
    """A simulator whose time stands still: the checker only asks, no call runs."""
    return AmiSimulator(config, clock=VirtualClock())


@pytest.fixture
def shipped_user(manager_conf) -> AmiUser:
    (user,) = [s for s in manager_conf if s.name == names.AMI_USERNAME]
    return AmiUser(
        secret=SECRET,
        read=tuple(c.strip() for c in user.one("read").split(",")),
        write=tuple(c.strip() for c in user.one("write").split(",")),
    )


@pytest.fixture
def run_check(shipped_user):
    """Start a simulator with ``overrides``, run the checker against it, stop it."""

    async def run(secret: str = SECRET, user: AmiUser | None = None, **overrides) -> list[CheckResult]:
        config = SimulatorConfig(users={names.AMI_USERNAME: user or shipped_user}, **overrides)
        sim = simulator(config)
        await sim.start()
        try:
            settings = Settings(
                ami=AmiSettings(port=sim.port, secret=secret, action_timeout=ANSWER_TIMEOUT)
            )
            return await asyncio.wait_for(check_asterisk(settings), 120)
        finally:
            await sim.stop()

    return run


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def _failed(results: list[CheckResult]) -> list[str]:
    return [r.name for r in results if not r.ok]


async def test_all_pass_with_the_shipped_permissions(run_check):
    results = await run_check()
    assert _failed(results) == [], render(results)
    names_ = [r.name for r in results]
    assert names_[:3] == ["connect", "login", "Asterisk version"]
    for module in REQUIRED_MODULES:
        assert f"module {module}" in names_
    for queue in (names.OPERATOR_QUEUE, names.SUPERVISOR_QUEUE):
        assert f"queue {queue}" in names_
    assert "AMI permissions" in names_
    for op in names.SAMPLE_OPERATORS:
        assert f"operator {names.operator_interface(op)}" in names_
    assert "22.10.1" in _by_name(results)["Asterisk version"].detail


async def test_missing_module(run_check):
    results = await run_check(modules_loaded=DEFAULT_MODULES - {"func_talkdetect.so"})
    assert _failed(results) == ["module func_talkdetect"]
    assert "func_talkdetect.so" in _by_name(results)["module func_talkdetect"].detail


async def test_missing_queue(run_check):
    results = await run_check(queues=(names.OPERATOR_QUEUE,))
    assert _failed(results) == [f"queue {names.SUPERVISOR_QUEUE}"]
    assert "no such queue" in _by_name(results)[f"queue {names.SUPERVISOR_QUEUE}"].detail


async def test_missing_permission_agent(run_check, shipped_user):
    user = dataclasses.replace(shipped_user, write=("system", "call", "originate"))
    results = await run_check(user=user)
    assert _failed(results) == ["AMI permissions"]
    detail = _by_name(results)["AMI permissions"].detail
    for action in ("QueueAdd", "QueueRemove", "QueuePause"):
        assert f"{action} (write class agent)" in detail
    assert "Originate" not in detail


async def test_missing_permission_system(run_check, shipped_user):
    """Without 'system' the checker cannot even ask; it says so, line by line."""
    user = dataclasses.replace(shipped_user, write=("call", "agent", "originate"))
    results = await run_check(user=user)
    by_name = _by_name(results)
    assert "ModuleCheck (write class system)" in by_name["AMI permissions"].detail
    assert "CoreShowChannels" in by_name["AMI permissions"].detail
    assert not by_name["Asterisk version"].ok
    assert "CoreSettings refused" in by_name["Asterisk version"].detail
    for module in REQUIRED_MODULES:
        assert "cannot check" in by_name[f"module {module}"].detail
    # what it can still check, it checks
    assert by_name[f"queue {names.OPERATOR_QUEUE}"].ok
    assert by_name["operator PJSIP/op1"].ok


async def test_unreachable_operator(run_check):
    results = await run_check(endpoints={"op1": True, "op2": True, "op3": False})
    assert _failed(results) == ["operator PJSIP/op3"]
    assert "UNAVAILABLE" in _by_name(results)["operator PJSIP/op3"].detail


async def test_unknown_operator_endpoint(run_check):
    results = await run_check(endpoints={"op1": True, "op2": True})
    assert _failed(results) == ["operator PJSIP/op3"]
    assert "missing from pjsip.conf" in _by_name(results)["operator PJSIP/op3"].detail


async def test_bad_secret(run_check):
    results = await run_check(secret="wrong")
    assert [(r.name, r.ok) for r in results] == [("connect", True), ("login", False)]
    assert "Authentication failed" in results[1].detail
    assert "NGCC112_AMI_SECRET" in results[1].detail


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_host():
    settings = Settings(ami=AmiSettings(port=_free_port(), action_timeout=2.0))
    results = await check_asterisk(settings)
    assert len(results) == 1 and results[0].name == "connect" and not results[0].ok
    assert "cannot reach AMI" in results[0].detail


async def test_silent_port_times_out():
    """A port that accepts but never speaks AMI: a clear line after the timeout."""

    async def mute(reader, writer):
        await reader.read()
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = Settings(ami=AmiSettings(port=port, action_timeout=0.3))
        results = await asyncio.wait_for(check_asterisk(settings), 5)
    finally:
        server.close()
        await server.wait_closed()
    assert [(r.name, r.ok) for r in results] == [("connect", False)]
    assert "no AMI banner" in results[0].detail


async def test_not_an_ami_port():
    async def http(reader, writer):
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        results = await check_asterisk(Settings(ami=AmiSettings(port=port, action_timeout=1.0)))
    finally:
        server.close()
        await server.wait_closed()
    assert [(r.name, r.ok) for r in results] == [("connect", False)]
    assert "not an Asterisk manager port" in results[0].detail


async def test_main_check_prints_and_returns_exit_code(shipped_user, capsys):
    for endpoints, expected in (({"op1": True, "op2": True, "op3": True}, 0),
                                ({"op1": True, "op2": True, "op3": False}, 1)):
        sim = simulator(SimulatorConfig(users={names.AMI_USERNAME: shipped_user}, endpoints=endpoints))
        await sim.start()
        try:
            code = await main_check(Settings(ami=AmiSettings(port=sim.port,
                                                             action_timeout=ANSWER_TIMEOUT)))
        finally:
            await sim.stop()
        out = capsys.readouterr().out
        assert code == expected
        assert ("checks passed" in out) == (expected == 0)
        assert ("[FAIL] operator PJSIP/op3" in out) == (expected == 1)


async def test_main_check_unreachable_is_exit_1(capsys):
    code = await main_check(Settings(ami=AmiSettings(port=_free_port(), action_timeout=1.0)))
    assert code == 1
    assert "[FAIL] connect" in capsys.readouterr().out


def test_render():
    text = render([CheckResult("login", True, "fine"), CheckResult("queue q", False, "missing")])
    assert text.splitlines() == [
        "[ OK ] login: fine",
        "[FAIL] queue q: missing",
        "1 of 2 checks FAILED",
    ]
    assert render([CheckResult("a", True, "x")]).endswith("all 1 checks passed")


def test_shipped_manager_conf_grants_every_daemon_action(shipped_user):
    """Asterisk allows an action when the user holds any one of its classes."""
    write = set(shipped_user.write)
    for action, classes in DAEMON_ACTIONS.items():
        assert not classes or write & set(classes), f"manager.conf cannot send {action}"
    # and nothing the daemon does not need
    assert write == {"system", "call", "agent", "originate"}
    assert "command" not in write and "config" not in write


async def test_cli_check_asterisk_end_to_end(shipped_user, docs_dir, tmp_path):
    """`ngcc112 --config <example> check-asterisk`, as a sysadmin runs it."""
    import os
    import sys
    from pathlib import Path

    ngcc112 = Path(sys.executable).with_name("ngcc112")
    if not ngcc112.exists():
        pytest.fail("the ngcc112 command is not installed: pip install -e .")
    sim = simulator(
        SimulatorConfig(
            users={names.AMI_USERNAME: shipped_user},
            endpoints={"op1": True, "op2": False, "op3": True},
        )
    )
    await sim.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NGCC112_")}
        env.update(NGCC112_AMI_PORT=str(sim.port), NGCC112_AMI_SECRET=SECRET)
        proc = await asyncio.create_subprocess_exec(
            str(ngcc112), "--config", str(docs_dir / "ngcc112.example.toml"), "check-asterisk",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await sim.stop()
    text = out.decode()
    assert proc.returncode == 1, text + err.decode()
    assert "[ OK ] login: logged in as 'ngcc'" in text
    assert "[FAIL] operator PJSIP/op2: UNAVAILABLE" in text
    assert "1 of 13 checks FAILED" in text
    assert "Traceback" not in text + err.decode()


async def test_main_check_other_operators(shipped_user, capsys):
    sim = simulator(
        SimulatorConfig(
            users={names.AMI_USERNAME: shipped_user},
            endpoints={"op1": True, "op7": True},
        )
    )
    await sim.start()
    try:
        settings = Settings(ami=AmiSettings(port=sim.port, action_timeout=ANSWER_TIMEOUT))
        code = await main_check(settings, operators=("op1", "op7"))
    finally:
        await sim.stop()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[ OK ] operator PJSIP/op7" in out and "op3" not in out


async def test_connection_dropped_mid_check():
    """A manager that answers the login, then goes silent: the step is named, no traceback."""

    async def half(reader, writer):
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"Response: Success\r\nActionID: ngcc-check-1\r\nMessage: Authentication accepted\r\n\r\n")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(half, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        results = await check_asterisk(Settings(ami=AmiSettings(port=port, action_timeout=1.0)))
    finally:
        server.close()
        await server.wait_closed()
    assert [(r.name, r.ok) for r in results] == [
        ("connect", True), ("login", True), ("Asterisk version", False)
    ]
    assert "closed the connection" in results[-1].detail


async def test_server_closes_before_banner():
    async def rude(reader, writer):
        writer.close()

    server = await asyncio.start_server(rude, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        results = await check_asterisk(Settings(ami=AmiSettings(port=port, action_timeout=1.0)))
    finally:
        server.close()
        await server.wait_closed()
    assert [(r.name, r.ok) for r in results] == [("connect", False)]
    assert "before the AMI banner" in results[0].detail
