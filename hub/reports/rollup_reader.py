"""Reports read from the daily roll-ups (``hub.rollups``) instead of the raw events: the same figures, exactly.

- ``evaluation_from_rollups``: the yearly evaluation pack (``hub.reports.evaluation``) from the officers'
  desk-day rows: a year of an officer is some 250 rows instead of thousands of transactions, ratings,
  comments and emotions to attribute. Counts, shares within the targets in force on each day, medians and
  90th percentiles are exactly those of the raw scan (the rows keep the times themselves); a mean of
  handling times or of valences is a sum of floating-point numbers, equal to the raw scan's to the last few
  bits only, since no two engines (nor two query plans) add them in the same order.
- ``day_figures``: a unit's figures of one day (``hub.figures.compute_figures``) for the dashboard's days.

Both read through the store (``query``), so they work on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date

from hub.config import HubSettings, TargetRule
from hub.figures import Counts, Figures, figures_of
from hub.reports.aggregate import target_lines
from hub.reports.evaluation import EvaluationPack, OfficerEvaluation, finish_pack
from hub.reports.periods import Period
from hub.reports.stats import Distribution
from hub.reports.targets import DayTargets, TargetSchedule
from hub.rollups import DeskDay, RollupStore, read_desk_days, read_unit_days


class _Officer:
    """What the desk-day rows of one officer add up to."""

    def __init__(self) -> None:
        self.rows = self.no_shows = 0
        self.waits: list[float] = []
        self.wait_judged = self.wait_within = 0
        self.handling: list[float] = []
        self.handling_judged = self.handling_within = 0
        self.days: list[str] = []
        self.sites: dict[str, int] = {}
        self.services: dict[str, int] = {}
        self.ratings = self.counted = self.satisfied = self.emotions = 0
        self.valence = 0.0
        self.comments = {"negative": 0, "neutral": 0, "positive": 0}


def _targets(schedule: TargetSchedule) -> dict[tuple[str, str], DayTargets]:
    """The targets of every unit on every day of the schedule, looked up once each."""
    found: dict[tuple[str, str], DayTargets] = {}
    for run in schedule.runs:
        day = run.first
        while day <= run.last:
            found[(run.site, day.isoformat())] = run.targets
            day = date.fromordinal(day.toordinal() + 1)
    return found


def officer_rows(rows: Iterable[DeskDay], schedule: TargetSchedule, settings: HubSettings) -> dict[str, _Officer]:
    """Per officer, the sums of their desk-day rows, each time judged against the target of its day."""
    targets = _targets(schedule)
    satisfied_min = settings.rating.satisfied_min_for
    officers: dict[str, _Officer] = {}
    for row in rows:
        if not row.staff:
            continue
        o = officers.get(row.staff)
        if o is None:
            o = officers[row.staff] = _Officer()
        o.ratings += row.ratings
        o.counted += row.ratings_counted
        o.satisfied += row.satisfied(satisfied_min)
        for name, count in row.comments.items():
            o.comments[name] += count
        o.emotions += row.emotions
        o.valence += row.valence_sum
        if not row.transactions:
            continue  # ratings, comments or emotions only: the officer's span and units come from transactions
        served = row.transactions - row.no_shows
        o.rows += row.transactions
        o.no_shows += row.no_shows
        o.days.append(row.day)
        o.sites[row.site] = o.sites.get(row.site, 0) + served
        o.services[row.service] = o.services.get(row.service, 0) + served
        day = targets.get((row.site if row.site in schedule.sites else "", row.day))
        if day is None:
            day = schedule.on(row.site, date.fromisoformat(row.day))
        o.waits += row.wait_values
        o.handling += row.handling_values
        if day.wait_limit_s is not None:
            o.wait_judged += len(row.wait_values)
            o.wait_within += sum(1 for w in row.wait_values if w <= day.wait_limit_s)
        if day.service_limit_s is not None:
            o.handling_judged += len(row.handling_values)
            o.handling_within += sum(1 for s in row.handling_values if s <= day.service_limit_s)
    return officers


def _evaluation_of(staff: str, o: _Officer) -> OfficerEvaluation:
    """An officer's evaluation as far as the record tells, as ``hub.reports.evaluation`` builds it."""
    import numpy as np

    received = o.rows - o.no_shows
    sites = sorted(o.sites)
    named = sorted(s for s in o.services if s)
    # As the raw scan: the first unit and field by name, unless the officer has several (then the mix).
    service_mix = {s: n for s, n in o.services.items()} if len(named) > 1 else {(named[0] if named else ""): received}
    handled = len(o.handling)
    return OfficerEvaluation(
        staff=staff,
        site=sites[0] if len(sites) == 1 else max(o.sites, key=lambda s: (o.sites[s], s)),
        site_name="",
        sites=len(sites),
        level="",
        service=named[0] if named else None,
        service_name="",
        service_mix=service_mix,
        first_day=date.fromisoformat(min(o.days)),
        last_day=date.fromisoformat(max(o.days)),
        received=received,
        no_shows=o.no_shows,
        norm=0.0,
        norm_max=0.0,
        wait=Distribution.of(np.array(o.waits, dtype=np.float64), o.wait_judged, o.wait_within),
        handling=Distribution(
            count=handled,
            mean=math.fsum(o.handling) / handled if handled else None,
            median=None,
            p90=None,
            judged=o.handling_judged,
            within=o.handling_within,
        ),
        ratings=o.counted,
        satisfied=o.satisfied,
        ratings_not_counted=o.ratings - o.counted,
        comments=dict(o.comments),
        emotions=o.emotions,
        mean_valence=o.valence / o.emotions if o.emotions else None,
    )


def evaluation_from_rollups(
    store: RollupStore, settings: HubSettings, period: Period, staff: str | None = None
) -> EvaluationPack:
    """The evaluation pack of every officer (or of one, still compared with all) read from the roll-ups."""
    schedule = TargetSchedule(settings, period)
    rows = read_desk_days(store, period.first.isoformat(), period.last.isoformat())
    officers = {name: _evaluation_of(name, o) for name, o in officer_rows(rows, schedule, settings).items() if o.days}
    return finish_pack(officers, settings, period, staff, target_lines(schedule))


def day_figures(
    store: RollupStore,
    settings: HubSettings,
    site: str,
    day: str,
    wait_rule: TargetRule | None,
    service_rule: TargetRule | None,
) -> Figures | None:
    """A unit's figures of one day from its roll-up rows (``compute_figures`` without a desk); None when the
    roll-ups hold nothing of that day (a record older than the roll-ups: rebuild them, or read raw)."""
    units = read_unit_days(store, day, day, site)
    desks = read_desk_days(store, day, day, site)
    if not units and not desks:
        return None
    visit_waits = units[0].visit_wait_values if units else []
    counted = sum(d.ratings_counted for d in desks)
    counts = Counts(
        visits=units[0].visits if units else 0,
        transactions=sum(d.transactions - d.no_shows for d in desks),
        no_shows=units[0].no_shows if units else 0,
        waiting=units[0].waiting if units else 0,
        ratings=counted,
        satisfied=sum(d.satisfied(settings.rating.satisfied_min_for) for d in desks),
        ratings_all=sum(d.ratings for d in desks),
    )
    transaction_waits = sorted(w for d in desks for w in d.wait_values)
    handling = sorted(s for d in desks for s in d.handling_values)
    return figures_of(counts, visit_waits, transaction_waits, handling, wait_rule, service_rule)
