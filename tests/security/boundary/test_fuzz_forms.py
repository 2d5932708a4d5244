"""Property-based fuzzing of every HTML form: no 500, and nothing unstorable is ever stored.

The form posts are found in the app's router (every POST outside ``/api/`` and ``/aml/``), so a
new form is fuzzed the day it is added. Each is posted as a browser does (the CSRF token in the
form, no header), logged in as a role its handler lets in, with fields from every form of the
panel (the names are read from the templates) filled with hostile values: lone surrogates, NUL,
invalid UTF-8 escapes, newlines, very long text, huge and negative numbers, nested brackets, and
now and then a plausible value so the use cases behind the forms run too. Sent urlencoded or
as multipart, with ids that exist, do not, or overflow every integer type.

Whatever is sent, the answer is not a 5xx; a form carrying invalid Unicode or NUL is refused
(400/422, or 404 for an id beyond range) and never stored: afterwards every page still renders.
"""

from __future__ import annotations

import asyncio
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ngcc112.panel import app as panel_app
from ngcc112.panel.auth import roles_of
from ngcc112.routing.presence import BREAK_REASONS
from ngcc112.tickets import intake_form
from ngcc112.tickets.dispatch import STATUS_UPDATES
from ngcc112.tickets.users import USER_ROLES

from .test_fuzz_support import ACCOUNTS, LivePanel

#: Examples per form: short for CI; ``FUZZ_SCALE=5`` for a long run on a workstation.
EXAMPLES = 40 * int(os.environ.get("FUZZ_SCALE", "1"))
TEMPLATES = Path(panel_app.__file__).resolve().parent / "templates"
#: Fields the handlers read that no template names literally (built in loops).
CODE_FIELDS = ("display_name", "code", "radius_m", *intake_form.FIELDS)
#: Posts fuzzed last, in this order: one ends the session, the other trips the login throttle.
LAST = ("/logout", "/login")
#: Pages every role's fuzzing must leave renderable: (role, path).
PAGES = (("operator", "/"), ("operator", "/callbacks"), ("operator", "/tickets/1/location"),
         ("dispatcher", "/dispatch"), ("dispatcher", "/board"), ("dispatcher", "/dispatch/tickets/1"),
         ("dispatcher", "/dispatch/tickets/2"), ("dispatcher", "/dispatch/tickets/3"),
         ("dispatcher", "/dispatch/tickets/4"), ("dispatcher", "/reports"), ("agency", "/agency"),
         ("agency", "/agency/dispatches/1"), ("admin", "/admin/users"), ("admin", "/admin/agencies"))


def form_fields() -> list[str]:
    names = set(CODE_FIELDS)
    for template in TEMPLATES.rglob("*.html"):
        names.update(re.findall(r'<(?:input|select|textarea|button)\b[^>]*\bname="([a-z_]+)"',
                                template.read_text(encoding="utf-8")))
    return sorted(names - {"csrf_token"})


FIELDS = form_fields()

def weighted(usual: st.SearchStrategy, other: st.SearchStrategy, odds: int) -> st.SearchStrategy:
    """``usual`` ``odds`` times as often as ``other`` (``one_of`` draws its branches unevenly)."""
    return st.sampled_from((False,) + (True,) * odds).flatmap(lambda pick: usual if pick else other)


