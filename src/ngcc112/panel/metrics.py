"""``GET /metrics`` in the Prometheus text format (prometheus-client), one registry per app.

The metrics, and the details of ``/healthz`` and ``/readyz``, describe the center's
load and its weak moments (AMI down, database away): they are for its own monitoring
only. :func:`operator_view_allowed` admits a client from ``panel.metrics_allow``
(loopback by default) or one that sends ``Authorization: Bearer <panel.metrics_token>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ngcc112.addresses import client_address, matching_network
from ngcc112.ami.link_status import LinkPhase
from ngcc112.cluster.leadership import Role
from ngcc112.panel.health import database_ok, role_view, ticket_counts
from ngcc112.panel.state import PANEL, Panel
from ngcc112.tickets.states import State

routes = web.RouteTableDef()
METRICS_REGISTRY = web.AppKey("ngcc112_metrics_registry", CollectorRegistry)

#: Every phase the link can be in, each a label of ngcc112_ami_link_phase.
LINK_PHASES = tuple(p.value for p in LinkPhase)


class PanelCollector:
    """Reads a snapshot taken just before each scrape (the ticket counts need the database)."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] = {}

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        if not s:
            return
        up = GaugeMetricFamily("ngcc112_ami_link_up", "1 when the AMI link to Asterisk is logged in")
        up.add_metric([], 1.0 if s["ami_connected"] else 0.0)
        yield up
        phase = GaugeMetricFamily("ngcc112_ami_link_phase", "1 for the AMI link's current phase", labels=["phase"])
        for name in LINK_PHASES:
            phase.add_metric([name], 1.0 if s["ami_phase"] == name else 0.0)
        yield phase
        reconnects = CounterMetricFamily("ngcc112_ami_reconnects", "AMI reconnect attempts since start")
        reconnects.add_metric([], s["ami_reconnects"])
        yield reconnects
        live = GaugeMetricFamily("ngcc112_calls_live", "112 calls Asterisk currently has")
        live.add_metric([], s["live_calls"])
        yield live
        events = CounterMetricFamily("ngcc112_ami_events", "AMI events received since start")
        events.add_metric([], s["ami_events"])
        yield events
        written = CounterMetricFamily("ngcc112_ticket_writes", "Call events written to tickets since start")
        written.add_metric([], s["tickets_written"])
        yield written
        backlog = GaugeMetricFamily("ngcc112_ticket_backlog", "Call events waiting for the database")
        backlog.add_metric([], s["db_backlog"])
        yield backlog
        tickets = GaugeMetricFamily("ngcc112_tickets", "Tickets in the database by state", labels=["state"])
        for state in State:
            tickets.add_metric([state.value], s["tickets"].get(state.value, 0))
        yield tickets
        role = s["role"]
        leader = GaugeMetricFamily(
            "ngcc112_cluster_leader",
            "1 while this node leads its site (a single node always does)",
            labels=["node", "site"],
        )
        leader.add_metric([role.node, role.site], 1.0 if role.role is Role.LEADER else 0.0)
        yield leader
        clients = GaugeMetricFamily("ngcc112_websocket_clients", "Open panel websockets")
        clients.add_metric([], s["websocket_clients"])
        yield clients
        dropped = CounterMetricFamily("ngcc112_websocket_dropped", "Websockets dropped for being too slow")
        dropped.add_metric([], s["websocket_dropped"])
        yield dropped
        operators = GaugeMetricFamily("ngcc112_operators", "Queue members by presence", labels=["presence"])
        for presence, count in s["operators"].items():
            operators.add_metric([presence], count)
        yield operators
        aml = s.get("aml")
        if aml:
            for key, help_text in AML_COUNTERS.items():
                counter = CounterMetricFamily(f"ngcc112_{key}", help_text)
                counter.add_metric([], aml.get(key, 0))
                yield counter
            spooled = GaugeMetricFamily("ngcc112_aml_spooled", "AML messages waiting for the database")
            spooled.add_metric([], aml.get("aml_spooled", 0))
            yield spooled


#: The AML intake's counts (aml_http.AmlIntake.status), as counters.
AML_COUNTERS = {
    "aml_received": "AML messages received since start",
    "aml_refused": "AML messages refused: the sender did not prove itself (kept as evidence, never matched)",
    "aml_rate_limited": "AML messages over their sender's budget (429, not stored)",
    "aml_dropped": "AML messages lost because the spool was full while the database was away",
}


COLLECTOR = web.AppKey("ngcc112_metrics_collector", PanelCollector)


def setup(app: web.Application) -> None:
    registry = CollectorRegistry(auto_describe=False)
    collector = PanelCollector()
    registry.register(collector)
    app[METRICS_REGISTRY] = registry
    app[COLLECTOR] = collector


def monitoring_allowed(request: web.Request) -> bool:
    """May this client read /metrics and the health details? (see the module docstring)"""
    settings = request.app[PANEL].services.settings.panel
    token = settings.metrics_token.get_secret_value()
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
            return True
    address = client_address(request, settings.trusted_proxies)
    return matching_network(address, settings.metrics_allow) is not None


def _aml_status(panel: Panel) -> dict[str, int]:
    return panel.services.aml_intake.status()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    if not monitoring_allowed(request):
        return web.json_response(
            {
                "error": "the metrics are for the center's monitoring: send the metrics token as "
                "'Authorization: Bearer …' or ask from an address in [panel] metrics_allow"
            },
            status=403,
        )
    panel = request.app[PANEL]
    status = panel.services.daemon.status()
    db_ok, _ = await database_ok(request)
    request.app[COLLECTOR].snapshot = {
        **status,
        "tickets": await ticket_counts(request) if db_ok else {},
        "websocket_clients": panel.live.client_count,
        "websocket_dropped": panel.live.dropped_clients,
        "operators": panel.presence.counts(),
        "aml": _aml_status(panel),
        "role": role_view(panel),
    }
    body = generate_latest(request.app[METRICS_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
