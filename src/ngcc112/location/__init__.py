"""Caller location: SIP geolocation and Advanced Mobile Location parsers, fix matching.

Pure functions only: parsers never raise on what a caller's network sends
them (they return None or list errors), and never read the clock.
"""
