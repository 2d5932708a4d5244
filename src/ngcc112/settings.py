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

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as UnreadableEnvironment
from pydantic_settings.sources.utils import parse_env_vars

from ngcc112 import names
from ngcc112.routing.policy import Policy
from ngcc112.tickets.sla import SlaTargets

PREFIX = "NGCC112_"


class SettingsError(ValueError):
    """The configuration cannot be used; the message says which key, why, and where it was set."""


def _one_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain a line break")
    return value


def _listed(value: Any) -> Any:
    """A list from TOML as it is; ``"a, b"`` from the environment split at the commas."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an address or network like 10.0.0.0/8") from None
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def _database_url(value: str) -> str:
    if not value.startswith(("sqlite", "postgresql")):
        raise ValueError(
            "must be a SQLAlchemy URL for sqlite+aiosqlite or postgresql+asyncpg, got the scheme"
            f" {value.split('://')[0]!r}"
        )
    return value


def _policy(value: Any) -> Policy:
    return value if isinstance(value, Policy) else Policy.from_mapping(value)


def _sla_targets(value: Any) -> SlaTargets:
    return value if isinstance(value, SlaTargets) else SlaTargets.from_mapping(value)


#: Text that goes into AMI actions, file names or headers: one line.
Line = Annotated[str, AfterValidator(_one_line)]
Port = Annotated[int, Field(gt=0, lt=65536)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Names = Annotated[tuple[Line, ...], NoDecode, BeforeValidator(_listed)]
Networks = Annotated[tuple[Annotated[str, AfterValidator(_network)], ...], NoDecode, BeforeValidator(_listed)]


def _token(value: SecretStr) -> SecretStr:
    if value and len(value) < 16:
        raise ValueError("must be at least 16 characters (or empty)")
    return value


#: A secret that may be empty (not configured), or else at least 16 characters.
OptionalToken = Annotated[SecretStr, AfterValidator(_token)]


class Section(BaseModel):
    """One ``[table]`` of the settings file: typed, immutable, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class AmiSettings(Section):
    host: Line = "127.0.0.1"
    port: Port = names.AMI_PORT
    username: Line = names.AMI_USERNAME
    secret: SecretStr = SecretStr("ngcc-secret")
    #: Seconds between keep-alive pings; two missed pings drop the link.
    ping_interval: Seconds = 10.0
    #: Seconds an action may take before it is given up.
    action_timeout: Seconds = 5.0
    #: Reconnect backoff: first delay and cap, in seconds.
    reconnect_min: Seconds = 0.5
    reconnect_max: Seconds = 30.0
    #: Name of this Asterisk, prefixed to Linkedids when several are watched.
    server_name: Line = ""


#: Bounds of ``[calls] wrapup_seconds``: long enough to type, short enough that a forgotten
#: intake never keeps an operator out of the queue for long.
WRAPUP_MIN, WRAPUP_MAX = 5.0, 600.0


class CallFlowSettings(Section):
    queue: Line = names.OPERATOR_QUEUE
    supervisor_queue: Line = names.SUPERVISOR_QUEUE
    context: Line = names.INCOMING_CONTEXT
    extensions: Names = tuple(names.EMERGENCY_NUMBERS)
    #: After-call work: seconds an operator stays paused (reason ``wrap-up``) after a call
    #: ends, unless the intake is submitted first; then they are resumed and warned.
    wrapup_seconds: Annotated[float, Field(ge=WRAPUP_MIN, le=WRAPUP_MAX, allow_inf_nan=False)] = 60.0


class PanelSettings(Section):
    host: Line = "127.0.0.1"
    port: Port = 8112
    #: Secret for signing session cookies; generated per start when empty.
    cookie_secret: SecretStr = SecretStr("")
    #: Mark the session cookie Secure: set it when the panel is served over HTTPS.
    cookie_secure: bool = False
    #: Tile server URL template for maps ({z}/{x}/{y}); empty: no tiles.
    tile_url: Line = ""
    language: Line = "id"
    #: A bearer token that opens /metrics and the detailed /healthz to any address;
    #: empty: only ``metrics_allow`` may read them.
    metrics_token: OptionalToken = SecretStr("")
    #: Networks (CIDR) allowed to read /metrics and the detailed /healthz without the token.
    metrics_allow: Networks = ("127.0.0.1/32", "::1/128")
    #: Reverse proxies (CIDR) whose ``X-Forwarded-For`` names the real client address
    #: (login throttling, AML allow-list); empty: the TCP peer is the client.
    trusted_proxies: Networks = ()


