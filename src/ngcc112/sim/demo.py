"""``ngcc112 demo``: the AMI simulator, the daemon, SQLite and the panel in one process.

The simulator generates a realistic mix of 112 calls; two simulated operators
(op1, op2) are put in the queue as if they had pressed Ready and complete the
intake of every call they answered (normal calls escalated with a category,
an address and a description; ghosts and pranks closed with a note), op3 is
left for you to log in through the panel. A few calls carry a SIP (PIDF-LO)
position and a few others an AML position (their handset posts an Android ELS
message to /aml/els as a configured AML sender, the real intake path), so the
map has something to show; one caller gives up in the prompt,
and the demo dispatcher (given the softphone disp1) can call it back from
/callbacks. Every ticket is printed as it
opens, as its call ends and as its operator gives the verdict.

Where the tickets go: ``--database``, else ``NGCC112_DATABASE_URL`` (the user
asked for it; the demo says so at start), else a fresh ``var/demo.db``, which
``ngcc112 tickets`` run in the same directory reads when no database is
configured and the default one does not exist. A database set only in a
config file is not used: a production config must not receive demo tickets.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from ngcc112 import names
from ngcc112.ami import actions
from ngcc112.app import serve
from ngcc112.services import Services
from ngcc112.settings import Settings
from ngcc112.sim import AmiSimulator
from ngcc112.sim.calls import CallScript, Location, TalkBurst
from ngcc112.sim.config import AmiUser, SimulatorConfig
from ngcc112.tickets.store import TicketChanged

if TYPE_CHECKING:
    from ngcc112.tickets.models import Ticket

DEMO_DATABASE = Path("var") / "demo.db"
#: Softphones the demo puts in the queue itself; the rest are for people.
DEMO_MEMBERS = names.SAMPLE_OPERATORS[:2]
#: Callers the demo places itself at start, each with a SIP position (Jakarta).
LOCATED_CALLERS: tuple[tuple[str, str, float, float, int], ...] = (
    ("081355501001", "Lokasi Monas", -6.1754, 106.8272, 10),
    ("081355501002", "Lokasi Blok M", -6.2443, 106.7991, 50),
)
#: Callers the demo places at start whose handset sends an AML position (Android ELS) while they talk:
#: number, name, latitude, longitude, accuracy (m). Posted to the panel's /aml/els as a configured
#: AML sender (:data:`AML_SENDER`), the path a real handset's HTTPS message takes.
AML_CALLERS: tuple[tuple[str, str, float, float, float], ...] = (
    ("081355501004", "Lokasi Kota Tua", -6.1352, 106.8133, 15.0),
    ("081355501005", "Lokasi Senayan", -6.2186, 106.8022, 25.0),
)
#: The name of the AML sender the demo configures (its secret is made at each start).
AML_SENDER = "demo-els"
#: A caller the demo places at start who gives up in the prompt: one to call back from /callbacks.
ABANDONED_CALLER = ("081355501003", "Tutup Telepon")
#: The demo dispatcher's softphone, so it can place callbacks (the simulator rings and answers it).
DISPATCHER_ENDPOINT = "disp1"
_ADDRESSES = (
    "Jl. Sudirman 12, Jakarta Pusat",
    "Jl. Gatot Subroto 45, Jakarta Selatan",
    "Jl. Thamrin 3, Jakarta Pusat",
    "Jl. Hayam Wuruk 88, Jakarta Barat",
    "Jl. Pramuka 21, Jakarta Timur",
)
_INCIDENTS = (
    ("fire", "Smoke from a house kitchen, residents outside"),
    ("traffic_accident", "Motorbike and car collision, one rider injured"),
    ("medical", "Elderly man collapsed, breathing"),
    ("crime", "Shop robbery, suspect fled on foot"),
    ("public_order", "Fight outside a market"),
)


def demo_database_url(explicit: str | None) -> str:
    """The database the demo writes: ``explicit`` (option or environment) or a fresh var/demo.db."""
    if explicit:
        return explicit
    DEMO_DATABASE.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DEMO_DATABASE}{suffix}").unlink(missing_ok=True)
    return f"sqlite+aiosqlite:///{DEMO_DATABASE}"


def _line(text: str) -> None:
    print(text, flush=True)


async def run_demo(
    settings: Settings,
    *,
    duration: float | None = None,
    rate: float = 6.0,
    database_url: str | None = None,
    database_origin: str = "",
) -> int:
    """Run the demo; ``database_url`` is the one the user asked for (``database_origin`` says how)."""
    if database_url:
        _line(f"ngcc112 demo: writing demo tickets to {_safe_url(database_url)} ({database_origin or 'as asked'})")
    else:
        _line(f"ngcc112 demo: writing demo tickets to {DEMO_DATABASE} (`ngcc112 tickets` in this directory reads it)")
    database_url = demo_database_url(database_url)
    user = AmiUser(secret=settings.ami.secret.get_secret_value(), read=("all",), write=("all",))
    sim = AmiSimulator(
        SimulatorConfig(host="127.0.0.1", port=0, users={settings.ami.username: user}, rate_per_minute=rate)
    )
    await sim.start()
    for endpoint in (*names.SAMPLE_OPERATORS, DISPATCHER_ENDPOINT):
        sim.set_softphone(endpoint, answers=True, ring_seconds=2.0, talk_seconds=20.0)
    aml_secret = secrets.token_urlsafe(24)
    settings = settings.model_copy(
        update={
            "database_url": database_url,
            "log_format": "console",
            # the demo's handsets post their AML positions as this configured sender
            "aml": settings.aml.model_copy(
                update={"senders": (*settings.aml.senders, SecretStr(f"{AML_SENDER}:{aml_secret}"))}
            ),
            # the simulator keeps no CEL of its own: nothing to recover calls from
            "backfill": settings.backfill.model_copy(update={"source": "off"}),
            "ami": settings.ami.model_copy(update={"host": "127.0.0.1", "port": sim.port}),
        }
    )
    _line(f"ngcc112 demo: simulated Asterisk on 127.0.0.1:{sim.port}, {rate:g} calls/min")
    stop = asyncio.Event()
    printer: asyncio.Task[None] | None = None
    helpers: set[asyncio.Task[None]] = set()

    async def ready(services: Services) -> None:
        nonlocal printer
        printer = asyncio.create_task(_print_tickets(services))
        await _seed_users(services)
        for endpoint in DEMO_MEMBERS:
            await _join_queue(services, endpoint)
        await _give_dispatcher_a_softphone(services)
        await sim.place_call(
            CallScript(number=ABANDONED_CALLER[0], name=ABANDONED_CALLER[1], endpoint="caller2", hangup_after=3.0)
        )
        for number, name, lat, lon, radius in LOCATED_CALLERS:
            await sim.place_call(
                CallScript(
                    number=number,
                    name=name,
                    endpoint="caller1",
                    location=Location.circle(lat, lon, radius=radius),
                    # talks to the prompt and to the operator, hangs up once the operator has the story
                    talk=(TalkBurst(at=4.0, seconds=2.0), TalkBurst(at=10.0, seconds=2.0)),
                    hangup_after=14.0,
                )
            )
        for number, name, lat, lon, accuracy in AML_CALLERS:
            placed = await sim.place_call(
                CallScript(
                    number=number,
                    name=name,
                    endpoint="caller1",
                    talk=(TalkBurst(at=4.0, seconds=2.0), TalkBurst(at=10.0, seconds=2.0)),
                    hangup_after=14.0,
                )
            )
            helpers.add(
                asyncio.create_task(_send_aml(services, placed.linkedid, number, lat, lon, accuracy, aml_secret))
            )
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, stop.set)

    try:
        await serve(settings, stop=stop, on_ready=ready, say=_line)
    finally:
        for task in (printer, *helpers):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await sim.stop()
    _line("ngcc112 demo: stopped")
    return 0


async def _give_dispatcher_a_softphone(services: Services) -> None:
    """A callback rings the placer's softphone first: the demo dispatcher gets one if it has none."""
    from sqlalchemy import select

    from ngcc112.tickets.models import User

    interface = names.operator_interface(DISPATCHER_ENDPOINT)
    async with services.sessions.begin() as session:
        dispatcher = await session.scalar(select(User).where(User.username == "dispatcher"))
        holder = await session.scalar(select(User).where(User.interface == interface))
        if dispatcher is None or dispatcher.interface or holder is not None:
            return
        dispatcher.interface = interface
    _line(f"  dispatcher's softphone: {interface} (calls back abandoned callers from /callbacks)")


