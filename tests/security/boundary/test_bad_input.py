"""Bad input at the panel's boundary is a clear 4xx, never a 500 and never stored (issue 11, items 5
and 7): lone surrogates and NUL, invalid UTF-8 and foreign charsets, deeply nested JSON, ids
beyond any integer column, report days at the calendar's ends, and validators that let a
trailing newline through. The id and surrogate cases run on SQLite and on PostgreSQL (asyncpg
refuses an out-of-range parameter with its own error; SQLite overflows)."""

from __future__ import annotations

import asyncio
from datetime import date

import aiohttp
import pytest
from database_fixtures import BACKENDS

from ngcc112.panel import bodies
from ngcc112.panel.reports.query import parse_report_query
from ngcc112.panel.admin.validate import validate_agency, validate_new_user
from ngcc112.panel.i18n import LANGUAGES, LOCALE_DIR
from ngcc112.panel.operator.intake_form import intake_values
from ngcc112.reports.build import ReportError, build_report, zone
from ngcc112.tickets import agencies as agency_admin
from ngcc112.tickets.callbacks import DIALLABLE
from ngcc112.tickets.models import Ticket

from .test_fuzz_support import ACCOUNTS, CSRF_HEADER, LivePanel, password, user

FORM = "application/x-www-form-urlencoded"
#: The panel on SQLite and on PostgreSQL (asyncpg and SQLite fail differently on what no column holds).
ON_BOTH_BACKENDS = pytest.mark.parametrize("panel_backend", BACKENDS, indirect=True)


class Browser:
    def __init__(self, panel: LivePanel) -> None:
        self.base = panel.base_url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.token = ""

    async def login(self, role: str) -> Browser:
        async with self.http.get(f"{self.base}/api/session") as answer:
            self.token = (await answer.json())["csrf_token"]
        username = ACCOUNTS[role]
        async with self.http.post(f"{self.base}/api/session", headers={CSRF_HEADER: self.token},
                                  json={"username": username, "password": password(username)}) as answer:
            assert answer.status == 200, await answer.text()
            self.token = (await answer.json())["csrf_token"]
        return self

    async def send(self, method: str, path: str, *, data: bytes | str | None = None,
                   content_type: str | None = None, csrf: bool = True) -> tuple[int, str, str]:
        """(status, content type, text)."""
        headers = {CSRF_HEADER: self.token} if csrf else {}
        if content_type:
            headers["Content-Type"] = content_type
        async with self.http.request(method, f"{self.base}{path}", data=data, headers=headers,
                                     allow_redirects=False) as answer:
            return answer.status, answer.content_type, await answer.text()

    async def post_form(self, path: str, body: bytes, content_type: str = FORM) -> tuple[int, str, str]:
        """A form as a browser posts it: the CSRF token in the form, no header."""
        separator = b"&" if body else b""
        return await self.send("POST", path, data=body + separator + b"csrf_token=" + self.token.encode(),
                               content_type=content_type, csrf=False)

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def browsers():
    made: list[Browser] = []

    async def make(panel: LivePanel, role: str | None = None) -> Browser:
        browser = Browser(panel)
        made.append(browser)
        return await browser.login(role) if role else browser

    yield make
    for browser in made:
        await browser.close()


async def ticket(panel: LivePanel, ticket_id: int) -> Ticket:
    async with panel.services.sessions() as session:
        found = await session.get(Ticket, ticket_id)
        assert found is not None
        return found


# -- lone surrogates, NUL, invalid UTF-8 (SQLite and PostgreSQL) ------------------------------------


