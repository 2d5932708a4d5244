"""The tickets domain: every 112 call's ticket, its states, its audit trail, persistence."""
