"""The dispatcher's side of the panel: the board, one ticket, the callbacks, the ticket search, the
waiting calls and the live channel. :mod:`.setup` mounts them with the agency, report and admin pages."""
