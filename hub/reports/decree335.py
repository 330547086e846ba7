"""The staff evaluation under Decree 335/2025/NĐ-CP (in force from 1 January 2026), tracked month by month.

The decree scores a civil servant on 100 points: general criteria up to 30 (judged by the supervisor and
entered by a person) and task results up to 70. Its Điều 14 counts task results per month or quarter by
comparing the products completed (converted) with the products assigned (converted), in quantity, quality
and progress; each product with a major error loses 25 % of its quality points and each late product 25 %
of its progress points, unless a competent authority confirms an objective cause.

For a one-stop desk officer, the conversions are (all in the configuration, ``evaluation.decree335``, and
printed in the pack):

- product: a dossier received and handled at the desk (a served transaction; a no-show is not one);
- assigned: the yearly norm of the unit's level in force each day (``evaluation.norms``, lower end) ÷ days
  of the year, summed over the days in post at that unit, scaled by the share of those days actually worked
  (days not worked and transfers are entered by the supervisor);
- quantity = min(1; products ÷ assigned);
- quality = min(1; (products − 0,25 × major errors not excused) ÷ assigned) × min(1; satisfied ÷ 90 %)
  (Decision 766's bar; the satisfaction factor applies from ``min_ratings_month`` counted ratings);
- progress = min(1; (products − 0,25 × late products not excused) ÷ assigned), a product being late when its
  wait or its handling time is over the target in force at its unit that day;
- task points = 70 × (weighted mean of quantity, quality and progress; equal weights by default).

A quarter's and the year's task points are the mean over the months with an assigned quantity; the year's
general points are the mean over the months the supervisor scored. Thresholds come from the profile in force
(``evaluation.profiles``); the 20 % cap of "xuất sắc" against "tốt" is checked per unit and per task group and
given as a proposal for the council, never applied silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from hub.config import HubSettings, UnitLevel
from hub.reports.aggregate import satisfied_sql
from hub.reports.collation import vietnamese_key
from hub.reports.evaluation import CLASS_NAMES, Classification, officer_ranges
from hub.reports.evaluation_entries import Entry, EntryKind, read_entries
from hub.reports.labels import LEVEL_NAMES, fmt_num, fmt_pct
from hub.reports.periods import Period
from hub.reports.record import Record, RecordConnection
from hub.reports.settings import EvaluationProfile
from hub.reports.targets import UNKNOWN_LEVEL, TargetSchedule

SYSTEM = "hệ thống"
# Without a configured group, the desk officers of a unit form one group of similar tasks.
DEFAULT_GROUP = "Tiếp nhận và trả kết quả hồ sơ tại Bộ phận Một cửa"
LEVEL_ORDER = {UnitLevel.PROVINCE.value: 0, UnitLevel.DISTRICT.value: 1, UnitLevel.COMMUNE.value: 2}

DECREE_BASIS = [
    "Nghị định 335/2025/NĐ-CP ngày 21/12/2025 (hiệu lực 01/01/2026): thang điểm 100, tiêu chí chung tối đa 30"
    " điểm, kết quả thực hiện nhiệm vụ tối đa 70 điểm.",
    "Điều 14: so sánh sản phẩm hoàn thành (đã quy đổi) với sản phẩm được giao (đã quy đổi) hằng tháng hoặc"
    " quý, theo số lượng, chất lượng, tiến độ; mỗi sản phẩm có sai sót lớn bị trừ 25 % điểm chất lượng, mỗi"
    " sản phẩm chậm bị trừ 25 % điểm tiến độ, trừ trường hợp nguyên nhân khách quan được cấp có thẩm quyền"
    " xác nhận.",
    "Mức xếp loại: xuất sắc từ 90 điểm; tốt từ 70 đến dưới 90; hoàn thành từ 50 đến dưới 70; không hoàn thành"
    " dưới 50 điểm hoặc thuộc các trường hợp vi phạm được liệt kê.",
    "Tỷ lệ 'Hoàn thành xuất sắc nhiệm vụ' không vượt quá 20 % số 'Hoàn thành tốt nhiệm vụ' trong cùng cơ quan,"
    " đơn vị và trong từng nhóm công chức có nhiệm vụ tương đồng: hệ thống chỉ đề xuất, Hội đồng quyết định.",
]


# -- one month -----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class MonthInputs:
    """What a month of one officer is computed from: counts from the record and entries from people."""

    month: str
    days_in_post: int = 0
    norm_in_post: float = 0.0  # Σ yearly norm ÷ days of the year, over the days in post
    levels: dict[str, int] = field(default_factory=dict)  # level → days in post at that level
    sites: dict[str, int] = field(default_factory=dict)  # unit → days in post there
    days_off: float = 0.0
    products: int = 0
    late: int = 0
    ratings: int = 0
    satisfied: int = 0
    errors: int = 0
    errors_excused: int = 0
    late_excused: int = 0
    general: float | None = None
    signed: list[Entry] = field(default_factory=list)


@dataclass(slots=True)
class MonthResult:
    """A month's task results with the counts behind them."""

    inputs: MonthInputs
    days_worked: float
    assigned: float
    quantity: float | None
    quality: float | None
    progress: float | None
    satisfaction_factor: float
    task: float | None
    general: float | None
    evidence: list[str]

    @property
    def total(self) -> float | None:
        """General plus task points when both are known."""
        if self.task is None or self.general is None:
            return None
        return self.general + self.task

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready month (shares 0–1, points)."""
        i = self.inputs
        return {
            "month": i.month,
            "days_in_post": i.days_in_post,
            "days_off": i.days_off,
            "days_worked": self.days_worked,
            "levels": i.levels,
            "sites": i.sites,
            "assigned": self.assigned,
            "products": i.products,
            "late": i.late,
            "late_excused": i.late_excused,
            "errors": i.errors,
            "errors_excused": i.errors_excused,
            "ratings": i.ratings,
            "satisfied": i.satisfied,
            "quantity": self.quantity,
            "quality": self.quality,
            "progress": self.progress,
            "satisfaction_factor": self.satisfaction_factor,
            "task_points": self.task,
            "task_source": SYSTEM,
            "general_points": self.general,
            "general_source": _signature(i.signed, EntryKind.GENERAL),
            "total_points": self.total,
            "entries": [e.as_json() for e in i.signed],
            "evidence": self.evidence,
        }


def _signature(entries: Sequence[Entry], kind: EntryKind) -> str | None:
    chosen = [e for e in entries if e.kind is kind]
    if not chosen:
        return None
    last = chosen[-1]
    return f"{last.actor}, {last.at:%d/%m/%Y %H:%M} UTC"


def month_result(inputs: MonthInputs, settings: HubSettings) -> MonthResult:
    """The task results of one month (pure: no record, no clock)."""
    rules = settings.evaluation.decree335
    shares = rules.weights.shares()
    days_worked = max(0.0, inputs.days_in_post - inputs.days_off)
    assigned = inputs.norm_in_post * days_worked / inputs.days_in_post if inputs.days_in_post else 0.0
    evidence: list[str] = []
    factor = 1.0
    if inputs.ratings >= rules.min_ratings_month:
        factor = min(1.0, inputs.satisfied / inputs.ratings / rules.satisfaction_bar)
        evidence.append(
            f"Hài lòng {inputs.satisfied}/{inputs.ratings} = {fmt_pct(inputs.satisfied / inputs.ratings)}; hệ số"
            f" chất lượng = min(1; tỷ lệ ÷ {fmt_pct(rules.satisfaction_bar, 0)}) = {fmt_num(factor, 3)}."
        )
    else:
        evidence.append(
            f"{inputs.ratings} đánh giá hợp lệ (dưới {rules.min_ratings_month}): mức hài lòng không nhân vào chất"
            " lượng tháng này."
        )
    if assigned <= 0:
        evidence.insert(0, "Không có sản phẩm được giao (không công tác hoặc nghỉ cả tháng): tháng không tính điểm.")
        return MonthResult(inputs, days_worked, 0.0, None, None, None, factor, None, inputs.general, evidence)
    errors = max(0, inputs.errors - inputs.errors_excused)
    late = max(0, inputs.late - inputs.late_excused)
    quantity = min(1.0, inputs.products / assigned)
    quality_count = max(0.0, inputs.products - rules.error_deduction * errors)
    quality = min(1.0, quality_count / assigned) * factor
    progress_count = max(0.0, inputs.products - rules.late_deduction * late)
    progress = min(1.0, progress_count / assigned)
    task = rules.task_max * (
        shares["quantity"] * quantity + shares["quality"] * quality + shares["progress"] * progress
    )
    level_text = ", ".join(f"{LEVEL_NAMES.get(k, k)} {v} ngày" for k, v in inputs.levels.items())
    evidence[:0] = [
        f"Được giao = định mức theo cấp ({level_text}) = {fmt_num(inputs.norm_in_post, 2)} × {fmt_num(days_worked, 0)}"
        f" ngày làm việc ÷ {inputs.days_in_post} ngày công tác = {fmt_num(assigned, 2)} hồ sơ.",
        f"Số lượng = min(1; {inputs.products} ÷ {fmt_num(assigned, 2)}) = {fmt_pct(quantity)}.",
        f"Chất lượng = min(1; ({inputs.products} − {fmt_num(rules.error_deduction, 2)} × {errors} sai sót lớn) ÷"
        f" {fmt_num(assigned, 2)}) × {fmt_num(factor, 3)} = {fmt_pct(quality)}"
        f" ({inputs.errors} sai sót, {inputs.errors_excused} do nguyên nhân khách quan).",
        f"Tiến độ = min(1; ({inputs.products} − {fmt_num(rules.late_deduction, 2)} × {late} chậm) ÷"
        f" {fmt_num(assigned, 2)}) = {fmt_pct(progress)} ({inputs.late} hồ sơ chậm,"
        f" {inputs.late_excused} có nguyên nhân khách quan được chấp nhận).",
        f"Điểm nhiệm vụ = {fmt_num(rules.task_max, 0)} × ({fmt_num(shares['quantity'], 3)} × số lượng +"
        f" {fmt_num(shares['quality'], 3)} × chất lượng + {fmt_num(shares['progress'], 3)} × tiến độ) ="
        f" {fmt_num(task, 2)}.",
    ]
    return MonthResult(
        inputs, days_worked, assigned, quantity, quality, progress, factor, task, inputs.general, evidence
    )


# -- the year of one officer ---------------------------------------------------------------------------------


@dataclass(slots=True)
class OfficerYear:
    """An officer's year: months, quarters, totals, the proposal and its reasons."""

    staff: str
    name: str
    position: str
    site: str | None
    site_name: str
    level: str
    group: str
    months: list[MonthResult]
    violations: list[Entry]
    entries: list[Entry]
    general: float | None = None
    task: float | None = None
    total: float | None = None
    proposal: Classification | None = None
    reasons: list[str] = field(default_factory=list)
    quota_note: str | None = None

    def quarters(self) -> list[dict[str, Any]]:
        """Per quarter: mean task, general and total points of its months."""
        result = []
        for q in range(4):
            months = self.months[3 * q : 3 * q + 3]
            task = _mean([m.task for m in months])
            general = _mean([m.general for m in months])
            result.append(
                {
                    "quarter": q + 1,
                    "task_points": task,
                    "general_points": general,
                    "total_points": None if task is None or general is None else task + general,
                }
            )
        return result

    @property
    def proposal_name(self) -> str:
        """The proposal in Vietnamese."""
        return CLASS_NAMES[self.proposal] if self.proposal else "Chưa đủ dữ liệu để đề xuất"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready year."""
        return {
            "staff": self.staff,
            "name": self.name,
            "position": self.position,
            "site": self.site,
            "site_name": self.site_name,
            "level": self.level,
            "group": self.group,
            "months": [m.as_dict() for m in self.months],
            "quarters": self.quarters(),
            "general_points": self.general,
            "general_source": "người nhập (giám sát)",
            "task_points": self.task,
            "task_source": SYSTEM,
            "total_points": self.total,
            "proposal": self.proposal.value if self.proposal else None,
            "proposal_name": self.proposal_name,
            "reasons": self.reasons,
            "quota_note": self.quota_note,
            "violations": [e.as_json() for e in self.violations],
            "entries": [e.as_json() for e in self.entries],
        }


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def classify(total: float | None, violation: bool, profile: EvaluationProfile) -> Classification | None:
    """The level of a total under the profile's thresholds; a violation forces 'not completed'."""
    if violation:
        return Classification.NOT_COMPLETED
    if total is None:
        return None
    thresholds = profile.thresholds
    assert thresholds is not None
    if total >= thresholds.excellent:
        return Classification.EXCELLENT
    if total >= thresholds.good:
        return Classification.GOOD
    if total >= thresholds.completed:
        return Classification.COMPLETED
    return Classification.NOT_COMPLETED


