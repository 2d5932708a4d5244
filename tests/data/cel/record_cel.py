"""Record the CEL of a few real calls for tests/test_backfill*.py (run by hand, not by pytest).

    .venv/bin/python tests/data/cel/record_cel.py [OUT_DIR]

A private Asterisk 22 from scripts/asterisk-build with the shipped configuration
(tests/real_asterisk/lab.py), cel_pgsql writing into a fresh PostgreSQL database
made by ``ngcc112 db upgrade`` (127.0.0.1:5432, user postgres), Asterisk running
with TZ=Asia/Jakarta (so a cel_pgsql writing local time would show), and a live
``ngcc112 run`` watching. Four SIPp calls:

* 5559002 "Menunggu" waits in the empty queue and hangs up (abandoned);
* 5559003 "Hantu" hangs up during the silent-call prompt;
* +6281234567890 with no display name hangs up during the prompt;
* 5559001 'Pak "Budi" \\ RT 05, Jl. Mawar Ü' (quoted-pairs, a comma, UTF-8) is
  answered by the phone op1.

Writes ``lab-calls.csv`` (Asterisk's CSV as written), ``lab-calls.pgsql.jsonl``
(the rows of the cel table, as text) and ``lab-calls.live.json`` (the live
daemon's tickets for the same calls).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.database_fixtures import create_postgres_database, drop_postgres_database  # noqa: E402
from tests.real_asterisk.ami_listener import AmiListener  # noqa: E402
from tests.real_asterisk.conftest import PHONE_PASSWORDS, device_reachable, queue_add  # noqa: E402
from tests.real_asterisk.daemon import Daemon  # noqa: E402
from tests.real_asterisk.lab import AsteriskLab, asterisk_prefix, wait_for  # noqa: E402
from tests.real_asterisk.sipp import Caller, Sip, wait_all  # noqa: E402

LIVE_FIELDS = ("linkedid", "state", "caller_number", "caller_name", "channel", "exten", "category",
               "arrived_at", "queued_at", "queue", "ringing_at", "ringing_interface", "answered_at",
               "operator_interface", "waited_seconds", "ended_at", "hangup_cause", "hangup_cause_text",
               "abandoned", "abandoned_at", "ended_unobserved")


async def dump_cel(url: str) -> list[dict[str, str]]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM cel ORDER BY id"))).mappings().all()
    await engine.dispose()
    return [{k: (v if isinstance(v, (int, type(None))) else str(v)) for k, v in row.items()} for row in rows]


def main(out: Path) -> None:
    prefix = asterisk_prefix()
    if prefix is None:
        raise SystemExit("no Asterisk build: scripts/asterisk-build")
    url = asyncio.run(create_postgres_database())
    if url is None:
        raise SystemExit("no PostgreSQL at 127.0.0.1:5432")
    root = Path(tempfile.mkdtemp(prefix="ngcc112-celrec-"))
    os.environ["TZ"] = "Asia/Jakarta"
    lab = AsteriskLab(prefix, root / "asterisk")
    lab.install()
    lab.start()
    ami = sip = daemon = None
    try:
        daemon = Daemon(root / "daemon", ami_port=lab.ami_port, secret=lab.ami_secret)
        pg = Daemon(root / "pg", ami_port=lab.ami_port, secret=lab.ami_secret)
        pg.env["NGCC112_DATABASE_URL"] = url
        pg.cli("db", "upgrade")
        lab.enable_cel_pgsql(url.rsplit("/", 1)[1])
        ami = AmiListener("127.0.0.1", lab.ami_port, secret=lab.ami_secret).start()
        sip = Sip(root / "sipp", lab.sip_port)
        daemon.start()
        mark = ami.mark()
        waiting = sip.call(Caller(number="5559002", name="Menunggu", hold_ms=9000))
        ghost = sip.call(Caller(number="5559003", name="Hantu", hold_ms=1200))
        nameless = sip.call(Caller(number="+6281234567890", name=None, hold_ms=1500))
        wait_all([waiting, ghost, nameless], 30)
        sip.phone("op1", PHONE_PASSWORDS["op1"], ring_ms=500, talk_ms=3000)
        device_reachable(ami, "PJSIP/op1")
        queue_add(ami, "PJSIP/op1")
        answered = sip.call(Caller(number="5559001", name='Pak \\"Budi\\" \\\\ RT 05, Jl. Mawar Ü', hold_ms=20000))
        ami.wait_event("AgentConnect", timeout=30, Interface="PJSIP/op1")
        wait_all([answered], 30)
        calls = ami.calls(since=mark)
        for linkedid in calls:
            daemon.wait_ticket(linkedid, ended_at=bool)
        # Asterisk has logged every call's end (CEL writes as the events happen)
        def ended_in_cel() -> bool:
            ends = [row for row in lab.cel_csv.read_text().splitlines() if '"LINKEDID_END"' in row]
            return all(any(f'"{linkedid}"' in row for row in ends) for linkedid in calls)

        wait_for(ended_in_cel, 30, "every call's LINKEDID_END in the CEL file")
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(lab.cel_csv, out / "lab-calls.csv")
        rows = asyncio.run(dump_cel(url))
        (out / "lab-calls.pgsql.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        live = [{k: t[k] for k in LIVE_FIELDS} for t in daemon.tickets() if t["linkedid"] in calls]
        (out / "lab-calls.live.json").write_text(json.dumps(live, ensure_ascii=False, indent=1) + "\n",
                                                 encoding="utf-8")
        print(f"recorded {len(calls)} calls, {len(rows)} pgsql rows into {out}")
    finally:
        for part in (daemon, sip, ami):
            if part is not None:
                part.stop()
        lab.disable_cel_pgsql()
        lab.stop()
        asyncio.run(drop_postgres_database(url))
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
