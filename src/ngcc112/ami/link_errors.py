"""What the AMI link raises: one base, and a class per thing a caller handles differently."""

from __future__ import annotations


class AmiError(Exception):
    """Base of the link's errors."""


class AmiAuthError(AmiError):
    """Asterisk refused the login (wrong username or secret). Fatal."""


class AmiUnreachableError(AmiError):
    """Asterisk could not be reached when the daemon started."""


class AmiNotConnected(AmiError):
    """An action was sent while the link is down."""


class AmiNotLeader(AmiNotConnected):
    """An action was sent on a node that is not its site's leader (cluster mode): refused, nothing sent.

    A subclass of :class:`AmiNotConnected` because it means the same to a caller (nothing
    reached Asterisk); its message says why, for the operator and the log.
    """


class AmiActionTimeout(AmiError):
    """Asterisk did not answer an action in time."""