def rarely(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """``strategy``'s value one time in six, None otherwise."""
    return weighted(st.none(), strategy, 5)


#: Values that reach past the first check: the choices the forms offer, per field.
CHOICES: dict[str, tuple[str, ...]] = {
    "presence": ("ready", "break", "logged_out"), "reason": (*BREAK_REASONS, "Jalan ditutup"),
    "language": ("id", "en"), "action": ("save", "submit"), "verdict": intake_form.VERDICTS,
    "category": intake_form.CATEGORIES, "agencies": ("damkar", "psc119", "pln"), "agency": ("", "damkar"),
    "kind": ("OPD", "Instansi"), "role": USER_ROLES, "status": tuple(s.value for s in STATUS_UPDATES),
    "active": ("on",), "back": ("board", "callbacks"), "fix_id": ("1", "2"), "latitude": ("-6.9147",),
    "longitude": ("107.6098",), "radius_m": ("30",), "callback_number": ("081234567890",),
    "interface": ("", "PJSIP/op9", "PJSIP/op1"), "username": ("newuser", "op3"), "code": ("newcode", "damkar"),
    "password": ("long enough password", "op3-demo-112"), "next": ("/dispatch", "//evil.example"),
}
PLAUSIBLE = ("Jl. Merdeka 1", "Asap dari dapur", "Segera", "Ditangani", "Tono", "1")
#: Storable, but every kind of trouble for a validator, a column or a page.
AWKWARD = ("", "\n", "\r\n", "PJSIP/op5\n", "op5\n", "damkar\n", " " * 3, "x" * 5000, "é" * 3000, "9" * 30, "-1",
           "0", str(2**31), str(2**63), str(10**400), "1e400", "NaN", "-0", "[[[[[[[[[[]]]]]]]]]]", "{" * 200,
           '{"a": [1, {"b": null}]}', "%ED%A0%80", "\u202e", "<script>alert(1)</script>", "' OR 1=1 --",
           "../../etc/passwd", "Asia/Jakarta\n", "\ufeff", "\uffff", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\t\v\f", "a\x01b")
#: What no column may hold: lone surrogates, NUL.
UNSTORABLE = ("\x00", "a\x00b", "\ud800", "x\udfffy", "\ud83d", "\u202e\x00")
TEXT = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Z"), exclude_characters="\x00"), max_size=40)
#: Text with any code point, lone surrogates and NUL included (hypothesis leaves surrogates out by default).
ANY_TEXT = st.text(st.characters(categories=("L", "N", "P", "Cc", "Cs")), min_size=1, max_size=12)
ODD = st.one_of(st.sampled_from(AWKWARD), TEXT, st.integers(min_value=-(2**80), max_value=2**80).map(str))


def value(name: str) -> st.SearchStrategy[str]:
    """Mostly a choice the form offers (so the use case behind it runs), else something odd."""
    return weighted(st.sampled_from(CHOICES.get(name, PLAUSIBLE)), ODD, 3)

POISON = st.tuples(st.sampled_from(FIELDS) | ANY_TEXT, st.sampled_from(UNSTORABLE) | ANY_TEXT)
#: Ids: mostly the seeded rows; else none, or what overflows SQLite's and PostgreSQL's integers.
IDS = weighted(st.sampled_from(("1", "1", "2", "3", "4")), st.sampled_from(
    ("0", "5", "2147483647", "2147483648", "9223372036854775808", "1" + "0" * 30, "0001")), 3)
CODES = weighted(st.sampled_from(("damkar", "pln")), st.sampled_from(("nope", "x" * 300, "damkar\n")) | ANY_TEXT, 3)


def unstorable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return "\x00" in text


@dataclass
class Post:
    """One form post as generated: the path, the fields, how it is encoded."""

    path: str
    fields: list[tuple[str, str]]
    multipart: bool
    raw_bytes: bytes | None  # invalid UTF-8 percent-escaped into one field, or None

    @property
    def hostile(self) -> bool:
        """Carries what must be refused: invalid Unicode or NUL."""
        return self.raw_bytes is not None or any(unstorable(name) or unstorable(value)
                                                 for name, value in self.fields)

    def request(self, token: str) -> tuple[bytes, str]:
        """(body, content type): as a browser would send it, the CSRF token last."""
        pairs = [(name.encode("utf-8", "surrogatepass"), value.encode("utf-8", "surrogatepass"))
                 for name, value in self.fields]
        if self.raw_bytes is not None:
            pairs.append((b"note", self.raw_bytes))
        pairs.append((b"csrf_token", token.encode()))
        if not self.multipart:
            body = b"&".join(urllib.parse.quote_plus(n).encode() + b"=" + urllib.parse.quote_plus(v).encode()
                             for n, v in pairs)
            return body, "application/x-www-form-urlencoded"
        boundary = b"ngcc112fuzzboundary"
        parts = [b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + n.replace(b'"', b"%22")
                 + b"\"\r\n\r\n" + v + b"\r\n" for n, v in pairs]
        return b"".join(parts) + b"--" + boundary + b"--\r\n", f"multipart/form-data; boundary={boundary.decode()}"


def posts(route: str) -> st.SearchStrategy[Post]:
    """Posts to the route ``route`` (its path parameters filled in)."""
    def fill(ids: str, code: str) -> str:
        path = re.sub(r"\{[a-z_]+_id\}", ids, route)
        return path.replace("{code}", urllib.parse.quote(code.encode("utf-8", "surrogatepass"), safe=""))

    def assemble(path: str, values: dict[str, str], poison: tuple[str, str] | None, multipart: bool,
                 raw: bytes | None) -> Post:
        return Post(path, [*values.items(), *([poison] if poison else [])], multipart, raw)

    path = st.builds(fill, IDS, CODES)
    values = st.fixed_dictionaries({name: value(name) for name in FIELDS})
    raw = rarely(st.sampled_from((b"\xed\xa0\x80", b"\xff", b"\xc3", b"a\x80b", b"\xf4\x90\x80\x80")))
    return st.builds(assemble, path, values, rarely(POISON), st.booleans(), raw)


def form_routes(panel: LivePanel) -> list[tuple[str, str]]:
    """(path template, role that may post it) for every form post of the app."""
    found = []
    for resource in panel.server.app.router.resources():
        template = resource.canonical
        if template.startswith(("/api/", "/aml/", "/ws")):
            continue
        for route in resource:
            if route.method == "POST":
                roles = sorted(roles_of(route.handler))
                found.append((template, roles[0] if roles else "operator"))
    return sorted(found, key=lambda item: (LAST.index(item[0]) + 1 if item[0] in LAST else 0, item[0]))


def fuzz_forms(panel: LivePanel, role: str, examples: int = EXAMPLES) -> list[str]:
    """Fuzz the forms ``role`` posts (see :func:`form_routes`); the failures, one report per form."""
    failures: list[str] = []
    logged_in: tuple[requests.Session, str] | None = None
    for route, poster in form_routes(panel):
        if poster != role:
            continue
        if logged_in is None or route in LAST:  # those end the session: a fresh one each
            logged_in = panel.login(role)
        http, token = logged_in

        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  phases=(Phase.explicit, Phase.generate), report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck))
        @given(post=posts(route))
        def check(post: Post) -> None:
            body, content_type = post.request(token)
            response = http.post(f"{panel.base_url}{post.path}", data=body, allow_redirects=False, timeout=30,
                                 headers={"Content-Type": content_type})
            assert response.status_code < 500, f"{response.status_code} for {post}: {response.text[:300]}"
            if post.hostile:
                assert response.status_code in (400, 404, 413, 422), \
                    f"{response.status_code} for unstorable {post}: {response.text[:300]}"

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # one report per form; go on with the others
            failures.append(f"[{role}] POST {route}: {exc}")
    return failures