class LocationSettings(Section):
    #: An AML message is attached to the call from its number that was live or
    #: recent within this window around the message's time, in seconds.
    aml_window_before_seconds: Seconds = 30.0
    aml_window_after_seconds: Seconds = 600.0


def _senders(entries: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
    """Each entry ``name:secret``, the secret at least 16 characters, no name twice."""
    seen: set[str] = set()
    for entry in entries:
        name, sep, secret = entry.get_secret_value().partition(":")
        name = name.strip()
        if not sep or not name:
            raise ValueError("each entry is name:secret")
        if len(secret) < 16:
            raise ValueError(f"the secret of {name!r} must be at least 16 characters")
        if name in seen:
            raise ValueError(f"{name!r} is listed twice")
        seen.add(name)
    return entries


class AmlSettings(Section):
    """Who may post AML positions (/aml/els, /aml/sms), and when a fix is trusted on its own."""

    #: Authenticated senders as ``name:secret`` (secret at least 16 characters).
    senders: Annotated[tuple[SecretStr, ...], NoDecode, BeforeValidator(_listed), AfterValidator(_senders)] = ()
    #: Networks (CIDR) whose posts are accepted without a secret (an SMS gateway on the LAN).
    allow_networks: Networks = ()
    #: A fix less accurate than this (radius, metres) is never accepted without an operator.
    max_accuracy_m: Seconds = 1000.0
    #: A fix older than this when received (seconds) is never accepted without an operator.
    max_age_seconds: Seconds = 600.0
    #: A fix dated more than this ahead of the receiving clock (seconds) is implausible.
    future_skew_seconds: Seconds = 30.0
    #: Messages a minute one sender (or one refused address) may post; the rest are counted, not stored.
    rate_per_minute: Annotated[int, Field(ge=1)] = 120
    #: Bytes an hour stored for one sender (or one refused address); the rest are counted, not stored.
    bytes_per_hour: Annotated[int, Field(ge=1)] = 4 * 1024 * 1024


class BackfillSettings(Section):
    """Tickets for calls the daemon never saw, from Asterisk's own records (CEL)."""

    #: "auto" (the cel table on PostgreSQL, the CSV file on SQLite), "csv", "pgsql" or "off".
    source: Literal["auto", "csv", "pgsql", "off"] = "auto"
    #: The CSV file asterisk-config/cel_custom.conf makes Asterisk write.
    cel_csv: Line = "/var/log/asterisk/cel-custom/ngcc112-cel.csv"
    #: The table asterisk-config/postgresql/cel_pgsql.conf makes Asterisk write (in this database).
    cel_table: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")] = "cel"
    #: Never look further back than this, in hours: calls older than that get no ticket.
    lookback_hours: Seconds = 168.0


class Settings(BaseSettings):
    """The whole configuration. Built directly it takes only its arguments; :func:`load_settings` reads the rest."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
    )

    #: May carry the database password: kept out of repr.
    database_url: Annotated[str, AfterValidator(_database_url), Field(repr=False)] = "sqlite+aiosqlite:///ngcc112.db"
    ami: AmiSettings = AmiSettings()
    calls: CallFlowSettings = CallFlowSettings()
    panel: PanelSettings = PanelSettings()
    location: LocationSettings = LocationSettings()
    aml: AmlSettings = AmlSettings()
    backfill: BackfillSettings = BackfillSettings()
    #: Thresholds and weights of prank/ghost scoring (``[routing]``), checked by :class:`Policy`.
    routing: Annotated[Policy, PlainValidator(_policy)] = Policy()
    #: SLA targets (seconds) for reports and the dispatcher board (``[sla]``).
    sla: Annotated[SlaTargets, PlainValidator(_sla_targets)] = SlaTargets()
    #: The center's time zone: days and hours in reports.
    timezone: Annotated[str, AfterValidator(_time_zone)] = "Asia/Jakarta"
    #: The durable journal of call events not yet in the database (tickets/journal.py);
    #: empty: beside a SQLite database, or under ~/.local/state/ngcc112 for PostgreSQL.
    journal_path: Line = ""
    log_format: Literal["json", "console"] = "json"
    log_level: Line = "info"

    @model_validator(mode="after")
    def _backfill_reads_its_database(self) -> Settings:
        if self.backfill.source == "pgsql" and not self.database_url.startswith("postgresql"):
            raise ValueError(
                "[backfill] source 'pgsql' reads the cel table of a PostgreSQL database_url; on SQLite use 'csv'"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the arguments: the file and the environment are :func:`load_settings`' business."""
        return (init_settings,)


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
