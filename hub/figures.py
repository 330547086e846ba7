"""Wait, service and satisfaction figures of a set of visits against the targets in force.

Pure code. Percentiles interpolate linearly between closest ranks (the common "type 7" definition, as
numpy's default and spreadsheet PERCENTILE.INC), so that a supervisor can check them by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hub.config import RatingScale, TargetMetric, TargetRule
from hub.visits import Transaction, Visit, VisitStatus


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean; None for no values."""
    return sum(values) / len(values) if values else None


def share(hits: int, total: int) -> float | None:
    """``hits / total``; None when there is nothing to count."""
    return hits / total if total else None


@dataclass(frozen=True, slots=True)
class RatingFact:
    """A rating: its score, the scale it was given on (None: the configured one), and whether it counts.

    A rating the kiosk flagged as a burst, a repeat or too soon after the service is kept but not counted.
    """

    score: int
    scale: int | None = None
    counted: bool = True


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one unit or desk over one period. Times in seconds; shares in 0–1."""

    visits: int
    transactions: int
    no_shows: int
    waiting: int
    mean_wait_s: float | None
    median_wait_s: float | None
    p90_wait_s: float | None
    within_target_share: float | None
    target_wait_s: float | None
    target_metric: str | None
    wait_basis: str
    mean_visit_wait_s: float | None
    mean_transaction_wait_s: float | None
    mean_service_s: float | None
    median_service_s: float | None
    target_service_s: float | None
    within_service_target_share: float | None
    ratings: int
    satisfied: int
    satisfaction_share: float | None
    ratings_not_counted: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready mapping."""
        return asdict(self)


def compute_figures(
    visits: Sequence[Visit],
    ratings: Sequence[RatingFact],
    wait_rule: TargetRule | None,
    service_rule: TargetRule | None,
    scale: RatingScale,
    desk: str | None = None,
) -> Figures:
    """Figures of ``visits`` (and of their transactions at ``desk`` when given) against the rules.

    The wait figures are over visits when the wait target in force is per visit, otherwise over
    transactions; ``wait_basis`` says which.
    """
    transactions = [t for v in visits for t in v.transactions if desk is None or t.desk == desk]
    served = [t for t in transactions if t.served]
    transaction_waits = [w for t in served if (w := t.wait_s) is not None]
    service_times = [s for t in served if (s := t.service_s) is not None]

    if desk is None:
        counted_visits = [v for v in visits if v.status in (VisitStatus.SERVING, VisitStatus.DONE)]
        no_shows = sum(1 for v in visits if v.status is VisitStatus.NO_SHOW)
        waiting = sum(1 for v in visits if v.status is VisitStatus.WAITING)
        visit_waits = [w for v in counted_visits if (w := v.wait_s) is not None]
    else:
        counted_visits = [v for v in visits if any(t.desk == desk and t.served for t in v.transactions)]
        no_shows = sum(1 for t in transactions if not t.served)
        waiting = sum(1 for v in visits if v.status is VisitStatus.WAITING and v.waiting_desk == desk)
        visit_waits = _waits_of(served)

    counted = [r for r in ratings if r.counted]
    satisfied = sum(1 for r in counted if r.score >= scale.satisfied_min_for(r.scale))
    return figures_of(
        Counts(len(counted_visits), len(served), no_shows, waiting, len(counted), satisfied, len(ratings)),
        visit_waits,
        transaction_waits,
        service_times,
        wait_rule,
        service_rule,
    )


@dataclass(frozen=True, slots=True)
class Counts:
    """The counts of a set of visits and ratings that ``figures_of`` reports as they are."""

    visits: int
    transactions: int
    no_shows: int
    waiting: int
    ratings: int
    satisfied: int
    ratings_all: int


def figures_of(
    counts: Counts,
    visit_waits: Sequence[float],
    transaction_waits: Sequence[float],
    service_times: Sequence[float],
    wait_rule: TargetRule | None,
    service_rule: TargetRule | None,
) -> Figures:
    """Figures from counts and times already gathered (from visits, or from the daily roll-ups)."""
    per_visit = wait_rule is not None and wait_rule.metric is TargetMetric.WAIT_PER_VISIT
    waits = visit_waits if per_visit else transaction_waits
    limit = wait_rule.limit_s if wait_rule else None
    service_limit = service_rule.limit_s if service_rule else None
    return Figures(
        visits=counts.visits,
        transactions=counts.transactions,
        no_shows=counts.no_shows,
        waiting=counts.waiting,
        mean_wait_s=mean(waits),
        median_wait_s=percentile(waits, 50),
        p90_wait_s=percentile(waits, 90),
        within_target_share=share(sum(1 for w in waits if w <= limit), len(waits)) if limit else None,
        target_wait_s=limit,
        target_metric=wait_rule.metric.value if wait_rule else None,
        wait_basis="visit" if per_visit else "transaction",
        mean_visit_wait_s=mean(visit_waits),
        mean_transaction_wait_s=mean(transaction_waits),
        mean_service_s=mean(service_times),
        median_service_s=percentile(service_times, 50),
        target_service_s=service_limit,
        within_service_target_share=(
            share(sum(1 for s in service_times if s <= service_limit), len(service_times)) if service_limit else None
        ),
        ratings=counts.ratings,
        satisfied=counts.satisfied,
        satisfaction_share=share(counts.satisfied, counts.ratings),
        ratings_not_counted=counts.ratings_all - counts.ratings,
    )


def _waits_of(transactions: Sequence[Transaction]) -> list[float]:
    return [w for t in transactions if (w := t.wait_s) is not None]