# -- the quota -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuotaCheck:
    """The 20 % cap in one scope (a unit, or a task group within it)."""

    scope: str
    excellent: int
    good: int
    cap: int
    ranked: list[tuple[str, str, float, str]]  # (staff, name, total, status) of the 'xuất sắc' proposals

    @property
    def above(self) -> int:
        """How many 'xuất sắc' proposals exceed the cap."""
        return max(0, self.excellent - self.cap)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready check."""
        return {
            "scope": self.scope,
            "excellent": self.excellent,
            "good": self.good,
            "cap": self.cap,
            "above_cap": self.above,
            "ranked": [{"staff": s, "name": n, "total_points": t, "status": st} for s, n, t, st in self.ranked],
        }


WITHIN = "trong giới hạn"
BEYOND = "vượt giới hạn — Hội đồng quyết định"
TIED = "đồng điểm ở ngưỡng giới hạn — Hội đồng quyết định"


def quota_check(scope: str, officers: Sequence[OfficerYear], share: float) -> QuotaCheck:
    """Rank the 'xuất sắc' proposals of a scope by score and mark those above the cap (ties shown)."""
    excellent = sorted(
        (o for o in officers if o.proposal is Classification.EXCELLENT),
        key=lambda o: (-(o.total or 0.0), vietnamese_key(o.name)),
    )
    good = sum(1 for o in officers if o.proposal is Classification.GOOD)
    cap = math.floor(share * good + 1e-9)
    boundary = excellent[cap - 1].total if 0 < cap <= len(excellent) else None
    ranked = []
    # A tie straddling the cap: everyone at the boundary score is shown as tied, inside or outside it.
    for position, o in enumerate(excellent, start=1):
        if len(excellent) <= cap:
            status = WITHIN
        elif boundary is not None and o.total is not None and math.isclose(o.total, boundary):
            status = TIED
        elif position <= cap:
            status = WITHIN
        else:
            status = BEYOND
        ranked.append((o.staff, o.name, o.total or 0.0, status))
    return QuotaCheck(scope, len(excellent), good, cap, ranked)


# -- the pack ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitSummary:
    """A unit's officers and its quota checks."""

    site: str | None
    name: str
    level: str
    officers: list[OfficerYear]
    checks: list[QuotaCheck]

    def counts(self) -> dict[str, int]:
        """Proposals per level."""
        result = {c.value: 0 for c in Classification}
        for o in self.officers:
            if o.proposal:
                result[o.proposal.value] += 1
        return result


