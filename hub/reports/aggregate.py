"""Period figures per province, unit, desk, service field or officer, computed by SQL aggregates over the record.

The definitions are those of ``hub.figures.compute_figures`` (a day's figures), extended to any period:

- transactions: served transactions (called, not a no-show), including one still in service;
- visits (province and unit only): visits served or in service; no-shows and visits never called apart;
- waits of a unit: per visit on the days a per-visit target is in force (until 2022), per transaction on the
  other days; waits of a desk, field or officer: per transaction;
- share within target: each wait judged against the wait target in force on its own day for its own unit
  (at the unit's level that day); days without a target are not judged;
- handling (service) time: from the first call to the end of service; share within the handling target in
  force on its day;
- mean, median and 90th percentile over every wait of the period (type 7, as ``hub.figures.percentile``);
- ratings: counted ratings only (flagged bursts, repeats, too-soon presses are kept apart); satisfied when
  the score is at least the configured threshold on the scale it was given on; Wilson 95 % interval;
- comments: counts per sentiment; emotion: mean valence over the services measured, with their number.

A rating, comment or emotion belongs to an officer through its ``staff`` field, or else through the
transaction of its ticket at its desk that day; to a service field through that transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from hub.config import HubSettings, UnitLevel
from hub.reports.decision766 import points_766
from hub.reports.labels import LEVEL_NAMES
from hub.reports.periods import Bucket, Period
from hub.reports.record import Record, RecordConnection
from hub.reports.stats import Distribution, FloatArray, values_from_concat, wilson_interval
from hub.reports.targets import BASIS_TRANSACTION, BASIS_VISIT, LEVEL_ORDER, TargetSchedule, describe_target


class GroupBy(StrEnum):
    """What a period report has one row for."""

    PROVINCE = "province"
    UNIT = "unit"
    DESK = "desk"
    SERVICE = "service"
    OFFICER = "officer"


def _transaction_of(alias: str, column: str) -> str:
    """SQL: a column of the transaction a rating/comment/emotion row refers to (its ticket at its desk)."""
    return (
        f"(SELECT t.{column} FROM transactions t WHERE t.site = {alias}.site AND t.day = {alias}.day "
        f"AND t.ticket = {alias}.ticket AND t.desk = {alias}.desk ORDER BY t.seq DESC LIMIT 1)"
    )


def key_columns(by: GroupBy, alias: str, table: str) -> list[str]:
    """SQL expressions of the group key of ``by`` on a table (``transactions``, ``ratings``, …)."""
    if by is GroupBy.PROVINCE:
        return []
    if by is GroupBy.UNIT:
        return [f"{alias}.site"]
    if by is GroupBy.DESK:
        return [f"{alias}.site", f"{alias}.desk"]
    if table == "transactions":
        return [f"{alias}.{'service' if by is GroupBy.SERVICE else 'staff'}"]
    if by is GroupBy.SERVICE:
        return [_transaction_of(alias, "service")]
    if table == "emotions":
        return [_transaction_of(alias, "staff")]
    return [f"COALESCE({alias}.staff, {_transaction_of(alias, 'staff')})"]


@dataclass(frozen=True, slots=True)
class Filters:
    """Which part of the record a report covers (None: all)."""

    site: str | None = None
    desk: str | None = None
    service: str | None = None
    staff: str | None = None

    def sql(self, alias: str, table: str) -> tuple[str, list[Any]]:
        """SQL conditions and their parameters."""
        terms: list[str] = []
        args: list[Any] = []
        if self.site is not None:
            terms.append(f"{alias}.site = ?")
            args.append(self.site)
        if self.desk is not None:
            if table == "visits":  # a visit has no desk of its own: the visits with a transaction at this desk
                terms.append(
                    f"EXISTS (SELECT 1 FROM transactions t WHERE t.site = {alias}.site AND t.day = "
                    f"{alias}.day AND t.ticket = {alias}.ticket AND t.desk = ?)"
                )
            else:
                terms.append(f"{alias}.desk = ?")
            args.append(self.desk)
        if self.service is not None:
            terms.append(
                f"{alias}.service = ?"
                if table in ("transactions", "visits")
                else f"{_transaction_of(alias, 'service')} = ?"
            )
            args.append(self.service)
        if self.staff is not None:
            if table == "transactions":
                terms.append(f"{alias}.staff = ?")
            elif table == "emotions":
                terms.append(f"{_transaction_of(alias, 'staff')} = ?")
            elif table == "visits":
                terms.append(
                    f"EXISTS (SELECT 1 FROM transactions t WHERE t.site = {alias}.site AND t.day = "
                    f"{alias}.day AND t.ticket = {alias}.ticket AND t.staff = ?)"
                )
            else:
                terms.append(f"COALESCE({alias}.staff, {_transaction_of(alias, 'staff')}) = ?")
            args.append(self.staff)
        return "".join(f" AND {t}" for t in terms), args


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket of a group's figures, for the charts."""

    bucket: str
    label: str
    transactions: int
    judged: int
    within: int
    ratings: int
    satisfied: int

    @property
    def within_share(self) -> float | None:
        """Share of the bucket's judged waits within the target."""
        return self.within / self.judged if self.judged else None


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """The figures of one group (a unit, a desk, a field, an officer, the province) over the period."""

    key: tuple[str | None, ...]
    name: str
    visits: int | None
    transactions: int
    no_shows: int
    waiting: int | None
    wait: Distribution
    wait_basis: str | None
    mean_visit_wait_s: float | None
    mean_transaction_wait_s: float | None
    service: Distribution
    ratings: int
    satisfied: int
    ratings_not_counted: int
    comments: dict[str, int]
    emotions: int
    mean_valence: float | None
    series: list[SeriesPoint] = field(default_factory=list)

    @property
    def satisfaction_share(self) -> float | None:
        """Satisfied share of counted ratings."""
        return self.satisfied / self.ratings if self.ratings else None

    @property
    def satisfaction_interval(self) -> tuple[float, float] | None:
        """95 % Wilson interval of the satisfied share."""
        return wilson_interval(self.satisfied, self.ratings)

    @property
    def points_766(self) -> float:
        """Decision 766 satisfaction points of this group's ratings."""
        return points_766(self.satisfied, self.ratings)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (times in seconds, shares 0–1)."""
        data = asdict(self)
        data["key"] = list(self.key)
        data["wait"]["within_share"] = self.wait.within_share
        data["service"]["within_share"] = self.service.within_share
        data["satisfaction_share"] = self.satisfaction_share
        interval = self.satisfaction_interval
        data["satisfaction_interval_95"] = list(interval) if interval else None
        data["points_766"] = self.points_766
        for point, raw in zip(self.series, data["series"], strict=True):
            raw["within_share"] = point.within_share
        return data


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """A period report: the total and one row per group."""

    province: str
    scope: str
    period: Period
    by: GroupBy
    total: GroupFigures
    groups: list[GroupFigures]
    targets: list[str]
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready report."""
        return {
            "province": self.province,
            "scope": self.scope,
            "period": {
                "code": self.period.code,
                "label": self.period.label,
                "first": self.period.first.isoformat(),
                "last": self.period.last.isoformat(),
            },
            "by": self.by.value,
            "targets": self.targets,
            "notes": self.notes,
            "total": self.total.as_dict(),
            "groups": [g.as_dict() for g in self.groups],
        }


