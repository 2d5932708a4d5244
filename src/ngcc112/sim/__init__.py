"""The AMI simulator: a TCP server that speaks AMI the way Asterisk 22.10.1 does.

It runs simulated 112 callers through the shipped dialplan's flow (or the
first, "legacy" one the a_..e_ recordings used), a queue with rrmemory
members added by ``QueueAdd``, and simulated operator softphones, so the
daemon, the demo, the tests and the benchmarks can run without an Asterisk.
The recordings in ``shared/ami-transcripts`` are the authority: the tests in
``tests/sim`` drive every recorded scenario through it and compare the events.

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
