"""Tools run beside the center, never by it: the offline evaluation of the triage rules."""
