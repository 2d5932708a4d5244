"""The ngcc112 command as a sysadmin meets it: real processes, real sockets, exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from ngcc112.ami import actions
from ngcc112.ami.link import AmiLink
from ngcc112.settings import AmiSettings

NGCC112 = [sys.executable, "-m", "ngcc112.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NGCC112_")}
    env.update({
        "NGCC112_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "NGCC112_PANEL_LISTEN": f"127.0.0.1:{free_port()}",
        "NGCC112_AMI_PORT": str(free_port()),
        "NGCC112_AMI_SECRET": "s3cret-for-cli-test",
    })
    env.update(extra)
    return env


async def run(*args: str, env: dict[str, str], timeout: float = 60, cwd: Path | None = None):
    process = await asyncio.create_subprocess_exec(
        *NGCC112, *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, out.decode(), err.decode()


async def start(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *NGCC112, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def wait_port(port: int, timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_bad_configuration_is_one_line_and_exit_2(tmp_path):
    code, _, err = await run("run", env=environment(tmp_path, NGCC112_AMI_PORT="not-a-port"))
    assert code == 2
    assert err.strip().splitlines() == ["ngcc112: bad configuration: [ami] port: 'not-a-port' is not valid "
                                        "(Input should be a valid integer, unable to parse string as an integer;"
                                        " from NGCC112_AMI_PORT)"]


async def test_an_unknown_key_names_the_file_and_section_and_a_secret_is_never_echoed(tmp_path):
    path = tmp_path / "ngcc112.toml"
    path.write_text("[panel]\nlisten = '0.0.0.0'\n")
    code, _, err = await run("--config", str(path), "run", env=environment(tmp_path))
    assert code == 2
    assert err.strip().splitlines() == [f"ngcc112: bad configuration: unknown setting [panel] 'listen' (in {path})"]
    code, _, err = await run("run", env=environment(tmp_path, NGCC112_PANEL__METRICS_TOKEN="short-secret"))
    assert code == 2 and "metrics_token: must be at least 16" in err and "short-secret" not in err


async def test_unreachable_asterisk_is_one_clear_line_and_exit_2(tmp_path):
    code, _, err = await run("run", env=environment(tmp_path))
    assert code == 2
    assert "Traceback" not in err
    assert "ngcc112: cannot reach Asterisk AMI at 127.0.0.1:" in err


async def test_wrong_secret_is_one_clear_line_exit_2_and_the_secret_is_never_logged(tmp_path):
    env = environment(tmp_path)
    sim = await start("sim", env=env)
    try:
        await wait_port(int(env["NGCC112_AMI_PORT"]))
        wrong = dict(env, NGCC112_AMI_SECRET="wrong-secret-value")
        code, out, err = await run("run", env=wrong)
    finally:
        sim.send_signal(signal.SIGTERM)
        await sim.wait()
    assert code == 2
    assert "Traceback" not in err
    assert "refused the AMI login for user 'ngcc': Authentication failed" in err
    assert "wrong-secret-value" not in out + err


async def test_sim_and_run_from_one_environment_make_tickets_and_stop_cleanly(tmp_path):
    env = environment(tmp_path)
    port = int(env["NGCC112_AMI_PORT"])
    sim = await start("sim", "--rate", "0", env=env)
    daemon = None
    try:
        await wait_port(port)
        daemon = await start("run", env=env)
        client = AmiLink(AmiSettings(port=port, secret=env["NGCC112_AMI_SECRET"]), lambda item: None)
        task = asyncio.create_task(client.run())
        while not client.connected:
            await asyncio.sleep(0.05)
        answer = await client.send(actions.originate("Local/112@from-pstn", context="ngcc-test", exten="wait",
                                                     caller_id='"Budi Santoso" <081234567890>'))
        assert answer.ok
        await client.stop()
        task.cancel()
        for _ in range(100):
            code, out, _ = await run("tickets", "--json", env=env)
            rows = [json.loads(line) for line in out.splitlines()]
            if rows:
                break
            await asyncio.sleep(0.1)
        assert len(rows) == 1
        row = rows[0]
        assert {"id", "linkedid", "caller_number", "caller_name", "state", "arrived_at", "answered_at",
                "ended_at", "abandoned"} <= set(row)
        assert (row["caller_number"], row["caller_name"], row["state"]) == ("081234567890", "Budi Santoso", "new")
        daemon.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(daemon.communicate(), 20)
        assert daemon.returncode == 0, err.decode()
        log_lines = [json.loads(line) for line in out.decode().splitlines()]
        assert any(line["event"] == "ticket.opened" and line["ticket_id"] == 1 and line["call_id"]
                   for line in log_lines)
        assert env["NGCC112_AMI_SECRET"] not in out.decode() + err.decode()
    finally:
        for process in (daemon, sim):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()


async def test_db_upgrade_then_tickets_on_an_empty_database(tmp_path):
    env = environment(tmp_path)
    code, out, _ = await run("db", "upgrade", env=env)
    assert (code, out.strip()) == (0, "database is at the latest schema")
    code, out, _ = await run("tickets", "--json", env=env)
    assert (code, out) == (0, "")


async def test_demo_runs_for_its_duration_shows_tickets_and_exits_0(tmp_path):
    env = environment(tmp_path)
    del env["NGCC112_DATABASE_URL"]  # nothing configured: the demo keeps its own SQLite file
    code, out, err = await run("demo", "--duration", "4", "--rate", "120", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "ticket #1 opened: 112 call from" in out
    assert out.strip().endswith("ngcc112 demo: stopped")
    assert (tmp_path / "var" / "demo.db").exists()


@pytest.mark.parametrize("args", [("--config", "{path}", "run"), ("run", "--config", "{path}")])
async def test_config_file_goes_before_or_after_the_command(tmp_path, args):
    path = tmp_path / "ngcc112.toml"
    path.write_text("[ami]\nping_interval = 'x'\n")
    code, _, err = await run(*(a.format(path=path) for a in args), env=environment(tmp_path))
    assert code == 2 and "bad configuration: [ami] ping_interval: 'x' is not valid" in err


async def test_report_prints_text_or_csv_and_refuses_a_backwards_range(tmp_path):
    env = environment(tmp_path)
    code, _, err = await run("report", "--from", "2026-11-01", "--to", "2026-11-30", env=env)
    assert code == 2 and "did you run `ngcc112 db upgrade`?" in err
    assert (await run("db", "upgrade", env=env))[0] == 0
    code, out, _ = await run("report", "--from", "2026-11-01", "--to", "2026-11-30", env=env)
    assert code == 0 and out.startswith("ngcc112 report 2026-11-01 .. 2026-11-30 (days and hours in Asia/Jakarta)")
    code, out, _ = await run("report", "--from", "2026-11-01", "--to", "2026-11-30", "--csv", "--tz", "UTC", env=env)
    assert code == 0 and out.splitlines()[0] == "section,group,item,metric,value"
    code, _, err = await run("report", "--from", "2026-11-30", "--to", "2026-11-01", env=env)
    assert code == 2 and "before it starts" in err


async def test_user_add_reads_the_password_from_stdin_and_refuses_bad_input_clearly(tmp_path):
    env = environment(tmp_path)

    async def add(*args: str, password: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            *NGCC112, "user", "add", *args, "--password-stdin", env=env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(password.encode() + b"\n"), 60)
        return process.returncode, out.decode(), err.decode()

    code, out, _ = await add("--role", "operator", "--name", "op9", "--interface", "PJSIP/op9",
                             password="a-long-password")
    assert code == 0 and "user 'op9' added with role operator" in out
    code, _, err = await add("--role", "operator", "--name", "op9", password="a-long-password")
    assert code == 2 and "op9" in err and "Traceback" not in err
    code, _, err = await add("--role", "dispatcher", "--name", "disp2", password="short")
    assert code == 2 and "password" in err.lower() and "Traceback" not in err
    # the data layer's rule: an operator needs a softphone, an agency user an agency
    code, _, err = await add("--role", "operator", "--name", "op10", password="a-long-password")
    assert code == 2 and "an operator needs a softphone interface" in err and "Traceback" not in err
    code, _, err = await add("--role", "agency", "--name", "damkar9", password="a-long-password")
    assert code == 2 and "an agency user needs an agency" in err and "Traceback" not in err
    code, _, err = await add("--role", "agency", "--name", "damkar9", "--agency", "nowhere",
                             password="a-long-password")
    assert code == 2 and "no active agency 'nowhere'" in err
    code, _, err = await add("--role", "dispatcher", "--name", "disp3", "--agency", "damkar",
                             password="a-long-password")
    assert code == 2 and "only agency users belong to an agency" in err


async def test_blocklist_entries_are_evidence_with_who_why_and_expiry_never_a_refusal(tmp_path):
    env = environment(tmp_path)
    assert (await run("db", "upgrade", env=env))[0] == 0
    code, out, _ = await run("blocklist", "add", "0812-3456-7890", "--reason", "5 prank calls today",
                             "--by", "supervisor1", "--hours", "24", env=env)
    assert code == 0
    assert out.splitlines()[0].startswith("#1 +6281234567890 active (until ")
    assert "still answered and queued" in out
    code, out, _ = await run("blocklist", "list", "+6281234567890", env=env)
    assert code == 0 and "by supervisor1: 5 prank calls today" in out
    code, out, _ = await run("blocklist", "lift", "1", "--by", "supervisor1", env=env)
    assert code == 0 and " ended " in out
    code, _, err = await run("blocklist", "lift", "9", "--by", "x", env=env)
    assert code == 2 and "no misuse-list entry 9" in err


def test_a_recovered_ticket_says_where_it_came_from() -> None:
    from ngcc112.cli.records import format_ticket_line

    row = {"id": 7, "arrived_at": "2026-12-01T05:00:00+00:00", "state": "new", "caller_number": "5554101",
           "caller_name": None, "abandoned": True, "answered_at": None, "ended_at": "2026-12-01T05:00:09+00:00",
           "operator_interface": None, "recovered": True}
    assert format_ticket_line(row).endswith("abandoned (recovered from Asterisk's CEL)")