@dataclass(slots=True)
class Acc:
    """What the queries found for one group, before it becomes GroupFigures."""

    wait_texts: list[str | bytes | None] = field(default_factory=list)  # group_concat texts, roll-ups' packed times
    service_texts: list[str | bytes | None] = field(default_factory=list)
    rows: int = 0
    no_shows: int = 0
    wait_judged: int = 0
    wait_within: int = 0
    service_judged: int = 0
    service_within: int = 0
    tx_wait_sum: float = 0.0
    tx_wait_count: int = 0
    visits: int = 0
    visit_no_shows: int = 0
    waiting: int = 0
    visit_wait_sum: float = 0.0
    visit_wait_count: int = 0
    ratings: int = 0
    satisfied: int = 0
    not_counted: int = 0
    comments: dict[str, int] = field(default_factory=dict)
    emotions: int = 0
    valence_sum: float = 0.0


def satisfied_sql(settings: HubSettings, alias: str) -> str:
    """SQL: true when a rating's score is satisfied on the scale it was given on (``RatingScale`` rule)."""
    scale = settings.rating
    branches = " ".join(
        f"WHEN {levels} THEN {scale.satisfied_min_for(levels)}" for levels in range(1, 11) if levels != scale.levels
    )
    return (
        f"({alias}.score >= CASE WHEN {alias}.scale IS NULL THEN {scale.satisfied_min} ELSE CASE {alias}.scale "
        f"{branches} ELSE {scale.satisfied_min} END END)"
    )