@dataclass(frozen=True, slots=True)
class Decree335Pack:
    """The year's pack under Decree 335: units (province → commune, Vietnamese order), officers, rules."""

    province: str
    period: Period
    profile: EvaluationProfile
    units: list[UnitSummary]
    conversions: list[str]
    basis: list[str]
    error_deduction: float = 0.25
    late_deduction: float = 0.25
    unit_names: dict[str, str] = field(default_factory=dict)

    @property
    def officers(self) -> list[OfficerYear]:
        """Every officer, unit by unit."""
        return [o for u in self.units for o in u.officers]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready pack."""
        thresholds = self.profile.thresholds
        assert thresholds is not None
        return {
            "province": self.province,
            "period": {"code": self.period.code, "label": self.period.label},
            "profile": {
                "name": self.profile.name,
                "method": self.profile.method,
                "valid_from": self.profile.valid_from.isoformat() if self.profile.valid_from else None,
                "valid_until": self.profile.valid_until.isoformat() if self.profile.valid_until else None,
                "thresholds": thresholds.model_dump(),
            },
            "conversions": self.conversions,
            "basis": self.basis,
            "units": [
                {
                    "site": u.site,
                    "name": u.name,
                    "level": u.level,
                    "counts": u.counts(),
                    "quota": [c.as_dict() for c in u.checks],
                    "officers": [o.staff for o in u.officers],
                }
                for u in self.units
            ],
            "officers": [o.as_dict() for o in self.officers],
        }


def conversions_text(settings: HubSettings) -> list[str]:
    """Every conversion and weight in force, in words (printed in the pack)."""
    rules = settings.evaluation.decree335
    norms = settings.evaluation.norms
    shares = rules.weights.shares()
    return [
        "Sản phẩm: hồ sơ tiếp nhận và xử lý tại quầy (lượt phục vụ; vắng mặt khi gọi không tính).",
        f"Sản phẩm được giao: định mức năm theo cấp đơn vị có hiệu lực từng ngày (cấp tỉnh {norms.province.min},"
        f" cấp huyện {norms.district.min}, cấp xã {norms.commune.min} hồ sơ/năm) ÷ số ngày của năm, cộng theo"
        " các ngày công tác tại đơn vị, nhân tỷ lệ ngày thực làm việc (nghỉ phép, điều động do giám sát nhập).",
        "Số lượng = min(1; sản phẩm ÷ được giao).",
        f"Chất lượng = min(1; (sản phẩm − {fmt_num(rules.error_deduction, 2)} × sai sót lớn chưa được miễn) ÷ được"
        f" giao) × min(1; tỷ lệ hài lòng ÷ {fmt_pct(rules.satisfaction_bar, 0)}) (ngưỡng của Quyết định 766;"
        f" áp dụng khi tháng có từ {rules.min_ratings_month} đánh giá hợp lệ).",
        f"Tiến độ = min(1; (sản phẩm − {fmt_num(rules.late_deduction, 2)} × hồ sơ chậm chưa được miễn) ÷ được"
        " giao); hồ sơ chậm khi thời gian chờ hoặc thời gian tiếp nhận, xử lý vượt chỉ tiêu có hiệu lực ngày đó.",
        f"Điểm nhiệm vụ tháng = {fmt_num(rules.task_max, 0)} × ({fmt_num(shares['quantity'], 3)} × số lượng +"
        f" {fmt_num(shares['quality'], 3)} × chất lượng + {fmt_num(shares['progress'], 3)} × tiến độ).",
        f"Điểm tiêu chí chung (tối đa {fmt_num(rules.general_max, 0)}) do giám sát chấm theo tháng.",
        "Điểm quý, điểm năm: trung bình các tháng có sản phẩm được giao (nhiệm vụ) và các tháng đã chấm (tiêu"
        " chí chung); tổng = tiêu chí chung + nhiệm vụ.",
        f"Giới hạn 'xuất sắc' = phần nguyên của {fmt_pct(rules.quota_share, 0)} × số 'tốt', theo đơn vị và"
        " theo nhóm nhiệm vụ tương đồng.",
    ]


def _month_ends(year: int) -> list[tuple[str, date, date]]:
    result = []
    for month in range(1, 13):
        first = date(year, month, 1)
        last = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
        result.append((f"{year:04d}-{month:02d}", first, last))
    return result


def _records(record: Record, settings: HubSettings, period: Period) -> tuple[list[Any], list[Any], list[Entry]]:
    """Per (officer, day): products, late products and a unit; per (officer, month): ratings; the entries.

    The transactions are shared among the reader threads by officer-id ranges (through the (staff, day)
    index); ratings that do not name their officer are attributed through the transaction of their ticket.
    An officer serving at two units on one day has that day's dossiers counted under the first unit's id
    (the unit only decides where they were before a transfer; the counts are exact).
    """
    schedule = TargetSchedule(settings, period)
    wait = schedule.wait_limit_sql("t")
    service = schedule.service_limit_sql("t")
    span = (period.first.isoformat(), period.last.isoformat())
    served = "t.end_reason IS NOT 'no_show'"
    satisfied = satisfied_sql(settings, "r")

    def transactions(low: str | None, high: str | None) -> Any:
        bounds = (" AND t.staff >= ?" if low is not None else "") + (" AND t.staff < ?" if high is not None else "")

        def task(conn: RecordConnection) -> list[Any]:
            return conn.execute(
                f"SELECT t.staff, t.day, MIN(t.site), TOTAL({served}), "
                f"TOTAL({served} AND ((t.wait_s > {wait}) OR (t.service_s > {service}))) "
                f"FROM transactions t WHERE t.day BETWEEN ? AND ? AND t.staff IS NOT NULL{bounds} GROUP BY 1, 2",
                (*span, *(b for b in (low, high) if b is not None)),
            ).fetchall()

        return task

    def named_ratings(conn: RecordConnection) -> list[Any]:
        return conn.execute(
            f"SELECT r.staff, substr(r.day, 1, 7), TOTAL(r.counted), TOTAL(r.counted AND {satisfied}) "
            "FROM ratings r WHERE r.day BETWEEN ? AND ? AND r.staff IS NOT NULL GROUP BY 1, 2",
            span,
        ).fetchall()

    def ticket_ratings(conn: RecordConnection) -> list[Any]:
        return conn.execute(
            f"SELECT t.staff, substr(r.day, 1, 7), TOTAL(r.counted), TOTAL(r.counted AND {satisfied}) "
            "FROM ratings r JOIN transactions t ON t.site = r.site AND t.day = r.day AND t.ticket = r.ticket "
            "AND t.desk = r.desk WHERE r.day BETWEEN ? AND ? AND r.staff IS NULL AND t.staff IS NOT NULL "
            "AND t.seq = (SELECT MAX(u.seq) FROM transactions u WHERE u.site = r.site AND u.day = r.day "
            "AND u.ticket = r.ticket AND u.desk = r.desk) GROUP BY 1, 2",
            span,
        ).fetchall()

    def entries(conn: RecordConnection) -> list[Entry]:
        return read_entries(conn, period.first.year)  # type: ignore[arg-type]

    (ranges,) = record.run(officer_ranges(record.threads))
    parts = [record.submit(transactions(low, high)) for low, high in ranges]
    others = [record.submit(task) for task in (named_ratings, ticket_ratings, entries)]
    rows = [row for part in parts for row in part.result()]
    named, by_ticket, found = (future.result() for future in others)
    return rows, [*named, *by_ticket], found


def _latest(entries: Sequence[Entry], kind: EntryKind, month: str) -> Entry | None:
    chosen = [e for e in entries if e.kind is kind and e.month == month]
    return chosen[-1] if chosen else None


def decree335_pack(
    record: Record, settings: HubSettings, period: Period, profile: EvaluationProfile, staff: str | None = None
) -> Decree335Pack:
    """The pack of a calendar year under Decree 335 (every officer, or one)."""
    year = period.first.year
    rows, rating_rows, all_entries = _records(record, settings, period)
    by_officer_day: dict[str, dict[date, tuple[str, int, int]]] = {}
    for officer, day, site, products, late in rows:
        by_officer_day.setdefault(officer, {})[date.fromisoformat(day)] = (site, int(products), int(late))
    ratings: dict[tuple[str, str], tuple[int, int]] = {}
    for officer, month, counted, satisfied in rating_rows:
        if officer is not None:
            before = ratings.get((officer, month), (0, 0))
            ratings[(officer, month)] = (before[0] + int(counted), before[1] + int(satisfied))
    entries: dict[str, list[Entry]] = {}
    for entry in all_entries:
        entries.setdefault(entry.staff, []).append(entry)
    officers = sorted({*by_officer_day, *entries})
    if staff is not None:
        officers = [o for o in officers if o == staff]
    calendar = _UnitCalendar(settings, year)
    years = [
        _officer_year(o, by_officer_day.get(o, {}), ratings, entries.get(o, []), settings, calendar, profile)
        for o in officers
    ]
    units = _units(years, settings)
    return Decree335Pack(
        province=settings.province.name,
        period=period,
        profile=profile,
        units=units,
        conversions=conversions_text(settings),
        basis=list(DECREE_BASIS),
        error_deduction=settings.evaluation.decree335.error_deduction,
        late_deduction=settings.evaluation.decree335.late_deduction,
        unit_names={site.id: site.name for site in settings.sites},
    )


class _UnitCalendar:
    """Per unit, each day of the year: its level in force and that level's norm for one day."""

    def __init__(self, settings: HubSettings, year: int) -> None:
        self.settings = settings
        first = date(year, 1, 1)
        self.days = [first + timedelta(days=k) for k in range((date(year + 1, 1, 1) - first).days)]
        self.months = [(code, (a - first).days, (b - first).days + 1) for code, a, b in _month_ends(year)]
        self._cache: dict[str, list[tuple[str, float]]] = {}

    def of(self, site: str) -> list[tuple[str, float]]:
        """(level, norm of one day) for every day of the year at ``site``."""
        found = self._cache.get(site)
        if found is None:
            configured = self.settings.site(site)
            norms = self.settings.evaluation.norms
            found = []
            for day in self.days:
                level = (configured.level_on(day) if configured else UNKNOWN_LEVEL).value
                found.append((level, norms.for_level(level).min / len(self.days)))
            self._cache[site] = found
        return found


