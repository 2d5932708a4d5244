"""The dispatch side's labels and messages (English msgids, translated where shown) and its
catalogs (``locale/<lang>/LC_MESSAGES/dispatch.po``) merged into the panel's."""

from __future__ import annotations

import gettext

from ngcc112.panel.i18n import LANGUAGES, add_domain, load_domain
from ngcc112.tickets.intake_form import N_

DOMAIN = "dispatch"
DISPATCH_STATUS_LABELS = {
    "sent": N_("Sent"),
    "acknowledged": N_("Acknowledged"),
    "en_route": N_("En route"),
    "on_scene": N_("On scene"),
    "handled": N_("Handled"),
    "cannot_handle": N_("Cannot handle"),
}
STAGE_LABELS = {
    "queue_wait": N_("Queue wait"),
    "intake": N_("Intake"),
    "classification": N_("Classification"),
    "dispatch": N_("Dispatch"),
    "field_handling": N_("Field handling"),
    "closing": N_("Closing"),
}
#: Every action an audit row can name (store: one per call event; intake, triage, dispatch,
#: callbacks, locations, backfill): a test checks this against the code that writes them.
AUDIT_ACTION_LABELS = {
    "call_arrived": N_("Call arrived"),
    "caller_identified": N_("Caller identified"),
    "call_variables": N_("Call details from Asterisk"),
    "call_queued": N_("Call queued"),
    "operator_ringing": N_("Operator's phone ringing"),
    "operator_ring_no_answer": N_("Operator did not answer"),
    "call_connected": N_("Call answered by an operator"),
    "call_abandoned": N_("Caller hung up before an answer"),
    "call_withdrawn": N_("Call left the queue"),
    "caller_talking": N_("Caller speaking"),
    "caller_digit": N_("Caller pressed a key"),
    "call_ended": N_("Call ended"),
    "recovered": N_("Recovered from Asterisk's call records"),
    "dispatch": N_("Dispatched"),
    "acknowledge": N_("Acknowledged"),
    "dispatch_status": N_("Status update"),
    "field_report": N_("Field report"),
    "close": N_("Closed"),
    "callback": N_("Callback placed"),
    "callback_result": N_("Callback result"),
    "callback_outcome": N_("Callback outcome"),
    "classify": N_("Classified"),
    "escalate": N_("Escalated"),
    "intake_saved": N_("Intake saved"),
    "scored": N_("Scored"),
    "location_fix": N_("Position received"),
    "location_accepted": N_("Position accepted"),
    "aml_received": N_("AML message received"),
    "call_note": N_("Operator's note during the call"),
}
#: The audit rows' detail keys, as the dispatcher reads them (others are shown with spaces for '_').
AUDIT_KEY_LABELS = {
    "caller_number": N_("Number"),
    "caller_name": N_("Name"),
    "caller_presentation": N_("Number shown"),
    "channel": N_("Channel"),
    "exten": N_("Dialled number"),
    "variables": N_("Call details"),
    "queue": N_("Queue"),
    "queue_position": N_("Place in the queue"),
    "queue_priority": N_("Queue priority"),
    "queued_at": N_("Queued"),
    "arrived_at": N_("Arrived"),
    "ringing_at": N_("Ringing since"),
    "ringing_interface": N_("Ringing phone"),
    "answered_at": N_("Answered"),
    "operator_interface": N_("Operator's phone"),
    "operator_name": N_("Operator"),
    "waited_seconds": N_("Waited (seconds)"),
    "ended_at": N_("Ended"),
    "hangup_cause": N_("Hang-up cause"),
    "hangup_cause_text": N_("Hang-up cause"),
    "abandoned": N_("Hung up before an answer"),
    "abandoned_at": N_("Hung up"),
    "withdrawn": N_("Left the queue"),
    "caller_talked_at": N_("Caller spoke"),
    "silent_digit": N_("Key pressed"),
    "silent_digit_at": N_("Key pressed at"),
    "state": N_("State"),
    "verdict": N_("Verdict"),
    "category": N_("Category"),
    "classified_at": N_("Classified"),
    "closed_at": N_("Closed"),
    "ghost_score": N_("Ghost score"),
    "prank_score": N_("Prank score"),
    "score_reasons": N_("Reasons"),
    "intake": N_("Intake"),
    "note": N_("Note"),
    "address": N_("Address"),
    "description": N_("Description"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "caller_waiting": N_("Caller still on the line"),
    "dispatches": N_("Agencies"),
    "dispatch": N_("Dispatch"),
    "agency": N_("Agency"),
    "instructions": N_("Instructions"),
    "status": N_("Status"),
    "reason": N_("Reason"),
    "report": N_("Field report"),
    "on_behalf_of": N_("On behalf of"),
    "acknowledged_at": N_("Acknowledged"),
    "acknowledged_by": N_("Acknowledged by"),
    "override_reason": N_("Reason for closing now"),
    "unreported": N_("Not reported"),
    "number": N_("Number"),
    "interface": N_("Softphone"),
    "outcome": N_("Outcome"),
    "result": N_("Result"),
    "reason_text": N_("Meaning"),
    "message": N_("Message"),
    "fix_id": N_("Position"),
    "source": N_("Source"),
    "radius_m": N_("Accuracy (m)"),
    "confidence_pct": N_("Confidence (%)"),
    "method": N_("Method"),
    "time": N_("Measured"),
    "doubts": N_("Doubts"),
    "errors": N_("Errors"),
}
CALLBACK_LABELS = {
    "queued": N_("Queued"),
    "refused": N_("Refused by Asterisk"),
    "unknown": N_("Unknown (no answer from Asterisk)"),
    "success": N_("Answered"),
    "failure": N_("Not answered"),
}
CALLBACK_OUTCOME_LABELS = {
    "reached": N_("Reached"),
    "no_answer": N_("No answer"),
    "dismissed": N_("Dismissed"),
}
AGENCY_KIND_LABELS = {"OPD": N_("OPD (regional government unit)"), "Instansi": N_("Instansi (other agency)")}
#: Messages this module's Python code shows (errors and notices); translated where shown.
MESSAGES = (
    N_("Choose at least one agency"),
    N_("Too long"),
    N_("Give the reason for closing before every agency has reported"),
    N_("Choose a status from the list"),
    N_("Say why the agency cannot handle it"),
    N_("Write the field report"),
    N_("Dispatched to the agencies"),
    N_("Ticket closed"),
    N_("Acknowledged"),
    N_("Status updated"),
    N_("Field report sent"),
    N_("This action is not possible for this ticket now"),
    N_("Asterisk is not connected: the callback was not placed. Try again in a moment."),
    N_("Callback placed: your softphone rings first"),
    N_("The callback could not be placed"),
    N_("Enter a date like 2026-11-28"),
    N_("The end is before the start"),
    N_("At most 366 days"),
    N_("Unknown time zone; use a name such as Asia/Jakarta"),
    N_("2-40 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter"),
    N_("At least 8 characters"),
    N_("Choose a role from the list"),
    N_("A softphone interface like PJSIP/op1, or empty"),
    N_("Choose an agency from the list"),
    N_("2-32 characters: lower-case letters, digits, '_' or '-', starting with a letter"),
    N_("Enter a name"),
    N_("Choose OPD or Instansi"),
    N_("User added"),
    N_("User updated"),
    N_("Agency added"),
    N_("Agency updated"),
    N_("Not accepted"),
    N_("Your role may not do this"),
    N_("Please log in"),
    N_("Not found"),
    N_("Yes"),
    N_("No"),
    N_("System"),
    N_("The agency said it cannot handle this dispatch: its reason is the report, no field report follows"),
    N_("Choose an outcome from the list"),
    N_("This call was not abandoned: there is no callback to record"),
    N_("The outcome of this callback is already recorded"),
    N_("Outcome recorded"),
)


def load_dispatch_catalogs() -> dict[str, gettext.NullTranslations]:
    """This module's catalogs (``locale/<lang>/LC_MESSAGES/{DOMAIN}.po``), compiled in memory."""
    return {language: load_domain(language, DOMAIN) for language in LANGUAGES}


def merge_catalogs(catalogs: dict[str, gettext.NullTranslations]) -> None:
    """Let the panel's catalogs fall back to ours for msgids they do not have. Idempotent."""
    add_domain(catalogs, DOMAIN)


ATTENTION_LABELS = {
    "awaiting_dispatch": N_("Awaiting dispatch"),
    "cannot_handle": N_("Agency cannot handle"),
    "overdue_acknowledgement": N_("Not acknowledged in time"),
    "overdue_arrival": N_("Not on scene in time"),
}


class DispatchLabels:
    """Label tables for the templates (``dlabels``)."""

    DISPATCH_STATUS = DISPATCH_STATUS_LABELS
    STAGE = STAGE_LABELS
    ATTENTION = ATTENTION_LABELS
    AUDIT_ACTION = AUDIT_ACTION_LABELS
    AGENCY_KIND = AGENCY_KIND_LABELS
    CALLBACK = CALLBACK_LABELS
    CALLBACK_OUTCOME = CALLBACK_OUTCOME_LABELS
