"""Who is on the other end of an HTTP request, and whether a network is allowed.

Login throttling, the AML allow-list and the /metrics allow-list all ask the
same question. Behind a reverse proxy the TCP peer is the proxy: only when that
peer is one of the configured ``trusted_proxies`` is ``X-Forwarded-For`` read,
right to left, skipping the trusted hops; a client cannot forge its address by
sending the header itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """The parsed networks (settings are checked at load, so these parse)."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def matching_network(address: str, cidrs: Iterable[str]) -> str | None:
    """The first of ``cidrs`` that holds ``address`` (as written in the settings), or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    cidrs = tuple(cidrs)
    for cidr, network in zip(cidrs, networks(cidrs), strict=True):
        if ip.version == network.version and ip in network:
            return cidr
    return None


def client_address(request: web.BaseRequest, trusted_proxies: tuple[str, ...] = ()) -> str:
    """The client's address: the TCP peer, or what trusted proxies forwarded ("" if unknown)."""
    peer = request.remote or ""
    if not trusted_proxies or matching_network(peer, trusted_proxies) is None:
        return peer
    hops = [hop.strip() for header in request.headers.getall("X-Forwarded-For", []) for hop in header.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        if matching_network(hop, trusted_proxies) is None:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a garbled header: trust nothing in it
    return peer
