"""``cluster_nodes`` and ``ngcc112 cluster status``: who is live, in which role, since when."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ngcc112.cluster.nodes import NodeRegistry, NodeStatus, live_nodes, status_line
from ngcc112.tickets.db import make_engine, make_sessions

NGCC112 = str(Path(sys.executable).with_name("ngcc112"))
T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


async def test_live_nodes_are_those_seen_lately_the_leader_first(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    try:
        await NodeRegistry(sessions, "node-b", "main").beat("standby", T0, T0 + timedelta(seconds=30))
        await NodeRegistry(sessions, "node-a", "main").beat("leader", T0, T0 + timedelta(seconds=29))
        await NodeRegistry(sessions, "node-old", "main").beat("leader", T0, T0)  # killed long ago
        other = NodeRegistry(sessions, "kota-1", "kota")
        await other.beat("standby", T0, T0 + timedelta(seconds=28))
        await other.beat("leader", T0 + timedelta(seconds=29), T0 + timedelta(seconds=30))  # its role changed

        nodes = await live_nodes(sessions, T0 + timedelta(seconds=31))

        assert [(n.node, n.site, n.role) for n in nodes] == [
            ("kota-1", "kota", "leader"),
            ("node-a", "main", "leader"),
            ("node-b", "main", "standby"),
        ]
        await other.leave()
        assert "kota-1" not in {n.node for n in await live_nodes(sessions, T0 + timedelta(seconds=31))}
    finally:
        await engine.dispose()


def test_a_status_line_names_the_node_its_site_role_and_since_when() -> None:
    node = NodeStatus("node-a", "main", "leader", T0, T0 + timedelta(minutes=4), 4242, "host-a")
    line = status_line(node, T0 + timedelta(minutes=4, seconds=10))
    assert line.split()[:4] == ["node-a", "site", "main", "leader"]
    assert "since 2026-12-08 01:00:00Z (4 min 10 s)" in line and "pid 4242 on host-a" in line
    assert json.loads(json.dumps(node.as_json()))["since"] == T0.isoformat()


def test_cluster_status_on_sqlite_says_there_is_no_cluster(tmp_path: Path) -> None:
    env = {"NGCC112_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([NGCC112, "cluster", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "cluster mode needs PostgreSQL" in done.stderr


def test_cluster_mode_on_sqlite_refuses_to_start(tmp_path: Path) -> None:
    env = {
        "NGCC112_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        "NGCC112_CLUSTER": "on",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run([NGCC112, "run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "[cluster] enabled needs PostgreSQL" in done.stderr and "Traceback" not in done.stderr
