"""A row stored before the input boundary existed still renders (issue 11, item 5).

The boundary now refuses lone surrogates, but a database may already hold one (an old
version, another tool): the board and the ticket page must show the rest, not answer 500.
"""

from __future__ import annotations

from dispatch_helpers import login, make_ticket


async def test_a_stored_lone_surrogate_does_not_break_the_board_or_the_ticket(client, services):
    ticket = await make_ticket(services, intake={"address": "Jl. Asia Afrika \ud800 8",
                                                 "description": "Asap \udfff hitam"})
    await login(client, "dispatcher")
    for path in ("/dispatch", f"/dispatch/tickets/{ticket}"):
        response = await client.get(path)
        assert response.status == 200, path
    html = await response.text()
    assert "Jl. Asia Afrika ? 8" in html and "Asap ? hitam" in html