def _officer_year(
    staff: str,
    days: dict[date, tuple[str, int, int]],
    ratings: dict[tuple[str, str], tuple[int, int]],
    entries: list[Entry],
    settings: HubSettings,
    calendar: _UnitCalendar,
    profile: EvaluationProfile,
) -> OfficerYear:
    year = calendar.days[0].year
    transfers = sorted((e for e in entries if e.kind is EntryKind.TRANSFER and e.day), key=lambda e: e.day or date.min)
    first_transfer = transfers[0].day if transfers else None
    # Before the first transfer (or all year without one) the officer works at the unit of most of their
    # dossiers in that span; with no dossier before the first transfer, they were not yet in post.
    before: dict[str, int] = {}
    for day, (site, products, _) in days.items():
        if first_transfer is None or day < first_transfer:
            before[site] = before.get(site, 0) + products
    home = max(before, key=lambda s: (before[s], s)) if before else None
    # The unit of each day of the year: home, then each transfer from its day on.
    units: list[str | None] = [home] * len(calendar.days)
    for t in transfers:
        assert t.day is not None
        start = (t.day - calendar.days[0]).days
        units[max(0, start) :] = [t.site] * (len(calendar.days) - max(0, start))

    months: list[MonthResult] = []
    last_site: str | None = None
    for code, start, end in calendar.months:
        inputs = MonthInputs(code)
        for k in range(start, end):
            unit = units[k]
            if unit is not None:
                level, norm = calendar.of(unit)[k]
                inputs.days_in_post += 1
                inputs.norm_in_post += norm
                inputs.levels[level] = inputs.levels.get(level, 0) + 1
                inputs.sites[unit] = inputs.sites.get(unit, 0) + 1
                last_site = unit
            served = days.get(calendar.days[k])
            if served is not None:
                inputs.products += served[1]
                inputs.late += served[2]
        inputs.ratings, inputs.satisfied = ratings.get((staff, code), (0, 0))
        for kind, attribute in (
            (EntryKind.DAYS_OFF, "days_off"),
            (EntryKind.ERRORS, "errors"),
            (EntryKind.ERRORS_EXCUSED, "errors_excused"),
            (EntryKind.LATE_EXCUSED, "late_excused"),
            (EntryKind.GENERAL, "general"),
        ):
            latest = _latest(entries, kind, code)
            if latest is not None:
                value: float = latest.value if kind in (EntryKind.GENERAL, EntryKind.DAYS_OFF) else int(latest.value)
                setattr(inputs, attribute, value)
        inputs.signed = [e for e in entries if e.month == code]
        months.append(month_result(inputs, settings))

    configured_officer = settings.evaluation.officers.get(staff)
    site_config = settings.site(last_site) if last_site else None
    violation_entries = [e for e in entries if e.kind is EntryKind.VIOLATION]
    violation = bool(violation_entries) and violation_entries[-1].value == 1
    officer = OfficerYear(
        staff=staff,
        name=configured_officer.name if configured_officer else staff,
        position=configured_officer.position if configured_officer else "(chưa khai báo trong cấu hình)",
        site=last_site,
        site_name=site_config.name if site_config else (last_site or "(không rõ đơn vị)"),
        level=(site_config.level_on(date(year, 12, 31)) if site_config else UNKNOWN_LEVEL).value,
        group=(configured_officer.group if configured_officer and configured_officer.group else DEFAULT_GROUP),
        months=months,
        violations=violation_entries,
        entries=entries,
    )
    officer.task = _mean([m.task for m in months])
    officer.general = _mean([m.general for m in months])
    if officer.task is not None and officer.general is not None:
        officer.total = officer.task + officer.general
    officer.proposal = classify(officer.total, violation, profile)
    _reasons(officer, violation, profile)
    return officer


