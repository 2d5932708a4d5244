"""The AMI layer: the link to Asterisk, typed messages and actions, the call tracker.

It knows nothing of tickets or the web: AMI traffic goes in, typed call events
come out (:mod:`ngcc112.ami.events`), typed actions go back
(:mod:`ngcc112.ami.actions`).
"""
