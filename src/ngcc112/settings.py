"""Settings: defaults, then a TOML file, then ``NGCC112_*`` environment variables.

Bad configuration is refused at start with one clear message naming the key
(:class:`SettingsError`), never discovered later in the middle of a call.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ngcc112 import names


class SettingsError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True, slots=True)
class AmiSettings:
    host: str = "127.0.0.1"
    port: int = names.AMI_PORT
    username: str = names.AMI_USERNAME
    secret: str = dataclasses.field(default="ngcc-secret", repr=False)
    #: Seconds between keep-alive pings; two missed pings drop the link.
    ping_interval: float = 10.0
    #: Seconds an action may take before it is given up.
    action_timeout: float = 5.0
    #: Reconnect backoff: first delay and cap, in seconds.
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    #: Name of this Asterisk, prefixed to Linkedids when several are watched.
    server_name: str = ""


@dataclass(frozen=True, slots=True)
class CallFlowSettings:
    queue: str = names.OPERATOR_QUEUE
    supervisor_queue: str = names.SUPERVISOR_QUEUE
    context: str = names.INCOMING_CONTEXT
    extensions: tuple[str, ...] = tuple(names.EMERGENCY_NUMBERS)
    #: After-call work: seconds an operator stays paused (reason ``wrap-up``) after a call
    #: ends, unless the intake is submitted first; then they are resumed and warned.
    wrapup_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class PanelSettings:
    host: str = "127.0.0.1"
    port: int = 8112
    #: Secret for signing session cookies; generated per start when empty.
    cookie_secret: str = dataclasses.field(default="", repr=False)
    #: Mark the session cookie Secure: set it when the panel is served over HTTPS.
    cookie_secure: bool = False
    #: Tile server URL template for maps ({z}/{x}/{y}); empty: no tiles.
    tile_url: str = ""
    language: str = "id"
    #: A bearer token that opens /metrics and the detailed /healthz to any address;
    #: empty: only ``metrics_allow`` may read them.
    metrics_token: str = dataclasses.field(default="", repr=False)
    #: Networks (CIDR) allowed to read /metrics and the detailed /healthz without the token.
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    #: Reverse proxies (CIDR) whose ``X-Forwarded-For`` names the real client address
    #: (login throttling, AML allow-list); empty: the TCP peer is the client.
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LocationSettings:
    #: An AML message is attached to the call from its number that was live or
    #: recent within this window around the message's time, in seconds.
    aml_window_before_seconds: float = 30.0
    aml_window_after_seconds: float = 600.0


@dataclass(frozen=True, slots=True)
class AmlSettings:
    """Who may post AML positions (/aml/els, /aml/sms), and when a fix is trusted on its own."""

    #: Authenticated senders as ``name:secret`` (secret at least 16 characters).
    senders: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    #: Networks (CIDR) whose posts are accepted without a secret (an SMS gateway on the LAN).
    allow_networks: tuple[str, ...] = ()
    #: A fix less accurate than this (radius, metres) is never accepted without an operator.
    max_accuracy_m: float = 1000.0
    #: A fix older than this when received (seconds) is never accepted without an operator.
    max_age_seconds: float = 600.0
    #: A fix dated more than this ahead of the receiving clock (seconds) is implausible.
    future_skew_seconds: float = 30.0
    #: Messages a minute one sender (or one refused address) may post; the rest are counted, not stored.
    rate_per_minute: int = 120
    #: Bytes an hour stored for one sender (or one refused address); the rest are counted, not stored.
    bytes_per_hour: int = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BackfillSettings:
    """Tickets for calls the daemon never saw, from Asterisk's own records (CEL)."""

    #: "auto" (the cel table on PostgreSQL, the CSV file on SQLite), "csv", "pgsql" or "off".
    source: str = "auto"
    #: The CSV file asterisk-config/cel_custom.conf makes Asterisk write.
    cel_csv: str = "/var/log/asterisk/cel-custom/ngcc112-cel.csv"
    #: The table asterisk-config/postgresql/cel_pgsql.conf makes Asterisk write (in this database).
    cel_table: str = "cel"
    #: Never look further back than this, in hours: calls older than that get no ticket.
    lookback_hours: float = 168.0