@ON_BOTH_BACKENDS
async def test_a_lone_surrogate_or_nul_in_json_is_refused_and_every_page_still_renders(panel, browsers):
    dispatcher = await browsers(panel, "dispatcher")
    operator = await browsers(panel, "operator")
    for text in ('"Asap \\ud800 dari dapur"', '"\\udfff"', '"a\\u0000b"'):
        status, kind, body = await dispatcher.send(
            "POST", "/api/dispatch/tickets/2/dispatch", content_type="application/json",
            data=f'{{"agencies": ["damkar"], "instructions": {text}}}')
        assert (status, kind) == (422, "application/json"), body
        assert '"instructions"' in body and '"code": "invalid"' in body
        status, _kind, body = await operator.send(
            "POST", "/api/tickets/1/intake", content_type="application/json", data=f'{{"caller_name": {text}}}')
        assert status == 422 and '"caller_name"' in body, body
        # a key cannot smuggle one in either
        status, _kind, body = await dispatcher.send(
            "POST", "/api/dispatch/tickets/2/close", content_type="application/json",
            data=f'{{{text}: "x", "override_reason": "ok"}}')
        assert status == 422, body
    assert (await ticket(panel, 2)).state == "escalated"
    assert "caller_name" not in ((await ticket(panel, 1)).intake or {})  # nothing saved
    for path in ("/dispatch", "/dispatch/tickets/1", "/dispatch/tickets/2", "/board", "/api/tickets/1"):
        status, _kind, body = await dispatcher.send("GET", path)
        assert status == 200, (path, body[:200])


#: Form bodies no handler may see: (body, content type, answer).
UNSTORABLE_FORMS = (
    (b"instructions=%ED%A0%80&agencies=damkar", FORM, 422),  # a surrogate, percent-encoded as CESU-8
    (b"instructions=%FF%FE&agencies=damkar", FORM, 422),  # not UTF-8 at all
    (b"instructions=\xed\xa0\x80&agencies=damkar", FORM, 422),  # the same bytes raw
    (b"instructions=a%00b&agencies=damkar", FORM, 422),  # NUL
    (b"agencies%00=damkar&instructions=x", FORM, 422),  # in a name
    (b"instructions=%2B2AA-&agencies=damkar", FORM + "; charset=utf-7", 400),  # utf-7 would decode a surrogate
    (b"instructions=x&agencies=damkar", FORM + "; charset=no-such-charset", 400),
)


@ON_BOTH_BACKENDS
async def test_an_unstorable_form_is_refused_and_not_stored(panel, browsers):
    dispatcher = await browsers(panel, "dispatcher")
    for body, content_type, expected in UNSTORABLE_FORMS:
        status, kind, text = await dispatcher.post_form("/dispatch/tickets/2/dispatch", body, content_type)
        assert (status, kind) == (expected, "text/html"), (body, text[:300])
    assert (await ticket(panel, 2)).state == "escalated"
    status, _kind, _text = await dispatcher.send("GET", "/dispatch/tickets/2")
    assert status == 200


#: Multipart bodies that cannot be read as a form of the panel: (body, content type, answer).
UNREADABLE_MULTIPART = (
    (b'--b\r\nContent-Disposition: form-data; name="report"\r\n\r\n\xed\xa0\x80\r\n--b--\r\n',
     "multipart/form-data; boundary=b", 422),
    (b'--b\r\nContent-Disposition: form-data; name="report"; filename="x.txt"\r\n\r\nhello\r\n--b--\r\n',
     "multipart/form-data; boundary=b", 400),  # no form of the panel takes a file
    (b'--b\r\nContent-Disposition: form-data\r\n\r\nnameless\r\n--b--\r\n', "multipart/form-data; boundary=b", 400),
    (b"no boundary here", "multipart/form-data", 400),
)


async def test_an_unreadable_multipart_form_is_a_4xx_even_before_the_csrf_check(panel, browsers):
    agency = await browsers(panel, "agency")
    for body, content_type, expected in UNREADABLE_MULTIPART:
        status, _kind, text = await agency.send("POST", "/agency/dispatches/1/report", data=body,
                                                content_type=content_type, csrf=False)
        assert status == expected, (body, text[:300])


# -- ids beyond any column (SQLite and PostgreSQL) ----------------------------------------------------


