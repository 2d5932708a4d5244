"""Integration suite on a real Asterisk 22 (see conftest.py)."""
