"""The location labels (msgids, translated where shown) and catalogs
(``locale/<lang>/LC_MESSAGES/location.po``) merged into the panel's."""

from __future__ import annotations

import gettext

from ngcc112.panel.i18n import LANGUAGES, add_domain, load_domain

DOMAIN = "location"
SOURCE_LABELS = {"sip": "SIP (network)", "aml": "AML (handset)", "manual": "Typed by an operator"}
SOURCE_SHORT = {"sip": "SIP", "aml": "AML", "manual": "Manual"}
#: A typed position says who typed it: the typist's role (from their account).
MANUAL_BY_ROLE = {
    "operator": "Typed by an operator",
    "dispatcher": "Typed by a dispatcher",
    "admin": "Typed by an administrator",
}
#: A typed position whose typist has no account (any more).
MANUAL_UNKNOWN = "Typed in by hand"


def _(text: str) -> str:
    """Marks a msgid for extraction; translated when shown."""
    return text


def load_location_catalogs() -> dict[str, gettext.NullTranslations]:
    """This module's catalogs (``locale/<lang>/LC_MESSAGES/{DOMAIN}.po``), compiled in memory."""
    return {language: load_domain(language, DOMAIN) for language in LANGUAGES}


def merge_catalogs(catalogs: dict[str, gettext.NullTranslations]) -> None:
    """Let the panel's catalogs fall back to ours for msgids they do not have. Idempotent."""
    add_domain(catalogs, DOMAIN)
