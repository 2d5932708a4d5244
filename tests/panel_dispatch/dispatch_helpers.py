"""Helpers for the dispatch panel tests: a fake AMI link that answers Originate, logging in, tickets."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from panel_fixtures import login as login  # the panel tests' one log-in helper, re-exported

from ngcc112.ami.actions import AmiAction
from ngcc112.ami.link import AmiNotConnected
from ngcc112.ami.link_items import AmiResponse
from ngcc112.ami.link_status import LinkPhase, LinkStatus
from ngcc112.ami.message import AmiMessage
from ngcc112.tickets.models import AuditEntry, Ticket

_linkedids = itertools.count(1)


def make_app(services):
    """The panel app; ``create_app`` mounts the dispatch pages (``ngcc112.panel.dispatch.setup``)."""
    from ngcc112.panel.app import create_app

    return create_app(services)


def _response(ok: bool, message: str) -> AmiResponse:
    msg = AmiMessage.from_mapping({"Response": "Success" if ok else "Error", "Message": message},
                                  datetime.now(timezone.utc))
    assert msg is not None
    return AmiResponse(response=msg)


@dataclass
class OriginateLink:
    """Stands in for AmiLink: records every action; Originate is queued (or refused, or times out)."""

    connected_: bool = True
    sent: list[AmiAction] = field(default_factory=list)
    refuse: str | None = None
    status: LinkStatus = field(default_factory=lambda: LinkStatus(phase=LinkPhase.UP, session=1))
    sunk: list[Any] = field(default_factory=list)
    listeners: list[Any] = field(default_factory=list)

    def listen(self, listener: Any) -> Any:
        """As AmiLink.listen: every event also goes to ``listener``."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    @property
    def connected(self) -> bool:
        return self.connected_

    async def send(self, action: AmiAction, timeout: float | None = None) -> AmiResponse:
        if not self.connected_:
            raise AmiNotConnected(f"AMI link is down; {action.name} not sent")
        self.sent.append(action)
        if self.refuse:
            return _response(False, self.refuse)
        if action.name == "Originate":
            return _response(True, "Originate successfully queued")
        return _response(True, "OK")

    def originate_response(self, action_id: str, ok: bool, reason: str = "4") -> None:
        """Asterisk's OriginateResponse event arriving on the wire."""
        message = AmiMessage.from_mapping({"Event": "OriginateResponse", "ActionID": action_id,
                                           "Response": "Success" if ok else "Failure", "Reason": reason},
                                          datetime.now(timezone.utc))
        self.sunk.append(message)
        for listener in list(self.listeners):
            listener(message)


async def make_ticket(services, state: str = "escalated", *, verdict: str | None = "normal",
                      caller_number: str | None = "081234567890", abandoned: bool = False,
                      category: str | None = "fire", arrived_ago: float = 120.0,
                      entered_ago: float = 30.0, intake: dict[str, Any] | None = None) -> int:
    """A ticket in ``state`` with an audit row for entering it (as the use cases would have written)."""
    now = datetime.now(timezone.utc)
    async with services.sessions.begin() as session:
        ticket = Ticket(linkedid=f"1764230400.{next(_linkedids)}", state=state, verdict=verdict,
                        category=category, arrived_at=now - timedelta(seconds=arrived_ago), variables={},
                        score_reasons=[], abandoned=abandoned, withdrawn=False, ended_unobserved=False,
                        caller_number=caller_number,
                        intake=intake if intake is not None else {"address": "Jl. Merdeka 1, Bandung",
                                                                  "description": "Asap dari dapur"},
                        abandoned_at=now - timedelta(seconds=arrived_ago - 10) if abandoned else None,
                        ended_at=now - timedelta(seconds=arrived_ago - 10) if abandoned else None)
        session.add(ticket)
        await session.flush()
        session.add(AuditEntry(ticket_id=ticket.id, at=now - timedelta(seconds=entered_ago), actor="op1",
                               action="escalate" if state == "escalated" else "test",
                               from_state="classified" if state == "escalated" else None,
                               to_state=state, changes={}))
        return ticket.id


async def settle() -> None:
    """Let the live consumers process what the hub has."""
    for _ in range(5):
        await asyncio.sleep(0)
    await asyncio.sleep(0.02)


def redirected_back(response, page: str) -> bool:
    """Post/redirect/get: the refused form was answered 303 to ``page``, and the page came back
    (followed by the client) with 200 — the browser is on a GET URL, never on the POST's."""
    return (len(response.history) == 1 and response.history[0].status == 303
            and response.history[0].headers["Location"] == page
            and response.status == 200 and response.url.path == page)
