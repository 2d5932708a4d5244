"""Display labels for the values the panel shows; English msgids, translated where shown."""

from __future__ import annotations

from ngcc112.tickets.intake_form import N_

PRESENCE_LABELS = {
    "ready": N_("Ready"),
    "break": N_("On break"),
    "logged_out": N_("Logged out"),
}
#: The presence label of an operator the daemon paused after a call (reason ``wrap-up``).
WRAPUP_LABEL = N_("After-call work")
BREAK_REASON_LABELS = {
    "rest": N_("Rest"),
    "meal": N_("Meal"),
    "briefing": N_("Briefing"),
    "training": N_("Training"),
    "other": N_("Other"),
}
CATEGORY_LABELS = {
    "fire": N_("Fire"),
    "traffic_accident": N_("Traffic accident"),
    "medical": N_("Medical"),
    "crime": N_("Crime"),
    "disaster": N_("Disaster"),
    "public_order": N_("Public order"),
    "utility": N_("Utility (power, water)"),
    "other": N_("Other"),
}
VERDICT_LABELS = {
    "normal": N_("Normal (emergency)"),
    "ghost": N_("Ghost call"),
    "prank": N_("Prank call"),
    "information": N_("Information request"),
}
#: One key each (with Alt) for the call types; shown on screen beside each choice.
VERDICT_KEYS = {"normal": "N", "ghost": "G", "prank": "P", "information": "I"}
#: The note a ghost, prank or information call closes with unless the operator writes another.
VERDICT_NOTES = {
    "ghost": N_("Ghost call: no voice on the line"),
    "prank": N_("Prank call: the caller reported no emergency"),
    "information": N_("Information given to the caller; no emergency"),
}
STATE_LABELS = {
    "new": N_("New"),
    "in_call": N_("In call"),
    "classified": N_("Classified"),
    "escalated": N_("Escalated"),
    "dispatched": N_("Dispatched"),
    "on_scene": N_("On scene"),
    "reported": N_("Reported"),
    "closed": N_("Closed"),
}
ROLE_LABELS = {
    "operator": N_("Operator"),
    "dispatcher": N_("Dispatcher"),
    "agency": N_("Agency"),
    "admin": N_("Administrator"),
}
#: Messages the panel's Python code shows (errors and notices).
MESSAGES = (
    N_("Note added to the ticket"),
    N_("Wrong username or password"),
    N_("Too many failed attempts. Wait a few minutes and try again."),
    N_("Too many logins at once. Try again in a few seconds."),
    N_("Enter your current password"),
    N_("Enter a new password"),
    N_("The new password is too short (at least 8 characters)"),
    N_("The new password is too long"),
    N_("The new passwords differ"),
    N_("The current password is wrong"),
    N_("Your password was changed. Your other sessions were logged out."),
    N_("Enter your username"),
    N_("Enter your password"),
    N_("The form expired or was sent from elsewhere. Reload the page and try again."),
    N_("Please log in"),
    N_("Your role may not do this"),
    N_("Asterisk is not connected: your status could not be changed. Try again in a moment."),
    N_("Asterisk did not answer in time. Try again."),
    N_("Asterisk refused the change"),
    N_("Choose ready, break or logged out"),
    N_("Choose a break reason from the list"),
    N_("This account has no softphone interface; ask an administrator"),
    N_("Not found"),
    N_("Saved"),
    N_("Ticket escalated to the dispatchers"),
    N_("Ticket closed"),
    N_("The request is not valid JSON"),
    N_("Choose a language from the list"),
    N_("This action is not possible for this ticket now"),
    N_("Please correct the marked fields"),
)
