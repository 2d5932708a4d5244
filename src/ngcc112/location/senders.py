"""Who posted an AML message: a configured sender (by its secret), an allowed network, or no one.

A sender proves itself with its shared secret in one of three ways, all
compared in constant time:

* ``Authorization: Bearer <secret>``;
* ``X-AML-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw body with the secret;
* ``?key=<secret>`` in the URL (Android ELS endpoints are configured as a URL).

Every credential presented must be right: a wrong one is refused even from an
allowed network (a misconfigured gateway should hear about it). Without any,
a client address inside ``allow_networks`` is enough. The texts here never
hold a secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

from ngcc112.addresses import matching_network

SIGNATURE_PREFIX = "sha256="


@dataclass(frozen=True, slots=True)
class Sender:
    """A configured AML sender (``[aml] senders`` entry ``name:secret``)."""

    name: str
    secret: bytes = field(repr=False)


def parse_senders(entries: Iterable[str]) -> tuple[Sender, ...]:
    """``("gateway:secret", …)`` → senders (the settings checked the entries at load)."""
    senders = []
    for entry in entries:
        name, _, secret = entry.partition(":")
        senders.append(Sender(name.strip(), secret.encode("utf-8")))
    return tuple(senders)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What one request offers to prove its sender (``None``: not offered)."""

    address: str
    body: bytes = b""
    bearer: str | None = field(default=None, repr=False)
    signature: str | None = None
    key: str | None = field(default=None, repr=False)
    #: The body was not read in full, so a signature over it cannot be checked.
    body_cut: bool = False
    #: A credential offered in a form we do not take (``Authorization: Basic …``).
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """``authenticated_as`` (``secret:<name>``, ``network:<cidr>``) or ``refused`` (why)."""

    authenticated_as: str | None = None
    refused: str | None = None
    #: The configured sender's name when it proved itself with its secret.
    sender: str | None = None


def authenticate(credentials: Credentials, senders: Iterable[Sender], allow_networks: Iterable[str]) -> Verdict:
    """The verdict on one request; see the module docstring."""
    senders = tuple(senders)
    named: set[str] = set()
    for label, name in _proofs(credentials, senders):
        if name is None:
            return Verdict(refused=label)
        named.add(name)
    if len(named) > 1:
        return Verdict(refused="the credentials name different senders")
    if named:
        (name,) = named
        return Verdict(authenticated_as=f"secret:{name}", sender=name)
    network = matching_network(credentials.address, allow_networks)
    if network is not None:
        return Verdict(authenticated_as=f"network:{network}")
    return Verdict(
        refused="no credentials (Authorization: Bearer, X-AML-Signature or ?key=) and "
        f"{credentials.address or 'the client address'} is not in "
        "[aml] allow_networks"
    )


def _proofs(credentials: Credentials, senders: tuple[Sender, ...]) -> Iterable[tuple[str, str | None]]:
    """(what was wrong, None) or (label, the sender it proves) for each credential offered."""
    if credentials.problem is not None:
        yield credentials.problem, None
    if credentials.signature is not None:
        if not credentials.signature.strip().lower().startswith(SIGNATURE_PREFIX):
            yield "X-AML-Signature must be sha256=<hex of the body's HMAC-SHA256>", None
        if credentials.body_cut:
            yield "the body is too large for its X-AML-Signature to be checked", None
        yield "X-AML-Signature does not match any sender's secret", _signed_by(credentials, senders)
    if credentials.bearer is not None:
        yield "the Authorization bearer secret is not a sender's", _owner(credentials.bearer, senders)
    if credentials.key is not None:
        yield "the key= secret is not a sender's", _owner(credentials.key, senders)


def _owner(secret: str, senders: tuple[Sender, ...]) -> str | None:
    """The sender whose secret this is; every secret compared, each in constant time."""
    offered = hashlib.sha256(secret.encode("utf-8")).digest()
    found = None
    for sender in senders:
        if hmac.compare_digest(offered, hashlib.sha256(sender.secret).digest()):
            found = found or sender.name
    return found


def _signed_by(credentials: Credentials, senders: tuple[Sender, ...]) -> str | None:
    text = (credentials.signature or "").strip()
    offered = text[len(SIGNATURE_PREFIX) :].strip().lower().encode("ascii", errors="replace")
    found = None
    for sender in senders:
        expected = hmac.new(sender.secret, credentials.body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(offered, expected.encode("ascii")):
            found = found or sender.name
    return found


def signature(secret: str, body: bytes) -> str:
    """The ``X-AML-Signature`` value a sender sends with ``body`` (for gateways and tests)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
