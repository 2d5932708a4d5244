"""Every visible word is translated; the OpenAPI paths match the registered routes."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from dispatch_helpers import make_app

from ngcc112.panel import dispatch_labels, dispatch_openapi, i18n

PANEL = Path(i18n.__file__).resolve().parent
TEMPLATES = sorted((PANEL / "templates" / "dispatch").glob("*.html"))
MSG_CALL = re.compile(r'''\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)''')
TEXT_ATTRIBUTES = ("title", "placeholder", "alt", "aria-label")


def messages() -> set[str]:
    found = set()
    for path in TEMPLATES:
        for match in MSG_CALL.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(1) if match.group(1) is not None else match.group(2))
    modules = [PANEL / name for name in ("dispatch_labels.py", "forms.py", "ticket_search.py")]
    for package in ("dispatch", "agency", "admin", "reports"):
        modules += sorted((PANEL / package).glob("*.py"))
    for module in modules:
        found |= _n_calls(module.read_text(encoding="utf-8"))
    return found


def _n_calls(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_" and node.args \
                and isinstance(node.args[0], ast.Constant):
            found.add(node.args[0].value)
    return found


def _strip_jinja(text: str) -> str:
    text = re.sub(r"\{% block page %\}\w+\{% endblock %\}", "", text)
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}", "", text, flags=re.S)
    return re.sub(r"\{\{.*?\}\}", "", text, flags=re.S)


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if value and (name in TEXT_ATTRIBUTES or name.startswith("data-label-")) \
                    and re.search(r"[A-Za-z]", value):
                self.words.append(f"{tag}[{name}]={value!r}")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and re.search(r"[A-Za-z]", data):
            self.words.append(data.strip())


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_have_no_bare_visible_text(path):
    parser = _Visible()
    parser.feed(_strip_jinja(path.read_text(encoding="utf-8")))
    assert parser.words == [], f"{path.name}: text outside _(): {parser.words}"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_dispatch_catalog_covers_every_message(language):
    from babel.messages.pofile import read_po

    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / "dispatch.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(messages() - translated.keys())
    assert missing == [], f"{language}: untranslated {missing}"


def test_merged_catalogs_speak_indonesian_for_dispatch_words_and_keep_the_panels():
    catalogs = i18n.load_catalogs()
    dispatch_labels.merge_catalogs(catalogs)
    dispatch_labels.merge_catalogs(catalogs)  # idempotent
    assert catalogs["id"].gettext("Dispatcher board") == "Papan dispatcher"
    assert catalogs["id"].gettext("Ready") == "Siap"
    assert catalogs["en"].gettext("Dispatcher board") == "Dispatcher board"
    same = {m for m in messages() if catalogs["id"].gettext(m) == m}
    assert same <= {"Target", "Status", "Operator", "Operators"}


def _described(path: str) -> str:
    return re.sub(r"\{[^}:]+(:[^}]*)?\}", "{}", path)


async def test_openapi_paths_match_the_registered_routes(services):
    app = make_app(services)
    registered = set()
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith(("/api/dispatch", "/api/agency", "/api/reports", "/api/admin")):
            for route in resource:
                if route.method != "HEAD":
                    registered.add((route.method, _described(path)))
    described = {(method.upper(), _described(path)) for path, ops in dispatch_openapi.PATHS.items()
                 for method in ops}
    assert registered == described
    refs = set(re.findall(r"#/components/schemas/(\w+)", repr(dispatch_openapi.PATHS)))
    from ngcc112.panel import openapi

    known = set(openapi.spec()["components"]["schemas"]) | set(dispatch_openapi.SCHEMAS)
    assert refs <= known