def _constant(sql: str) -> float | None | str:
    """The value of a schedule expression that does not depend on the row ('x' when it does)."""
    if sql == "NULL":
        return None
    if sql.startswith("(CASE"):
        return "x"
    return sql.strip("'") if sql.startswith("'") else float(sql)


Task = Callable[[RecordConnection], Any]


class PeriodAggregator:
    """The aggregates of one period, run over the record's reader connections."""

    def __init__(self, record: Record, settings: HubSettings, period: Period) -> None:
        self.record = record
        self.settings = settings
        self.period = period
        self.schedule = TargetSchedule(settings, period)
        self._range = (period.first.isoformat(), period.last.isoformat())
        self.wait_limit = _constant(self.schedule.wait_limit_sql())
        self.service_limit = _constant(self.schedule.service_limit_sql())
        self.basis = _constant(self.schedule.basis_sql())
        self._judging_columns = 2 * (self.wait_limit == "x") + 2 * (self.service_limit == "x")

    # -- SQL ----------------------------------------------------------------------------------------------

    def query(self, table: str, alias: str, by: GroupBy, columns: Sequence[str], filters: Filters) -> Task:
        """A task: ``columns`` aggregated per ``by`` group over the period (key columns first)."""
        keys = key_columns(by, alias, table)
        where, args = filters.sql(alias, table)
        group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}" if keys else ""
        sql = (
            f"SELECT {', '.join([*keys, *columns])} FROM {table} {alias} "
            f"WHERE {alias}.day BETWEEN ? AND ?{where}{group}"
        )
        params = (*self._range, *args)
        return lambda conn: conn.execute(sql, params).fetchall()

    def tx_wait_sql(self, unit_level: bool) -> str:
        """SQL: the transaction wait that counts (for a unit: only on days of a per-transaction target)."""
        if not unit_level or self.basis in (BASIS_TRANSACTION, None):
            return "t.wait_s"
        if self.basis == BASIS_VISIT:
            return "NULL"
        return f"(CASE WHEN {self.schedule.basis_sql('t')} IS NOT '{BASIS_VISIT}' THEN t.wait_s END)"

    def visit_wait_sql(self) -> str:
        """SQL: the visit wait that counts (only on days of a per-visit target)."""
        if self.basis in (BASIS_TRANSACTION, None):
            return "NULL"
        if self.basis == BASIS_VISIT:
            return "v.wait_s"
        return f"(CASE WHEN {self.schedule.basis_sql('v')} = '{BASIS_VISIT}' THEN v.wait_s END)"

    def _judging(self, wait: str, limit_sql: str, constant: object) -> list[str]:
        # A limit that is the same for every row is applied in numpy on the fetched values instead.
        if constant != "x":
            return []
        return [f"TOTAL({wait} IS NOT NULL AND {limit_sql} IS NOT NULL)", f"TOTAL({wait} <= {limit_sql})"]

    def transaction_columns(self, unit_level: bool) -> list[str]:
        """Columns of the transactions aggregate (see ``take_transactions``)."""
        wait = self.tx_wait_sql(unit_level)
        columns = [
            "COUNT(*)",
            "TOTAL(t.end_reason = 'no_show')",
            f"group_concat({wait})",
            "group_concat(t.service_s)",
            # A unit's waits may be per visit: the mean per transaction is then computed apart.
            *(["TOTAL(t.wait_s)", "COUNT(t.wait_s)"] if unit_level else []),
        ]
        columns += self._judging(wait, self.schedule.wait_limit_sql("t"), self.wait_limit)
        columns += self._judging("t.service_s", self.schedule.service_limit_sql("t"), self.service_limit)
        return columns

    def take_transactions(self, a: Acc, values: Sequence[Any]) -> None:
        """Add one row of the transactions aggregate to a group."""
        a.rows += values[0]
        a.no_shows += int(values[1])
        a.wait_texts.append(values[2])
        a.service_texts.append(values[3])
        rest = list(values[4:])
        if len(rest) > self._judging_columns:
            a.tx_wait_sum += rest.pop(0)
            a.tx_wait_count += rest.pop(0)
        if self.wait_limit == "x":
            a.wait_judged += int(rest.pop(0))
            a.wait_within += int(rest.pop(0))
        if self.service_limit == "x":
            a.service_judged += int(rest.pop(0))
            a.service_within += int(rest.pop(0))

    def visit_columns(self) -> list[str]:
        """Columns of the visits aggregate (units and the province)."""
        wait = self.visit_wait_sql()
        return [
            "TOTAL(v.status IN ('serving', 'done'))",
            "TOTAL(v.status = 'no_show')",
            "TOTAL(v.status = 'waiting')",
            f"group_concat({wait})",
            "TOTAL(v.wait_s)",
            "COUNT(v.wait_s)",
            *self._judging(wait, self.schedule.wait_limit_sql("v"), self.wait_limit),
        ]

    def take_visits(self, a: Acc, values: Sequence[Any]) -> None:
        """Add one row of the visits aggregate to a group."""
        a.visits += int(values[0])
        a.visit_no_shows += int(values[1])
        a.waiting += int(values[2])
        a.wait_texts.append(values[3])
        a.visit_wait_sum += values[4]
        a.visit_wait_count += values[5]
        if self.wait_limit == "x":
            a.wait_judged += int(values[6])
            a.wait_within += int(values[7])

    def rating_columns(self) -> list[str]:
        """Columns of the ratings aggregate."""
        return ["COUNT(*)", "TOTAL(r.counted)", f"TOTAL(r.counted AND {satisfied_sql(self.settings, 'r')})"]

    @staticmethod
    def take_ratings(a: Acc, values: Sequence[Any]) -> None:
        """Add one row of the ratings aggregate to a group."""
        a.ratings += int(values[1])
        a.satisfied += int(values[2])
        a.not_counted += values[0] - int(values[1])

    COMMENT_COLUMNS = (
        "TOTAL(f.sentiment = 'negative')",
        "TOTAL(f.sentiment = 'neutral')",
        "TOTAL(f.sentiment = 'positive')",
    )

    @staticmethod
    def take_comments(a: Acc, values: Sequence[Any]) -> None:
        """Add one row of the comments aggregate to a group."""
        for name, count in zip(("negative", "neutral", "positive"), values, strict=True):
            a.comments[name] = a.comments.get(name, 0) + int(count)

    EMOTION_COLUMNS = ("COUNT(*)", "TOTAL(e.valence)")

    @staticmethod
    def take_emotions(a: Acc, values: Sequence[Any]) -> None:
        """Add one row of the emotions aggregate to a group."""
        a.emotions += values[0]
        a.valence_sum += values[1]

    # -- running them -------------------------------------------------------------------------------------

    def collect(self, by: GroupBy, filters: Filters) -> dict[tuple[Any, ...], Acc]:
        """Every aggregate of the period for ``by``, in parallel; the accumulators by group key."""
        unit_level = by in (GroupBy.PROVINCE, GroupBy.UNIT)
        plan: list[tuple[str, str, Sequence[str], Callable[[Acc, Sequence[Any]], None]]] = [
            ("transactions", "t", self.transaction_columns(unit_level), self.take_transactions),
            ("ratings", "r", self.rating_columns(), self.take_ratings),
            ("emotions", "e", self.EMOTION_COLUMNS, self.take_emotions),
            ("feedback", "f", self.COMMENT_COLUMNS, self.take_comments),
        ]
        if unit_level:
            plan.insert(1, ("visits", "v", self.visit_columns(), self.take_visits))
        results = self.record.run(*(self.query(table, alias, by, cols, filters) for table, alias, cols, _ in plan))
        accs: dict[tuple[Any, ...], Acc] = {}
        for (table, alias, _, take), rows in zip(plan, results, strict=True):
            nkeys = len(key_columns(by, alias, table))
            for row in rows:
                key = tuple(row[:nkeys])
                a = accs.get(key)
                if a is None:
                    a = accs[key] = Acc()
                take(a, row[nkeys:])
        return accs

    def series(self, filters: Filters, buckets: Sequence[Bucket], unit_level: bool) -> list[SeriesPoint]:
        """Per bucket (month or day) of the period: transactions, judged and met waits, ratings, satisfied."""
        wait = self.tx_wait_sql(unit_level)
        limit = self.schedule.wait_limit_sql("t")
        tx_cols = [
            "TOTAL(t.end_reason IS NOT 'no_show')",
            f"TOTAL({wait} IS NOT NULL AND {limit} IS NOT NULL)",
            f"TOTAL({wait} <= {limit})",
        ]
        tasks = [
            self._by_day("transactions", "t", tx_cols, filters),
            self._by_day("ratings", "r", self.rating_columns()[1:], filters),
        ]
        if unit_level and self.visit_wait_sql() != "NULL":
            vwait, vlimit = self.visit_wait_sql(), self.schedule.wait_limit_sql("v")
            tasks.append(
                self._by_day(
                    "visits",
                    "v",
                    ["0", f"TOTAL({vwait} IS NOT NULL AND {vlimit} IS NOT NULL)", f"TOTAL({vwait} <= {vlimit})"],
                    filters,
                )
            )
        results = self.record.run(*tasks)
        per_day: dict[str, list[float]] = {}
        for slot, rows in ((0, results[0]), (3, results[1]), *([(0, results[2])] if len(results) > 2 else [])):
            for row in rows:
                cells = per_day.setdefault(row[0], [0.0] * 5)
                for i, value in enumerate(row[1:]):
                    cells[slot + i] += value or 0
        points = []
        for b in buckets:
            sums = [0.0] * 5
            for day, cells in per_day.items():
                if b.first.isoformat() <= day <= b.last.isoformat():
                    sums = [x + y for x, y in zip(sums, cells, strict=True)]
            points.append(SeriesPoint(b.key, b.label, *(int(x) for x in sums)))
        return points

    def _by_day(self, table: str, alias: str, columns: Sequence[str], filters: Filters) -> Task:
        where, args = filters.sql(alias, table)
        sql = (
            f"SELECT {alias}.day, {', '.join(columns)} FROM {table} {alias} "
            f"WHERE {alias}.day BETWEEN ? AND ?{where} GROUP BY {alias}.day"
        )
        params = (*self._range, *args)
        return lambda conn: conn.execute(sql, params).fetchall()

    # -- figures ------------------------------------------------------------------------------------------

    def distributions(self, a: Acc) -> tuple[Distribution, Distribution]:
        """The wait and handling distributions of a group, judged against the targets in force."""
        waits = values_from_concat(a.wait_texts)
        services = values_from_concat(a.service_texts)
        return (
            _judged(waits, self.wait_limit, a.wait_judged, a.wait_within),
            _judged(services, self.service_limit, a.service_judged, a.service_within),
        )

    def figures(
        self, key: tuple[Any, ...], name: str, a: Acc, by: GroupBy, series: list[SeriesPoint] | None = None
    ) -> GroupFigures:
        """The figures of one group."""
        unit_level = by in (GroupBy.PROVINCE, GroupBy.UNIT)
        wait, service = self.distributions(a)
        return GroupFigures(
            key=tuple(key),
            name=name,
            visits=a.visits if unit_level else None,
            transactions=a.rows - a.no_shows,
            no_shows=a.visit_no_shows if unit_level else a.no_shows,
            waiting=a.waiting if unit_level else None,
            wait=wait,
            wait_basis=self.wait_basis(key if by is GroupBy.UNIT else None) if unit_level else BASIS_TRANSACTION,
            mean_visit_wait_s=a.visit_wait_sum / a.visit_wait_count if a.visit_wait_count else None,
            mean_transaction_wait_s=(a.tx_wait_sum / a.tx_wait_count if a.tx_wait_count else None)
            if unit_level
            else wait.mean,
            service=service,
            ratings=a.ratings,
            satisfied=a.satisfied,
            ratings_not_counted=a.not_counted,
            comments={s: a.comments.get(s, 0) for s in ("negative", "neutral", "positive")},
            emotions=a.emotions,
            mean_valence=a.valence_sum / a.emotions if a.emotions else None,
            series=series or [],
        )

    def wait_basis(self, key: tuple[Any, ...] | None) -> str | None:
        """'visit', 'transaction' or 'mixed': what a unit's (or the province's) waits count over the period."""
        runs = self.schedule.runs
        if key:
            site = key[0] if key[0] in self.schedule.sites else ""
            runs = [r for r in runs if r.site == site]
        bases = {r.targets.wait_basis for r in runs if r.targets.wait_basis}
        if not bases:
            return None
        return bases.pop() if len(bases) == 1 else "mixed"

    def target_lines(self, site: str | None = None) -> list[str]:
        """The targets in force over the period, in Vietnamese: one line per level and target, with its days."""
        return target_lines(self.schedule, site)


