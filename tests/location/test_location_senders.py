"""Who posted an AML message: a sender's secret (bearer, HMAC, key=), an allowed network, or no one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ngcc112.location.senders import Credentials, authenticate, parse_senders, signature

SECRET = "gw-secret-0123456789abcdef"
OTHER = "els-secret-fedcba9876543210"
SENDERS = parse_senders((f"sms-gateway:{SECRET}", f" android-els :{OTHER}"))
ALLOW = ("10.20.0.0/16",)
BODY = b'A"ML=1;lt=-6.2;lg=106.8;rd=10'


def verdict(address: str = "203.0.113.9", **offered):
    return authenticate(Credentials(address=address, body=BODY, **offered), SENDERS, ALLOW)


def test_senders_are_name_and_secret_and_the_secret_may_hold_colons() -> None:
    (sender,) = parse_senders(("gw:abc:def:0123456789abcdef",))
    assert (sender.name, sender.secret) == ("gw", b"abc:def:0123456789abcdef")
    assert SENDERS[1].name == "android-els"
    assert SECRET not in repr(SENDERS)


def test_a_bearer_secret_names_its_sender() -> None:
    assert verdict(bearer=SECRET).authenticated_as == "secret:sms-gateway"
    assert verdict(bearer=OTHER).sender == "android-els"


def test_an_hmac_of_the_body_names_its_sender() -> None:
    found = verdict(signature=signature(SECRET, BODY))
    assert (found.authenticated_as, found.refused) == ("secret:sms-gateway", None)
    assert verdict(signature=signature(SECRET, BODY).upper().replace("SHA256=", "sha256=")).sender


def test_an_hmac_of_another_body_or_with_another_secret_is_refused() -> None:
    assert verdict(signature=signature(SECRET, BODY + b";x")).refused
    assert verdict(signature=signature("not-a-configured-secret!", BODY)).refused
    assert "sha256=" in verdict(signature="deadbeef").refused


def test_a_signature_over_a_body_not_read_in_full_cannot_be_checked() -> None:
    found = authenticate(Credentials(address="203.0.113.9", body=BODY, body_cut=True,
                                     signature=signature(SECRET, BODY)), SENDERS, ALLOW)
    assert "too large" in found.refused


def test_a_key_in_the_url_names_its_sender() -> None:
    assert verdict(key=OTHER).authenticated_as == "secret:android-els"


def test_an_allowed_network_needs_no_secret() -> None:
    assert verdict("10.20.3.4").authenticated_as == "network:10.20.0.0/16"
    assert verdict("::ffff:10.20.3.4").authenticated_as == "network:10.20.0.0/16"


def test_without_credentials_outside_the_allowed_networks_it_is_refused_with_the_address() -> None:
    found = verdict("203.0.113.9")
    assert found.authenticated_as is None and found.sender is None
    assert "203.0.113.9" in found.refused and "allow_networks" in found.refused


def test_a_wrong_secret_is_refused_even_from_an_allowed_network() -> None:
    assert verdict("10.20.3.4", bearer="wrong-secret-0123456789").refused
    assert verdict("10.20.3.4", key=SECRET[:-1]).refused


def test_credentials_naming_two_senders_are_refused() -> None:
    assert verdict(bearer=SECRET, key=OTHER).refused == "the credentials name different senders"
    assert verdict(bearer=SECRET, key=SECRET).sender == "sms-gateway"


def test_an_authorization_we_do_not_take_is_refused() -> None:
    assert verdict(problem="the Authorization header must be Bearer <secret>").refused


def test_no_sender_configured_refuses_every_secret() -> None:
    found = authenticate(Credentials(address="203.0.113.9", bearer=SECRET), (), ())
    assert found.refused


REFUSALS = {
    "the Authorization bearer secret is not a sender's",
    "the key= secret is not a sender's",
    "X-AML-Signature must be sha256=<hex of the body's HMAC-SHA256>",
    "X-AML-Signature does not match any sender's secret",
}


@given(st.text(min_size=1, max_size=60))
def test_a_refusal_is_a_fixed_sentence_never_built_from_what_was_offered(offered: str) -> None:
    for found in (verdict(bearer=offered), verdict(key=offered), verdict(signature=offered)):
        assert found.refused is None or found.refused in REFUSALS


def test_secrets_offered_are_not_in_the_credentials_repr() -> None:
    text = repr(Credentials(address="203.0.113.9", bearer=SECRET, key=OTHER))
    assert SECRET not in text and OTHER not in text
