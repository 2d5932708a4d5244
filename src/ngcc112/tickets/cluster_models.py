"""The nodes of a cluster as they report themselves: one row per ``ngcc112 run`` (``cluster_nodes``).

Each node writes its own row every few seconds (:mod:`ngcc112.cluster.nodes`): its site, its
role and since when. Leadership itself is the PostgreSQL advisory lock, never this table;
the rows are what ``ngcc112 cluster status`` and a sysadmin read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ngcc112.tickets.models import Base


class ClusterNodeRow(Base):
    __tablename__ = "cluster_nodes"

    #: ``[cluster] node_name`` (``NGCC112_NODE_NAME``).
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(32), index=True)
    #: ``leader`` or ``standby``.
    role: Mapped[str] = mapped_column(String(16))
    #: When the node took this role.
    since: Mapped[datetime]
    #: The node's last heartbeat; a node not seen for a while is not live.
    seen_at: Mapped[datetime]
    #: The node's process id and host, for the sysadmin who has to find it.
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
