"""Live triage: the service that scores each 112 call while it happens (:mod:`.service`), what it
keeps per call (:mod:`.live`) and how it writes scores and positions on the ticket (:mod:`.saving`).

The rules it applies are :mod:`ngcc112.routing`'s; the storage is :mod:`ngcc112.tickets`'.
"""