def observers(panel: LivePanel) -> dict[str, requests.Session]:
    """A browser per role, logged in before the fuzzing (which trips the login throttle)."""
    return {role: panel.login(role, observer=True)[0] for role in dict.fromkeys(role for role, _ in PAGES)}


def pages_render(panel: LivePanel, browsers: dict[str, requests.Session]) -> list[str]:
    broken = []
    for role, path in PAGES:
        response = browsers[role].get(f"{panel.base_url}{path}", timeout=30, allow_redirects=False)
        if response.status_code != 200:
            broken.append(f"[{role}] GET {path}: {response.status_code} {response.text[:200]}")
    return broken


@pytest.mark.parametrize("role", list(ACCOUNTS))
async def test_no_form_answers_500_or_stores_what_breaks_a_page(role, panel):
    browsers = await asyncio.to_thread(observers, panel)
    failures = await asyncio.to_thread(fuzz_forms, panel, role)
    failures += await asyncio.to_thread(pages_render, panel, browsers)
    assert not failures, "\n\n".join(failures)


async def test_every_form_is_fuzzed_with_every_field_of_the_templates(panel):
    assert {"instructions", "override_reason", "report", "reason", "interface", "username", "name",
            "description", "fix_id", "latitude"} <= set(FIELDS)
    posted = dict(form_routes(panel))
    assert {"/login", "/presence", "/tickets/{ticket_id}/intake", "/dispatch/tickets/{ticket_id}/dispatch",
            "/agency/dispatches/{dispatch_id}/report", "/admin/users/{user_id}", "/admin/agencies/{code}",
            "/tickets/{ticket_id}/location/manual"} <= posted.keys()
    assert set(posted.values()) <= set(ACCOUNTS)

