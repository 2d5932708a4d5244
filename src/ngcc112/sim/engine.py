"""The whole simulated Asterisk, put together: :class:`Engine`.

Each part holds the parts it builds on, none inherits another:

* :class:`~ngcc112.sim.core.EngineCore` — the state (channels, queues, members,
  softphones), the clock, ids and event emission;
* :class:`~ngcc112.sim.ending.CallEnding` — how a running call ends (core);
* :class:`~ngcc112.sim.queueing.QueueFlow` — the Queue application (core, ending);
* :class:`~ngcc112.sim.flow.CallFlow` — the dialplans (core, ending, queueing);
* :class:`~ngcc112.sim.placing.CallPlacing` — a call's first events and its task (core, flow);
* :class:`~ngcc112.sim.interventions.Interventions` — phones registering, what AMI actions
  and a restart do to running calls (core, ending).

:class:`Engine` builds them in that order and is what the server, the AMI actions, the
demo and the tests talk to; it adds no behaviour of its own.
"""

from __future__ import annotations

from ngcc112.clock import Clock
from ngcc112.sim.config import SimulatorConfig
from ngcc112.sim.core import EngineCore, Sink
from ngcc112.sim.ending import CallEnding
from ngcc112.sim.flow import CallFlow
from ngcc112.sim.interventions import Interventions
from ngcc112.sim.model import Channel, Queue, Softphone
from ngcc112.sim.placing import CallPlacing
from ngcc112.sim.queueing import QueueFlow
from ngcc112.sim.run import CallRun


class Engine:
    """The simulated Asterisk: calls, queues, softphones, and AMI's effect on them."""

    def __init__(self, config: SimulatorConfig, sink: Sink, clock: Clock) -> None:
        self.core = EngineCore(config, sink, clock)
        self.ending = CallEnding(self.core)
        self.queueing = QueueFlow(self.core, self.ending)
        self.flow = CallFlow(self.core, self.ending, self.queueing)
        self.placing = CallPlacing(self.core, self.flow)
        self.interventions = Interventions(self.core, self.ending)
        # what AMI actions do to running calls, and the state they read
        self.hangup_action = self.interventions.hangup_action
        self.redirect = self.interventions.redirect
        self.restart_hangup_all = self.interventions.restart_hangup_all
        self.originate_operator = self.interventions.originate_operator
        self.request_withdraw = self.queueing.request_withdraw
        self.place = self.placing.place
        self.queue_add = self.core.queue_add
        self.queue_remove = self.core.queue_remove
        self.queue_pause = self.core.queue_pause
        self.set_registered = self.interventions.set_registered
        self.device_status = self.core.device_status
        self.find_channel = self.core.find_channel
        self.varset = self.core.varset
        self.dispatch = self.core.dispatch
        self.dispatch_all = self.core.dispatch_all
        # time, and the simulated Asterisk's life
        self.now = self.core.now
        self.wall = self.core.wall
        self.sleep = self.core.sleep
        self.start_clock = self.core.start_clock
        self.reset_state = self.core.reset_state
        self.wait_idle = self.core.wait_idle
        self.cancel_all = self.core.cancel_all
        self.tap = self.core.tap

    # the state AMI actions read (the core replaces ``queues`` on a restart: read it each time)
    @property
    def channels(self) -> dict[str, Channel]:
        return self.core.channels

    @property
    def queues(self) -> dict[str, Queue]:
        return self.core.queues

    @property
    def globals(self) -> dict[str, str]:
        return self.core.globals

    @property
    def softphones(self) -> dict[str, Softphone]:
        return self.core.softphones

    @property
    def registered(self) -> dict[str, bool]:
        return self.core.registered

    @property
    def calls(self) -> set[CallRun]:
        return self.core.calls
