"""Finding tickets: /dispatch/tickets (and its JSON and CSV twins) with filters and pages;
bad parameters answer a clear message (422), never a 500; every ticket found opens."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dispatch_helpers import login, make_ticket

JAKARTA = ZoneInfo("Asia/Jakarta")


def h(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


async def _seed(client, services):
    fire = await make_ticket(services, caller_number="081234500001")
    prank = await make_ticket(services, state="closed", verdict="prank", caller_number="=HYPERLINK(\"x\")",
                              category=None)
    old = await make_ticket(services, state="closed", verdict="ghost", caller_number="+6281299990000",
                            arrived_ago=3 * 86400)
    token = await login(client, "dispatcher")
    response = await client.post(f"/api/dispatch/tickets/{fire}/dispatch", json={"agencies": ["damkar"]},
                                 headers=h(token))
    assert response.status == 200
    return fire, prank, old, token


async def test_the_filters_find_the_tickets_and_each_opens(client, services):
    fire, prank, old, _token = await _seed(client, services)
    async def ids(query: str) -> list[int]:
        data = await (await client.get("/api/dispatch/tickets" + query)).json()
        return [t["id"] for t in data["tickets"]]

    assert await ids("") == [prank, fire, old]  # newest first
    assert await ids("?number=0812345") == [fire]
    assert await ids("?number=%2B62812") == [old]
    assert await ids("?state=closed") == [prank, old]
    assert await ids("?verdict=ghost") == [old]
    assert await ids("?agency=damkar") == [fire]
    three_days_ago = (datetime.now(timezone.utc) - timedelta(days=3)).astimezone(JAKARTA).date().isoformat()
    assert await ids(f"?start={three_days_ago}&end={three_days_ago}") == [old]
    today = datetime.now(JAKARTA).date().isoformat()
    assert set(await ids(f"?start={today}")) == {fire, prank}
    html = await (await client.get("/dispatch/tickets?state=closed&verdict=prank")).text()
    assert f'id="found-{prank}"' in html and f'id="found-{old}"' not in html
    assert f'href="/dispatch/tickets/{prank}"' in html
    assert '<option value="closed" selected>Ditutup</option>' in html  # the filters stay as chosen
    assert " WIB</time>" in html  # arrival in the center's local time
    opened = await client.get(f"/dispatch/tickets/{prank}")
    assert opened.status == 200 and f"#{prank}" in await opened.text()


async def test_pages_of_fifty(client, services):
    made = [await make_ticket(services, caller_number=f"0856{n:06d}", arrived_ago=1000 - n) for n in range(55)]
    await login(client, "dispatcher")
    first = await (await client.get("/api/dispatch/tickets?number=0856")).json()
    assert (first["total"], first["pages"], len(first["tickets"])) == (55, 2, 50)
    second = await (await client.get("/api/dispatch/tickets?number=0856&page=2")).json()
    assert [t["id"] for t in second["tickets"]] == list(reversed(made[:5]))
    html = await (await client.get("/dispatch/tickets?number=0856")).text()
    assert 'id="page-next" href="/dispatch/tickets?number=0856&amp;page=2"' in html
    assert 'id="page-previous"' not in html and "Halaman 1 / 2" in html
    html = await (await client.get("/dispatch/tickets?number=0856&page=2")).text()
    assert 'id="page-previous" href="/dispatch/tickets?number=0856"' in html and 'id="page-next"' not in html
    empty = await (await client.get("/api/dispatch/tickets?number=0856&page=9")).json()
    assert empty["tickets"] == [] and empty["total"] == 55


async def test_bad_parameters_get_a_clear_message_not_a_500(client, services):
    await login(client, "dispatcher")
    for query, field, message in (
            ("number=abc", "number", "Hanya angka, '+', spasi atau '-', paling banyak 32"),
            ("state=lost", "state", "Pilih status tiket dari daftar"),
            ("verdict=maybe", "verdict", "Pilih jenis panggilan dari daftar"),
            ("agency=nobody", "agency", "Pilih instansi dari daftar"),
            ("start=2026-13-01", "start", "Isi tanggal seperti 2026-11-28"),
            ("start=1999-01-01", "start", "Gunakan tanggal dari 2000-01-01 sampai 2099-12-31"),
            ("start=2026-12-02&end=2026-12-01", "end", "Tanggal akhir sebelum tanggal awal"),
            ("page=0", "page", "Nomor halaman mulai dari 1"),
            ("page=x", "page", "Nomor halaman mulai dari 1"),
            ("page=%EF%BC%92", "page", "Nomor halaman mulai dari 1")):  # a full-width digit
        api = await client.get(f"/api/dispatch/tickets?{query}")
        assert api.status == 422, query
        body = await api.json()
        assert body["errors"] == {field: message}, query
        page = await client.get(f"/dispatch/tickets?{query}")
        assert page.status == 422, query
        html = await page.text()
        assert 'id="error-summary"' in html and message.replace("'", "&#39;") in html, query
        assert (await client.get(f"/dispatch/tickets.csv?{query}")).status == 422, query


async def test_the_csv_has_one_row_per_ticket_and_no_formulas(client, services):
    fire, prank, old, _token = await _seed(client, services)
    response = await client.get("/dispatch/tickets.csv?state=closed")
    assert response.status == 200 and response.content_type == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="ngcc112-tickets-')
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["Tiket", "Masuk (waktu setempat)", "Nomor", "Status", "Jenis panggilan", "Kategori",
                       "Instansi", "Ditutup (waktu setempat)", "Alasan penutupan", "Lokasi"]
    assert [r[0] for r in rows[1:]] == [str(prank), str(old)]
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id[str(prank)][2] == "'=HYPERLINK(\"x\")"  # a formula is shown, never run
    assert by_id[str(old)][2] == "'+6281299990000"
    assert by_id[str(old)][1].endswith(" WIB")
    assert by_id[str(old)][4] == "Panggilan kosong (ghost)"
    everything = list(csv.reader(io.StringIO(await (await client.get("/dispatch/tickets.csv")).text())))
    [fire_row] = [r for r in everything if r[0] == str(fire)]
    assert fire_row[6] == "Damkar (Pemadam Kebakaran dan Penyelamatan)"


async def test_only_staff_find_tickets(client, other_client, services):
    assert (await client.get("/api/dispatch/tickets")).status == 401
    agency = await other_client()
    await login(agency, "agency")
    for path in ("/dispatch/tickets", "/dispatch/tickets.csv", "/api/dispatch/tickets"):
        assert (await agency.get(path)).status == 403, path
