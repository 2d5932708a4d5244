"""Stopping a service's background tasks: cancel them all, then wait for each to end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable


async def cancel_all(tasks: Iterable[asyncio.Task[object] | asyncio.Task[None] | None]) -> None:
    """Cancel every task (None skipped), then await each; a task's own error is not the stopper's."""
    pending = [task for task in tasks if task is not None]
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
