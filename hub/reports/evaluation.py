"""The annual evaluation pack of every desk officer, with a proposed classification that is fair by construction.

For each officer (``transactions.staff``) over the period (a year, normally):

- volume: dossiers received (served transactions) against the productivity norm of their unit's level,
  the level in force on each day (a district unit that became a commune unit on 1 July 2025 has half a
  year of each norm), prorated to the span in which the officer received dossiers;
- waits and handling times: mean, median, 90th percentile and the share within the target in force on
  each day;
- satisfaction: counted ratings, the satisfied share and its 95 % Wilson interval;
- comments: counts per sentiment; citizens' emotion: only the mean valence with its sample size, and the
  caveat that it is a camera estimate (weight 0 by default).

Fairness rules, applied by the code rather than left to the reader:

1. Case mix. Each officer is compared with the officers whose main service field (the field of most of
   their dossiers) is the same. A rate (share within the wait target, within the handling target,
   satisfied) is adjusted as observed ÷ expected × province-wide, where expected is the pooled rate of the
   officer's field: a land-registry officer is not marked down because land dossiers take longer.
   A field with fewer than ``MIN_PEERS`` officers is compared with the whole province instead.
2. Small samples. Satisfaction on fewer than ``min_ratings`` ratings is shown but neither scored nor
   ranked; an officer with fewer than ``min_transactions`` dossiers gets no proposal at all.
3. Evidence. Every score carries the counts it was computed from, in words.
4. Caution at the top and the bottom: "excellent" also needs the lower end of the satisfaction interval
   at the configured level; without enough ratings the proposal is at most "good"; a proposal of "not
   completed" says that the evidence must be reviewed with the officer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from hub.config import HubSettings
from hub.reports.aggregate import Acc, GroupBy, PeriodAggregator, key_columns
from hub.reports.collation import names_key
from hub.reports.labels import LEVEL_NAMES, fmt_int, fmt_interval, fmt_minutes, fmt_num, fmt_pct, fmt_ratio
from hub.reports.periods import Period
from hub.reports.record import Record, RecordConnection
from hub.reports.stats import Distribution, wilson_interval
from hub.reports.targets import UNKNOWN_LEVEL

MIN_PEERS = 5


class Classification(StrEnum):
    """The four levels of the yearly classification of civil servants."""

    EXCELLENT = "excellent"
    GOOD = "good"
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"


CLASS_NAMES = {
    Classification.EXCELLENT: "Hoàn thành xuất sắc nhiệm vụ",
    Classification.GOOD: "Hoàn thành tốt nhiệm vụ",
    Classification.COMPLETED: "Hoàn thành nhiệm vụ",
    Classification.NOT_COMPLETED: "Không hoàn thành nhiệm vụ",
}

COMPONENT_NAMES = {
    "volume": "Khối lượng hồ sơ so với định mức",
    "wait": "Thời gian chờ trong chỉ tiêu",
    "handling": "Thời gian tiếp nhận, xử lý trong chỉ tiêu",
    "satisfaction": "Mức độ hài lòng",
    "sentiment": "Nhận xét của người dân",
    "emotion": "Cảm xúc của người dân (camera)",
}

EMOTION_CAVEAT = (
    "Cảm xúc của người dân do camera ước lượng từ khuôn mặt trong lúc được phục vụ; với từng khuôn mặt mô hình"
    " chỉ đúng khoảng hai lần trong ba, người dân có thể đến với tâm trạng sẵn có, và ánh sáng, góc nhìn khác"
    " nhau giữa các quầy. Con số chỉ là trung bình trên nhiều lượt, kèm số lượt đo; không dùng để kết luận về"
    " một cán bộ. Vì vậy trọng số của cảm xúc trong đề xuất bằng 0 (có thể đổi trong cấu hình, không khuyến nghị)."
)
SENTIMENT_CAVEAT = (
    "Nhận xét do người dân tự nguyện nhập, số lượng ít và thường nghiêng về trường hợp rất hài lòng hoặc rất"
    " không hài lòng; nhãn tích cực/tiêu cực do mô hình tại ki-ốt gán. Trọng số mặc định bằng 0."
)
FAIRNESS_RULES = [
    "So sánh trong cùng lĩnh vực: mỗi cán bộ được so với các cán bộ có cùng lĩnh vực chính (lĩnh vực chiếm"
    " nhiều hồ sơ nhất). Tỷ lệ điều chỉnh = tỷ lệ của cán bộ ÷ tỷ lệ chung của lĩnh vực × tỷ lệ chung toàn tỉnh;"
    f" lĩnh vực có dưới {MIN_PEERS} cán bộ được so với toàn tỉnh.",
    "Không chấm điểm, không xếp hạng mức độ hài lòng khi số đánh giá hợp lệ dưới ngưỡng cấu hình; khi đó đề"
    " xuất cao nhất là 'Hoàn thành tốt nhiệm vụ'.",
    "Không đề xuất xếp loại khi số hồ sơ trong kỳ dưới ngưỡng cấu hình.",
    "'Hoàn thành xuất sắc nhiệm vụ' cần thêm: cận dưới khoảng tin cậy 95 % của tỷ lệ hài lòng đạt ngưỡng cấu hình.",
    "Định mức theo cấp của đơn vị có hiệu lực từng ngày, tính theo tỷ lệ thời gian cán bộ tiếp nhận hồ sơ"
    " trong kỳ (từ ngày tiếp nhận đầu tiên đến ngày cuối cùng).",
    "Mỗi lượt chờ, mỗi hồ sơ được so với chỉ tiêu có hiệu lực đúng ngày đó.",
    "Đây là đề xuất tham khảo kèm chứng cứ; việc xếp loại do cấp có thẩm quyền quyết định, theo quy định"
    " về đánh giá, xếp loại chất lượng cán bộ, công chức (kể cả giới hạn tỷ lệ 'Hoàn thành xuất sắc').",
]


@dataclass(frozen=True, slots=True)
class Component:
    """One scored part of the proposal."""

    name: str
    weight: float
    score: float | None
    evidence: str

    @property
    def label(self) -> str:
        """The component's name in Vietnamese."""
        return COMPONENT_NAMES[self.name]


