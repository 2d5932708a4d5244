"""Translations: Bahasa Indonesia by default, English on a switch.

The catalogs are the ``.po`` files in ``locale/<lang>/LC_MESSAGES/``. They are
compiled in memory at start (Babel), so a fresh checkout works without a
compile step; a ``messages.mo`` beside a ``.po`` is used only when it is newer.
"""

from __future__ import annotations

import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
#: Languages the panel speaks, the default first.
LANGUAGES: tuple[str, ...] = ("id", "en")
LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}


def load_domain(language: str, domain: str = DOMAIN) -> gettext.NullTranslations:
    """``locale/<language>/LC_MESSAGES/<domain>.po``, compiled in memory (a newer .mo wins)."""
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    po, mo = folder / f"{domain}.po", folder / f"{domain}.mo"
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    if not po.is_file():
        raise FileNotFoundError(f"translation catalog missing: {po}")
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def load_catalogs() -> dict[str, gettext.NullTranslations]:
    """One translations object per language in :data:`LANGUAGES`."""
    return {language: load_domain(language) for language in LANGUAGES}


def add_domain(catalogs: dict[str, gettext.NullTranslations], domain: str) -> None:
    """Let the panel's catalogs fall back to ``domain``'s for msgids they lack. Idempotent."""
    for language, translations in catalogs.items():
        if language not in LANGUAGES or domain in getattr(translations, "_ngcc112_domains", ()):
            continue
        translations.add_fallback(load_domain(language, domain))
        translations._ngcc112_domains = (*getattr(translations, "_ngcc112_domains", ()), domain)  # type: ignore[attr-defined]


def pick_language(requested: str | None, default: str) -> str:
    if requested in LANGUAGES:
        return requested
    return default if default in LANGUAGES else LANGUAGES[0]
