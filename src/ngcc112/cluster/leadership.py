"""This node's role in its site: standby until it holds the site's lock, leader until it loses it.

A :class:`Leadership` starts as a standby (it serves the panel, it does not touch
Asterisk), :meth:`~Leadership.lead` waits for the site's advisory lock
(:mod:`ngcc112.cluster.lock`) and makes it the leader; from then on it watches the lock.
The moment the lock is in doubt it calls ``on_lost`` — synchronously, before anything
else runs: the composition root fences the AMI link's actions there, while the link goes
on reading events into the journal — and asks PostgreSQL again, for as long as it takes
to get an answer. If the lock is this node's again (the database was away, or only the
lock's connection died) it calls ``on_regained`` and leads on, with every call of the gap
in its journal. If another node holds it, :attr:`~Leadership.lost` is resolved and the
node stops (systemd starts it again, as a standby): a node that another has replaced does
not try to find its way back in.

Its role and since when are written to ``cluster_nodes`` (:class:`NodeRegistry`) on every
change and every heartbeat, for ``ngcc112 cluster status``; ``/readyz`` reads :meth:`view`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog

from ngcc112.cluster.lock import LeaderLock
from ngcc112.cluster.nodes import HEARTBEAT, NodeRegistry
from ngcc112.tasks import cancel_all

log = structlog.get_logger(__name__)


class Role(StrEnum):
    LEADER = "leader"
    STANDBY = "standby"


@dataclass(frozen=True, slots=True)
class RoleView:
    """What ``/readyz``, ``/healthz`` and ``/metrics`` say of the node's role."""

    role: Role
    since: datetime
    node: str
    site: str
    #: False on a single node (no cluster): it is the leader of its only site.
    cluster: bool


class Leadership:
    def __init__(
        self,
        lock: LeaderLock,
        registry: NodeRegistry,
        *,
        now: Callable[[], datetime],
        on_lost: Callable[[str], None],
        on_regained: Callable[[], None] = lambda: None,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self._lock = lock
        self._registry = registry
        self._now = now
        self._on_lost = on_lost
        self._on_regained = on_regained
        self._heartbeat = heartbeat
        self.role = Role.STANDBY
        self.since = now()
        #: Resolved with the reason once another node took this leader's place (never on a standby).
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._tasks: list[asyncio.Task[None]] = []
        self._beat_failed = False
        self.log = log.bind(node=registry.node, site=registry.site)

    def view(self) -> RoleView:
        return RoleView(self.role, self.since, self._registry.node, self._registry.site, cluster=True)

    async def start(self) -> None:
        """Announce this node as a standby and keep its heartbeat."""
        self.log.info("cluster.standby", since=self.since.isoformat())
        await self._beat()
        self._tasks.append(asyncio.create_task(self._beating(), name="ngcc112-cluster-heartbeat"))

    async def lead(self) -> None:
        """Wait until this node holds its site's lock; it is the leader when this returns."""
        await self._lock.acquire()
        self.role, self.since = Role.LEADER, self._now()
        self.log.warning("cluster.leader", since=self.since.isoformat())
        await self._beat()
        self._tasks.append(asyncio.create_task(self._watch(), name="ngcc112-cluster-lock-watch"))

    async def stop(self) -> None:
        """Stop beating, give the lock back, take this node's row out; bounded, never raises."""
        await cancel_all(self._tasks)
        await self._lock.release()
        try:
            await asyncio.wait_for(self._registry.leave(), self._lock.lease)
        except Exception as exc:  # the row ages out of `cluster status` by itself
            self.log.warning("cluster.leave_failed", error=f"{type(exc).__name__}: {exc}"[:200])

    async def _watch(self) -> None:
        while True:
            reason = await self._lock.held()
            self.role, self.since = Role.STANDBY, self._now()
            self.log.error("cluster.leadership_lost", reason=reason)
            self._on_lost(reason)
            await self._lock.release()  # the old session, if PostgreSQL still has it, goes
            if not await self._lock.answer():
                self.log.error("cluster.replaced", reason=reason)
                if not self.lost.done():
                    self.lost.set_result(f"{reason}; another node leads the site now")
                return
            self.role, self.since = Role.LEADER, self._now()
            self.log.warning("cluster.leader_again", since=self.since.isoformat())
            self._on_regained()
            await self._beat()

    async def _beating(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            await self._beat()

    async def _beat(self) -> None:
        try:
            await asyncio.wait_for(self._registry.beat(self.role.value, self.since, self._now()), self._heartbeat)
        except Exception as exc:  # the database is away: leadership is the lock's, the row can wait
            if not self._beat_failed:
                self.log.warning("cluster.heartbeat_failed", error=f"{type(exc).__name__}: {exc}"[:200])
            self._beat_failed = True
        else:
            if self._beat_failed:
                self.log.info("cluster.heartbeat_back")
            self._beat_failed = False
