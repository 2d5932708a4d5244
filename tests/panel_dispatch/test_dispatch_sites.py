"""Sites on the dispatcher board and the reports: a ``site=`` filter, the site column, the select only with sites."""

from __future__ import annotations

from datetime import datetime, timezone

from dispatch_helpers import login, make_ticket
from sqlalchemy import update

from ngcc112.tickets.models import Ticket


async def _at_site(services, ticket_id: int, site: str) -> None:
    async with services.sessions.begin() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(site=site))


async def test_one_site_shows_no_select_but_the_site_column(client, services):
    await login(client, "dispatcher")
    ticket = await make_ticket(services)
    board = await (await client.get("/api/dispatch/board")).json()
    assert board["sites"] == ["main"] and board["site"] is None
    assert [(t["id"], t["site"]) for t in board["escalated"]] == [(ticket, "main")]
    html = await (await client.get("/dispatch")).text()
    assert 'id="site-filter"' not in html and '<td class="site">main</td>' in html


async def test_the_board_filters_by_site(client, services):
    await login(client, "dispatcher")
    main, north = await make_ticket(services), await make_ticket(services)
    await _at_site(services, north, "north")
    board = await (await client.get("/api/dispatch/board?site=north")).json()
    assert board["sites"] == ["main", "north"] and board["site"] == "north"
    assert [t["id"] for t in board["escalated"]] == [north]
    everything = await (await client.get("/api/dispatch/board")).json()
    assert {t["id"] for t in everything["escalated"]} == {main, north}
    html = await (await client.get("/dispatch?site=north")).text()
    assert 'id="site-filter"' in html and '<option value="north" selected>' in html


async def test_the_reports_filter_and_count_by_site(client, services):
    await login(client, "dispatcher")
    await make_ticket(services)
    north = await make_ticket(services)
    await _at_site(services, north, "north")
    today = datetime.now(timezone.utc).date().isoformat()
    query = f"start={today}&end={today}&tz=UTC"
    everything = await (await client.get(f"/api/reports?{query}")).json()
    assert everything["calls"] == 2 and everything["site"] is None
    assert [(g["key"], g["calls"]) for g in everything["per_site"]] == [("main", 1), ("north", 1)]
    north_only = await (await client.get(f"/api/reports?{query}&site=north")).json()
    assert north_only["calls"] == 1 and north_only["site"] == "north"
    html = await (await client.get(f"/reports?{query}")).text()
    assert 'id="site-table"' in html and '<tr data-site="north">' in html


async def test_the_ticket_search_filters_by_site_and_names_it(client, services):
    await login(client, "dispatcher")
    main, north = await make_ticket(services), await make_ticket(services)
    await _at_site(services, north, "north")
    found = await (await client.get("/api/dispatch/tickets?site=north")).json()
    assert [row["id"] for row in found["tickets"]] == [north] and found["tickets"][0]["site"] == "north"
    html = await (await client.get("/dispatch/tickets?site=north")).text()
    assert '<option value="north" selected>' in html and '<td class="site">north</td>' in html
    assert f'id="found-{main}"' not in html
    csv_text = await (await client.get("/dispatch/tickets.csv")).text()
    assert csv_text.splitlines()[0].endswith(",Lokasi")  # the dispatcher reads Indonesian
    assert {line.rsplit(",", 1)[1] for line in csv_text.splitlines()[1:]} == {"main", "north"}
    refused = await client.get("/api/dispatch/tickets?site=North%20Side")
    assert refused.status == 422