BACKFILL_SOURCES = ("auto", "csv", "pgsql", "off")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///ngcc112.db"
    ami: AmiSettings = field(default_factory=AmiSettings)
    calls: CallFlowSettings = field(default_factory=CallFlowSettings)
    panel: PanelSettings = field(default_factory=PanelSettings)
    location: LocationSettings = field(default_factory=LocationSettings)
    aml: AmlSettings = field(default_factory=AmlSettings)
    backfill: BackfillSettings = field(default_factory=BackfillSettings)
    #: Free-form policy table for routing/ (thresholds); validated there.
    routing: Mapping[str, Any] = field(default_factory=dict)
    #: SLA targets (seconds) for reports; validated by tickets.sla.SlaTargets.
    sla: Mapping[str, Any] = field(default_factory=dict)
    #: The center's time zone: days and hours in reports.
    timezone: str = "Asia/Jakarta"
    #: The durable journal of call events not yet in the database (tickets/journal.py);
    #: empty: beside a SQLite database, or under ~/.local/state/ngcc112 for PostgreSQL.
    journal_path: str = ""
    log_format: str = "json"  # "json" or "console"
    log_level: str = "info"


# Environment variable -> (section, key). Section "" is the top level.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "NGCC112_DATABASE_URL": ("", "database_url"),
    "NGCC112_LOG_FORMAT": ("", "log_format"),
    "NGCC112_LOG_LEVEL": ("", "log_level"),
    "NGCC112_TIMEZONE": ("", "timezone"),
    "NGCC112_SLA_ACKNOWLEDGE": ("sla", "acknowledge"),
    "NGCC112_SLA_ARRIVAL": ("sla", "arrival"),
    "NGCC112_JOURNAL_PATH": ("", "journal_path"),
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
}

_SECTIONS: dict[str, type] = {
    "ami": AmiSettings,
    "calls": CallFlowSettings,
    "panel": PanelSettings,
    "location": LocationSettings,
    "aml": AmlSettings,
    "backfill": BackfillSettings,
}


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from defaults, the TOML file at ``path`` and ``environ``."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    for var, (section, key) in ENVIRONMENT.items():
        if var in environ:
            (raw.setdefault(section, {}) if section else raw)[key] = environ[var]
    listen = environ.get("NGCC112_PANEL_LISTEN")
    if listen is not None:
        host, sep, port = listen.rpartition(":")
        if not sep or not host:
            raise SettingsError(f"NGCC112_PANEL_LISTEN must be host:port, got {listen!r}")
        raw.setdefault("panel", {}).update(host=host.strip("[]"), port=port)
    return _build(raw)


def _build(raw: Mapping[str, Any]) -> Settings:
    top: dict[str, Any] = {}
    known = {f.name for f in dataclasses.fields(Settings)}
    for key, value in raw.items():
        if key in _SECTIONS:
            if not isinstance(value, Mapping):
                raise SettingsError(f"[{key}] must be a table")
            top[key] = _section(_SECTIONS[key], key, value)
        elif key in ("routing", "sla"):
            if not isinstance(value, Mapping):
                raise SettingsError(f"[{key}] must be a table")
            top[key] = dict(value)
        elif key in known:
            top[key] = _coerce(Settings, key, value, key)
        else:
            raise SettingsError(f"unknown setting {key!r}")
    settings = Settings(**top)
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(settings.timezone)
    except (KeyError, ValueError):
        raise SettingsError(f"timezone: unknown time zone {settings.timezone!r}") from None
    from ngcc112.tickets.sla import SlaTargets, SlaTargetsError

    try:
        SlaTargets.from_mapping(settings.sla)
    except SlaTargetsError as exc:
        raise SettingsError(f"[sla]: {exc}") from None
    if settings.log_format not in ("json", "console"):
        raise SettingsError(f"log_format must be 'json' or 'console', got {settings.log_format!r}")
    if not settings.database_url.startswith(("sqlite", "postgresql")):
        raise SettingsError(
            "database_url must be a SQLAlchemy URL for sqlite+aiosqlite or postgresql+asyncpg,"
            f" got {settings.database_url.split('://')[0]!r}"
        )
    _check_backfill(settings)
    _check_networks(settings)
    _check_calls(settings)
    return settings


