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

import json
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from hub.config import HubSettings, TargetRule
from hub.figures import Counts, Figures, figures_of
from hub.reports.aggregate import Acc, Filters, GroupBy, PeriodAggregator, SeriesPoint, target_lines
from hub.reports.evaluation import EvaluationPack, OfficerEvaluation, finish_pack
from hub.reports.periods import Bucket, Period
from hub.reports.record import Record, RecordError
from hub.reports.stats import Distribution
from hub.reports.targets import BASIS_VISIT, DayTargets, TargetSchedule
from hub.rollups import DeskDay, RollupStore, read_desk_days, read_unit_days, satisfied_score, times_array


class _Officer:
    """What the desk-day rows of one officer add up to."""

    def __init__(self) -> None:
        self.rows = self.no_shows = 0
        self.waits: list[float] | npt.NDArray[np.float64] = []
        self.wait_judged = self.wait_within = 0
        self.handled = self.handling_judged = self.handling_within = 0
        self.handling_total = 0.0
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


def _officers_by_row(store: RollupStore, schedule: TargetSchedule, settings: HubSettings) -> dict[str, _Officer]:
    """Per officer, the sums of their desk-day rows, each time judged against the target of its own day."""
    period = schedule.period
    targets = _targets(schedule)
    satisfied_min = settings.rating.satisfied_min_for
    officers: dict[str, _Officer] = {}
    for row in read_desk_days(store, period.first.isoformat(), period.last.isoformat()):
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
        assert isinstance(o.waits, list)
        o.waits += row.wait_values
        o.handled += len(row.handling_values)
        o.handling_total += math.fsum(row.handling_values)
        if day.wait_limit_s is not None:
            o.wait_judged += len(row.wait_values)
            o.wait_within += sum(1 for w in row.wait_values if w <= day.wait_limit_s)
        if day.service_limit_s is not None:
            o.handling_judged += len(row.handling_values)
            o.handling_within += sum(1 for v in row.handling_values if v <= day.service_limit_s)
    return officers


def _concat(store: RollupStore, column: str) -> str:
    """SQL: the packed times of a ``*_times`` column, joined over a group (SQLite's ``group_concat`` keeps a
    blob's bytes as they are, NUL bytes included; the cast gives them back as a blob)."""
    if getattr(store, "dialect", "sqlite") == "postgresql":
        return f"string_agg({column}, ''::bytea)"
    return f"CAST(group_concat({column}, '') AS BLOB)"