#: Ids beyond every integer column, in paths: (role, method, path).
OUT_OF_RANGE = (
    ("dispatcher", "GET", "/api/tickets/2147483648"),
    ("dispatcher", "GET", "/api/dispatch/tickets/9223372036854775808"),
    ("dispatcher", "GET", "/dispatch/tickets/" + "9" * 40),
    ("dispatcher", "GET", "/api/tickets/0/location"),
    ("dispatcher", "POST", "/api/dispatch/tickets/2147483648/close"),
    ("dispatcher", "POST", "/api/dispatch/dispatches/18446744073709551616/status"),
    ("agency", "GET", "/api/agency/dispatches/2147483648"),
    ("agency", "POST", "/api/agency/dispatches/9223372036854775807/acknowledge"),
    ("agency", "GET", "/agency/dispatches/99999999999"),
    ("admin", "POST", "/api/admin/users/2147483648"),
    ("operator", "POST", "/api/tickets/4294967296/intake"),
    ("operator", "GET", "/tickets/2147483648/location"),
)


@ON_BOTH_BACKENDS
async def test_an_id_beyond_every_column_names_nothing(panel, browsers):
    logged_in = {role: await browsers(panel, role) for role in dict.fromkeys(r for r, _m, _p in OUT_OF_RANGE)}
    for role, method, path in OUT_OF_RANGE:
        status, kind, text = await logged_in[role].send(
            method, path, data="{}" if method == "POST" else None,
            content_type="application/json" if method == "POST" else None)
        assert status == 404, (path, text[:300])
        assert kind == ("application/json" if path.startswith("/api/") else "text/html"), path
    operator = logged_in["operator"]  # and in a body: a field error
    for fix_id in ("2147483648", "9223372036854775808", "1" + "0" * 30, "-1", "0", '"1"', "true", "1.0"):
        status, _kind, text = await operator.send("POST", "/api/tickets/1/location/accept",
                                                  content_type="application/json", data=f'{{"fix_id": {fix_id}}}')
        assert status == 422 and '"fix_id"' in text, (fix_id, text[:300])
    status, _kind, text = await operator.post_form("/tickets/1/location/accept", b"fix_id=9223372036854775808")
    assert status in (303, 422), text[:300]  # the page's form: back to the page with the refusal


# -- JSON bodies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, content_type, expected", [
    ("[" * 100_000 + "]" * 100_000, "application/json", 400),  # deeper than the parser goes
    ('{"a": ' + "[" * 17 + "]" * 17 + "}", "application/json", 400),  # deeper than any body of ours
    ('{"username": NaN, "password": "x"}', "application/json", 400),
    ('{"username": 1e400, "password": "x"}', "application/json", 422),
    ('{"username": ' + "9" * 30 + ', "password": "x"}', "application/json", 422),
    ('{"username": "op1", "password": "x"}', "application/json; charset=utf-16", 400),
    ('{"username": "op1", "password": "x"}', "application/json; charset=bogus", 400),
    ("[1, 2]", "application/json", 400),
])
async def test_a_bad_json_body_is_refused_even_on_the_anonymous_login(panel, browsers, body, content_type, expected):
    anonymous = await browsers(panel)
    async with anonymous.http.get(f"{panel.base_url}/api/session") as answer:
        anonymous.token = (await answer.json())["csrf_token"]
    status, kind, text = await anonymous.send("POST", "/api/session", data=body, content_type=content_type)
    assert (status, kind) == (expected, "application/json"), text[:300]
    if expected == 422:
        assert '"errors": {"username"' in text


async def test_invalid_utf8_bytes_in_a_json_body_are_a_422(panel, browsers):
    operator = await browsers(panel, "operator")
    status, _kind, text = await operator.send("POST", "/api/tickets/1/intake", content_type="application/json",
                                              data=b'{"caller_name": "\xed\xa0\x80"}')
    assert status == 422 and '"body"' in text, text[:300]


async def test_the_routers_own_404_and_405_speak_json_on_the_api(panel, browsers):
    dispatcher = await browsers(panel, "dispatcher")
    status, kind, text = await dispatcher.send("GET", "/api/tickets/-1")
    assert (status, kind) == (404, "application/json") and '"not_found"' in text
    status, kind, text = await dispatcher.send("GET", "/api/tickets/1/intake")
    assert (status, kind) == (405, "application/json") and '"method"' in text


# -- report days --------------------------------------------------------------------------------------


