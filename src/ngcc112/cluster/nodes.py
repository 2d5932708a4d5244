"""Who is in the cluster: each node's own row in ``cluster_nodes``, and ``ngcc112 cluster status``.

:class:`NodeRegistry` writes this node's row (site, role, since when, pid, host) when its
role changes and every :data:`HEARTBEAT` seconds; a row not refreshed for :data:`LIVE`
seconds is a node that is gone (killed, cut off). :func:`live_nodes` reads the live ones and
:func:`status_line` is one of them as ``ngcc112 cluster status`` prints it. The rows only
describe; the advisory lock (:mod:`ngcc112.cluster.lock`) decides.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.tickets.cluster_models import ClusterNodeRow

log = structlog.get_logger(__name__)

#: Seconds between a node's heartbeats.
HEARTBEAT = 2.0
#: A node whose last heartbeat is older than this many seconds is not live.
LIVE = 10.0


@dataclass(frozen=True, slots=True)
class NodeStatus:
    node: str
    site: str
    role: str
    since: datetime
    seen_at: datetime
    pid: int
    host: str

    def as_json(self) -> dict[str, object]:
        return {
            "node": self.node,
            "site": self.site,
            "role": self.role,
            "since": self.since.isoformat(),
            "seen_at": self.seen_at.isoformat(),
            "pid": self.pid,
            "host": self.host,
        }


class NodeRegistry:
    """This node's row: :meth:`beat` writes it (insert or update), :meth:`leave` removes it."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], node: str, site: str) -> None:
        self._sessions = sessions
        self.node = node
        self.site = site
        self._pid = os.getpid()
        self._host = socket.gethostname()[:255]

    async def beat(self, role: str, since: datetime, now: datetime) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(ClusterNodeRow, self.node)
            if row is None:
                row = ClusterNodeRow(node=self.node, pid=self._pid, host=self._host)
                session.add(row)
            row.site, row.role, row.since, row.seen_at = self.site, role, since, now
            row.pid, row.host = self._pid, self._host

    async def leave(self) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(ClusterNodeRow).where(ClusterNodeRow.node == self.node))


async def live_nodes(
    sessions: async_sessionmaker[AsyncSession], now: datetime, *, within: float = LIVE
) -> list[NodeStatus]:
    """The nodes seen in the last ``within`` seconds, by site, the leader first, then by name."""
    cutoff = now - timedelta(seconds=within)
    async with sessions() as session:
        rows = (await session.scalars(select(ClusterNodeRow).where(ClusterNodeRow.seen_at >= cutoff))).all()
    nodes = [NodeStatus(r.node, r.site, r.role, r.since, r.seen_at, r.pid, r.host) for r in rows]
    return sorted(nodes, key=lambda n: (n.site, n.role != "leader", n.node))


def status_line(node: NodeStatus, now: datetime) -> str:
    """``node-a  site main  leader   since 2026-12-08 00:12:03Z (4 min 10 s)  pid 4242 on host-a``."""
    since = node.since.strftime("%Y-%m-%d %H:%M:%SZ")
    return (
        f"{node.node:<16} site {node.site:<10} {node.role:<8} since {since} ({_age(now - node.since)})"
        f"  pid {node.pid} on {node.host}"
    )


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
