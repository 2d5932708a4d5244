"""The client address behind proxies, and network allow-lists."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from ngcc112.addresses import client_address, matching_network


def _request(peer: str, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    request = make_mocked_request("GET", "/", headers=headers)
    return request.clone(remote=peer)


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says():
    assert client_address(_request("203.0.113.9", "10.0.0.1")) == "203.0.113.9"


def test_a_trusted_proxy_forwards_the_real_client():
    trusted = ("10.0.0.0/8",)
    assert client_address(_request("10.1.1.1", "198.51.100.7"), trusted) == "198.51.100.7"
    # the client sent its own header: the proxy appended the real address; only that counts
    assert client_address(_request("10.1.1.1", "127.0.0.1, 198.51.100.7"), trusted) == "198.51.100.7"
    # two trusted hops are skipped
    assert client_address(_request("10.1.1.1", "198.51.100.7, 10.2.2.2"), trusted) == "198.51.100.7"


def test_an_untrusted_peer_cannot_forge_its_address():
    assert client_address(_request("198.51.100.7", "127.0.0.1"), ("10.0.0.0/8",)) == "198.51.100.7"


def test_a_garbled_forwarded_header_leaves_the_peer():
    assert client_address(_request("10.1.1.1", "not-an-address"), ("10.0.0.0/8",)) == "10.1.1.1"


def test_matching_network():
    assert matching_network("10.1.2.3", ("192.168.0.0/16", "10.0.0.0/8")) == "10.0.0.0/8"
    assert matching_network("::ffff:10.1.2.3", ("10.0.0.0/8",)) == "10.0.0.0/8"
    assert matching_network("::1", ("127.0.0.1/32", "::1/128")) == "::1/128"
    assert matching_network("8.8.8.8", ("10.0.0.0/8",)) is None
    assert matching_network("", ("10.0.0.0/8",)) is None
    assert matching_network("garbage", ("10.0.0.0/8",)) is None