#: Report ranges no report is made for: the calendar's ends, what is not YYYY-MM-DD, a zone to walk.
BAD_RANGES = ("start=0001-01-01&end=0001-01-05", "start=9999-12-25&end=9999-12-31", "end=9999-12-31",
              "start=1999-12-31&end=2000-01-02", "end=not-a-date", "end=2026W481", "tz=" + "a/" * 3000)


async def test_a_report_day_beyond_the_sane_range_is_a_422(panel, browsers):
    dispatcher = await browsers(panel, "dispatcher")
    for query in BAD_RANGES:
        for path in ("/api/reports", "/api/reports/csv", "/reports", "/reports.csv"):
            status, _kind, text = await dispatcher.send("GET", f"{path}?{query}")
            assert status == 422, (path, query[:40], text[:300])


def test_report_days_and_zones_are_checked_where_the_report_is_built():
    assert parse_report_query({"end": "2000-01-03"}, "Asia/Jakarta")[0].start == date(2000, 1, 1)
    query, errors, _values = parse_report_query({"start": "1999-12-31"}, "Asia/Jakarta")
    assert query is None and errors == {"start": bodies.DATE_RANGE}
    for name in ("a/" * 3000, "../../etc/passwd", "Asia/Jakarta\n", "zone.tab"):
        with pytest.raises(ReportError):
            zone(name)
    assert zone("America/Argentina/ComodRivadavia") is not None and zone("Etc/GMT+7") is not None

    async def out_of_range() -> None:
        await build_report(None, date(1, 1, 1), date(1, 1, 2))  # type: ignore[arg-type]

    with pytest.raises(ReportError):
        asyncio.run(out_of_range())


# -- validators: $ lets a trailing newline through, \Z does not -----------------------------------------


async def test_a_trailing_newline_never_passes_a_validator(panel, browsers):
    assert validate_agency({"code": "fire2\n", "name": "Damkar 2", "kind": "OPD"}, new=True).keys() == {"code"}
    assert "username" in validate_new_user({"username": "op5\n", "password": "long enough", "role": "operator",
                                            "interface": "", "agency": ""}, set())
    assert "interface" not in validate_new_user({"username": "op5", "password": "long enough", "role": "operator",
                                                 "interface": "PJSIP/op5", "agency": ""}, set())
    assert DIALLABLE.fullmatch("081234567890\n") is None
    assert intake_values({"caller_number": "081234567890\n"}, None)["callback_number"] == ""
    admin_user = await user(panel.services.sessions, "admin")
    with pytest.raises(agency_admin.AgencyError):
        await agency_admin.create_agency(panel.services.sessions, admin_user, code="fire2\n", name="Damkar 2",
                                         kind="OPD")
    admin = await browsers(panel, "admin")
    status, _kind, text = await admin.post_form(
        "/admin/users", b"username=op5%0A&password=long+enough+password&role=operator&interface=&agency=")
    assert status == 303, text[:300]  # post/redirect/get: refused, told on the page it goes back to
    status, _kind, text = await admin.send("GET", "/admin/users")
    assert status == 200 and 'id="new-username-error"' in text and 'data-username="op5"' not in text


# -- the boundary's pieces ----------------------------------------------------------------------------------


def test_ids_and_storable_text():
    assert [bodies.parse_id(v) for v in (1, "7", " 42 ", 2**31 - 1)] == [1, 7, 42, 2**31 - 1]
    assert all(bodies.parse_id(v) is None for v in (0, -1, 2**31, "2147483648", "1" * 40, "١٢", True, 1.0, None,
                                                    "1e3", ""))
    assert bodies.storable("Jl. Merdeka 1 — 𝔘\n") and not bodies.storable("a\x00") \
        and not bodies.storable("\ud800")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_boundary_catalog_covers_every_message(language):
    from babel.messages.pofile import read_po

    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{bodies.DOMAIN}.po").open("rb") as handle:
        translated = {m.id: m.string for m in read_po(handle) if m.id and m.string and not m.fuzzy}
    assert set(bodies.MESSAGES) <= translated.keys()
    if language == "id":
        assert all(translated[m] != m for m in bodies.MESSAGES)
