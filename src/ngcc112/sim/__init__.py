"""The AMI simulator: a TCP server that speaks AMI the way Asterisk 22 does.

It runs simulated 112 callers through the shipped dialplan's flow, a queue
with rrmemory members added by ``QueueAdd``, and simulated operator
softphones, so the daemon, the demo, the tests and the benchmarks can run
without an Asterisk. The recorded transcripts in ``shared/ami-transcripts``
are the authority it is tested against.
"""

from ngcc112.sim.calls import CallScript
from ngcc112.sim.config import AmiUser, SimulatorConfig
from ngcc112.sim.server import AmiSimulator, run_simulator
from ngcc112.sim.transcript import parse_transcript

__all__ = [
    "AmiSimulator",
    "AmiUser",
    "CallScript",
    "SimulatorConfig",
    "parse_transcript",
    "run_simulator",
]