@dataclass(slots=True)
class OfficerEvaluation:
    """Everything the pack says about one officer."""

    staff: str
    site: str | None
    site_name: str
    sites: int
    level: str
    service: str | None
    service_name: str
    service_mix: dict[str, int]
    first_day: date | None
    last_day: date | None
    received: int
    no_shows: int
    norm: float
    norm_max: float
    wait: Distribution
    handling: Distribution
    ratings: int
    satisfied: int
    ratings_not_counted: int
    comments: dict[str, int]
    emotions: int
    mean_valence: float | None
    peers: int = 0
    components: list[Component] = field(default_factory=list)
    score: float | None = None
    proposal: Classification | None = None
    reasons: list[str] = field(default_factory=list)
    rank_in_field: int | None = None
    ranked_in_field: int = 0

    @property
    def satisfaction_share(self) -> float | None:
        """Satisfied share of counted ratings."""
        return self.satisfied / self.ratings if self.ratings else None

    @property
    def satisfaction_interval(self) -> tuple[float, float] | None:
        """95 % Wilson interval of the satisfied share."""
        return wilson_interval(self.satisfied, self.ratings)

    @property
    def proposal_name(self) -> str:
        """The proposal in Vietnamese."""
        return CLASS_NAMES[self.proposal] if self.proposal else "Chưa đủ dữ liệu để đề xuất"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready evaluation (times in seconds, shares 0–1, scores 0–100)."""
        interval = self.satisfaction_interval
        return {
            "staff": self.staff,
            "site": self.site,
            "site_name": self.site_name,
            "sites": self.sites,
            "level": self.level,
            "service": self.service,
            "service_name": self.service_name,
            "service_mix": self.service_mix,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "received": self.received,
            "no_shows": self.no_shows,
            "norm": self.norm,
            "norm_max": self.norm_max,
            "wait": {**_distribution_dict(self.wait)},
            "handling": {**_distribution_dict(self.handling)},
            "ratings": self.ratings,
            "satisfied": self.satisfied,
            "ratings_not_counted": self.ratings_not_counted,
            "satisfaction_share": self.satisfaction_share,
            "satisfaction_interval_95": list(interval) if interval else None,
            "comments": self.comments,
            "emotions": self.emotions,
            "mean_valence": self.mean_valence,
            "peers": self.peers,
            "components": [
                {"name": c.name, "label": c.label, "weight": c.weight, "score": c.score, "evidence": c.evidence}
                for c in self.components
            ],
            "score": self.score,
            "proposal": self.proposal.value if self.proposal else None,
            "proposal_name": self.proposal_name,
            "reasons": self.reasons,
            "rank_in_field": self.rank_in_field,
            "ranked_in_field": self.ranked_in_field,
        }


def _distribution_dict(d: Distribution) -> dict[str, Any]:
    return {
        "count": d.count,
        "mean_s": d.mean,
        "median_s": d.median,
        "p90_s": d.p90,
        "judged": d.judged,
        "within": d.within,
        "within_share": d.within_share,
    }


@dataclass(frozen=True, slots=True)
class EvaluationPack:
    """The pack of a period: every officer, the rules, the weights and the caveats."""

    province: str
    period: Period
    officers: list[OfficerEvaluation]
    weights: dict[str, float]
    thresholds: dict[str, float]
    min_ratings: int
    min_transactions: int
    targets: list[str]
    rules: list[str]
    emotion_caveat: str
    sentiment_caveat: str
    services: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready pack."""
        return {
            "province": self.province,
            "period": {"code": self.period.code, "label": self.period.label},
            "weights": self.weights,
            "thresholds": self.thresholds,
            "min_ratings": self.min_ratings,
            "min_transactions": self.min_transactions,
            "targets": self.targets,
            "rules": self.rules,
            "emotion_caveat": self.emotion_caveat,
            "sentiment_caveat": self.sentiment_caveat,
            "officers": [o.as_dict() for o in self.officers],
        }