def _reasons(o: OfficerYear, violation: bool, profile: EvaluationProfile) -> None:
    thresholds = profile.thresholds
    assert thresholds is not None
    scored = [m for m in o.months if m.task is not None]
    general = [m for m in o.months if m.general is not None]
    if violation:
        last = o.violations[-1]
        o.reasons.append(
            f"Có vi phạm buộc xếp loại 'Không hoàn thành nhiệm vụ' (nhập bởi {last.actor},"
            f" {last.at:%d/%m/%Y}): {last.note or 'không ghi chú'}."
        )
    if not scored:
        o.reasons.append("Không có tháng nào có sản phẩm được giao: không tính điểm nhiệm vụ.")
    if not general:
        o.reasons.append("Giám sát chưa chấm điểm tiêu chí chung tháng nào: chưa đề xuất xếp loại.")
    elif len(general) < len(scored):
        o.reasons.append(
            f"Điểm tiêu chí chung là trung bình {len(general)} tháng đã chấm (trên {len(scored)} tháng tính"
            " điểm nhiệm vụ)."
        )
    if o.total is not None:
        o.reasons.append(
            f"Tổng điểm năm = {fmt_num(o.general, 2)} (tiêu chí chung, người nhập) + {fmt_num(o.task, 2)} (nhiệm"
            f" vụ, hệ thống) = {fmt_num(o.total, 2)}; ngưỡng {profile.name}: xuất sắc ≥"
            f" {fmt_num(thresholds.excellent, 0)}, tốt ≥ {fmt_num(thresholds.good, 0)}, hoàn thành ≥"
            f" {fmt_num(thresholds.completed, 0)}."
        )


