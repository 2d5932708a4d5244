"""The position every page acts on is the accepted fix, not what the call carried on arrival."""

from __future__ import annotations

from location_helpers import locations, login, make_ticket


async def test_ticket_view_and_intake_follow_the_accepted_position(client, services):
    ticket_id = await make_ticket(services)
    token = await login(client, "op1")
    response = await client.post(f"/api/tickets/{ticket_id}/location/manual",
                                 json={"latitude": "-6.9147", "longitude": "107.6098", "address": "Jl. Braga 1"},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200, await response.text()
    view = await (await client.get(f"/api/tickets/{ticket_id}")).json()
    assert view["location"]["source"] == "manual"
    assert (view["location"]["latitude"], view["location"]["longitude"]) == (-6.9147, 107.6098)
    assert view["location"]["address"] == "Jl. Braga 1"
    assert await locations(client).accepted_fix(ticket_id) is not None
