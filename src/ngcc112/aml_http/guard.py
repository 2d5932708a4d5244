"""Who may post AML messages, and how much each may store: the intake's guard.

A sender proves itself with its secret (``Authorization: Bearer``, an ``X-AML-Signature``
HMAC of the body or ``?key=``) or its client address (``[aml] allow_networks``); its
budget is its name's, anyone else's its address's, and all refused clients share one more.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from ngcc112.addresses import client_address
from ngcc112.location.senders import Credentials, Verdict, authenticate, parse_senders
from ngcc112.location.throttle import MAX_KEYS, Budget, Throttle, address_key, retry_after
from ngcc112.settings import AmlSettings
from ngcc112.tickets.locations import MAX_STORED_BYTES

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-AML-Signature"
KEY_PARAMETER = "key"
#: Bytes kept of a refused message: evidence of who tried what, not a disk to fill.
REFUSED_KEPT_BYTES = 4096
_ALL_REFUSED = "refused:*"


@dataclass(frozen=True, slots=True)
class Admission:
    """The guard's answer to one request: who it is, and how long it must wait (0: not)."""

    verdict: Verdict
    key: str
    wait: float = 0.0


class AmlGuard:
    """Who may post AML messages, and how much each may store.

    The budget of a sender that proved itself with its secret is its name's;
    anyone else's is its client address's (an IPv6 client's /64), and refused
    clients also share one budget between them all. ``monotonic`` is the clock
    the budgets refill on (injected by tests).
    """

    def __init__(
        self,
        settings: AmlSettings | None = None,
        *,
        trusted_proxies: tuple[str, ...] = (),
        monotonic: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        settings = settings or AmlSettings()
        self.senders = parse_senders(entry.get_secret_value() for entry in settings.senders)
        self.allow_networks = tuple(settings.allow_networks)
        self.trusted_proxies = tuple(trusted_proxies)
        budget = Budget(settings.rate_per_minute, settings.bytes_per_hour)
        self.throttle = Throttle(budget, monotonic, max_keys)
        #: Every refused client together: many addresses cannot fill the disk either.
        self.refused_throttle = Throttle(budget, monotonic, 1)
        self._limited: set[str] = set()

    def credentials(self, request: web.BaseRequest, body: bytes, size: int) -> Credentials:
        """What the request offers as proof, and the client's address (behind trusted proxies)."""
        bearer, problem = None, None
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            scheme, _, value = authorization.strip().partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                bearer = value.strip()
            else:
                problem = "the Authorization header must be Bearer <secret>"
        return Credentials(
            address=client_address(request, self.trusted_proxies),
            body=body,
            bearer=bearer,
            signature=request.headers.get(SIGNATURE_HEADER),
            key=request.query.get(KEY_PARAMETER),
            body_cut=size > len(body),
            problem=problem,
        )

    def admit(self, credentials: Credentials, size: int) -> Admission:
        """Authenticate, then spend the budget of the sender (or of the refused address)."""
        verdict = authenticate(credentials, self.senders, self.allow_networks)
        if verdict.sender is not None:
            key = f"sender:{verdict.sender}"
        else:
            key = f"address:{address_key(credentials.address)}"
        kept = min(size, REFUSED_KEPT_BYTES if verdict.refused else MAX_STORED_BYTES)
        budgets = [(self.throttle, key)]
        if verdict.refused is not None:
            budgets.append((self.refused_throttle, _ALL_REFUSED))
        wait = max(throttle.wait(name, kept) for throttle, name in budgets)
        if wait > 0:
            self._note_limited(key, wait)
            return Admission(verdict, key, wait)
        for throttle, name in budgets:
            throttle.take(name, kept)
        self._limited.discard(key)
        return Admission(verdict, key)

    def _note_limited(self, key: str, wait: float) -> None:
        """The first refusal of an episode is a warning, the repeats debug (no log storm)."""
        first = key not in self._limited
        if first:
            if len(self._limited) >= MAX_KEYS:
                self._limited.clear()
            self._limited.add(key)
        (log.warning if first else log.debug)("aml.rate_limited", key=key, retry_after=retry_after(wait))
