"""Every recording of the real Asterisk 22, replayed synchronously through a strict tracker.

Cacofonisk-style: no sockets, no event loop, no clock — the recorded bytes go through the
same protocol parser the link uses and straight into :class:`CallTracker` with ``strict=True``,
which raises where the daemon would log ``tracker.event_failed``. So a handler that breaks
on anything Asterisk really sends fails here, by name, instead of costing a call its ticket.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from ngcc112.ami import events
from ngcc112.ami.message import AmiMessage
from ngcc112.ami.protocol import AmiProtocol
from ngcc112.ami.tracker import CallTracker, TrackerEvent
from ngcc112.sim.replay import Transcript
from ngcc112.settings import CallFlowSettings

#: What each recording must come out as: calls, answered by an operator, abandoned in the queue.
FACTS = {
    "a_call_answered_bridged": (1, 1, 0),
    "a_local_call_answered_bridged": (1, 1, 0),
    "b_abandon_in_queue": (1, 0, 1),
    "c_ghost_call": (1, 0, 1),
    "c_local_ghost_call": (1, 0, 1),
    "d_actions": (2, 0, 2),
    "d_login_bad_secret": (0, 0, 0),
    "e_ten_concurrent": (10, 10, 0),
    "f_talk_detect": (1, 0, 1),
    "f_talk_detect_no_stop": (1, 0, 1),
    "f_talk_detect_silent": (1, 0, 1),
    "f_talk_detect_sip": (1, 0, 1),
    "g_dtmf_silent_prompt": (1, 0, 1),
    "g_dtmf_silent_prompt_sip": (1, 0, 1),
    "h_asterisk_restart": (1, 0, 1),
    "h_asterisk_restart_after": (0, 0, 0),
    "i_ring_no_answer": (1, 1, 0),
    "j_priority_withdraw": (3, 2, 1),   # the withdrawn caller is reported as an abandon
    "k_caller_id_variants": (7, 0, 7),
    "l_geolocation": (1, 0, 1),
    "m_ghost_in_prompt": (1, 0, 0),     # hung up in the prompt, never queued
}


def recorded_events(path: Path) -> list[AmiMessage]:
    """The unsolicited events of every connection in the recording, parsed as the link parses them."""
    messages: list[AmiMessage] = []
    for connection in Transcript.load_all(path):
        protocol = AmiProtocol(messages.append, lambda exc: None)
        protocol.connection_made(asyncio.Transport())
        protocol.data_received(connection.banner)
        for frame in connection.frames:
            if frame.is_event and not frame.action_id:  # answers to our actions are not events
                protocol.data_received(frame.raw)
    return messages


def replay(path: Path) -> list[TrackerEvent]:
    calls = CallFlowSettings()
    tracker = CallTracker(context=calls.context, extensions=calls.extensions,
                          queues=(calls.queue, calls.supervisor_queue), strict=True)
    produced: list[TrackerEvent] = []
    for message in recorded_events(path):
        produced.extend(tracker.feed(message))
    assert tracker.live_calls == frozenset(), "every recorded call ended"
    return produced


def test_the_table_covers_every_recording(transcripts_dir):
    assert set(FACTS) == {p.stem for p in transcripts_dir.glob("*.jsonl")}


@pytest.mark.parametrize("name", sorted(FACTS))
def test_a_recording_replays_through_a_strict_tracker(name, transcripts_dir):
    produced = replay(transcripts_dir / f"{name}.jsonl")
    arrived = Counter(e.call_id for e in produced if isinstance(e, events.CallArrived))
    ended = Counter(e.call_id for e in produced if isinstance(e, events.CallEnded))
    assert set(arrived.values()) <= {1} and set(ended.values()) <= {1}, "each call arrives and ends once"
    assert arrived.keys() == ended.keys()
    answered = {e.call_id for e in produced if isinstance(e, events.CallConnected)}
    abandoned = {e.call_id for e in produced if isinstance(e, events.CallAbandoned)}
    assert (len(arrived), len(answered), len(abandoned)) == FACTS[name]


def test_strict_mode_raises_where_the_daemon_would_log(monkeypatch):
    calls = CallFlowSettings()
    tracker = CallTracker(context=calls.context, extensions=calls.extensions,
                          queues=(calls.queue,), strict=True)

    def broken(message):
        raise RuntimeError("a handler bug")

    monkeypatch.setitem(tracker._handlers, "Newchannel", broken)
    with pytest.raises(RuntimeError, match="a handler bug"):
        tracker.feed(AmiMessage.from_pairs([("Event", "Newchannel"), ("Uniqueid", "1.1")]))