#: Bounds of ``[calls] wrapup_seconds``: long enough to type, short enough that a forgotten
#: intake never keeps an operator out of the queue for long.
WRAPUP_MIN, WRAPUP_MAX = 5.0, 600.0


def _check_calls(settings: Settings) -> None:
    import math

    seconds = settings.calls.wrapup_seconds
    if not math.isfinite(seconds) or not WRAPUP_MIN <= seconds <= WRAPUP_MAX:
        raise SettingsError(
            f"[calls] wrapup_seconds must be between {WRAPUP_MIN:g} and {WRAPUP_MAX:g}, got {seconds!r}"
        )


def _check_networks(settings: Settings) -> None:
    """Every CIDR parses; every AML sender is ``name:secret`` with a long enough secret."""
    import ipaddress

    for label, networks in (
        ("[panel] metrics_allow", settings.panel.metrics_allow),
        ("[panel] trusted_proxies", settings.panel.trusted_proxies),
        ("[aml] allow_networks", settings.aml.allow_networks),
    ):
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise SettingsError(f"{label}: {network!r} is not an address or network like 10.0.0.0/8") from None
    names_seen: set[str] = set()
    for entry in settings.aml.senders:
        name, sep, secret = entry.partition(":")
        name = name.strip()
        if not sep or not name:
            raise SettingsError("[aml] senders: each entry is name:secret")
        if len(secret) < 16:
            raise SettingsError(f"[aml] senders: the secret of {name!r} must be at least 16 characters")
        if name in names_seen:
            raise SettingsError(f"[aml] senders: {name!r} is listed twice")
        names_seen.add(name)
    for key in ("rate_per_minute", "bytes_per_hour"):
        if getattr(settings.aml, key) < 1:
            raise SettingsError(f"[aml] {key} must be at least 1")
    if settings.panel.metrics_token and len(settings.panel.metrics_token) < 16:
        raise SettingsError("[panel] metrics_token must be at least 16 characters (or empty)")


def _check_backfill(settings: Settings) -> None:
    import re

    backfill = settings.backfill
    if backfill.source not in BACKFILL_SOURCES:
        raise SettingsError(f"[backfill] source must be one of {', '.join(BACKFILL_SOURCES)}, got {backfill.source!r}")
    if backfill.source == "pgsql" and not settings.database_url.startswith("postgresql"):
        raise SettingsError(
            "[backfill] source 'pgsql' reads the cel table of a PostgreSQL database_url; on SQLite use 'csv'"
        )
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", backfill.cel_table):
        raise SettingsError(f"[backfill] cel_table must be a table name, got {backfill.cel_table!r}")


def _section(cls: type, name: str, values: Mapping[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise SettingsError(f"unknown setting [{name}] {key!r}")
        kwargs[key] = _coerce(cls, key, value, f"[{name}] {key}")
    return cls(**kwargs)


def _coerce(cls: type, key: str, value: Any, label: str) -> Any:
    default = next(f for f in dataclasses.fields(cls) if f.name == key)
    kind = default.type if isinstance(default.type, str) else default.type.__name__
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError("use true or false")
        if kind == "int":
            number = int(value)
            if key == "port" and not 0 < number < 65536:
                raise ValueError("port out of range")
            return number
        if kind == "float":
            number = float(value)
            if number <= 0:
                raise ValueError("must be positive")
            return number
        if kind.startswith("tuple"):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(item).strip() for item in items if str(item).strip())
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{label}: {value!r} is not valid ({exc})") from None
    if not isinstance(value, str):
        raise SettingsError(f"{label} must be a string, got {value!r}")
    if "\r" in value or "\n" in value:
        raise SettingsError(f"{label} must not contain a line break")
    return value