def _judged(values: FloatArray, constant: object, judged: int, within: int) -> Distribution:
    if constant == "x":
        return Distribution.of(values, judged, within)
    if constant is None:
        return Distribution.of(values)
    limit = float(constant)  # type: ignore[arg-type]
    return Distribution.of(values, len(values), int(np.count_nonzero(values <= limit)))


def target_lines(schedule: TargetSchedule, site: str | None = None) -> list[str]:
    """The targets of a schedule in Vietnamese, one line per unit level and target with the days in force."""
    key_site = None if site is None else (site if site in schedule.sites else "")
    spans: dict[tuple[str, str], list[list[date]]] = {}
    for run in sorted(schedule.runs, key=lambda r: r.first):
        if key_site is not None and run.site != key_site:
            continue
        merged = spans.setdefault((run.targets.level.value, describe_target(run.targets)), [])
        if merged and run.first <= merged[-1][1] + timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], run.last)
        else:
            merged.append([run.first, run.last])
    lines = []
    for (level, text), ranges in spans.items():
        for first, last in ranges:
            order = LEVEL_ORDER.index(UnitLevel(level))  # the same days: province, then district, then commune
            lines.append((first, order, f"{first:%d/%m/%Y}–{last:%d/%m/%Y}, đơn vị {_level_vi(level)}: {text}"))
    return [line for _, _, line in sorted(lines)]


