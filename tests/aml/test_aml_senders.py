"""Who may post AML positions, how much, and which positions are taken without an operator.

Issue 11: a forged AML message became a live caller's position. Now only a configured
sender (its secret, or an allowed network) is heard; anyone else gets 401 and the message
is kept as evidence only; an implausible fix waits for an operator's click.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aml_helpers import FORM, GATEWAY, GATEWAY_SECRET, NUMBER, els_body, fixes, messages, sms_text
from sqlalchemy import select
from structlog.testing import capture_logs

from ngcc112.aml_http.guard import REFUSED_KEPT_BYTES
from ngcc112.aml_http.intake import intake_from_settings
from ngcc112.hub import Hub
from ngcc112.location.senders import signature
from ngcc112.settings import AmlSettings, Settings
from ngcc112.tickets.aml_locations import aml_locations_from_settings
from ngcc112.tickets.locations import Locations
from ngcc112.tickets.models import AuditEntry

ELS_SECRET = "els-secret-fedcba9876543210"
#: Two configured senders, and no network allowed: the test client (127.0.0.1) must prove itself.
SENDERS_ONLY = AmlSettings(senders=(f"{GATEWAY}:{GATEWAY_SECRET}", f"android-els:{ELS_SECRET}"))
BEARER = {"Authorization": f"Bearer {GATEWAY_SECRET}"}


@pytest.fixture
def aml_settings(request) -> AmlSettings:
    return getattr(request, "param", SENDERS_ONLY)


def settings_with(**changes) -> list[AmlSettings]:
    """An ``aml_settings`` parameter: the two senders, plus ``changes``."""
    return [AmlSettings(**{"senders": SENDERS_ONLY.senders, **changes})]


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def now() -> datetime:
    return datetime.now(UTC)


async def post_els(app, body: bytes, headers: dict[str, str] | None = None, query: str = ""):
    return await app.client.post(f"/aml/els{query}", data=body, headers={**FORM, **(headers or {})})


async def doubts_on(db, ticket_id: int) -> list[str]:
    async with db.sessions() as session:
        entries = (await session.scalars(select(AuditEntry).where(
            AuditEntry.ticket_id == ticket_id, AuditEntry.action == "location_fix"))).all()
    return [d["code"] for entry in entries for d in (entry.changes or {}).get("doubts", [])]


# --- the scenario ------------------------------------------------------------------


async def test_a_forged_message_cannot_change_a_live_callers_position(intake_app):
    app = intake_app
    ticket_id = await app.db.call(NUMBER, now() - timedelta(seconds=20))
    forged = els_body(location_latitude="-6.30000", location_longitude="106.70000")
    response = await post_els(app, forged)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "allow_networks" in await response.text()
    (row,) = await messages(app.db)
    assert bytes(row.body) == forged and row.refused and row.authenticated_as is None
    assert row.parsed_at is None and row.ticket_id is None and row.number == ""
    assert await fixes(app.db) == [] and await app.locations.fixes_for(ticket_id) == []
    assert await app.aml_locations.attach_pending_aml(ticket_id) == []  # not later either
    # the forger guesses at credentials: refused the same way, never a candidate
    for guess in ({"Authorization": "Bearer guessed-secret-0123456789"},
                  {"X-AML-Signature": signature("guessed-secret-0123456789", forged)}):
        assert (await post_els(app, forged, guess)).status == 401
    assert (await post_els(app, forged, query="?key=guessed-secret-0123456789")).status == 401

    # the real gateway: its position is the caller's
    genuine = els_body()
    assert (await post_els(app, genuine, BEARER)).status == 200
    (accepted,) = await app.locations.fixes_for(ticket_id)
    assert accepted.accepted and accepted.fix.latitude == pytest.approx(-6.17539)
    assert app.intake.status()["aml_refused"] == 4
    assert [r.refused is None for r in await messages(app.db)] == [False] * 4 + [True]


# --- proving who sends -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["bearer", "hmac", "key"])
async def test_a_sender_proves_itself_with_its_secret_and_its_fix_is_the_position(intake_app, how):
    app = intake_app
    ticket_id = await app.db.call(NUMBER, now() - timedelta(seconds=5))
    body = els_body()
    headers, query = {}, ""
    if how == "bearer":
        headers = {"Authorization": f"bearer {ELS_SECRET}"}
    elif how == "hmac":
        headers = {"X-AML-Signature": signature(ELS_SECRET, body)}
    else:
        query = f"?key={ELS_SECRET}"
    response = await post_els(app, body, headers, query)
    assert response.status == 200 and response.headers["X-AML-Intake"] == "stored"
    (row,) = await messages(app.db)
    assert row.authenticated_as == "secret:android-els" and row.refused is None
    assert row.ticket_id == ticket_id
    (fix,) = await fixes(app.db)
    assert fix.accepted and fix.aml_message_id == row.id


async def test_an_sms_gateway_signs_the_raw_body_it_posts(intake_app):
    app = intake_app
    ticket_id = await app.db.call(NUMBER, now() - timedelta(seconds=5))
    body = sms_text().encode()
    response = await app.client.post("/aml/sms", data=body, headers={
        "Content-Type": "text/plain", "X-AML-Sender": NUMBER,
        "X-AML-Signature": signature(GATEWAY_SECRET, body)})
    assert response.status == 200
    (row,) = await messages(app.db)
    assert row.authenticated_as == f"secret:{GATEWAY}" and row.ticket_id == ticket_id
    assert (await fixes(app.db))[0].accepted


@pytest.mark.parametrize("aml_settings", settings_with(allow_networks=("127.0.0.0/8",)),
                         indirect=True)
async def test_a_gateway_on_an_allowed_network_needs_no_secret(intake_app):
    app = intake_app
    await app.db.call(NUMBER, now() - timedelta(seconds=5))
    assert (await post_els(app, els_body())).status == 200
    (row,) = await messages(app.db)
    assert row.authenticated_as == "network:127.0.0.0/8"
    assert (await fixes(app.db))[0].accepted


@pytest.mark.parametrize("aml_settings", settings_with(allow_networks=("10.0.0.0/8",)),
                         indirect=True)
@pytest.mark.parametrize("trusted_proxies, status", [((), 401), (("127.0.0.1/32",), 200)])
async def test_a_forwarded_address_counts_only_from_a_trusted_proxy(intake_app, trusted_proxies,
                                                                   status):
    response = await post_els(intake_app, els_body(), {"X-Forwarded-For": "10.1.2.3"})
    assert response.status == status
    (row,) = await messages(intake_app.db)
    assert row.sender == ("http:127.0.0.1" if status == 401 else "http:10.1.2.3")


@pytest.mark.parametrize("aml_settings", settings_with(allow_networks=("127.0.0.0/8",)),
                         indirect=True)
async def test_a_wrong_secret_is_refused_even_from_an_allowed_network(intake_app):
    response = await post_els(intake_app, els_body(), {"Authorization": "Basic Z3c6c2VjcmV0"})
    assert response.status == 401 and "Bearer" in await response.text()
    response = await post_els(intake_app, els_body(), {"Authorization": "Bearer not-quite-right-0123"})
    assert response.status == 401
    assert [r.refused is not None for r in await messages(intake_app.db)] == [True, True]


async def test_secrets_are_never_logged_nor_stored(intake_app):
    app = intake_app
    wrong = "forged-secret-never-to-be-seen-0123"
    body = els_body()
    with capture_logs() as logs:
        await post_els(app, body, {"Authorization": f"Bearer {wrong}"})
        await post_els(app, body, query=f"?key={ELS_SECRET}")
        await post_els(app, body, {"Authorization": f"Bearer {GATEWAY_SECRET}"})
    assert any(entry["event"] == "aml.refused" for entry in logs)
    text = repr(logs) + repr([(r.sender, r.refused, r.authenticated_as, bytes(r.body), r.fields)
                              for r in await messages(app.db)])
    for secret in (wrong, ELS_SECRET, GATEWAY_SECRET):
        assert secret not in text


# --- which positions wait for an operator -------------------------------------------------------


@pytest.mark.parametrize("case, arrived_ago, fix_offset, accuracy, doubt", [
    ("dated in the future", 20, 300, "12.5", "future"),
    ("stale", 1800, -1200, "12.5", "stale"),
    ("inaccurate", 20, -2, "5000", "inaccurate"),
    ("no accuracy", 20, -2, None, "accuracy_unknown"),
])
async def test_an_implausible_fix_from_a_real_sender_waits_for_an_operator(
        intake_app, case, arrived_ago, fix_offset, accuracy, doubt):
    app = intake_app
    received = now()
    ticket_id = await app.db.call(NUMBER, received - timedelta(seconds=arrived_ago))
    at = received + timedelta(seconds=fix_offset)
    body = els_body(time=ms(at), location_time=ms(at), location_accuracy=accuracy)
    assert (await post_els(app, body, BEARER)).status == 200, case
    (view,) = await app.locations.fixes_for(ticket_id)
    assert view.candidate and not view.accepted, case
    assert await app.locations.accepted_fix(ticket_id) is None
    assert await doubts_on(app.db, ticket_id) == [doubt], case
    # still one click away
    assert (await app.locations.accept_fix(view.id, "op.dewi")).accepted


async def test_a_message_planted_before_the_call_is_not_its_position(intake_app):
    app = intake_app
    planted = now()
    # dated in the future, so that it falls in the window of a call that has not come yet
    ahead = planted + timedelta(seconds=100)
    body = els_body(time=ms(ahead), location_time=ms(ahead))
    response = await post_els(app, body, BEARER)
    assert response.status == 200
    (row,) = await messages(app.db)
    assert row.ticket_id is None
    ticket_id = await app.db.call(NUMBER, planted + timedelta(seconds=90))
    (receipt,) = await app.aml_locations.attach_pending_aml(ticket_id)
    assert receipt.outcome == "candidate"
    assert set(receipt.trust.codes) == {"future", "before_call"}
    assert await app.locations.accepted_fix(ticket_id) is None


async def test_a_plausible_message_just_before_the_call_is_still_taken(intake_app):
    app = intake_app
    received = now()
    assert (await post_els(app, els_body(), BEARER)).status == 200
    ticket_id = await app.db.call(NUMBER, received + timedelta(seconds=10))
    (receipt,) = await app.aml_locations.attach_pending_aml(ticket_id)
    assert receipt.outcome == "accepted" and receipt.trust.auto_accept


# --- how much -------------------------------------------------------------------------------


@pytest.mark.parametrize("aml_settings", settings_with(rate_per_minute=3), indirect=True)
async def test_too_many_messages_a_minute_get_429_are_counted_and_not_stored(intake_app):
    app = intake_app
    for i in range(3):
        assert (await post_els(app, els_body(device_number=f"+62812000000{i}"), BEARER)).status == 200
    response = await post_els(app, els_body(), BEARER)
    assert response.status == 429 and response.headers["Retry-After"] == "20"  # 3 a minute
    assert len(await messages(app.db)) == 3
    assert app.intake.status()["aml_rate_limited"] == 1
    # another sender has its own budget
    assert (await post_els(app, els_body(), {"Authorization": f"Bearer {ELS_SECRET}"})).status == 200
    app.monotonic.now += 20
    assert (await post_els(app, els_body(), BEARER)).status == 200
    assert len(await messages(app.db)) == 5


@pytest.mark.parametrize("aml_settings", settings_with(bytes_per_hour=100_000), indirect=True)
async def test_a_sender_stores_at_most_its_bytes_an_hour(intake_app):
    app = intake_app
    padded = els_body() + b"&padding=" + b"x" * 40_000
    assert (await post_els(app, padded, BEARER)).status == 200
    assert (await post_els(app, padded, BEARER)).status == 200
    response = await post_els(app, padded, BEARER)
    assert response.status == 429
    # 100 000 bytes an hour refill at ~27.8 a second; ~20 000 are left of ~40 000 needed
    assert 600 < int(response.headers["Retry-After"]) < 800
    assert sum(r.size_bytes for r in await messages(app.db)) <= 100_000
    app.monotonic.now += int(response.headers["Retry-After"])
    assert (await post_els(app, padded, BEARER)).status == 200


@pytest.mark.parametrize("aml_settings", settings_with(rate_per_minute=3), indirect=True)
@pytest.mark.parametrize("trusted_proxies", [("127.0.0.1/32",)])
async def test_refused_clients_are_capped_each_and_all_together(intake_app):
    app = intake_app
    big = b"x" * (3 * REFUSED_KEPT_BYTES)
    for _ in range(3):
        response = await post_els(app, big, {"X-Forwarded-For": "198.51.100.7"})
        assert response.status == 401
    response = await post_els(app, big, {"X-Forwarded-For": "198.51.100.7"})
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    # a flood from fresh addresses: each has its own budget, but all refused share one
    response = await post_els(app, big, {"X-Forwarded-For": "198.51.100.8"})
    assert response.status == 429
    stored = await messages(app.db)
    assert len(stored) == 3
    assert all(len(r.body) == REFUSED_KEPT_BYTES and r.truncated and r.size_bytes == len(big)
               for r in stored)
    assert app.intake.status() == {
        "aml_received": 5, "aml_spooled": 0, "aml_dropped": 0, "aml_refused": 5,
        "aml_rate_limited": 2}
    # a configured sender is not held back by the flood
    assert (await post_els(app, els_body(), BEARER)).status == 200


async def test_a_refused_message_is_not_spooled_while_the_database_is_away(intake_app):
    app = intake_app
    app.flaky.down = True
    response = await post_els(app, els_body())
    assert response.status == 401 and response.headers["X-AML-Intake"] == "lost"
    assert len(app.intake.spool) == 0
    app.flaky.down = False
    assert await messages(app.db) == []


# --- wiring -------------------------------------------------------------------------------------


async def test_the_intake_of_the_services_follows_the_aml_settings(db):
    settings = Settings(aml=AmlSettings(senders=(f"{GATEWAY}:{GATEWAY_SECRET}",),
                                        allow_networks=("10.0.0.0/8",), max_accuracy_m=250.0,
                                        max_age_seconds=60.0, future_skew_seconds=5.0,
                                        rate_per_minute=7, bytes_per_hour=70_000))
    locations = Locations(db.sessions, Hub().publish)
    intake = intake_from_settings(settings, aml_locations_from_settings(settings, locations))
    assert [s.name for s in intake.guard.senders] == [GATEWAY]
    assert intake.guard.allow_networks == ("10.0.0.0/8",)
    assert (intake.guard.throttle.budget.messages_per_minute,
            intake.guard.throttle.budget.bytes_per_hour) == (7, 70_000)
    limits = intake.aml_locations.limits
    assert (limits.max_accuracy_m, limits.max_age, limits.future_skew) == (
        250.0, timedelta(seconds=60), timedelta(seconds=5))
