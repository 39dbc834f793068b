"""Who comes to the center on the simulated day: drawn once, up front, from the seed.

All randomness of a run is here. The visitors of a seed do not depend on how many
windows are open, so "3 windows" and "5 windows" runs of one seed serve the same people.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from edge.queue.model import Category
from edge.sim.scenario import Exponential, Fixed, LogNormal, Scenario, ServiceTime, Uniform, minutes_of

BENEFIT_CATEGORIES = (Category.PENSIONER, Category.DISABILITY, Category.LARGE_FAMILY)
MIN_SERVICE_S = 30   # nobody is served in less than half a minute


@dataclass
class Visitor:
    """One visitor: who they are and, once the run is over, what happened to them."""

    index: int
    service: str
    arrive_s: int             # seconds after local midnight when they take a ticket / check in
    category: Category
    service_s: int            # time at the window once they are there
    booked: bool = False
    slot_s: int | None = None  # booking slot start, seconds after midnight
    comes: bool = True        # False: a booking whose visitor never comes
    leaves: bool = False      # takes a ticket and leaves before the call (a no-show)
    # filled in by the run
    ticket_id: int | None = None
    label: str = ""
    called_s: int | None = None
    wait_s: int | None = None  # as the engine reports it in ticket.called
    outcome: str = "pending"   # done, no_show, unserved, turned_away, booked_no_show
    refused: str = ""          # why turned away: after_close or the engine's refusal code
    checked_in: bool = False

    @property
    def code(self) -> str:
        return f"SIM{self.index:05d}"


def service_seconds(dist: ServiceTime, rng: random.Random) -> int:
    if isinstance(dist, Fixed):
        minutes = dist.mean
    elif isinstance(dist, Exponential):
        minutes = rng.expovariate(1 / dist.mean)
    elif isinstance(dist, LogNormal):
        # mu/sigma of the underlying normal for the wanted mean and sd of the visit
        sigma2 = math.log(1 + (dist.sd / dist.mean) ** 2)
        minutes = rng.lognormvariate(math.log(dist.mean) - sigma2 / 2, math.sqrt(sigma2))
    elif isinstance(dist, Uniform):
        minutes = rng.uniform(dist.min, dist.max)
    else:  # pragma: no cover - the scenario model admits only the four above
        raise TypeError(dist)
    return max(MIN_SERVICE_S, round(minutes * 60))


def draw_visitors(sc: Scenario, seed: int) -> list[Visitor]:
    """Arrivals per hour as a Poisson process (exponential gaps at that hour's rate)."""
    rng = random.Random(seed)
    head = sc.scenario
    open_s, close_s = minutes_of(head.open) * 60, minutes_of(head.close) * 60
    slot_s = head.slot_minutes * 60
    out: list[Visitor] = []
    for load in sc.services:
        booked_share = head.booked_share if load.booked_share is None else load.booked_share
        benefit_share = head.benefit_share if load.benefit_share is None else load.benefit_share
        for hour in sorted(load.arrivals, key=int):
            rate = load.arrivals[hour]
            if rate <= 0:
                continue
            lo, hi = max(open_s, int(hour) * 3600), min(close_s, (int(hour) + 1) * 3600)
            t = float(lo)
            while True:
                t += rng.expovariate(rate / 3600)
                if t >= hi:
                    break
                category = (rng.choice(BENEFIT_CATEGORIES) if rng.random() < benefit_share
                            else Category.NORMAL)
                v = Visitor(index=0, service=load.id, arrive_s=int(t), category=category,
                            service_s=service_seconds(load.service_min, rng))
                if rng.random() < booked_share:
                    # A booked visitor's slot is the one their natural arrival falls in;
                    # they come a little early for it.
                    v.booked = True
                    v.slot_s = max(open_s, min(close_s - slot_s, (int(t) // slot_s) * slot_s))
                    v.arrive_s = max(open_s, v.slot_s - int(rng.uniform(0, head.early_min * 60)))
                    v.comes = rng.random() >= head.booked_no_show
                v.leaves = v.comes and rng.random() < head.no_show
                out.append(v)
    out.sort(key=lambda v: (v.arrive_s, v.service, v.service_s))
    for i, v in enumerate(out):
        v.index = i + 1
    return out
