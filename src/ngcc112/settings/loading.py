"""Loading the settings: the TOML file, the ``NGCC112_*`` environment (old names too), one clear error."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import EnvSettingsSource
from pydantic_settings import SettingsError as UnreadableEnvironment
from pydantic_settings.sources.utils import parse_env_vars

from ngcc112.settings.model import PREFIX, Settings
from ngcc112.settings.sections import Section


class SettingsError(ValueError):
    """The configuration cannot be used; the message says which key, why, and where it was set."""


#: The documented names from before the ``NGCC112_<SECTION>__<KEY>`` rule, still honoured.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "NGCC112_SLA_ACKNOWLEDGE": ("sla", "acknowledge"),
    "NGCC112_SLA_ARRIVAL": ("sla", "arrival"),
    "NGCC112_AMI_HOST": ("ami", "host"),
    "NGCC112_AMI_PORT": ("ami", "port"),
    "NGCC112_AMI_USERNAME": ("ami", "username"),
    "NGCC112_AMI_SECRET": ("ami", "secret"),
    "NGCC112_AMI_SERVER_NAME": ("ami", "server_name"),
    "NGCC112_QUEUE": ("calls", "queue"),
    "NGCC112_WRAPUP_SECONDS": ("calls", "wrapup_seconds"),
    "NGCC112_PANEL_COOKIE_SECRET": ("panel", "cookie_secret"),
    "NGCC112_PANEL_COOKIE_SECURE": ("panel", "cookie_secure"),
    "NGCC112_TILE_URL": ("panel", "tile_url"),
    "NGCC112_METRICS_TOKEN": ("panel", "metrics_token"),
    "NGCC112_METRICS_ALLOW": ("panel", "metrics_allow"),
    "NGCC112_TRUSTED_PROXIES": ("panel", "trusted_proxies"),
    "NGCC112_AML_SENDERS": ("aml", "senders"),
    "NGCC112_AML_ALLOW": ("aml", "allow_networks"),
    "NGCC112_BACKFILL_SOURCE": ("backfill", "source"),
    "NGCC112_CEL_CSV": ("backfill", "cel_csv"),
    "NGCC112_CLUSTER": ("cluster", "enabled"),
    "NGCC112_NODE_NAME": ("cluster", "node_name"),
    "NGCC112_SITE": ("cluster", "site"),
}
#: ``host:port`` of the panel in one variable (an IPv6 host in brackets).
PANEL_LISTEN = "NGCC112_PANEL_LISTEN"


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of ``os.environ``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from defaults, the TOML file at ``path`` and ``environ`` (``os.environ`` if None)."""
    environ = os.environ if environ is None else environ
    from_file = _read(Path(path)) if path is not None else {}
    variables, origins = _spelled_out(environ)
    try:
        from_environment = _Environment(variables)()
    except UnreadableEnvironment as exc:  # a whole table given as JSON that does not parse
        raise SettingsError(f"{exc}: a whole table in one variable is JSON, e.g. '{{\"port\": 5039}}'") from None
    for key, value in from_environment.get("routing", {}).items():
        from_environment["routing"][key] = _toml_value(value)
    for name, value in _origins_in(from_file, f"in {path}"):
        origins.setdefault(name, value)
    try:
        return Settings(**_merged(from_file, from_environment))
    except ValidationError as exc:
        raise SettingsError(_describe(exc.errors()[0], origins)) from None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None


def _spelled_out(environ: Mapping[str, str]) -> tuple[dict[str, str], dict[tuple[str, ...], str]]:
    """The ``NGCC112_*`` variables with the legacy names in the ``__`` spelling, and where each key came from."""
    variables: dict[str, str] = {}
    origins: dict[tuple[str, ...], str] = {}
    for legacy, (section, key) in ENVIRONMENT.items():
        if legacy in environ:
            variables[f"{PREFIX}{section}__{key}".upper()] = environ[legacy]
            origins[(section, key)] = f"from {legacy}"
    listen = environ.get(PANEL_LISTEN)
    if listen is not None:
        host, sep, port = listen.rpartition(":")
        if not sep or not host:
            raise SettingsError(f"{PANEL_LISTEN} must be host:port, got {listen!r}")
        variables.update({f"{PREFIX}PANEL__HOST": host.strip("[]"), f"{PREFIX}PANEL__PORT": port})
        origins.update({("panel", "host"): f"from {PANEL_LISTEN}", ("panel", "port"): f"from {PANEL_LISTEN}"})
    for name, value in environ.items():
        if name.upper().startswith(PREFIX) and name not in ENVIRONMENT and name != PANEL_LISTEN:
            variables[name.upper()] = value
            origins[tuple(name[len(PREFIX) :].lower().split("__"))] = f"from {name}"
    return variables, origins


def _toml_value(text: Any) -> Any:
    """``8`` → 8, ``0.5`` → 0.5, ``true`` → True; anything else stays text (and is refused as one)."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _origins_in(table: Mapping[str, Any], origin: str) -> Iterable[tuple[tuple[str, ...], str]]:
    for key, value in table.items():
        yield (key,), origin
        if isinstance(value, Mapping):
            for sub in value:
                yield (key, sub), origin


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = _merged(below, value)
        else:
            merged[key] = value
    return merged


#: Tables checked by the policy objects they become (routing.policy.Policy, tickets.sla.SlaTargets).
_POLICY_TABLES = ("routing", "sla")
_SECTIONS = {name for name, f in Settings.model_fields.items() if isinstance(f.default, Section)}
#: Values never repeated in a message: secrets, and the database URL (it may hold a password).
_UNSHOWN = {("database_url",)} | {
    (name, key)
    for name in _SECTIONS
    for key, f in type(Settings.model_fields[name].default).model_fields.items()
    if "SecretStr" in str(f.annotation)
}


def _describe(error: ErrorDetails, origins: Mapping[tuple[str, ...], str]) -> str:
    """One line for the sysadmin: which key, what is wrong with it, and where it was set."""
    loc = tuple(str(part) for part in error["loc"])
    reason = error["msg"].removeprefix("Value error, ")
    if not loc:
        return reason
    key = loc[:2] if loc[0] in _SECTIONS and len(loc) > 1 else loc[:1]
    label = f"[{key[0]}] {key[1]}" if len(key) == 2 else key[0]
    origin = origins.get(key) or next((o for k, o in origins.items() if k[0] == key[0]), "by default")
    if error["type"] == "extra_forbidden":
        where = f"[{loc[0]}] {loc[1]!r}" if len(key) == 2 else repr(loc[0])
        return f"unknown setting {where} ({origin})"
    if key[0] in _POLICY_TABLES:  # their own checks name the key
        return f"[{key[0]}] {reason} ({origin})"
    if key in _UNSHOWN:
        return f"{label}: {reason} ({origin})"
    return f"{label}: {error['input']!r} is not valid ({reason}; {origin})"