def _level_vi(level: str) -> str:
    return LEVEL_NAMES.get(level, level)


def group_name(settings: HubSettings, by: GroupBy, key: tuple[Any, ...]) -> str:
    """How a group is named in the report."""
    if by is GroupBy.PROVINCE:
        return f"Tỉnh {settings.province.name}"
    if by is GroupBy.UNIT:
        site = settings.site(key[0])
        return site.name if site else str(key[0])
    if by is GroupBy.DESK:
        site = settings.site(key[0])
        desk = next((d for d in site.desks if d.id == key[1]), None) if site else None
        return f"{desk.name if desk else key[1]} – {site.name if site else key[0]}"
    if by is GroupBy.SERVICE:
        return settings.services.get(key[0], key[0]) if key[0] else "(không rõ lĩnh vực)"
    return str(key[0]) if key[0] else "(không rõ cán bộ)"


NOTES = [
    "Thời gian chờ của đơn vị tính theo lần đến giao dịch vào những ngày chỉ tiêu tính theo lần đến (đến hết"
    " 2022), theo lượt giao dịch vào các ngày còn lại; của quầy, lĩnh vực, cán bộ tính theo lượt giao dịch.",
    "Mỗi lượt chờ, mỗi hồ sơ được so với chỉ tiêu có hiệu lực đúng ngày đó, theo cấp của đơn vị ngày đó;"
    " ngày không có chỉ tiêu không được tính vào tỷ lệ đạt.",
    "Trung bình, trung vị và phân vị 90 tính trên mọi lượt chờ của kỳ; phân vị nội suy giữa hai hạng gần nhất"
    " (như hàm PERCENTILE.INC).",
    "Chỉ tính các đánh giá hợp lệ; đánh giá bị thiết bị gắn cờ (bấm liên tiếp, lặp lại, quá sớm) được lưu"
    " nhưng không tính. Hài lòng: từ mức cấu hình trở lên (mặc định 3–4 trên thang 4 mức). Khoảng tin cậy 95 %"
    " theo Wilson.",
    "Điểm Quyết định 766/QĐ-TTg: 6 × min(1, tỷ lệ hài lòng / 90 %); 0 điểm khi không có đánh giá nào.",
]


