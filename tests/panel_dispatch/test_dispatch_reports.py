"""The reports page and API: the figures are the reports package's own; the CSV parses back."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from html import unescape

from dispatch_helpers import login

from ngcc112.reports.build import build_report
from ngcc112.reports.csv import parse_report
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.sla import SlaTargets

DAY = datetime(2026, 11, 20, tzinfo=timezone.utc)
QUERY = "start=2026-11-20&end=2026-11-21&tz=UTC"


async def _fixture(services) -> None:
    """Nine calls over two days: answered fast and slow, ghost, prank, abandoned in and before the queue."""
    rows = [
        # (hour offset, answered after s, classify after s, verdict, interface, abandoned, queued)
        (8.0, 5, 40, "normal", "PJSIP/op1", False, True),
        (8.5, 12, 90, "ghost", "PJSIP/op1", False, True),
        (9.0, 25, 30, "prank", "PJSIP/op2", False, True),
        (9.2, None, None, None, None, True, True),
        (9.3, None, None, None, None, True, False),
        (14.0, 3, 20, "information", "PJSIP/op2", False, True),
        (32.0, 8, 50, "normal", "PJSIP/op1", False, True),
        (33.0, None, None, None, None, True, True),
        (47.5, 16, 70, "normal", "PJSIP/op3", False, True),
    ]
    async with services.sessions.begin() as session:
        for index, (hours, answer, classify, verdict, interface, abandoned, queued) in enumerate(rows):
            arrived = DAY + timedelta(hours=hours)
            answered = arrived + timedelta(seconds=answer) if answer is not None else None
            classified = answered + timedelta(seconds=classify) if classify is not None else None
            closed = classified + timedelta(seconds=20) if verdict in ("ghost", "prank", "information") else None
            ticket = Ticket(linkedid=f"report.{index}", arrived_at=arrived,
                            queued_at=arrived + timedelta(seconds=3) if queued else None,
                            answered_at=answered, classified_at=classified, closed_at=closed, verdict=verdict,
                            operator_interface=interface, abandoned=abandoned,
                            abandoned_at=arrived + timedelta(seconds=30) if abandoned else None,
                            state="closed" if closed else ("escalated" if verdict == "normal" else "new"),
                            variables={}, score_reasons=[], intake={}, withdrawn=False, ended_unobserved=False)
            session.add(ticket)
            await session.flush()
            if verdict == "normal":
                session.add(AuditEntry(ticket_id=ticket.id, at=classified + timedelta(seconds=10), actor="op1",
                                       action="escalate", from_state="classified", to_state="escalated",
                                       changes={}))


def _bars(html: str, chart: str) -> dict[str, str]:
    section = html.split(f'id="{chart}"', 1)[1].split("</figure>", 1)[0]
    return dict(re.findall(r'<g class="bar" data-key="([^"]+)" data-value="([^"]*)"', section))


async def test_the_page_shows_the_reports_figures_and_charts(client, services):
    await _fixture(services)
    expected = await build_report(services.sessions, date(2026, 11, 20), date(2026, 11, 21), tz="UTC")
    await login(client, "dispatcher")
    response = await client.get(f"/reports?{QUERY}")
    assert response.status == 200
    html = unescape(await response.text())
    assert "<svg" in html and "<script" not in html.split("</main>")[0].split("<main")[1]
    assert re.search(r'id="fig-calls">(\d+)<', html).group(1) == str(expected.calls) == "9"
    assert re.search(r'id="fig-answered">(\d+)<', html).group(1) == str(expected.answered)
    assert re.search(r'id="fig-abandoned">(\d+) ', html).group(1) == str(expected.abandoned)
    assert re.search(r'id="fig-before-queue">(\d+)<', html).group(1) == str(expected.abandoned_before_queue)
    hours = _bars(html, "chart-hours")
    assert [int(float(hours[f"{h:02d}"])) for h in range(24)] == list(expected.calls_per_hour)
    verdicts = _bars(html, "chart-verdicts")
    assert {k: int(float(v)) for k, v in verdicts.items()} == dict(expected.verdicts)
    operators = _bars(html, "chart-operators")
    for group in expected.per_operator:
        for stage in group.stages:
            value = operators[f"{group.key}|{stage.stage}"]
            assert (value == "" if stage.compliance is None else abs(float(value) - stage.compliance * 100) < 1e-9)
    days = _bars(html, "chart-days")
    assert set(days) == {f"{d}|{k}" for d in ("2026-11-20", "2026-11-21") for k in ("answer", "intake")}
    abandoned = _bars(html, "chart-abandoned")
    assert {k: int(float(v)) for k, v in abandoned.items()} == {g.key: g.abandoned for g in expected.per_day}
    intake = next(s for s in expected.stages if s.stage == "intake")
    row = re.search(r'<tr data-stage="intake">.*?class="measured">(\d+)<.*?class="met">(\d+)<', html, re.S)
    assert (int(row.group(1)), int(row.group(2))) == (intake.measured, intake.met)
    assert f'href="/reports.csv?{QUERY}"' in html


async def test_csv_download_and_the_api_give_the_same_report(client, services):
    await _fixture(services)
    expected = await build_report(services.sessions, date(2026, 11, 20), date(2026, 11, 21), tz="UTC")
    await login(client, "admin")
    for path in (f"/reports.csv?{QUERY}", f"/api/reports/csv?{QUERY}"):
        response = await client.get(path)
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in response.headers["Content-Disposition"]
        assert parse_report(await response.text()) == expected
    data = await (await client.get(f"/api/reports?{QUERY}")).json()
    assert data["calls"] == expected.calls and data["calls_per_hour"] == list(expected.calls_per_hour)
    assert [(v["verdict"], v["calls"]) for v in data["verdicts"]] == list(expected.verdicts)
    assert [g["key"] for g in data["per_operator"]] == [g.key for g in expected.per_operator]


async def test_a_bad_range_is_refused_per_field_keeping_what_was_typed(client, other_client):
    await login(client, "dispatcher")
    response = await client.get("/reports?start=2026-13-01&end=2026-11-21&tz=Mars/Base")
    assert response.status == 422
    html = await response.text()
    assert "Isi tanggal seperti 2026-11-28" in html and 'value="2026-13-01"' in html
    assert "Zona waktu tidak dikenal" in html and 'value="Mars/Base"' in html
    api = await client.get("/api/reports?start=2026-11-22&end=2026-11-21&tz=UTC")
    assert api.status == 422
    body = await api.json()
    assert body["errors"] == {"end": "Tanggal akhir sebelum tanggal awal"}
    assert body["values"] == {"start": "2026-11-22", "end": "2026-11-21", "tz": "UTC"}
    assert (await client.get("/api/reports?start=2024-01-01&end=2026-01-01")).status == 422
    default = await client.get("/reports")
    assert default.status == 200  # the last seven days
    agency = await other_client()
    await login(agency, "agency")
    assert (await agency.get(f"/reports.csv?{QUERY}")).status == 403


async def test_sla_targets_and_time_zone_come_from_the_settings(aiohttp_client, services):
    from dispatch_helpers import make_app

    from ngcc112.panel.dispatch_state import DISPATCH

    services.settings = services.settings.model_copy(
        update={"sla": SlaTargets.from_mapping({"closing": 45, "dispatch": 120}), "timezone": "Asia/Makassar"})
    client = await aiohttp_client(make_app(services))
    state = client.server.app[DISPATCH]
    assert (state.targets.closing, state.targets.dispatch, state.report_tz) == (45.0, 120.0, "Asia/Makassar")
    await login(client, "dispatcher")
    assert 'value="Asia/Makassar"' in await (await client.get("/reports")).text()
    board = await (await client.get("/api/dispatch/board")).json()
    assert board["targets"]["closing"] == 45.0 and board["targets"]["dispatch"] == 120.0
