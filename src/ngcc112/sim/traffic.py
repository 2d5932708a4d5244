"""Background calls with a realistic 112 mix, from a seeded RNG."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import structlog

from ngcc112.sim.calls import CallScript, Location, TalkBurst

if TYPE_CHECKING:
    from ngcc112.sim.server import AmiSimulator

log = structlog.get_logger(__name__)

_NAMES = (
    "Budi Santoso",
    "Siti Aminah",
    "Dewi Lestari",
    "Agus Salim",
    "Rina Wati",
    "Andi Pratama",
    "Wayan Sudarma",
    "Putri Ayu",
    "Joko Susilo",
    "Nur Hidayah",
    "",
)
#: A few numbers that call again and again (prank candidates).
_REPEATERS = ("081299990001", "081299990002", "085711112222")


def random_script(rng: random.Random) -> CallScript:
    """One caller drawn from a 112 centre's typical mix."""
    roll = rng.random()
    number = "08" + "".join(str(rng.randrange(10)) for _ in range(10))
    name = rng.choice(_NAMES)
    endpoint = rng.choice(("caller1", "caller2", "caller3"))
    if roll < 0.45:  # a real emergency: talks, stays until the operator or a while
        bursts = tuple(TalkBurst(at=4.0 + 6 * i, seconds=rng.uniform(1.0, 4.0)) for i in range(3))
        return CallScript(
            number=number,
            name=name,
            endpoint=endpoint,
            talk=bursts,
            hangup_after=rng.uniform(40.0, 120.0),
            exten=rng.choice(("112", "112", "112", "110", "113", "118")),
        )
    if roll < 0.60:  # ghost: silent, hangs up in the queue (the prompt ends 7 s after the answer)
        return CallScript(number=number, name=name, endpoint=endpoint, hangup_after=rng.uniform(8.0, 18.0))
    if roll < 0.70:  # ghost in the prompt
        return CallScript(number=number, name=name, endpoint=endpoint, hangup_after=rng.uniform(0.5, 3.0))
    if roll < 0.80:  # prank: a repeat number, short, maybe talks
        talk = (TalkBurst(at=4.5, seconds=1.5),) if rng.random() < 0.5 else ()
        return CallScript(
            number=rng.choice(_REPEATERS), name="", endpoint=endpoint, talk=talk, hangup_after=rng.uniform(6.0, 20.0)
        )
    if roll < 0.87:  # cannot speak: presses 5
        return CallScript(
            number=number,
            name=name,
            endpoint=endpoint,
            dtmf="5",
            dtmf_at=rng.uniform(0.8, 2.5),
            hangup_after=rng.uniform(30.0, 90.0),
        )
    if roll < 0.95:  # with a location (Jakarta area)
        loc = Location.circle(rng.uniform(-6.35, -6.10), rng.uniform(106.70, 106.95), radius=rng.choice((10, 50, 200)))
        return CallScript(
            number=number,
            name=name,
            endpoint=endpoint,
            location=loc,
            talk=(TalkBurst(at=4.0, seconds=3.0),),
            hangup_after=rng.uniform(40.0, 100.0),
        )
    return CallScript(
        number=number,
        name=name,
        endpoint=endpoint,
        presentation="withheld",
        talk=(TalkBurst(at=5.0, seconds=2.0),),
        hangup_after=rng.uniform(20.0, 60.0),
    )


async def generate_calls(sim: AmiSimulator, rate_per_minute: float, rng: random.Random) -> None:
    """Place calls as a Poisson process of ``rate_per_minute`` (simulated time)."""
    bound = log.bind(rate_per_minute=rate_per_minute)
    while True:
        await sim.engine.sleep(rng.expovariate(rate_per_minute / 60.0))
        script = random_script(rng)
        placed = await sim.place_call(script)
        bound.debug("sim.generated_call", channel=placed.channel, number=script.number)
