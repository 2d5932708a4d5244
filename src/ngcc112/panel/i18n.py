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


def _load(language: str) -> gettext.NullTranslations:
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
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
    return {language: _load(language) for language in LANGUAGES}


def pick_language(requested: str | None, default: str) -> str:
    if requested in LANGUAGES:
        return requested  # type: ignore[return-value]
    return default if default in LANGUAGES else LANGUAGES[0]
