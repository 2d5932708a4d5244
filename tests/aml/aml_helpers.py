"""AML bodies as handsets and gateways send them, and what the database kept of them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy import select

from ngcc112.tickets.location_models import AmlMessageRow, LocationFixRow

NUMBER = "081234567890"
#: The configured gateway of the tests, and its secret.
GATEWAY, GATEWAY_SECRET = "sms-gateway", "gw-secret-0123456789abcdef"


def els_body(**overrides: object) -> bytes:
    now_ms = int(time.time() * 1000)
    fields: dict[str, object] = {
        "v": "3", "emergency_number": "112", "source": "phone", "time": now_ms,
        "location_latitude": "-6.17539", "location_longitude": "106.82715",
        "location_time": now_ms - 2000, "location_accuracy": "12.5",
        "location_confidence": "68", "location_source": "gps",
        "device_number": "+6281234567890", "device_imei": "356938035643809",
    }
    fields.update(overrides)
    return urlencode({k: v for k, v in fields.items() if v is not None}).encode()


def sms_text(**overrides: str) -> str:
    top = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    fields = {"lt": "-6.20010", "lg": "106.81660", "rd": "40", "top": top, "lc": "68", "pm": "G",
              "si": "510101234567890", "ei": "356938035643809", "mcc": "510", "mnc": "10"}
    fields.update(overrides)
    return 'A"ML=1;' + ";".join(f"{k}={v}" for k, v in fields.items() if v) + ";ml=124"


async def messages(db) -> list[AmlMessageRow]:
    async with db.sessions() as session:
        return list((await session.scalars(select(AmlMessageRow).order_by(AmlMessageRow.id))).all())


async def fixes(db) -> list[LocationFixRow]:
    async with db.sessions() as session:
        return list((await session.scalars(select(LocationFixRow).order_by(LocationFixRow.id))).all())


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
