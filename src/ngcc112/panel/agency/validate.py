"""The agency forms' checks (pure): a status update and a field report."""

from __future__ import annotations

from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.intake_form import N_


def validate_status(status: str, reason: str) -> dict[str, str]:
    if status not in {s.value for s in dispatching.STATUS_UPDATES}:
        return {"status": N_("Choose a status from the list")}
    if len(reason) > dispatching.MAX_REASON:
        return {"reason": N_("Too long")}
    if status == dispatching.DispatchStatus.CANNOT_HANDLE.value and not reason.strip():
        return {"reason": N_("Say why the agency cannot handle it")}
    return {}


def validate_report(text: str) -> dict[str, str]:
    if not text.strip():
        return {"report": N_("Write the field report")}
    if len(text) > dispatching.MAX_REPORT:
        return {"report": N_("Too long")}
    return {}