# -- the queries -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _OfficerRows:
    """What the transactions say per officer, and the mix of units and fields of those with several."""

    rows: list[Any]
    sites: list[Any]
    services: list[Any]


def officer_ranges(parts: int) -> Any:
    """Officer-id ranges with about as many officers each, to share the transactions among reader threads.

    Found by skipping through the (staff, day) index one officer at a time: a seek per officer, no scan.
    """

    def task(conn: RecordConnection) -> list[tuple[str | None, str | None]]:
        officers = [
            row[0]
            for row in conn.execute(
                "WITH RECURSIVE o(staff) AS (SELECT MIN(staff) FROM transactions UNION ALL SELECT (SELECT MIN(staff)"
                " FROM transactions WHERE staff > o.staff) FROM o WHERE o.staff IS NOT NULL) "
                "SELECT staff FROM o WHERE staff IS NOT NULL"
            )
        ]
        cuts = [officers[len(officers) * k // parts] for k in range(1, parts) if officers]
        edges: list[str | None] = [None, *cuts, None]
        return [(edges[k], edges[k + 1]) for k in range(len(edges) - 1)]

    return task


def _officer_transactions(aggregator: PeriodAggregator, low: str | None = None, high: str | None = None) -> Any:
    """Per officer: dossiers, no-shows, waits (concatenated, for the percentiles), handling against the
    target, first and last day, units and fields seen; then, for the officers seen at several units or in
    several fields, their dossiers per unit and per field (on the same reader thread, while the caller
    parses the first answer)."""
    schedule = aggregator.schedule
    wait_limit, service_limit = schedule.wait_limit_sql("t"), schedule.service_limit_sql("t")
    columns = [
        "COUNT(*)",
        "TOTAL(t.end_reason = 'no_show')",
        "group_concat(t.wait_s)",
        f"TOTAL(t.wait_s IS NOT NULL AND {wait_limit} IS NOT NULL)" if aggregator.wait_limit == "x" else "0",
        f"TOTAL(t.wait_s <= {wait_limit})" if aggregator.wait_limit == "x" else "0",
        "COUNT(t.service_s)",
        "TOTAL(t.service_s)",
        f"TOTAL(t.service_s IS NOT NULL AND {service_limit} IS NOT NULL)",
        f"TOTAL(t.service_s <= {service_limit})",
        "MIN(t.day)",
        "MAX(t.day)",
        "MIN(t.site)",
        "MAX(t.site)",
        "MIN(t.service)",
        "MAX(t.service)",
    ]
    span = (aggregator.period.first.isoformat(), aggregator.period.last.isoformat())
    bounds = (" AND t.staff >= ?" if low is not None else "") + (" AND t.staff < ?" if high is not None else "")
    sql = (
        f"SELECT t.staff, {', '.join(columns)} FROM transactions t WHERE t.day BETWEEN ? AND ? "
        f"AND t.staff IS NOT NULL{bounds} GROUP BY t.staff"
    )
    params = (*span, *(b for b in (low, high) if b is not None))

    def task(conn: RecordConnection) -> _OfficerRows:
        rows = conn.execute(sql, params).fetchall()
        mixes = []
        for column, low, high in (("site", 12, 13), ("service", 14, 15)):
            several = [row[0] for row in rows if row[low] != row[high]]
            mixes.append(_officer_mix(conn, span, column, several) if several else [])
        return _OfficerRows(rows, *mixes)

    return task


def _officer_mix(conn: RecordConnection, span: tuple[str, str], column: str, officers: Sequence[str]) -> list[Any]:
    """Per officer (only those named) and unit or field: served dossiers."""
    marks = ", ".join("?" * len(officers))
    sql = (
        f"SELECT staff, {column}, TOTAL(end_reason IS NOT 'no_show') FROM transactions "
        f"WHERE day BETWEEN ? AND ? AND staff IN ({marks}) GROUP BY staff, {column}"
    )
    result: list[Any] = conn.execute(sql, (*span, *officers)).fetchall()
    return result


def _by_officer(
    period: Period, table: str, alias: str, columns: Sequence[str], rows: tuple[int, int] | None = None
) -> Any:
    """Per officer: ``columns`` over a table of ratings, comments or emotions (over a range of its row ids, so
    that reader threads can share one table).

    Rows that name their officer are grouped on the column directly (one sort, no lookup); only rows without
    one (emotions always, ratings from kiosks that do not know the officer) are attributed through the
    transaction of their ticket at their desk that day. The rows to attribute are found in the same pass.
    """
    span: tuple[Any, ...] = (period.first.isoformat(), period.last.isoformat())
    where = ""
    if rows is not None:
        where, span = f" AND {alias}.rowid > ? AND {alias}.rowid <= ?", (*span, *rows)
    through_ticket = key_columns(GroupBy.OFFICER, alias, "emotions")[0]
    select = ", ".join(columns)
    base = f"FROM {table} {alias} WHERE {alias}.day BETWEEN ? AND ?{where}"

    def task(conn: RecordConnection) -> list[Any]:
        if table == "emotions" and not conn.postgresql:
            return conn.execute(f"SELECT {through_ticket}, {select} {base} GROUP BY 1", span).fetchall()
        if table == "emotions":
            # Each emotion to the last transaction of its ticket at its desk that day: on PostgreSQL a hash join
            # and the last transaction kept per emotion (DISTINCT ON); the lookup per row above runs there as a
            # sub-plan per row, three times slower. On SQLite the lookup through the primary key is faster.
            return conn.execute(
                f"SELECT staff, {select.replace(f'{alias}.', '')} FROM (SELECT DISTINCT ON ({alias}.rowid) t.staff, "
                f"{alias}.valence FROM {table} {alias} JOIN transactions t ON t.site = {alias}.site "
                f"AND t.day = {alias}.day AND t.ticket = {alias}.ticket AND t.desk = {alias}.desk "
                f"WHERE {alias}.day BETWEEN ? AND ?{where} ORDER BY {alias}.rowid, t.seq DESC) last GROUP BY 1",
                span,
            ).fetchall()
        found = conn.execute(
            f"SELECT {alias}.staff, {select}, group_concat(CASE WHEN {alias}.staff IS NULL THEN {alias}.rowid END) "
            f"{base} GROUP BY 1",
            span,
        ).fetchall()
        named = [row[:-1] for row in found if row[0] is not None]
        anonymous = next((row[-1] for row in found if row[0] is None), None)
        if anonymous:
            named += conn.execute(
                f"SELECT {through_ticket}, {select} FROM {table} {alias} WHERE {alias}.rowid IN "
                f"({anonymous}) GROUP BY 1"
            ).fetchall()
        return named

    return task


def _row_ranges(table: str, parts: int) -> Any:
    """Ranges of row ids that split a table into ``parts`` of about the same size."""

    def task(conn: RecordConnection) -> list[tuple[int, int]]:
        low, high = conn.execute(f"SELECT COALESCE(MIN(rowid), 0) - 1, COALESCE(MAX(rowid), 0) FROM {table}").fetchone()
        edges = [low + (high - low) * k // parts for k in range(parts + 1)]
        return [(edges[k], edges[k + 1]) for k in range(parts)]

    return task


# -- the pack ----------------------------------------------------------------------------------------------


def evaluation_pack(record: Record, settings: HubSettings, period: Period, staff: str | None = None) -> EvaluationPack:
    """The evaluation pack of every officer (or of one, still compared with all) over ``period``."""
    aggregator = PeriodAggregator(record, settings, period)
    # The transactions are the largest aggregate: start it first, and parse its result while the reader
    # threads are still busy with the ratings, comments and emotions.
    # Every table is cut in as many parts as there are reader threads: officers by id for the transactions
    # (through the (staff, day) index), row-id ranges for the ratings and emotions.
    ranges, rating_rows, emotion_rows = record.run(
        officer_ranges(record.threads), _row_ranges("ratings", record.threads), _row_ranges("emotions", record.threads)
    )
    parts = [record.submit(_officer_transactions(aggregator, low, high)) for low, high in ranges]
    rating_parts = [
        record.submit(_by_officer(period, "ratings", "r", aggregator.rating_columns(), rows)) for rows in rating_rows
    ]
    emotion_parts = [
        record.submit(_by_officer(period, "emotions", "e", PeriodAggregator.EMOTION_COLUMNS, rows))
        for rows in emotion_rows
    ]
    comment_part = record.submit(_by_officer(period, "feedback", "f", PeriodAggregator.COMMENT_COLUMNS))
    officers: dict[str, OfficerEvaluation] = {}
    for part in parts:
        found = part.result()
        officers.update((row[0], _officer_from(aggregator, row)) for row in found.rows)
        site_counts: dict[str, dict[str, float]] = {}
        for officer, site, served in found.sites:
            site_counts.setdefault(officer, {})[site] = served
        for officer, counts in site_counts.items():
            officers[officer].site = max(counts, key=lambda s: (counts[s], s))
            officers[officer].sites = len(counts)
        for officer in {row[0] for row in found.services}:
            officers[officer].service_mix = {}
        for officer, service, served in found.services:
            officers[officer].service_mix[service or ""] = int(served)
    ratings = [row for part in rating_parts for row in part.result()]
    emotions = [row for part in emotion_parts for row in part.result()]
    comments = comment_part.result()
    for officer_id, total, counted, satisfied in ratings:
        if officer_id in officers:
            o = officers[officer_id]
            o.ratings += int(counted)
            o.satisfied += int(satisfied)
            o.ratings_not_counted += total - int(counted)
    for officer_id, *counts in comments:
        if officer_id in officers:
            for name, count in zip(("negative", "neutral", "positive"), counts, strict=True):
                officers[officer_id].comments[name] += int(count)
    valence_sums: dict[str, float] = {}
    for officer_id, count, valence in emotions:
        if officer_id in officers and count:
            officers[officer_id].emotions += count
            valence_sums[officer_id] = valence_sums.get(officer_id, 0.0) + valence
    for officer_id, total in valence_sums.items():
        officers[officer_id].mean_valence = total / officers[officer_id].emotions
    return finish_pack(officers, settings, period, staff, aggregator.target_lines())


def finish_pack(
    officers: dict[str, OfficerEvaluation], settings: HubSettings, period: Period, staff: str | None, targets: list[str]
) -> EvaluationPack:
    """The pack from what the record says of each officer: norms, units, scores, proposals, ranks."""
    norms = _NormCalendar(settings, period)
    for o in officers.values():
        _describe_unit(o, settings, period, norms)
    _propose(list(officers.values()), settings)
    chosen = sorted(officers.values(), key=lambda o: names_key(o.site_name, o.service_name, o.staff))
    if staff is not None:
        chosen = [o for o in chosen if o.staff == staff]
    return EvaluationPack(
        province=settings.province.name,
        period=period,
        officers=chosen,
        weights=settings.evaluation.weights.model_dump(),
        thresholds=settings.evaluation.thresholds.model_dump(),
        min_ratings=settings.evaluation.min_ratings,
        min_transactions=settings.evaluation.min_transactions,
        targets=targets,
        rules=list(FAIRNESS_RULES),
        emotion_caveat=EMOTION_CAVEAT,
        sentiment_caveat=SENTIMENT_CAVEAT,
        services=dict(settings.services),
    )


class _NormCalendar:
    """Per unit, the norm accumulated day by day over the period (by the level in force each day)."""

    def __init__(self, settings: HubSettings, period: Period) -> None:
        self._settings = settings
        self._period = period
        self._year_days = 366 if _leap(period.first.year) else 365
        self._cache: dict[object, tuple[list[float], list[float], list[str]]] = {}
        self._level_runs: dict[int, list[tuple[int, int, str]]] = {}  # by the id of a list of levels in the cache

    def _of(self, site: str | None) -> tuple[list[float], list[float], list[str]]:
        found = self._cache.get(site)
        if found is None:
            configured = self._settings.site(site) if site else None
            fixed = configured.level if configured else UNKNOWN_LEVEL
            if fixed is not None and ("level", fixed) in self._cache:  # units of one fixed level share theirs
                found = self._cache[site] = self._cache[("level", fixed)]
                return found
            norms = self._settings.evaluation.norms
            low, high, levels = [0.0], [0.0], []
            for day in self._period.each_day():
                level = (configured.level_on(day) if configured else UNKNOWN_LEVEL).value
                levels.append(level)
                low.append(low[-1] + norms.for_level(level).min / self._year_days)
                high.append(high[-1] + norms.for_level(level).max / self._year_days)
            found = self._cache[site] = (low, high, levels)
            if fixed is not None:
                self._cache[("level", fixed)] = found
        return found

    def over(self, site: str | None, first: date, last: date) -> tuple[float, float, dict[str, int]]:
        """The norm range from ``first`` to ``last`` and the days at each level (in the order met)."""
        low, high, levels = self._of(site)
        start = (first - self._period.first).days
        end = (last - self._period.first).days + 1
        days: dict[str, int] = {}
        for run_start, run_end, level in self._runs(levels):
            overlap = min(end, run_end) - max(start, run_start)
            if overlap > 0:
                days[level] = days.get(level, 0) + overlap
        return low[end] - low[start], high[end] - high[start], days

    def _runs(self, levels: list[str]) -> list[tuple[int, int, str]]:
        """The days of one level in a row, as (first index, index after the last, level): a few per period."""
        found = self._level_runs.get(id(levels))
        if found is None:
            found = []
            for index, level in enumerate(levels):
                if found and found[-1][2] == level:
                    found[-1] = (found[-1][0], index + 1, level)
                else:
                    found.append((index, index + 1, level))
            self._level_runs[id(levels)] = found
        return found


def _officer_from(aggregator: PeriodAggregator, row: Sequence[Any]) -> OfficerEvaluation:
    """An officer's evaluation as far as the transactions tell (see ``_officer_transactions``)."""
    officer, rows, no_shows, waits, wait_judged, wait_within = row[:6]
    service_count, service_total, service_judged, service_within, first, last, site, _, service, _ = row[6:]
    received = rows - int(no_shows)
    accumulated = Acc(wait_texts=[waits], wait_judged=int(wait_judged), wait_within=int(wait_within))
    wait = aggregator.distributions(accumulated)[0]
    handling = Distribution(
        count=service_count,
        mean=service_total / service_count if service_count else None,
        median=None,
        p90=None,
        judged=int(service_judged),
        within=int(service_within),
    )
    return OfficerEvaluation(
        staff=officer,
        site=site,
        site_name="",
        sites=1,
        level="",
        service=service,
        service_name="",
        service_mix={service or "": received},
        first_day=date.fromisoformat(first),
        last_day=date.fromisoformat(last),
        received=received,
        no_shows=int(no_shows),
        norm=0.0,
        norm_max=0.0,
        wait=wait,
        handling=handling,
        ratings=0,
        satisfied=0,
        ratings_not_counted=0,
        comments={"negative": 0, "neutral": 0, "positive": 0},
        emotions=0,
        mean_valence=None,
    )


def _describe_unit(o: OfficerEvaluation, settings: HubSettings, period: Period, norms: _NormCalendar) -> None:
    """The officer's unit, level(s), field name and the norm prorated over their active span."""
    configured = settings.site(o.site) if o.site else None
    o.site_name = configured.name if configured else (o.site or "(không rõ đơn vị)")
    if o.service_mix:
        o.service = max(o.service_mix, key=lambda s: (o.service_mix[s], s)) or None
    o.service_name = settings.services.get(o.service, o.service) if o.service else "(không rõ lĩnh vực)"
    o.norm, o.norm_max, levels = norms.over(o.site, o.first_day or period.first, o.last_day or period.last)
    o.level = ", ".join(
        f"{LEVEL_NAMES.get(level, level)}" + (f" ({count} ngày)" if len(levels) > 1 else "")
        for level, count in levels.items()
    )


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@dataclass(slots=True)
class _Pool:
    hits: float = 0.0
    total: float = 0.0

    def add(self, hits: float, total: float) -> None:
        self.hits += hits
        self.total += total

    @property
    def rate(self) -> float | None:
        return self.hits / self.total if self.total else None


def _propose(officers: list[OfficerEvaluation], settings: HubSettings) -> None:
    """Score every officer against their field's peers and propose a classification."""
    config = settings.evaluation
    weights = config.weights.model_dump()
    thresholds = config.thresholds

    def rates(o: OfficerEvaluation) -> dict[str, tuple[int, int]]:
        result = {"wait": (o.wait.within, o.wait.judged), "handling": (o.handling.within, o.handling.judged)}
        if o.ratings >= config.min_ratings:
            result["satisfaction"] = (o.satisfied, o.ratings)
        return result

    # Peers are the officers of the same main field who received dossiers in the period.
    field_members: dict[str | None, list[OfficerEvaluation]] = {}
    for o in officers:
        if o.received > 0:
            field_members.setdefault(o.service, []).append(o)
    overall: dict[str, _Pool] = {name: _Pool() for name in ("wait", "handling", "satisfaction")}
    by_field: dict[str | None, dict[str, _Pool]] = {}
    for o in officers:
        pools = by_field.setdefault(o.service, {name: _Pool() for name in overall})
        for name, (hits, total) in rates(o).items():
            overall[name].add(hits, total)
            pools[name].add(hits, total)

    for o in officers:
        peers = field_members.get(o.service, [])
        o.peers = len([p for p in peers if p is not o])
        own_field = len(peers) >= MIN_PEERS
        components = [_volume(o, weights["volume"])]
        for name in ("wait", "handling", "satisfaction"):
            reference = by_field[o.service][name] if own_field else overall[name]
            components.append(
                _adjusted(
                    o, name, weights[name], rates(o).get(name), reference, overall[name], own_field, config.min_ratings
                )
            )
        components.append(_sentiment(o, weights["sentiment"], config.min_ratings))
        components.append(_emotion(o, weights["emotion"], config.min_ratings))
        o.components = components
        scored = [c for c in components if c.score is not None and c.weight > 0]
        total_weight = sum(c.weight for c in scored)
        o.score = sum(c.weight * (c.score or 0.0) for c in scored) / total_weight if total_weight else None

        if o.received < config.min_transactions:
            o.reasons.append(
                f"Chỉ có {fmt_int(o.received)} hồ sơ trong kỳ (dưới {fmt_int(config.min_transactions)}):"
                " không đề xuất xếp loại."
            )
            continue
        if o.score is None:
            o.reasons.append("Không có thành phần nào đủ dữ liệu để chấm điểm.")
            continue
        if o.score >= thresholds.excellent:
            proposal = Classification.EXCELLENT
        elif o.score >= thresholds.good:
            proposal = Classification.GOOD
        elif o.score >= thresholds.completed:
            proposal = Classification.COMPLETED
        else:
            proposal = Classification.NOT_COMPLETED
        interval = o.satisfaction_interval
        if proposal is Classification.EXCELLENT:
            if o.ratings < config.min_ratings:
                proposal = Classification.GOOD
                o.reasons.append(
                    f"Điểm đạt mức xuất sắc nhưng chỉ có {fmt_int(o.ratings)} đánh giá (dưới "
                    f"{config.min_ratings}): đề xuất tối đa 'Hoàn thành tốt nhiệm vụ'."
                )
            elif interval is None or interval[0] < config.excellent_min_satisfaction_low:
                proposal = Classification.GOOD
                o.reasons.append(
                    "Điểm đạt mức xuất sắc nhưng cận dưới khoảng tin cậy của tỷ lệ hài lòng "
                    f"({fmt_pct(interval[0] if interval else None)}) thấp hơn "
                    f"{fmt_pct(config.excellent_min_satisfaction_low)}."
                )
        elif o.ratings < config.min_ratings and proposal is Classification.GOOD:
            o.reasons.append(
                f"Chỉ có {fmt_int(o.ratings)} đánh giá (dưới {config.min_ratings}): mức hài lòng không được chấm"
                " điểm, đề xuất tối đa 'Hoàn thành tốt nhiệm vụ'."
            )
        if proposal is Classification.NOT_COMPLETED:
            o.reasons.append(
                "Đề xuất 'Không hoàn thành nhiệm vụ' cần được xem xét cùng cán bộ trên từng chứng cứ dưới đây"
                " (nghỉ phép, luân chuyển, hồ sơ phức tạp không thể hiện trong số liệu)."
            )
        o.proposal = proposal

    for members in field_members.values():
        ranked = [
            o
            for o in members
            if o.score is not None and o.ratings >= config.min_ratings and o.received >= config.min_transactions
        ]
        ranked.sort(key=lambda o: -(o.score or 0.0))
        for position, o in enumerate(ranked, start=1):
            o.rank_in_field = position
        for o in members:
            o.ranked_in_field = len(ranked)


def _volume(o: OfficerEvaluation, weight: float) -> Component:
    if o.norm <= 0:
        return Component("volume", weight, None, "Không xác định được định mức.")
    ratio = o.received / o.norm
    span = ""
    if o.first_day and o.last_day:
        span = f" trong thời gian tiếp nhận {o.first_day:%d/%m/%Y}–{o.last_day:%d/%m/%Y}"
    evidence = (
        f"{fmt_int(o.received)} hồ sơ tiếp nhận / định mức {fmt_num(o.norm, 0)} (khung {fmt_num(o.norm, 0)}–"
        f"{fmt_num(o.norm_max, 0)}, đơn vị {o.level}{span}) = {fmt_pct(ratio)}; điểm = 100 × min(1; tỷ lệ)."
    )
    return Component("volume", weight, 100 * min(1.0, ratio), evidence)


def _adjusted(
    o: OfficerEvaluation,
    name: str,
    weight: float,
    own: tuple[int, int] | None,
    reference: _Pool,
    overall: _Pool,
    own_field: bool,
    min_ratings: int,
) -> Component:
    what = {
        "wait": "lượt chờ trong chỉ tiêu",
        "handling": "hồ sơ xử lý trong chỉ tiêu",
        "satisfaction": "đánh giá hài lòng",
    }[name]
    if own is None:
        if name == "satisfaction":
            return Component(
                name,
                weight,
                None,
                f"{fmt_int(o.ratings)} đánh giá hợp lệ (dưới {min_ratings}):"
                " hiển thị, không chấm điểm, không xếp hạng.",
            )
        return Component(name, weight, None, "Không có số liệu.")
    hits, total = own
    if total == 0:
        reason = "không có chỉ tiêu có hiệu lực trong kỳ" if name == "handling" else "không có số liệu"
        return Component(name, weight, None, f"Không chấm điểm: {reason}.")
    observed = hits / total
    expected = reference.rate
    whole = overall.rate
    group = f"lĩnh vực {o.service_name}" if own_field else "toàn tỉnh (lĩnh vực có ít cán bộ)"
    if expected and whole:
        adjusted = min(1.0, observed / expected * whole)
        evidence = (
            f"{fmt_pct(observed)} {fmt_ratio(hits, total)} {what}; chung {group}: {fmt_pct(expected)}; chung toàn"
            f" tỉnh: {fmt_pct(whole)}; tỷ lệ điều chỉnh = {fmt_pct(observed)} ÷ {fmt_pct(expected)} ×"
            f" {fmt_pct(whole)} = {fmt_pct(adjusted)}."
        )
    else:
        adjusted = observed
        evidence = f"{fmt_pct(observed)} {fmt_ratio(hits, total)} {what}; không có tỷ lệ chung để điều chỉnh."
    if name == "satisfaction":
        evidence += f" Khoảng tin cậy 95 %: {fmt_interval(o.satisfaction_interval)}."
    return Component(name, weight, 100 * adjusted, evidence)


def _sentiment(o: OfficerEvaluation, weight: float, min_count: int) -> Component:
    total = sum(o.comments.values())
    text = (
        f"{fmt_int(total)} nhận xét: {fmt_int(o.comments['positive'])} tích cực, {fmt_int(o.comments['neutral'])}"
        f" trung lập, {fmt_int(o.comments['negative'])} tiêu cực."
    )
    if total < min_count:
        return Component("sentiment", weight, None, text + " Quá ít để chấm điểm.")
    return Component("sentiment", weight, 100 * o.comments["positive"] / total, text + " Điểm = tỷ lệ tích cực.")


def _emotion(o: OfficerEvaluation, weight: float, min_count: int) -> Component:
    if not o.emotions:
        return Component("emotion", weight, None, "Không có số đo (quầy không có camera hoặc tắt chức năng).")
    text = f"Trung bình cảm xúc (−1 đến 1) {fmt_num(o.mean_valence, 2)} trên {fmt_int(o.emotions)} lượt đo."
    if o.emotions < min_count:
        return Component("emotion", weight, None, text + " Quá ít để chấm điểm.")
    return Component("emotion", weight, 100 * ((o.mean_valence or 0.0) + 1) / 2, text)


def describe_times(d: Distribution) -> str:
    """A distribution in words: mean, median and 90th percentile (when known), share within the target."""
    share = f"; trong chỉ tiêu {fmt_pct(d.within_share)} {fmt_ratio(d.within, d.judged)}" if d.judged else ""
    spread = f", trung vị {fmt_minutes(d.median)}, phân vị 90 {fmt_minutes(d.p90)}" if d.median is not None else ""
    return f"trung bình {fmt_minutes(d.mean)}{spread} ({fmt_int(d.count)} lượt){share}"
