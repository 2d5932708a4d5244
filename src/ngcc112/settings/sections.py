"""The tables of the settings file, one model each: [ami], [calls], [panel], [location], [aml], [backfill],
[cluster]."""

from __future__ import annotations

import socket
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr
from pydantic_settings import NoDecode

from ngcc112 import names
from ngcc112.settings.values import Line, Names, Networks, OptionalToken, Port, Seconds, listed


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
    senders: Annotated[tuple[SecretStr, ...], NoDecode, BeforeValidator(listed), AfterValidator(_senders)] = ()
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


def _node_name(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > 64:
        raise ValueError("at most 64 characters (it names the node in cluster_nodes)")
    return value


class ClusterSettings(Section):
    """Several ``ngcc112 run`` on one PostgreSQL: one leader per site follows its Asterisk, the others stand by."""

    #: Off: a single node (SQLite or PostgreSQL). On: leadership through a PostgreSQL
    #: advisory lock per site, panel events shared through LISTEN/NOTIFY (PostgreSQL only).
    enabled: bool = False
    #: This node's name in ``ngcc112 cluster status`` and ``/readyz`` (the host name by default).
    node_name: Annotated[Line, AfterValidator(_node_name)] = Field(default_factory=socket.gethostname)
    #: The site this node serves: the one Asterisk it watches, the tag on its tickets.
    site: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")] = "main"
