"""The protocol's fast path reads an event exactly as the panoramisk path did: same message, every frame."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from panoramisk.message import Message

from ngcc112.ami.message import AmiMessage
from ngcc112.ami.protocol import plain_event

AT = datetime(2026, 12, 8, tzinfo=UTC)


def through_panoramisk(frame: str) -> AmiMessage | None:
    """The old path; panoramisk's empty ``content`` (the body of ``Response: Follows``) left out."""
    message = Message.from_line(frame)
    if message is None or "event" not in message:
        return None
    event = AmiMessage.from_mapping(message, AT)
    if event is None:
        return None
    headers = {k: v for k, v in event.headers.items() if not (k == "content" and v == ("",))}
    return AmiMessage(event.kind, event.name, headers, event.received_at)


def recorded_frames(transcripts_dir: Path) -> list[str]:
    frames = []
    for path in sorted(transcripts_dir.glob("*.ami")):
        text = path.read_bytes().decode("utf-8", errors="replace")
        frames += [frame.strip("\r\n") for frame in text.split("\r\n\r\n") if frame.strip("\r\n")]
    return frames


def test_every_recorded_event_reads_the_same_on_both_paths(transcripts_dir: Path) -> None:
    frames = recorded_frames(transcripts_dir)
    fast = 0
    for frame in frames:
        event = plain_event(frame, AT)
        if event is None:  # a response, or an event answering an action: panoramisk's path
            continue
        fast += 1
        assert event == through_panoramisk(frame), frame
    assert fast > 1000


# keys as Asterisk writes them (one spelling each; panoramisk's dict would merge "Event" and "event")
keys = st.sampled_from(["Event", "Channel", "Uniqueid", "CallerIDName", "Result", "Variable", "Value"])
values = st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=20)
lines = st.one_of(st.tuples(keys, values).map(lambda kv: f"{kv[0]}: {kv[1]}"), values)


@given(st.lists(lines, min_size=1, max_size=8))
def test_any_frame_reads_the_same_on_both_paths(frame_lines: list[str]) -> None:
    frame = "\r\n".join(frame_lines)
    event = plain_event(frame, AT)
    assert event == through_panoramisk(frame)  # the same event, or neither path sees one
