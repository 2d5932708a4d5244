"""`ngcc112 demo`: where its tickets go, and what its simulated operators and callers leave in them.

The demo is a whole process on the wall clock; the tests wait for its tickets to be
classified (polling the database it writes), then stop it the way a user does (SIGINT).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
from pathlib import Path
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import aiohttp

from ngcc112.sim.demo import ABANDONED_CALLER, AML_CALLERS, AML_SENDER, LOCATED_CALLERS, demo_intake
from ngcc112.tickets.intake_form import CATEGORIES, validate_intake
from tests.test_cli import NGCC112, environment, run, wait_port


def _classified(db: Path) -> list[tuple[int, str, str | None]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT id, verdict, category FROM tickets WHERE verdict IS NOT NULL").fetchall()
    except sqlite3.OperationalError:  # the demo is still creating the schema
        return []


def _positions(db: Path, source: str | None = None) -> list[tuple[int, float, float]]:
    with sqlite3.connect(db) as conn:
        if source is None:
            return conn.execute("SELECT ticket_id, latitude, longitude FROM location_fixes").fetchall()
        return conn.execute("SELECT ticket_id, latitude, longitude FROM location_fixes WHERE source = ?",
                            (source,)).fetchall()


def _rows(db: Path, query: str, *params: object) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(query, params).fetchall()
    except sqlite3.OperationalError:  # the demo is still creating the schema
        return []


async def _demo_until(db: Path, env: dict[str, str], cwd: Path, done: Callable[[], Awaitable[bool]]) -> str:
    """Run the demo until ``done()``; stop it as a user does (Ctrl-C) and return its output."""
    process = await asyncio.create_subprocess_exec(
        *NGCC112, "demo", "--rate", "0", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(60):
            while not await done():
                assert process.returncode is None, (await process.stderr.read()).decode()
                await asyncio.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _demo_until_classified(db: Path, env: dict[str, str], cwd: Path) -> str:
    """Run the demo until its operators have classified the located calls."""
    async def classified() -> bool:
        return len(_classified(db)) >= len(LOCATED_CALLERS)
    return await _demo_until(db, env, cwd, classified)


async def test_the_demo_honours_ngcc112_database_url_and_says_so(tmp_path):
    env = environment(tmp_path)  # NGCC112_DATABASE_URL = tmp_path/cli.db
    db = tmp_path / "cli.db"
    out = await _demo_until_classified(db, env, tmp_path)
    assert f"writing demo tickets to sqlite+aiosqlite:///{db} (NGCC112_DATABASE_URL)" in out
    assert not (tmp_path / "var" / "demo.db").exists()
    code, listed, err = await run("tickets", "--json", env=env, cwd=tmp_path)
    assert code == 0, err
    located_numbers = {c[0] for c in LOCATED_CALLERS}
    rows = [row for line in listed.splitlines() if (row := json.loads(line))["caller_number"] in located_numbers]
    assert len(rows) == len(LOCATED_CALLERS)
    # the operators' verdicts: normal calls escalated with a category
    assert all(row["state"] == "escalated" and row["category"] in CATEGORIES for row in rows)
    located = {(lat, lon) for _, lat, lon in _positions(db, "sip")}
    assert located == {(lat, lon) for _, _, lat, lon, _ in LOCATED_CALLERS}


async def test_tickets_after_the_demo_in_the_same_shell_lists_the_demos_tickets(tmp_path):
    env = environment(tmp_path)
    del env["NGCC112_DATABASE_URL"]  # a newcomer's shell: nothing configured
    db = tmp_path / "var" / "demo.db"
    out = await _demo_until_classified(db, env, tmp_path)
    assert "writing demo tickets to var/demo.db" in out
    assert "op1 classified it normal, escalated as" in out
    code, listed, err = await run("tickets", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "reading the demo's var/demo.db" in err
    for number, name, *_ in LOCATED_CALLERS:
        assert f"escalated  {number} {name!r}" in listed
    assert {ticket for ticket, _, _ in _positions(db)}
    assert not (tmp_path / "ngcc112.db").exists()


def _ticket(**fields) -> SimpleNamespace:
    base = dict(caller_talked_at=None, silent_digit=None, prank_score=None,
                caller_name="Budi", caller_number="081234567890")
    return SimpleNamespace(**{**base, **fields})


def test_simulated_operators_give_realistic_verdicts_the_intake_form_accepts():
    rng = random.Random(1)
    talked = demo_intake(_ticket(caller_talked_at=object()), rng)
    assert talked["verdict"] == "normal" and talked["category"] in CATEGORIES
    assert talked["address"] and talked["description"]
    silent = demo_intake(_ticket(silent_digit="5"), rng)
    assert (silent["verdict"], silent["category"]) == ("normal", "other")
    assert demo_intake(_ticket(caller_talked_at=object(), caller_number="anonymous"), rng)["callback_number"] == ""
    assert demo_intake(_ticket(), rng)["verdict"] == "ghost"
    assert demo_intake(_ticket(prank_score=0.9), rng)["verdict"] == "prank"
    for form in (talked, silent, demo_intake(_ticket(), rng), demo_intake(_ticket(prank_score=0.9), rng)):
        validate_intake(form)  # the real form's rules: every verdict is complete


async def test_the_demo_dispatcher_calls_an_abandoned_caller_back(tmp_path):
    env = environment(tmp_path)
    db = tmp_path / "cli.db"
    panel = f"http://{env['NGCC112_PANEL_LISTEN']}"
    placed: dict[str, object] = {}

    async def called_back() -> bool:
        abandoned = _rows(db, "SELECT id FROM tickets WHERE caller_number = ? AND abandoned AND ended_at "
                              "IS NOT NULL", ABANDONED_CALLER[0])
        if not abandoned:
            return False
        [(ticket_id,)] = abandoned
        if not placed:
            await wait_port(int(env["NGCC112_PANEL_LISTEN"].rpartition(":")[2]))
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                token = (await (await http.get(f"{panel}/api/session")).json())["csrf_token"]
                login = await http.post(f"{panel}/api/session", headers={"X-CSRF-Token": token},
                                        json={"username": "dispatcher", "password": "dispatcher-demo-112"})
                assert login.status == 200, await login.text()
                token = (await login.json())["csrf_token"]
                response = await http.post(f"{panel}/api/dispatch/tickets/{ticket_id}/callback",
                                           json={"request_id": "demo-click"}, headers={"X-CSRF-Token": token})
                assert response.status == 202, await response.text()
                placed.update((await response.json())["callback"], ticket_id=ticket_id)
        return bool(_rows(db, "SELECT 1 FROM audit_log WHERE ticket_id = ? AND action = 'callback_result'",
                          ticket_id))

    out = await _demo_until(db, env, tmp_path, called_back)
    assert "dispatcher's softphone: PJSIP/disp1" in out
    assert (placed["number"], placed["interface"]) == (ABANDONED_CALLER[0], "PJSIP/disp1")
    [(changes,)] = _rows(db, "SELECT changes FROM audit_log WHERE ticket_id = ? AND action = 'callback_result'",
                         placed["ticket_id"])
    assert json.loads(changes)["result"] == "success"


async def test_some_demo_calls_get_an_aml_position_through_the_real_intake(tmp_path):
    env = environment(tmp_path)
    db = tmp_path / "cli.db"
    numbers = [number for number, *_ in AML_CALLERS]
    marks = ",".join("?" * len(numbers))
    query = ("SELECT t.caller_number, f.latitude, f.longitude, f.radius_m, m.authenticated_as, m.refused "
             "FROM location_fixes f JOIN tickets t ON t.id = f.ticket_id "
             "JOIN aml_messages m ON m.id = f.aml_message_id "
             f"WHERE f.source = 'aml' AND t.caller_number IN ({marks})")

    async def positioned() -> bool:
        return len(_rows(db, query, *numbers)) >= len(AML_CALLERS)

    out = await _demo_until(db, env, tmp_path, positioned)
    rows = _rows(db, query, *numbers)
    assert {(n, round(lat, 4), round(lon, 4), radius) for n, lat, lon, radius, _a, _r in rows} == \
        {(n, lat, lon, accuracy) for n, _name, lat, lon, accuracy in AML_CALLERS}
    # posted as the configured sender, authenticated, never refused: the real /aml/els path
    assert {(who, refused) for *_x, who, refused in rows} == {(f"secret:{AML_SENDER}", None)}
    assert f"posted to /aml/els as {AML_SENDER!r}: HTTP 200" in out
    # their tickets carry no SIP position: the map's dot for them comes from AML alone
    sip = {ticket for ticket, _lat, _lon in _positions(db, "sip")}
    aml_tickets = {row[0] for row in _rows(db, f"SELECT id FROM tickets WHERE caller_number IN ({marks})", *numbers)}
    assert aml_tickets and not aml_tickets & sip
