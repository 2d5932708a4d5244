"""The simulator applies a user's manager.conf ``eventfilter`` as Asterisk does."""

from __future__ import annotations

from ngcc112.ami.message import AmiMessage
from ngcc112.ami.needed_events import NEEDED, needed
from ngcc112.sim.calls import CallScript
from ngcc112.sim.config import AmiUser
from ngcc112.sim.eventfilter import NO_FILTER, EventFilter


def test_filter_on_pairs_agrees_with_needed() -> None:
    shipped = EventFilter.of(NEEDED)
    cases = [
        [("Event", "VarSet"), ("Privilege", "dialplan,all"), ("Variable", "__NGCC_CALL"), ("Value", "1")],
        [("Event", "VarSet"), ("Privilege", "dialplan,all"), ("Variable", "QUEUEPOSITION"), ("Value", "1")],
        [("Event", "VarSet"), ("Variable", "QUEUESTATUS"), ("Value", "WITHDRAW")],
        [("Event", "Newexten"), ("Priority", "1"), ("Context", "ngcc-112")],
        [("Event", "Newexten"), ("Priority", "2"), ("Context", "ngcc-112")],
        [("Event", "Hangup"), ("Channel", "PJSIP/x-1")],
        [("Event", "RTCPSent"), ("Channel", "PJSIP/x-1")],
    ]
    for pairs in cases:
        message = AmiMessage.from_pairs(pairs)
        assert message is not None
        assert shipped.passes(pairs) == needed(message), pairs
    assert [shipped.passes(p) for p in cases] == [True, False, True, True, False, True, False]
    assert NO_FILTER.passes(cases[1]) and EventFilter.of(()).passes(cases[-1])


async def test_a_filtered_user_reads_only_the_needed_events(drive, make_sim, connect) -> None:
    users = {
        "ngcc": AmiUser(secret="ngcc-secret", read=("all",), write=("all",), eventfilter=NEEDED),
        "admin": AmiUser(secret="a", read=("all",), write=("all",)),
    }
    sim = await make_sim(users=users)
    filtered = await connect(sim.port)
    await filtered.login()
    everything = await connect(sim.port)
    await everything.login("admin", "a")
    call = await sim.place_call(CallScript.ghost())  # hangs up in the queue
    await drive.ended(call)
    await everything.event("Hangup")
    await filtered.event("Hangup")
    all_events = [m for m in everything.messages if "Event" in m and "ActionID" not in m]
    kept = [m for m in filtered.messages if "Event" in m and "ActionID" not in m]
    wanted = [m for m in all_events if needed(AmiMessage.from_pairs(list(m.items())))]  # type: ignore[arg-type]
    assert kept == wanted
    assert len(kept) < len(all_events) / 2
    assert {m["Event"] for m in kept} >= {"Newchannel", "QueueCallerJoin", "Hangup"}
    assert not any(m["Event"] == "VarSet" and not m["Variable"].lstrip("_").startswith(("NGCC_", "QUEUESTATUS"))
                   for m in kept)