def els_body(number: str, latitude: float, longitude: float, accuracy: float, now_ms: int) -> bytes:
    """An Android ELS HTTPS message for ``number``'s handset, as a phone sends it to /aml/els."""
    from urllib.parse import urlencode

    device = "+62" + number[1:] if number.startswith("0") else number
    return urlencode(
        {
            "v": "3",
            "emergency_number": "112",
            "source": "phone",
            "time": now_ms,
            "location_latitude": f"{latitude:.5f}",
            "location_longitude": f"{longitude:.5f}",
            "location_time": now_ms - 2000,
            "location_accuracy": f"{accuracy:.1f}",
            "location_confidence": "68",
            "location_source": "gps",
            "device_number": device,
        }
    ).encode()


async def _send_aml(
    services: Services, linkedid: str, number: str, latitude: float, longitude: float, accuracy: float, secret: str
) -> None:
    """Once the call has its ticket, the caller's handset posts its position through the real intake."""
    import time

    import aiohttp

    for _ in range(200):  # the ticket opens as the call arrives; wait for it (at most 20 s)
        if await services.store.by_linkedid(linkedid) is not None:
            break
        await asyncio.sleep(0.1)
    else:
        _line(f"AML for {number}: the call never got a ticket; nothing sent")
        return
    host, port = services.settings.panel.host, services.settings.panel.port
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/aml/els"
    body = els_body(number, latitude, longitude, accuracy, int(time.time() * 1000))
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                url,
                data=body,
                timeout=aiohttp.ClientTimeout(total=10),
                headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Bearer {secret}"},
            ) as answer,
        ):
            status = answer.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        _line(f"AML for {number}: not delivered ({type(exc).__name__})")
        return
    _line(f"AML position from {number}'s handset posted to /aml/els as {AML_SENDER!r}: HTTP {status}")


