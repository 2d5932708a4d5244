"""``ngcc112 cluster status``: one line per live node (name, site, role, since when), or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime, timezone

from ngcc112 import logs
from ngcc112.cli.exits import EXIT_FAILED, EXIT_OK, fatal
from ngcc112.settings import Settings


def cluster(args: argparse.Namespace, settings: Settings) -> int:
    from ngcc112.cluster.nodes import LIVE, NodeStatus, live_nodes, status_line
    from ngcc112.tickets.db import make_engine, make_sessions

    logs.configure("console", "warning")
    if not settings.database_url.startswith("postgresql"):
        return fatal("cluster mode needs PostgreSQL: database_url is SQLite, so this is a single node")

    async def read(now: datetime) -> list[NodeStatus]:
        engine = make_engine(settings.database_url)
        try:
            return await live_nodes(make_sessions(engine), now)
        finally:
            await engine.dispose()

    now = datetime.now(timezone.utc)
    try:
        nodes = asyncio.run(read(now))
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return fatal(f"cannot read the cluster's nodes: {first} (did you run `ngcc112 db upgrade`?)")
    if args.json:
        print(json.dumps({"at": now.isoformat(), "nodes": [node.as_json() for node in nodes]}, ensure_ascii=False))
    else:
        for node in nodes:
            print(status_line(node, now))
        if not nodes:
            print(
                f"no live node: none has reported in the last {LIVE:g} s (is `ngcc112 run` up with NGCC112_CLUSTER=on?)"
            )
    leaderless = sorted({n.site for n in nodes} - {n.site for n in nodes if n.role == "leader"})
    for site in leaderless:
        if not args.json:
            print(f"site {site}: no leader (a standby takes over within seconds; if this stays, see docs/cluster.md)")
    return EXIT_OK if nodes and not leaderless else EXIT_FAILED
