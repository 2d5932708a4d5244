"""Pure routing decisions: prank/ghost scoring, queue priority advice.

Nothing in this package does I/O or reads the clock; every time it needs is
passed in. The only action a score may lead to is a queue priority change:
no call is ever dropped, blocked or refused.
"""
