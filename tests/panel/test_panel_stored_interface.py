"""An interface stored before the validators matched whole values (issue 11, item 7).

``PJSIP/op5\\n`` once got through the admin form; when that operator pressed Ready the
AMI action refused the line break and the panel answered 500.
"""

from __future__ import annotations

from panel_helpers import login
from sqlalchemy import update

from ngcc112.tickets.models import User


async def test_ready_with_a_stored_interface_holding_a_newline_is_a_clear_409(client, services, fake_link):
    async with services.sessions.begin() as session:
        await session.execute(update(User).where(User.username == "op1").values(interface="PJSIP/op1\n"))
    token = await login(client, "op1")
    assert (await client.get("/")).status == 200
    response = await client.post("/api/me/presence", json={"presence": "ready"}, headers={"X-CSRF-Token": token})
    assert response.status == 409
    assert "softphone" in (await response.json())["error"]
