"""How many desks must be open: the Erlang C model of a queue served by several desks.

With arrivals at rate λ, a mean handling time s (load a = λ·s Erlangs) and c desks sharing one queue, the
probability that a citizen waits at all is Erlang C, C(c, a) = c·B / (c − a·(1 − B)) with B the Erlang B
blocking probability (computed by its stable recursion), and

    P(wait > t) = C(c, a) · exp(−(c − a)·t / s)        mean wait = C(c, a) · s / (c − a).

The desks needed in an hour are the fewest c with P(wait ≤ target) ≥ the stated probability.

Where the assumptions break, and what it means for the answer:

- Arrivals are assumed random and independent (Poisson). Citizens arrive in bursts at opening time and
  after lunch, and by appointment: the first hour needs more than the model says.
- Handling times are assumed exponential (coefficient of variation 1). Measured handling times are usually
  less variable (CV 0.5–0.8): the model then overstates waits a little, which errs on the safe side; a CV
  above 1 (a few very long dossiers) makes it understate them. The report prints the measured CV.
- Steady state within each hour: a queue left at the end of one hour carries into the next, which the
  hour-by-hour answer ignores; a busy hour followed by a quiet one is less bad than it looks, and the reverse.
- One shared queue, first come first served: if each desk keeps its own line, or desks serve different
  fields, the desks of a field do not pool and more are needed. Priority citizens (elderly, disabled)
  change who waits, not how many desks.
- Nobody leaves (no abandonment) and officers do nothing else: no-shows and back-office work are outside it.

Pure code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from protocol.errors import OneStopError


class StaffingError(OneStopError, ValueError):
    """A staffing question that has no answer as asked."""


def erlang_b(servers: int, load: float) -> float:
    """Erlang B: probability that all ``servers`` are busy in a loss system offered ``load`` Erlangs."""
    if servers < 0 or load < 0:
        raise StaffingError(f"servers and load must not be negative, got {servers} and {load}")
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(servers: int, load: float) -> float:
    """Erlang C: probability that a citizen has to wait, with ``servers`` desks and ``load`` Erlangs."""
    if servers <= 0:
        raise StaffingError(f"at least one desk is needed, got {servers}")
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    blocking = erlang_b(servers, load)
    return servers * blocking / (servers - load * (1 - blocking))


@dataclass(frozen=True, slots=True)
class QueueAnswer:
    """The Erlang C figures of one hour with ``servers`` desks."""

    servers: int
    arrivals_per_hour: float
    mean_service_s: float
    target_s: float
    load: float
    wait_probability: float
    mean_wait_s: float
    within_target: float

    @property
    def occupancy(self) -> float:
        """Share of the desks' time spent serving."""
        return self.load / self.servers if self.servers else 0.0


def queue_answer(servers: int, arrivals_per_hour: float, mean_service_s: float, target_s: float) -> QueueAnswer:
    """Erlang C figures with ``servers`` desks (an overloaded hour: wait probability 1, infinite wait)."""
    if mean_service_s <= 0:
        raise StaffingError(f"the mean handling time must be positive, got {mean_service_s}")
    load = arrivals_per_hour * mean_service_s / 3600
    waiting = erlang_c(servers, load)
    if load >= servers:
        return QueueAnswer(servers, arrivals_per_hour, mean_service_s, target_s, load, 1.0, math.inf, 0.0)
    spare = servers - load
    return QueueAnswer(
        servers=servers,
        arrivals_per_hour=arrivals_per_hour,
        mean_service_s=mean_service_s,
        target_s=target_s,
        load=load,
        wait_probability=waiting,
        mean_wait_s=waiting * mean_service_s / spare,
        within_target=1.0 - waiting * math.exp(-spare * target_s / mean_service_s),
    )


def desks_needed(
    arrivals_per_hour: float,
    mean_service_s: float,
    target_s: float,
    probability: float,
    max_desks: int = 200,
) -> QueueAnswer:
    """The fewest desks with which a citizen's wait is within ``target_s`` with ``probability``.

    Raises:
        StaffingError: even ``max_desks`` desks are not enough, or the question is malformed.
    """
    if not 0 < probability < 1:
        raise StaffingError(f"the probability must be between 0 and 1, got {probability}")
    if arrivals_per_hour <= 0:
        return QueueAnswer(0, 0.0, mean_service_s, target_s, 0.0, 0.0, 0.0, 1.0)
    load = arrivals_per_hour * mean_service_s / 3600
    for servers in range(max(1, math.floor(load) + 1), max_desks + 1):
        answer = queue_answer(servers, arrivals_per_hour, mean_service_s, target_s)
        if answer.within_target >= probability:
            return answer
    raise StaffingError(
        f"{max_desks} desks are not enough for {arrivals_per_hour:.0f} arrivals per hour at {mean_service_s:.0f} s each"
    )


def expected_wait_in_line_s(queue_length: int, open_desks: int, busy_desks: int, mean_service_s: float) -> float:
    """Expected wait of the last of ``queue_length`` people in one line served by ``open_desks`` desks.

    The same model as Erlang C (exponential handling times, one shared line): with every open desk busy,
    desks free up at rate ``open_desks / mean_service_s``, so the last person starts after
    ``queue_length - idle desks`` departures on average ``mean_service_s / open_desks`` apart.
    """
    if open_desks <= 0:
        raise StaffingError(f"at least one open desk is needed, got {open_desks}")
    idle = max(0, open_desks - busy_desks)
    departures = max(0, queue_length - idle)
    return departures * mean_service_s / open_desks