def period_figures(
    record: Record,
    settings: HubSettings,
    period: Period,
    by: GroupBy,
    filters: Filters | None = None,
) -> PeriodFigures:
    """The figures of ``period`` with one row per ``by`` group, and the total of the scope with its series."""
    from hub.reports.rollup_reader import rollup_period  # it builds on this module

    filters = filters or Filters()
    aggregator = PeriodAggregator(record, settings, period)
    rolled = rollup_period(record, aggregator, filters)  # the daily roll-ups, when the record keeps them
    collect = rolled.collect if rolled is not None else aggregator.collect
    total_by = GroupBy.UNIT if filters.site is not None else GroupBy.PROVINCE
    total_key: tuple[Any, ...] = (filters.site,) if filters.site is not None else ()
    scope = group_name(settings, total_by, total_key)
    total_acc = collect(total_by, filters).get(total_key, Acc())
    if rolled is not None:
        series = rolled.series(filters, period.buckets())
    else:
        series = aggregator.series(filters, period.buckets(), unit_level=True)
    total = aggregator.figures(total_key, scope, total_acc, total_by, series)
    groups: list[GroupFigures] = []
    if by is not total_by:
        accs = collect(by, filters)
        order = _configured_order(settings, by)
        for key in sorted(accs, key=lambda k: (order.get(k, len(order)), tuple(str(p) for p in k))):
            if by in (GroupBy.SERVICE, GroupBy.OFFICER) and key[0] is None and not accs[key].rows:
                continue  # ratings or comments that name neither a ticket nor an officer
            groups.append(aggregator.figures(key, group_name(settings, by, key), accs[key], by))
    return PeriodFigures(
        province=settings.province.name,
        scope=scope,
        period=period,
        by=by,
        total=total,
        groups=groups,
        targets=aggregator.target_lines(filters.site),
        notes=list(NOTES),
    )


def _configured_order(settings: HubSettings, by: GroupBy) -> dict[tuple[Any, ...], int]:
    if by is GroupBy.UNIT:
        return {(s.id,): i for i, s in enumerate(settings.sites)}
    if by is GroupBy.DESK:
        keys = [(s.id, d.id) for s in settings.sites for d in s.desks]
        return {k: i for i, k in enumerate(keys)}
    if by is GroupBy.SERVICE:
        return {(code,): i for i, code in enumerate(settings.services)}
    return {}
