"""Settings: typed defaults, then a TOML file, then ``NGCC112_*`` environment variables.

Every setting is settable from the environment as ``NGCC112_<SECTION>__<KEY>``
(``NGCC112_AMI__PORT``, ``NGCC112_CALLS__WRAPUP_SECONDS``; a top-level key is
``NGCC112_<KEY>``, e.g. ``NGCC112_DATABASE_URL``); the older documented names in
:data:`ENVIRONMENT` still work, and the ``__`` spelling wins when both are set.

Bad configuration is refused at start with one clear message naming the key, the
reason and where the value came from (:class:`SettingsError`), never discovered
later in the middle of a call. Constructing :class:`Settings` directly reads no
file and no environment: only :func:`load_settings` does.
"""

from ngcc112.settings.loading import ENVIRONMENT, PANEL_LISTEN, SettingsError, load_settings
from ngcc112.settings.model import PREFIX, Settings
from ngcc112.settings.sections import (
    WRAPUP_MAX,
    WRAPUP_MIN,
    AmiSettings,
    AmlSettings,
    BackfillSettings,
    CallFlowSettings,
    ClusterSettings,
    LocationSettings,
    PanelSettings,
    Section,
)

__all__ = [
    "ENVIRONMENT",
    "PANEL_LISTEN",
    "PREFIX",
    "WRAPUP_MAX",
    "WRAPUP_MIN",
    "AmiSettings",
    "AmlSettings",
    "BackfillSettings",
    "CallFlowSettings",
    "ClusterSettings",
    "LocationSettings",
    "PanelSettings",
    "Section",
    "Settings",
    "SettingsError",
    "load_settings",
]
