"""Helpers for the panel tests: a fake AMI link, logging in, letting the live hub settle."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone

from panel_fixtures import login as login  # the panel tests' one log-in helper, re-exported

from ngcc112 import names
from ngcc112.ami.actions import AmiAction
from ngcc112.ami.events import MemberState
from ngcc112.ami.link import AmiNotConnected
from ngcc112.ami.link_items import AmiResponse
from ngcc112.ami.link_status import LinkPhase, LinkStatus
from ngcc112.ami.message import AmiMessage

QUEUE = names.OPERATOR_QUEUE


def _response(ok: bool, message: str) -> AmiResponse:
    now = datetime.now(timezone.utc)
    msg = AmiMessage.from_mapping({"Response": "Success" if ok else "Error", "Message": message}, now)
    assert msg is not None
    return AmiResponse(response=msg)


@dataclass
class FakeLink:
    """Answers queue actions like Asterisk and reports the member events Asterisk would."""

    hub: object
    connected_: bool = True
    sent: list[AmiAction] = field(default_factory=list)
    members: dict[str, dict[str, object]] = field(default_factory=dict)
    status: LinkStatus = field(default_factory=lambda: LinkStatus(phase=LinkPhase.UP, session=1))
    refuse: str | None = None
    silent: bool = False
    listeners: list[object] = field(default_factory=list)

    def listen(self, listener) -> object:
        """As AmiLink.listen (this fake sends no raw events)."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    @property
    def connected(self) -> bool:
        return self.connected_

    def set_connected(self, up: bool) -> None:
        self.connected_ = up
        self.status.phase = LinkPhase.UP if up else LinkPhase.BACKING_OFF

    def _report(self, interface: str, in_queue: bool) -> None:
        if self.silent:
            return
        member = self.members.get(interface, {"name": interface, "paused": False, "reason": ""})
        self.hub.publish(MemberState(at=datetime.now(timezone.utc), queue=QUEUE, interface=interface,
                                     member_name=str(member["name"]), in_queue=in_queue,
                                     paused=bool(member["paused"]), pause_reason=str(member["reason"]),
                                     status=1))

    async def send(self, action: AmiAction, timeout: float | None = None) -> AmiResponse:
        if not self.connected_:
            raise AmiNotConnected(f"AMI link is down; {action.name} not sent")
        self.sent.append(action)
        if self.refuse:
            return _response(False, self.refuse)
        interface = action.get("Interface") or ""
        if action.name == "QueueAdd":
            if interface in self.members:
                return _response(False, "Unable to add interface: Already there")
            self.members[interface] = {"name": action.get("MemberName"),
                                       "paused": action.get("Paused") == "true", "reason": ""}
            self._report(interface, True)
            return _response(True, "Added interface to queue")
        if action.name == "QueuePause":
            if interface not in self.members:
                return _response(False, "Interface not found")
            self.members[interface]["paused"] = action.get("Paused") == "true"
            self.members[interface]["reason"] = action.get("Reason") or ""
            self._report(interface, True)
            return _response(True, "Interface paused successfully")
        if action.name == "QueueRemove":
            if interface not in self.members:
                return _response(False, "Unable to remove interface: Not there")
            self._report(interface, False)
            del self.members[interface]
            return _response(True, "Removed interface from queue")
        if action.name == "QueueStatus":
            now = datetime.now(timezone.utc)
            items = tuple(AmiMessage.from_mapping({
                "Event": "QueueMember", "Queue": QUEUE, "Name": str(m["name"]), "Location": interface,
                "StateInterface": interface, "Status": "1", "Paused": "1" if m["paused"] else "0",
                "PausedReason": str(m["reason"])}, now) for interface, m in self.members.items())
            return AmiResponse(response=_response(True, "Queue status will follow").response, items=items)
        return _response(False, "Invalid/unknown command")


async def settle(services) -> None:
    """Let the live consumer process what the hub has."""
    for _ in range(5):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