def _units(officers: list[OfficerYear], settings: HubSettings) -> list[UnitSummary]:
    share = settings.evaluation.decree335.quota_share
    by_site: dict[str | None, list[OfficerYear]] = {}
    for o in officers:
        by_site.setdefault(o.site, []).append(o)
    units = []
    for site, members in by_site.items():
        members.sort(key=lambda o: vietnamese_key(o.name))
        name = members[0].site_name
        checks = [quota_check(f"Toàn đơn vị: {name}", members, share)]
        groups: dict[str, list[OfficerYear]] = {}
        for o in members:
            groups.setdefault(o.group, []).append(o)
        if len(groups) > 1:
            for group in sorted(groups, key=vietnamese_key):
                checks.append(quota_check(f"Nhóm nhiệm vụ: {group}", groups[group], share))
        for check in checks:
            for staff_id, _, _, status in check.ranked:
                if status != WITHIN:
                    for o in members:
                        if o.staff == staff_id:
                            note = f"{check.scope}: {status}."
                            o.quota_note = f"{o.quota_note} {note}" if o.quota_note else note
        units.append(UnitSummary(site, name, members[0].level, members, checks))
    units.sort(key=lambda u: (LEVEL_ORDER.get(u.level, 9), vietnamese_key(u.name)))
    return units
