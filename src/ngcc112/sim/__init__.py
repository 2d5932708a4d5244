"""The AMI simulator: a TCP server that speaks AMI the way Asterisk 22.10.1 does.

It runs simulated 112 callers through the shipped dialplan's flow
(``asterisk-config/extensions.conf``: prompt, then the queue loop operators →
supervisors → operators …; or the older "final" and "legacy" ones the
``shared/ami-transcripts`` recordings used), the shipped queues (rrmemory
operators added by ``QueueAdd``, the supervisors' static members of
queues.conf), and simulated operator softphones, so the daemon, the demo, the
tests and the benchmarks can run without an Asterisk. Recordings are the
authority: ``tests/data/transcripts`` (a real Asterisk 22.10.1 with the shipped
configuration) and ``shared/ami-transcripts``; the tests in ``tests/sim`` drive
every recorded scenario through it and compare the events.

Caller names are held the way Asterisk holds them (a SIP caller's with PJSIP's
quoted-pairs kept) and C-escaped in events as AMI does (``ast_escape_c``).

Usage::

    from ngcc112.clock import VirtualClock
    from ngcc112.sim import AmiSimulator, AmiUser, CallScript, SimulatorConfig
    from ngcc112.sim.driver import Driver

    clock = VirtualClock()                 # time moves only when the driver moves it
    sim = AmiSimulator(SimulatorConfig(port=0), clock=clock)
    await sim.start()                      # sim.port is the listening port
    driver = Driver(clock)                 # + quiet conditions for the clients (driver.watch)
    sim.set_softphone("op1", ring_seconds=0.5, talk_seconds=30.0)
    call = await sim.place_call(CallScript(number="08123456789", name="Budi",
                                           hangup_after=None))
    await driver.run_until(call.ended.done)  # call.outcome: "answered", "abandoned", ...
    await sim.drop_clients()               # cut every TCP connection
    await sim.stop()

Without a clock the simulator runs on the host's (``ngcc112 sim``, the demo).
Every delay is in the clock's seconds; ``sim.engine.now()`` is seconds since
the start and ``sim.engine.wall()`` the epoch time every event's
``Timestamp`` carries (``SimulatorConfig.timestamp_events``, manager.conf's
``timestampevents``).
"""

from ngcc112.sim.calls import CallScript, Location, PlacedCall, TalkBurst
from ngcc112.sim.config import AmiUser, SimulatorConfig
from ngcc112.sim.server import AmiSimulator, run_simulator
from ngcc112.sim.transcript import parse_transcript

__all__ = [
    "AmiSimulator",
    "AmiUser",
    "CallScript",
    "Location",
    "PlacedCall",
    "SimulatorConfig",
    "TalkBurst",
    "parse_transcript",
    "run_simulator",
]
