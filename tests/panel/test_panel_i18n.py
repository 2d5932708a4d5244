"""Every visible word goes through the catalogs; both catalogs are complete and load from .po."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ngcc112.panel import i18n, labels

PANEL = Path(i18n.__file__).resolve().parent
TEMPLATES = sorted((PANEL / "templates").glob("*.html"))
SOURCES = [PANEL / "labels.py", PANEL.parent / "tickets" / "intake.py", PANEL.parent / "tickets" / "intake_form.py"]
MSG_CALL = re.compile(r'''\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)''')
#: Attributes whose values people read.
TEXT_ATTRIBUTES = ("title", "placeholder", "alt", "aria-label")
TEXT_ATTRIBUTE_PREFIX = "data-label-"


def template_messages() -> set[str]:
    found = set()
    for path in TEMPLATES:
        for match in MSG_CALL.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(1) if match.group(1) is not None else match.group(2))
    return found


def python_messages() -> set[str]:
    found = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_" and node.args \
                    and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
    return found


def _strip_jinja(text: str) -> str:
    # the page name is an attribute value (body[data-page]), not text
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
            readable = name in TEXT_ATTRIBUTES or name.startswith(TEXT_ATTRIBUTE_PREFIX)
            if value and readable and re.search(r"[A-Za-z]", value):
                self.words.append(f"{tag}[{name}]={value!r}")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and re.search(r"[A-Za-z]", data):
            self.words.append(data.strip())


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_have_no_bare_visible_text(path):
    source = path.read_text(encoding="utf-8")
    # attribute values written as {{ _("...") }} are fine; literal words are not
    parser = _Visible()
    parser.feed(_strip_jinja(source))
    assert parser.words == [], f"{path.name}: text outside _(): {parser.words}"


def test_the_checker_catches_bare_text():
    parser = _Visible()
    parser.feed(_strip_jinja('<p>{{ _("Fine") }}</p><button title="Oops">{{ x }} Hello</button>'))
    assert parser.words == ["button[title]='Oops'", "Hello"]


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_catalogs_cover_every_message(language):
    from babel.messages.pofile import read_po

    path = i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    needed = template_messages() | python_messages()
    missing = sorted(needed - translated.keys())
    assert missing == [], f"{language}: untranslated {missing}"


def test_indonesian_is_really_translated():
    catalogs = i18n.load_catalogs()
    assert catalogs["id"].gettext("The caller may be unable to speak — pressed 5") == \
        "Penelepon mungkin tidak bisa berbicara — menekan tombol 5"
    assert catalogs["id"].gettext("Ready") == "Siap"
    assert catalogs["en"].gettext("Ready") == "Ready"
    same = [m for m in template_messages() if catalogs["id"].gettext(m) == m]
    # words that are the same in both languages (names, units, loanwords)
    assert set(same) <= {"m", "Target", "Operator", "Dispatcher", "Administrator"}


def test_catalogs_load_from_po_in_a_fresh_checkout():
    assert not list(i18n.LOCALE_DIR.rglob("*.mo")), "compiled catalogs must not be needed"
    assert set(i18n.load_catalogs()) == {"id", "en"}


def test_labels_cover_every_choice():
    from ngcc112.routing.presence import BREAK_REASONS, Presence
    from ngcc112.tickets.intake_form import CATEGORIES, VERDICTS
    from ngcc112.tickets.states import State

    assert set(labels.CATEGORY_LABELS) == set(CATEGORIES)
    assert set(labels.VERDICT_LABELS) == set(VERDICTS)
    assert set(labels.STATE_LABELS) == {s.value for s in State}
    assert set(labels.PRESENCE_LABELS) == {p.value for p in Presence}
    assert set(labels.BREAK_REASON_LABELS) == set(BREAK_REASONS)