def _safe_url(url: str) -> str:
    """``url`` without its password, for the terminal."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://")[0] + "://…"


async def _join_queue(services: Services, endpoint: str) -> None:
    """Put a simulated operator in the queue, as the panel's Ready button does."""
    for _ in range(50):
        if services.daemon.link.connected:
            break
        await asyncio.sleep(0.1)
    interface = names.operator_interface(endpoint)
    answer = await services.daemon.link.send(actions.queue_add(services.settings.calls.queue, interface, endpoint))
    _line(f"  operator {endpoint} ({interface}) ready in {services.settings.calls.queue}: {answer.message}")


async def _seed_users(services: Services) -> None:
    try:
        from ngcc112.tickets.users import seed_demo_users
    except ImportError:
        return
    from ngcc112.tickets.agencies import seed_agency_member

    users = await seed_demo_users(services.sessions)
    await seed_agency_member(services.sessions, "agency", "damkar")
    _line("panel users (name / password / role):")
    for username, password, role in users:
        _line(f"  {username:<12} {password:<16} {role}")


def demo_intake(ticket: Ticket, rng: random.Random) -> dict[str, str]:
    """What a simulated operator types for an answered call: the verdict a person would give."""
    if ticket.caller_talked_at is not None or ticket.silent_digit:
        number = ticket.caller_number or ""  # a withheld or "anonymous" number is no callback number
        category, description = rng.choice(_INCIDENTS)
        if ticket.silent_digit:
            category, description = "other", "Caller could not speak and pressed 5; line kept open"
        return {
            "verdict": "normal",
            "category": category,
            "address": rng.choice(_ADDRESSES),
            "description": description,
            "caller_name": ticket.caller_name or "",
            "callback_number": number if number.lstrip("+").isdigit() else "",
        }
    if (ticket.prank_score or 0.0) >= 0.5:
        return {"verdict": "prank", "note": "Repeat caller, no emergency; warned"}
    return {"verdict": "ghost", "note": "Silent line, nobody spoke"}


async def _complete_intake(services: Services, ticket_id: int, rng: random.Random) -> None:
    """A simulated operator submits the intake form of a call it answered, through the real use case."""
    from sqlalchemy import select

    from ngcc112.tickets.intake_form import IntakeInvalid, validate_intake
    from ngcc112.tickets.intake import IntakeRefused, complete_intake
    from ngcc112.tickets.models import User

    ticket = await services.store.get(ticket_id)
    members = {names.operator_interface(endpoint) for endpoint in DEMO_MEMBERS}
    if ticket is None or ticket.verdict or ticket.operator_interface not in members:
        return
    async with services.sessions() as session:
        operator = await session.scalar(select(User).where(User.interface == ticket.operator_interface))
    if operator is None:
        return
    form = demo_intake(ticket, rng)
    try:
        await complete_intake(services.sessions, services.hub.publish, ticket_id, operator, validate_intake(form))
    except (IntakeInvalid, IntakeRefused) as exc:
        _line(f"ticket #{ticket_id}: {operator.username} could not complete the intake: {exc}")
        return
    how = f"escalated as {form['category']}" if form["verdict"] == "normal" else "closed"
    _line(f"ticket #{ticket_id}: {operator.username} classified it {form['verdict']}, {how}")


async def _print_tickets(services: Services) -> None:
    subscription = services.hub.subscribe(maxsize=10_000)
    rng = random.Random(112)
    try:
        while True:
            change = await subscription.get()
            if not isinstance(change, TicketChanged):
                continue
            if change.opened:
                ticket = await services.store.get(change.ticket_id)
                if ticket is not None:
                    _line(
                        f"ticket #{ticket.id} opened: 112 call from "
                        f"{ticket.caller_number or '(no caller ID)'} {ticket.caller_name or ''}".rstrip()
                    )
            elif change.action == "call_connected":
                _line(f"ticket #{change.ticket_id}: answered by {change.changes.get('operator_interface')}")
            elif change.action == "call_ended":
                ticket = await services.store.get(change.ticket_id)
                if ticket is not None:
                    how = "abandoned (call back)" if ticket.abandoned else "call ended"
                    _line(f"ticket #{ticket.id}: {how}")
                    await _complete_intake(services, ticket.id, rng)
    finally:
        subscription.close()