def _halves(period: Period) -> list[tuple[str, str]]:
    """The period's days in two spans (one for a single day), for two reader threads."""
    first, last = period.first.toordinal(), period.last.toordinal()
    if first == last:
        return [(period.first.isoformat(), period.last.isoformat())]
    middle = date.fromordinal((first + last) // 2)
    return [
        (period.first.isoformat(), middle.isoformat()),
        (date.fromordinal(middle.toordinal() + 1).isoformat(), period.last.isoformat()),
    ]


def _submit(store: RollupStore, sql: str, args: Sequence[Any]) -> Callable[[], list[Any]]:
    """Start a read on a reader thread of its own when the store has some (the reports' record), else run it
    when its result is asked for; the rows, when called."""
    submit = getattr(store, "submit", None)
    if submit is None:
        return lambda: store.query(sql, args)
    return cast(Callable[[], list[Any]], submit(sql, args).result)


def _score_counts(store: RollupStore, rows: str, by: str = "staff") -> str:
    """SQL: per officer (or ``by`` column) and key of ``scores`` (``scale/score``), how many counted ratings the
    ``rows`` hold."""
    if getattr(store, "dialect", "sqlite") == "postgresql":
        each, count = "jsonb_each_text(scores::jsonb)", "SUM(CAST(j.value AS INTEGER))"
    else:
        each, count = "json_each(scores)", "SUM(j.value)"
    return f"SELECT {by}, j.key, {count} FROM rollup_desk_days, {each} AS j WHERE {rows} GROUP BY {by}, j.key"


def _officers_by_sql(
    store: RollupStore, period: Period, settings: HubSettings, wait_limit: float | None, service_limit: float | None
) -> dict[str, _Officer]:
    """Per officer, the sums of their rows added up by the database, when each target is the same on every
    day of the period for every unit (the usual case): the times are then judged all at once.

    Each half of the period's days is read in two queries (the sums and times per officer, unit and field;
    the counted ratings per officer and score), on the reader threads of the reports' record where there are
    some; one half's times are unpacked while the other half is still being read. The handling times serve
    only to count those within the target: a row whose longest is within has them all within and is counted
    by the database; only the times of the other rows are read."""
    rows = "day BETWEEN ? AND ? AND staff <> ''"
    worked = "CASE WHEN transactions > 0 THEN {} END"
    handling = "0, NULL"
    limits: tuple[float, ...] = ()
    if service_limit is not None:
        handling = "SUM(CASE WHEN handling_max <= ? THEN handled ELSE 0 END), "
        handling += _concat(store, "CASE WHEN handling_max > ? THEN handling_times END")
        limits = (service_limit, service_limit)
    sums = (
        "SELECT staff, site, service, SUM(transactions), SUM(no_shows), SUM(handled), SUM(handling_sum), "
        "SUM(ratings), SUM(ratings_counted), SUM(comments_negative), SUM(comments_neutral), "
        f"SUM(comments_positive), SUM(emotions), SUM(valence_sum), MIN({worked.format('day')}), "
        f"MAX({worked.format('day')}), {_concat(store, 'wait_times')}, {handling} FROM rollup_desk_days WHERE {rows} "
        "GROUP BY staff, site, service"
    )
    scored = _score_counts(store, rows + " AND ratings_counted > 0")
    halves = _halves(period)
    reads = [_submit(store, sums, (*limits, *half)) for half in halves]
    reads += [_submit(store, scored, half) for half in halves]
    officers: dict[str, _Officer] = {}
    waits: dict[str, list[npt.NDArray[np.float64]]] = {}
    handling_parts: dict[str, list[npt.NDArray[np.float64]]] = {}
    for read in reads[: len(halves)]:
        for row in read():
            o = officers.get(row[0])
            if o is None:
                o = officers[row[0]] = _Officer()
            o.rows += int(row[3])
            o.no_shows += int(row[4])
            o.handled += int(row[5])
            o.handling_total += float(row[6])
            o.ratings += int(row[7])
            o.counted += int(row[8])
            for name, count in zip(("negative", "neutral", "positive"), row[9:12], strict=True):
                o.comments[name] += int(count)
            o.emotions += int(row[12])
            o.valence += float(row[13])
            if row[14] is None:
                continue  # no transaction of this unit and field in this half
            # The units and fields of each officer, by dossiers received.
            served = int(row[3]) - int(row[4])
            o.sites[row[1]] = o.sites.get(row[1], 0) + served
            o.services[row[2]] = o.services.get(row[2], 0) + served
            o.days = [min([*o.days, row[14]]), max([*o.days, row[15]])]
            waits.setdefault(row[0], []).append(times_array(row[16]))
            if service_limit is not None:
                o.handling_judged += int(row[5])
                o.handling_within += int(row[17])
                handling_parts.setdefault(row[0], []).append(times_array(row[18]))
    for name, parts in waits.items():
        o = officers[name]
        o.waits = np.concatenate(parts)
        if wait_limit is not None:
            o.wait_judged, o.wait_within = len(o.waits), int(np.count_nonzero(o.waits <= wait_limit))
    if service_limit is not None:
        for name, parts in handling_parts.items():
            officers[name].handling_within += int(np.count_nonzero(np.concatenate(parts) <= service_limit))
    satisfied_min = settings.rating.satisfied_min_for
    satisfied: dict[str, bool] = {}  # per key of the scores (a few, one per scale and score)
    for read in reads[len(halves) :]:
        for name, key, count in read():
            if key not in satisfied:
                satisfied[key] = satisfied_score(key, satisfied_min)
            if satisfied[key]:
                officers[name].satisfied += int(count)
    return officers


def _evaluation_of(staff: str, o: _Officer) -> OfficerEvaluation:
    """An officer's evaluation as far as the record tells, as ``hub.reports.evaluation`` builds it."""
    received = o.rows - o.no_shows
    sites = sorted(o.sites)
    named = sorted(s for s in o.services if s)
    # As the raw scan: the first unit and field by name, unless the officer has several (then the mix).
    service_mix = dict(o.services) if len(named) > 1 else {(named[0] if named else ""): received}
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
        wait=Distribution.of(np.asarray(o.waits, dtype=np.float64), o.wait_judged, o.wait_within),
        handling=Distribution(
            count=o.handled,
            mean=o.handling_total / o.handled if o.handled else None,
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
    store: RollupStore, settings: HubSettings, period: Period, staff: str | None = None, by_row: bool = False
) -> EvaluationPack:
    """The evaluation pack of every officer (or of one, still compared with all) read from the roll-ups.

    The database adds the rows up when each target is the same over the whole period; otherwise (or with
    ``by_row``) each row's times are judged in Python against the targets of the row's own unit and day.
    """
    schedule = TargetSchedule(settings, period)
    waits = {run.targets.wait_limit_s for run in schedule.runs}
    handling = {run.targets.service_limit_s for run in schedule.runs}
    if by_row or len(waits) > 1 or len(handling) > 1:
        found = _officers_by_row(store, schedule, settings)
    else:
        found = _officers_by_sql(store, period, settings, waits.pop(), handling.pop())
    officers = {name: _evaluation_of(name, o) for name, o in found.items() if o.days}
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


class _RecordReader:
    """The reports' read-only record (``hub.reports.record.Record``, SQLite) as the roll-ups read it."""

    def __init__(self, record: Record) -> None:
        self._record = record
        self.dialect = "postgresql" if record.postgresql else "sqlite"

    def query(self, sql: str, args: Sequence[Any] = (), *, flush: bool = False) -> list[Any]:
        return list(self._record.connection().execute(sql, tuple(args)).fetchall())

    def submit(self, sql: str, args: Sequence[Any] = ()) -> Future[list[Any]]:
        """Start a read on one of the record's reader threads (each with its own connection); the packed times
        come from PostgreSQL as they are kept (binary results), not in hex."""
        return self._record.submit(lambda conn: list(conn.execute(sql, tuple(args), binary=True).fetchall()))

    def write(self, sql: str, row: tuple[Any, ...]) -> None:
        raise RecordError("the reports' record is read-only")


def _keeps_rollups(record: Record, reader: _RecordReader) -> bool:
    """Whether the record holds roll-ups (a record not opened by a hub since they exist has none)."""
    return record.connection().has_table("rollup_desk_days") and bool(
        reader.query("SELECT 1 FROM rollup_desk_days LIMIT 1")
    )


def evaluation_from_record(
    record: Record, settings: HubSettings, period: Period, staff: str | None = None
) -> EvaluationPack | None:
    """The pack from the roll-ups of the reports' record; None when it has none (a record not opened by a hub
    since the roll-ups exist, or written by other means): the caller then scans the raw events."""
    reader = _RecordReader(record)
    if not _keeps_rollups(record, reader):
        return None
    return evaluation_from_rollups(reader, settings, period, staff)


@dataclass(frozen=True, slots=True)
class UnitRatings:
    """Per unit seen in the period: its counted ratings and the satisfied ones (units with a rating), and its
    transactions served (units with a transaction, no-shows included): what Decision 766 points need."""

    counted: dict[str, tuple[int, int]]
    served: dict[str, int]


def unit_ratings_from_record(
    record: Record, settings: HubSettings, period: Period, site: str | None = None
) -> UnitRatings | None:
    """Decision 766's counts per unit from the roll-ups of the reports' record (the same as from the raw ratings
    and transactions: every rating and transaction is in the row of its own unit, desk and day); None when the
    record keeps none."""
    reader = _RecordReader(record)
    if not _keeps_rollups(record, reader):
        return None
    rows, args = "day BETWEEN ? AND ?", [period.first.isoformat(), period.last.isoformat()]
    if site is not None:
        rows, args = rows + " AND site = ?", [*args, site]
    sums = reader.submit(
        f"SELECT site, SUM(ratings), SUM(ratings_counted), SUM(transactions), SUM(transactions - no_shows) "
        f"FROM rollup_desk_days WHERE {rows} GROUP BY site",
        args,
    )
    scored = reader.submit(_score_counts(reader, rows + " AND ratings_counted > 0", by="site"), args)
    satisfied: dict[str, int] = {}
    verdicts: dict[str, bool] = {}
    for unit, key, count in scored.result():
        if key not in verdicts:
            verdicts[key] = satisfied_score(key, settings.rating.satisfied_min_for)
        if verdicts[key]:
            satisfied[unit] = satisfied.get(unit, 0) + int(count)
    counted: dict[str, tuple[int, int]] = {}
    served: dict[str, int] = {}
    for unit, ratings, n, transactions, done in sums.result():
        if int(ratings):
            counted[unit] = (int(n), satisfied.get(unit, 0))
        if int(transactions):
            served[unit] = int(done)
    return UnitRatings(counted, served)


_PERIOD_DESK_COLUMNS = (
    "site, day, desk, staff, service, transactions, no_shows, waits, wait_sum, wait_times, handled, handling_times, "
    "ratings, ratings_counted, scores, comments_negative, comments_neutral, comments_positive, emotions, valence_sum"
)


class RollupPeriod:
    """A period report's aggregates (``PeriodAggregator.collect`` and ``series``) from the roll-ups: the same
    accumulators, with each row's times judged against the targets of its own unit and day (all the rows'
    times parsed and compared at once)."""

    def __init__(self, reader: RollupStore, aggregator: PeriodAggregator) -> None:
        self.aggregator = aggregator
        span = (aggregator.period.first.isoformat(), aggregator.period.last.isoformat())
        self.desks = reader.query(
            f"SELECT {_PERIOD_DESK_COLUMNS} FROM rollup_desk_days WHERE day BETWEEN ? AND ?", span
        )
        self.units = reader.query(
            "SELECT site, day, visits, no_shows, waiting, visit_waits, visit_wait_sum, visit_wait_times "
            "FROM rollup_unit_days WHERE day BETWEEN ? AND ?",
            span,
        )
        targets = _targets(aggregator.schedule)
        schedule = aggregator.schedule

        def day_of(site: str, day: str) -> DayTargets:
            found = targets.get((site if site in schedule.sites else "", day))
            return found or schedule.on(site, date.fromisoformat(day))

        self.desk_targets = [day_of(r[0], r[1]) for r in self.desks]
        self.unit_targets = [day_of(u[0], u[1]) for u in self.units]
        self.wait_within = _within(self.desks, 7, 9, [t.wait_limit_s for t in self.desk_targets])
        self.handling_within = _within(self.desks, 10, 11, [t.service_limit_s for t in self.desk_targets])
        self.visit_within = _within(self.units, 5, 7, [t.wait_limit_s for t in self.unit_targets])
        satisfied_min = aggregator.settings.rating.satisfied_min_for
        parsed: dict[str, int] = {}
        self.satisfied = []
        for row in self.desks:
            if row[14] not in parsed:
                parsed[row[14]] = DeskDay("", "", "", "", "", scores=json.loads(row[14])).satisfied(satisfied_min)
            self.satisfied.append(parsed[row[14]])

    @staticmethod
    def _key(by: GroupBy, row: Sequence[Any]) -> tuple[Any, ...]:
        if by is GroupBy.PROVINCE:
            return ()
        if by is GroupBy.UNIT:
            return (row[0],)
        if by is GroupBy.DESK:
            return (row[0], row[2])
        return ((row[4] if by is GroupBy.SERVICE else row[3]) or None,)

    def _desk_rows(self, filters: Filters) -> list[int]:
        return [
            i
            for i, r in enumerate(self.desks)
            if (filters.site is None or r[0] == filters.site) and (filters.desk is None or r[2] == filters.desk)
        ]

    def _unit_rows(self, filters: Filters) -> list[int]:
        if filters.desk is not None:
            return []  # visits belong to a unit, not to a desk
        return [i for i, u in enumerate(self.units) if filters.site is None or u[0] == filters.site]

    def collect(self, by: GroupBy, filters: Filters) -> dict[tuple[Any, ...], Acc]:
        """Every accumulator of the period per ``by`` group, as ``PeriodAggregator.collect`` gives them."""
        unit_level = by in (GroupBy.PROVINCE, GroupBy.UNIT)
        accs: dict[tuple[Any, ...], Acc] = {}
        for i in self._desk_rows(filters):
            row, targets = self.desks[i], self.desk_targets[i]
            key = self._key(by, row)
            a = accs.get(key)
            if a is None:
                a = accs[key] = Acc()
            a.rows += int(row[5])
            a.no_shows += int(row[6])
            if not unit_level or targets.wait_basis != BASIS_VISIT:
                a.wait_texts.append(row[9])
                if targets.wait_limit_s is not None:
                    a.wait_judged += int(row[7])
                    a.wait_within += self.wait_within[i]
            a.service_texts.append(row[11])
            if targets.service_limit_s is not None:
                a.service_judged += int(row[10])
                a.service_within += self.handling_within[i]
            if unit_level:
                a.tx_wait_sum += float(row[8])
                a.tx_wait_count += int(row[7])
            a.ratings += int(row[13])
            a.satisfied += self.satisfied[i]
            a.not_counted += int(row[12]) - int(row[13])
            for name, count in zip(("negative", "neutral", "positive"), row[15:18], strict=True):
                a.comments[name] = a.comments.get(name, 0) + int(count)
            a.emotions += int(row[18])
            a.valence_sum += float(row[19])
        if unit_level:
            for i in self._unit_rows(filters):
                unit, targets = self.units[i], self.unit_targets[i]
                a = accs.setdefault(() if by is GroupBy.PROVINCE else (unit[0],), Acc())
                a.visits += int(unit[2])
                a.visit_no_shows += int(unit[3])
                a.waiting += int(unit[4])
                a.visit_wait_sum += float(unit[6])
                a.visit_wait_count += int(unit[5])
                if targets.wait_basis == BASIS_VISIT:
                    a.wait_texts.append(unit[7])
                    if targets.wait_limit_s is not None:
                        a.wait_judged += int(unit[5])
                        a.wait_within += self.visit_within[i]
        return accs

    def series(self, filters: Filters, buckets: Sequence[Bucket]) -> list[SeriesPoint]:
        """Per bucket: served transactions, judged and met waits, counted ratings, satisfied (unit level)."""
        per_day: dict[str, list[int]] = {}
        for i in self._desk_rows(filters):
            row, targets = self.desks[i], self.desk_targets[i]
            cells = per_day.setdefault(row[1], [0] * 5)
            cells[0] += int(row[5]) - int(row[6])
            if targets.wait_basis != BASIS_VISIT and targets.wait_limit_s is not None:
                cells[1] += int(row[7])
                cells[2] += self.wait_within[i]
            cells[3] += int(row[13])
            cells[4] += self.satisfied[i]
        for i in self._unit_rows(filters):
            unit, targets = self.units[i], self.unit_targets[i]
            if targets.wait_basis == BASIS_VISIT and targets.wait_limit_s is not None:
                cells = per_day.setdefault(unit[1], [0] * 5)
                cells[1] += int(unit[5])
                cells[2] += self.visit_within[i]
        points = []
        for b in buckets:
            sums = [0] * 5
            for day, cells in per_day.items():
                if b.first.isoformat() <= day <= b.last.isoformat():
                    sums = [x + y for x, y in zip(sums, cells, strict=True)]
            points.append(SeriesPoint(b.key, b.label, *sums))
        return points


def _within(rows: Sequence[Sequence[Any]], count: int, text: int, limits: Sequence[float | None]) -> list[int]:
    """Per row: how many of its times (packed in column ``text``, ``count`` of them) are at most its row's limit."""
    counts = np.array([int(r[count]) for r in rows], dtype=np.int64)
    if not counts.sum():
        return [0] * len(rows)
    values = times_array(b"".join(r[text] for r in rows))
    bound = np.array([np.nan if limit is None else limit for limit in limits], dtype=np.float64)
    hits = values <= np.repeat(bound, counts)
    return [int(n) for n in np.bincount(np.repeat(np.arange(len(rows)), counts), weights=hits, minlength=len(rows))]


def rollup_period(record: Record, aggregator: PeriodAggregator, filters: Filters) -> RollupPeriod | None:
    """The period's aggregates from the roll-ups of the reports' record; None when it has none, or for a
    filter by service field or officer (the visits of a unit are not kept per field or officer)."""
    if filters.service is not None or filters.staff is not None:
        return None
    reader = _RecordReader(record)
    if not _keeps_rollups(record, reader):
        return None
    return RollupPeriod(reader, aggregator)
