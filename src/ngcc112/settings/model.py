"""The whole configuration as one pydantic-settings model: the tables, the policies, the database and the log."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, PlainValidator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ngcc112.routing.policy import Policy
from ngcc112.settings.sections import (
    AmiSettings,
    AmlSettings,
    BackfillSettings,
    CallFlowSettings,
    ClusterSettings,
    LocationSettings,
    PanelSettings,
)
from ngcc112.settings.values import Line
from ngcc112.tickets.sla import SlaTargets

PREFIX = "NGCC112_"


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
    cluster: ClusterSettings = ClusterSettings()
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

    @model_validator(mode="after")
    def _cluster_needs_postgresql(self) -> Settings:
        if self.cluster.enabled and not self.database_url.startswith("postgresql"):
            raise ValueError(
                "[cluster] enabled needs PostgreSQL (advisory locks, LISTEN/NOTIFY): database_url is SQLite;"
                " set a postgresql+asyncpg:// URL or turn cluster mode off"
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
