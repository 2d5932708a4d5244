"""The audit trail as the dispatcher reads it: translated labels, the center's local times,
key: value details, and who each actor is."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ngcc112.panel import labels
from ngcc112.panel.center_time import local_time
from ngcc112.panel.dispatch_labels import AUDIT_ACTION_LABELS, AUDIT_KEY_LABELS, CALLBACK_LABELS, DISPATCH_STATUS_LABELS
from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.state import GETTEXT
from ngcc112.tickets.audit_trail import actor_roles
from ngcc112.tickets.models import AuditEntry
from ngcc112.tickets.store import jsonable

_ISO_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([+-][0-9]{2}:[0-9]{2}|Z)?")
#: Values shown through a label table, by the key they come under.
_VALUE_LABELS = {
    "status": DISPATCH_STATUS_LABELS,
    "state": labels.STATE_LABELS,
    "verdict": labels.VERDICT_LABELS,
    "category": labels.CATEGORY_LABELS,
    "outcome": CALLBACK_LABELS,
    "result": CALLBACK_LABELS,
}


class AuditReader:
    """An audit row as the dispatcher reads it: translated labels, local times, key: value details."""

    def __init__(self, translate: Callable[[str], str], tz: str, roles: dict[str, str]) -> None:
        self.translate, self.tz, self.roles = translate, tz, roles

    def key(self, key: str, *, nested: bool = False) -> str:
        """A known key translated; another top-level one spelled out; a nested one (a channel
        variable, an intake field of its own) as it is."""
        label = AUDIT_KEY_LABELS.get(key)
        if label:
            return self.translate(label)
        return key if nested else key.replace("_", " ").capitalize()

    def value(self, key: str, value: Any) -> str:
        t = self.translate
        if value is None or value == "" or value == [] or value == {}:
            return "—"
        if isinstance(value, bool):
            return t("Yes") if value else t("No")
        if isinstance(value, float):
            return f"{value:.2f}".rstrip("0").rstrip(".")
        if isinstance(value, str):
            table = _VALUE_LABELS.get(key)
            if table is not None and value in table:
                return t(table[value])
            if _ISO_MOMENT.fullmatch(value):
                return local_time(value, self.tz)
            return value
        if isinstance(value, dict):
            if set(value) == {"from", "to"}:
                return f"{self.value(key, value['from'])} → {self.value(key, value['to'])}"
            return ", ".join(f"{self.key(k, nested=True)}: {self.value(k, v)}" for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return "; ".join(self.value(key, item) for item in value)
        return str(value)

    def actor_role(self, actor: str) -> str:
        role = self.roles.get(actor)
        return self.translate(labels.ROLE_LABELS[role]) if role in labels.ROLE_LABELS else self.translate("System")

    def row(self, entry: AuditEntry) -> dict[str, Any]:
        changes = entry.changes or {}
        view: dict[str, Any] = jsonable(
            {
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "from_state": entry.from_state,
                "to_state": entry.to_state,
                "changes": changes,
            }
        )
        label = AUDIT_ACTION_LABELS.get(entry.action)
        view.update(
            {
                "at_local": local_time(entry.at, self.tz),
                "action_label": self.translate(label) if label else entry.action.replace("_", " "),
                "actor_role": self.roles.get(entry.actor),
                "actor_label": self.actor_role(entry.actor),
                "details": [
                    {"key": k, "label": self.key(k), "text": self.value(k, jsonable(v))}
                    for k, v in changes.items()
                    if k != "state"
                ],
            }
        )
        return view


async def audit_trail(request: web.Request, ticket_id: int) -> list[dict[str, Any]]:
    state = request.app[DISPATCH]
    services = state.panel.services
    entries = await services.store.audit(ticket_id)
    roles = await actor_roles(services.sessions, {e.actor for e in entries})
    reader = AuditReader(request[GETTEXT], state.report_tz, roles)
    return [reader.row(e) for e in entries]
