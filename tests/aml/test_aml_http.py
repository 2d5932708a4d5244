"""POST /aml/els and /aml/sms from an allowed sender: always 2xx, every message stored
before anything else (tests/aml/test_aml_senders.py: who is allowed, and how much)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from aml_helpers import FORM, NUMBER, els_body, fixes, messages, sms_text

from ngcc112.location.aml import MAX_AML_BYTES
from ngcc112.tickets.locations import MAX_STORED_BYTES

async def test_a_complete_els_post_is_stored_and_attached_to_the_live_call(intake_app):
    app = intake_app
    ticket_id = await app.db.call(NUMBER, datetime.now(UTC) - timedelta(seconds=5))
    body = els_body()
    response = await app.client.post("/aml/els", data=body, headers=FORM)
    assert response.status == 200
    assert response.headers["X-AML-Intake"] == "stored"
    (row,) = await messages(app.db)
    assert bytes(row.body) == body and row.size_bytes == len(body) and not row.truncated
    assert row.channel == "http" and row.form == "http"
    assert row.number == "+6281234567890" and row.emergency_number == "112"
    assert row.ticket_id == ticket_id and row.errors == []
    assert row.latitude == pytest.approx(-6.17539) and row.radius_m == pytest.approx(12.5)
    (fix,) = await fixes(app.db)
    assert fix.ticket_id == ticket_id and fix.source == "aml" and fix.accepted
    assert fix.aml_message_id == row.id and fix.confidence_pct == 68


@pytest.mark.parametrize("case, body, content_type", [
    ("partial: no longitude", els_body(location_longitude=None), "application/x-www-form-urlencoded"),
    ("wrong types", els_body(location_latitude="north", location_accuracy="-3", time="soon"),
     "application/x-www-form-urlencoded"),
    ("empty", b"", "application/x-www-form-urlencoded"),
    ("garbage bytes", bytes(range(256)) * 3, "application/octet-stream"),
    ("json instead of a form", b'{"location_latitude": -6.2, "device_number": "+62812"}',
     "application/json"),
    ("multipart", b"--x\r\nContent-Disposition: form-data; name=\"v\"\r\n\r\n3\r\n--x--\r\n",
     "multipart/form-data; boundary=x"),
    ("no content type", els_body(), ""),
    ("NUL bytes and bad UTF-8", b"device_number=%2B62812\x00\xff\xfe&location_latitude=\x00",
     "application/x-www-form-urlencoded"),
])
async def test_a_bad_els_post_still_gets_200_and_is_stored_byte_for_byte(intake_app, case, body,
                                                                         content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = await intake_app.client.post("/aml/els", data=body, headers=headers)
    assert response.status == 200, case
    (row,) = await messages(intake_app.db)
    assert bytes(row.body) == body, case
    assert row.size_bytes == len(body)
    assert row.parsed_at is not None
    if case != "no content type":
        assert row.errors, f"{case}: the problems should be listed"
        assert await fixes(intake_app.db) == []


async def test_an_oversized_els_post_gets_200_and_its_first_bytes_are_kept(intake_app):
    body = els_body() + b"&padding=" + b"x" * (3 * MAX_STORED_BYTES)
    response = await intake_app.client.post("/aml/els", data=body, headers=FORM)
    assert response.status == 200
    (row,) = await messages(intake_app.db)
    assert row.truncated and row.size_bytes == len(body)
    assert bytes(row.body) == body[: len(row.body)] and len(row.body) == MAX_STORED_BYTES
    assert any(str(MAX_AML_BYTES) in error for error in row.errors)


async def test_a_huge_post_beyond_the_server_limit_still_gets_200(intake_app):
    body = b"A" * (3 * 1024 * 1024)  # three times aiohttp's default client_max_size
    response = await intake_app.client.post("/aml/els", data=body, headers=FORM)
    assert response.status == 200
    (row,) = await messages(intake_app.db)
    assert row.size_bytes == len(body) and row.truncated


async def test_an_sms_gateway_form_is_stored_with_its_sender_and_attached(intake_app):
    app = intake_app
    ticket_id = await app.db.call("+6281234567890", datetime.now(UTC) - timedelta(seconds=3))
    text = sms_text()
    response = await app.client.post("/aml/sms", data=urlencode(
        {"from": "6281234567890", "text": text, "gateway_id": "42"}).encode(), headers=FORM)
    assert response.status == 200
    (row,) = await messages(app.db)
    assert bytes(row.body).decode() == text and row.sender == "6281234567890"
    assert row.channel == "sms" and row.number == "+6281234567890" and row.ticket_id == ticket_id
    assert row.method == "gnss" and row.radius_m == 40
    (fix,) = await fixes(app.db)
    assert fix.accepted and fix.source == "aml"


async def test_an_sms_as_plain_text_takes_its_sender_from_the_header(intake_app):
    app = intake_app
    ticket_id = await app.db.call(NUMBER, datetime.now(UTC) - timedelta(seconds=3))
    response = await app.client.post("/aml/sms", data=sms_text().encode(),
                                     headers={"Content-Type": "text/plain", "X-AML-Sender": "+6281234567890"})
    assert response.status == 200
    (row,) = await messages(app.db)
    assert row.ticket_id == ticket_id and row.sender == "+6281234567890"


@pytest.mark.parametrize("case, data, headers", [
    ("partial: no position", sms_text(lt="", lg="").encode(), {"X-AML-Sender": NUMBER}),
    ("no sender", sms_text().encode(), {}),
    ("not an AML SMS", "Tolong! Kebakaran di Jl. Sudirman".encode(), {"X-AML-Sender": NUMBER}),
    ("garbage", b"\x00\xff" * 500, {"Content-Type": "application/octet-stream"}),
    ("form without a text field", urlencode({"from": NUMBER, "msg": "x"}).encode(), FORM),
    ("wrong types", sms_text(lt="abc", rd="-5", top="yesterday", pm="Q").encode(),
     {"X-AML-Sender": NUMBER}),
    ("oversized", b'A"ML=1;lt=1;' + b"z" * (2 * MAX_STORED_BYTES), {"X-AML-Sender": NUMBER}),
])
async def test_a_bad_sms_still_gets_200_and_is_stored(intake_app, case, data, headers):
    response = await intake_app.client.post("/aml/sms", data=data, headers=headers)
    assert response.status == 200, case
    (row,) = await messages(intake_app.db)
    assert row.channel == "sms" and row.errors, case
    assert row.size_bytes >= min(len(data), 1)
    assert await fixes(intake_app.db) == []


async def test_with_the_database_down_the_message_is_spooled_then_written_when_it_returns(intake_app):
    app = intake_app
    app.flaky.down = True
    bodies = [els_body(device_number=f"+62812000000{i}") for i in range(3)]
    for body in bodies:
        response = await app.client.post("/aml/els", data=body, headers=FORM)
        assert response.status == 200 and response.headers["X-AML-Intake"] == "spooled"
    assert len(app.intake.spool) == 3
    app.flaky.down = False
    assert await app.intake.flush(5.0) == 0
    stored = await messages(app.db)
    assert [bytes(r.body) for r in stored] == bodies
    assert all(r.parsed_at is not None for r in stored)


async def test_the_spool_is_bounded_and_says_how_many_it_lost(intake_app):
    app = intake_app
    app.intake.spool_size = 2
    app.flaky.down = True
    for i in range(4):
        response = await app.client.post("/aml/sms", data=sms_text().encode(),
                                         headers={"X-AML-Sender": f"0812000000{i}"})
        assert response.status == 200
    assert len(app.intake.spool) == 2 and app.intake.dropped == 2
    assert app.intake.status() == {"aml_received": 4, "aml_spooled": 2, "aml_dropped": 2,
                                   "aml_refused": 0, "aml_rate_limited": 0}
    app.flaky.down = False
    await asyncio.wait_for(app.intake.flush(5.0), 6)
    assert [r.sender for r in await messages(app.db)] == ["08120000002", "08120000003"]
