"""Caller ID decoded exactly once per layer of escaping (SIP quoted-pairs, then AMI's C escaping)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ngcc112.ami.callerid import caller_name, caller_number, sip_unquote


def ami_escape(value: str) -> str:
    """What Asterisk's ast_escape_c does to a value it writes into an event."""
    table = {"\\": "\\\\", '"': '\\"', "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a",
             "\b": "\\b", "\f": "\\f", "\v": "\\v", "?": "\\?"}
    return "".join(table.get(char, char) for char in value)


def sip_quote(name: str) -> str:
    """The quoted-pairs of a SIP display name, which PJSIP keeps as they came."""
    return name.replace("\\", "\\\\").replace('"', '\\"')


def test_the_name_a_real_asterisk_showed_reads_as_the_caller_sent_it() -> None:
    # seen on Asterisk 22.10.1 for the SIP display name "Pak \"Budi\" \\ RT 05"
    assert caller_name(r'Pak \\\"Budi\\\" \\\\ RT 05', "PJSIP/carrier-00000003") == 'Pak "Budi" \\ RT 05'


def test_a_local_channel_name_has_only_ami_escaping() -> None:
    assert caller_name(r'Pak \"Budi\"', "Local/112@from-pstn-00000001;2") == 'Pak "Budi"'


def test_no_caller_id_is_none() -> None:
    assert caller_name("<unknown>", "PJSIP/carrier-1") is None
    assert caller_name("", "PJSIP/carrier-1") is None
    assert caller_number("<unknown>") is None
    assert caller_number("+6281234567890") == "+6281234567890"


def test_utf8_names_pass_untouched() -> None:
    assert caller_name("Budi Śantoso", "PJSIP/carrier-2") == "Budi Śantoso"


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1))
def test_any_sip_display_name_survives_both_layers(name: str) -> None:
    assert caller_name(ami_escape(sip_quote(name)), "PJSIP/carrier-1") == name


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1))
def test_sip_unquote_undoes_sip_quote(text: str) -> None:
    assert sip_unquote(sip_quote(text)) == text
