"""What the migration tests ask of a database: its schema against the models, and its state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ngcc112.tickets.db import make_engine
import ngcc112.tickets.cluster_models  # noqa: F401  (registers cluster_nodes on Base.metadata)
from ngcc112.tickets.models import Base


async def inspect_database(url: str, fn: Callable[[Any], Any]) -> Any:
    """``fn(sync_connection)`` on a fresh engine for ``url``."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


async def schema_diffs(url: str) -> list[Any]:
    """Alembic's differences between the database at ``url`` and the models' metadata."""
    def compare(sync_connection: Any) -> list[Any]:
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    return await inspect_database(url, compare)
