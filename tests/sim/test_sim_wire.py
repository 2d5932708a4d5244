"""Wire format and transcript reader."""

from __future__ import annotations

from pathlib import Path

from ngcc112.sim.calls import CallScript
from ngcc112.sim.run import caller_id, cid_all
from ngcc112.sim.transcript import RoleMap, parse_transcript, split_messages
from ngcc112.sim.wire import ActionParser, c_escape, encode, header, headers_all, truncate_name


def test_encode_is_crlf_with_a_blank_line() -> None:
    assert encode([("Response", "Success"), ("Message", "Budi Śantoso")]) == (
        "Response: Success\r\nMessage: Budi Śantoso\r\n\r\n".encode())


def test_action_parser_handles_split_reads_lf_and_repeated_keys() -> None:
    parser = ActionParser()
    assert parser.feed(b"Action: Originate\r\nVariable: A=1\r\nvariable: B=2\r") == []
    [pairs] = parser.feed(b"\n\r\n")
    assert header(pairs, "ACTION") == "Originate"
    assert headers_all(pairs, "Variable") == ["A=1", "B=2"]
    assert header(pairs, "Missing") == ""
    [lf] = parser.feed(b"Action: Ping\n\n")
    assert lf == [("Action", "Ping")]
    [bad] = parser.feed(b"\xff\xfeAction: Ping\r\n\r\n")
    assert bad[0][0].endswith("Action")


def test_c_escape_and_name_truncation() -> None:
    assert c_escape('shape="Circle"') == 'shape=\\"Circle\\"'
    assert c_escape("a\\b") == "a\\\\b"
    name = "Ś" * 60  # 120 bytes: cut at 79 without splitting a character
    cut = truncate_name(name)
    assert len(cut.encode()) == 78 and name.startswith(cut)
    assert truncate_name("Budi") == "Budi"


def test_caller_id_as_asterisk_shows_it() -> None:
    assert caller_id(CallScript(number="", name="")) == ("<unknown>", "<unknown>", "unavailable")
    assert caller_id(CallScript(number="0811", name="", presentation="withheld")) == (
        "0811", "<unknown>", "prohib_not_screened")
    assert caller_id(CallScript(number="", name="", presentation="anonymous"))[:2] == ("anonymous", "Anonymous")
    assert cid_all("<unknown>", "<unknown>") == '"" <>'
    assert cid_all("5550101", "Anrufer Eins") == '"Anrufer Eins" <5550101>'


def test_parse_transcript_reads_every_recording(transcripts_dir: Path) -> None:
    for path in transcripts_dir.glob("*.ami"):
        messages = parse_transcript(path)
        assert messages, path
        assert all("Event" in m or "Response" in m for m in messages), path
    bad = parse_transcript(transcripts_dir / "d_login_bad_secret.ami")
    assert bad == [{"Response": "Error", "ActionID": "d_login_bad_secret-1",
                    "Message": "Authentication failed"}]
    assert split_messages("Asterisk Call Manager/11.0.0\r\nEvent: A\r\n\r\n") == [[("Event", "A")]]


def test_role_map_names_legs_by_order() -> None:
    roles = RoleMap()
    assert roles("PJSIP/caller2-0000000a") == "caller#1"
    assert roles("Local/112@from-pstn-00000003;1") == "half#2"
    assert roles("Local/112@from-pstn-00000003;2") == "caller#2"
    assert roles("PJSIP/op1-0000000b") == "op1#1"
    assert roles("PJSIP/op1-0000000c") == "op1#2"
    assert roles("PJSIP/caller2-0000000a") == "caller#1"
    assert roles("none") == "none"
