"""The reports as the command line and the API ask for them: compute, then render in the chosen format."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from hub.config import HubSettings
from hub.reports.aggregate import Filters, GroupBy, PeriodAggregator, group_name, period_figures
from hub.reports.decision766 import UnitPoints
from hub.reports.decree335 import decree335_pack
from hub.reports.decree335_document import decree335_document
from hub.reports.document import Document
from hub.reports.documents import (
    decision766_document,
    evaluation_document,
    figures_document,
    forecast_document,
    staffing_document,
)
from hub.reports.evaluation import evaluation_pack
from hub.reports.line_report import line_section
from hub.reports.periods import Period
from hub.reports.planning import forecasts, staffing_plan
from hub.reports.record import Record
from hub.reports.rollup_reader import evaluation_from_record, unit_ratings_from_record
from hub.reports.settings import EvaluationProfile
from hub.reports.targets import UNKNOWN_LEVEL
from protocol.errors import OneStopError


class EvaluationPeriodError(OneStopError, ValueError):
    """An evaluation asked for a period its rule does not judge."""


class ReportFormat(StrEnum):
    """What a report is written as."""

    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


MEDIA_TYPES = {
    ReportFormat.JSON: "application/json",
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.PDF: "application/pdf",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A report in its format, with a file name a person recognises."""

    content: bytes
    media_type: str
    filename: str


def _json_default(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def render(data: dict[str, Any], document: Document, fmt: ReportFormat, stem: str) -> Rendered:
    """The report as JSON (its data) or as a CSV, XLSX or PDF document."""
    if fmt is ReportFormat.JSON:
        content = json.dumps(_clean(data), ensure_ascii=False, indent=1, default=_json_default).encode("utf-8")
    elif fmt is ReportFormat.CSV:
        from hub.reports.export_csv import to_csv

        content = to_csv(document)
    elif fmt is ReportFormat.XLSX:
        from hub.reports.export_xlsx import to_xlsx

        content = to_xlsx(document)
    else:
        from hub.reports.export_pdf import to_pdf

        content = to_pdf(document)
    return Rendered(content, MEDIA_TYPES[fmt], f"{stem}.{fmt.value}")


def _scope(settings: HubSettings, site: str | None) -> str:
    return group_name(settings, GroupBy.UNIT if site else GroupBy.PROVINCE, (site,) if site else ())


def figures(
    record: Record,
    settings: HubSettings,
    period: Period,
    by: GroupBy,
    filters: Filters,
    fmt: ReportFormat,
    now: datetime,
) -> Rendered:
    """Period figures per province, unit, desk, field or officer."""
    report = period_figures(record, settings, period, by, filters)
    document = figures_document(report, now)
    data = report.as_dict()
    line, section = line_section(record, settings, report, filters)
    if section is not None:  # the camera's line, beside the ticket-based waits, before the definitions
        data["line"] = line
        document.sections.insert(len(document.sections) - 1, section)
    stem = f"bao-cao-{by.value}-{filters.site or 'tinh'}-{period.code}"
    return render(data, document, fmt, stem)


def decision766_points(
    record: Record, settings: HubSettings, period: Period, site: str | None = None
) -> list[UnitPoints]:
    """Decision 766 points of every unit (configured ones even without data, then any other seen), from the
    roll-ups when the record keeps them."""
    rolled = unit_ratings_from_record(record, settings, period, site)
    if rolled is not None:
        counted, served = rolled.counted, rolled.served
    else:  # a record without roll-ups: the raw ratings and transactions
        aggregator = PeriodAggregator(record, settings, period)
        filters = Filters(site=site)
        ratings, transactions = record.run(
            aggregator.query("ratings", "r", GroupBy.UNIT, aggregator.rating_columns(), filters),
            aggregator.query("transactions", "t", GroupBy.UNIT, ["TOTAL(t.end_reason IS NOT 'no_show')"], filters),
        )
        counted = {row[0]: (int(row[2]), int(row[3])) for row in ratings}
        served = {row[0]: int(row[1]) for row in transactions}
    sites = [s.id for s in settings.sites if site is None or s.id == site]
    sites += sorted(s for s in {*counted, *served} if s not in sites)
    result = []
    for unit in sites:
        configured = settings.site(unit)
        level = configured.level_on(period.last) if configured else UNKNOWN_LEVEL
        n, satisfied = counted.get(unit, (0, 0))
        result.append(
            UnitPoints(
                site=unit,
                name=configured.name if configured else unit,
                level=level.value,
                ratings=n,
                satisfied=satisfied,
                transactions=served.get(unit, 0),
            )
        )
    return result


def decision766(
    record: Record, settings: HubSettings, period: Period, site: str | None, fmt: ReportFormat, now: datetime
) -> Rendered:
    """Decision 766 satisfaction points per unit, with warnings for units without ratings."""
    points = decision766_points(record, settings, period, site)
    data = {
        "province": settings.province.name,
        "period": {"code": period.code, "label": period.label},
        "units": [
            {
                "site": p.site,
                "name": p.name,
                "level": p.level,
                "transactions": p.transactions,
                "ratings": p.ratings,
                "satisfied": p.satisfied,
                "share": p.share,
                "points": p.points,
                "warning": p.warning,
            }
            for p in points
        ],
    }
    document = decision766_document(points, settings.province.name, period.label, now, _scope(settings, site))
    return render(data, document, fmt, f"diem-766-{site or 'tinh'}-{period.code}")


def evaluation(
    record: Record, settings: HubSettings, period: Period, staff: str | None, fmt: ReportFormat, now: datetime
) -> Rendered:
    """The evaluation pack of every officer (or one), by the profile in force on the period's first day:
    Decree 335/2025/NĐ-CP from 2026, the 2021 composite rules before."""
    profile = settings.evaluation.profile_for(period.first)
    if profile is not None and profile.method == "decree_335":
        return decree335_evaluation(record, settings, period, profile, staff, fmt, now)
    if profile is not None and profile.thresholds is not None:
        settings = settings.with_overrides(evaluation={"thresholds": profile.thresholds.model_dump()})
    pack = evaluation_from_record(record, settings, period, staff) or evaluation_pack(record, settings, period, staff)
    scope = f"Cán bộ {staff}" if staff else f"Tỉnh {settings.province.name}"
    document = evaluation_document(pack, now, scope)
    return render(pack.as_dict(), document, fmt, f"danh-gia-can-bo-{staff or 'tat-ca'}-{period.code}")


def decree335_evaluation(
    record: Record,
    settings: HubSettings,
    period: Period,
    profile: EvaluationProfile,
    staff: str | None,
    fmt: ReportFormat,
    now: datetime,
) -> Rendered:
    """The pack under Decree 335: monthly series, yearly totals, proposals and the 20 % quota check.

    Raises:
        EvaluationPeriodError: the period is not a calendar year.
    """
    if period.first.month != 1 or period.first.day != 1 or period.last != period.first.replace(month=12, day=31):
        raise EvaluationPeriodError(
            f"period: Nghị định 335 đánh giá theo năm dương lịch (YYYY), nhận được {period.code!r}"
        )
    pack = decree335_pack(record, settings, period, profile, staff)
    scope = f"Cán bộ {staff}" if staff else f"Tỉnh {settings.province.name}"
    document = decree335_document(pack, now, scope)
    return render(pack.as_dict(), document, fmt, f"danh-gia-nd335-{staff or 'tat-ca'}-{period.code}")


def forecast(
    record: Record,
    settings: HubSettings,
    site: str,
    first: date,
    days: int,
    service: str | None,
    fmt: ReportFormat,
    now: datetime,
) -> Rendered:
    """Arrivals per hour of each field of a unit for the coming days."""
    results = forecasts(record, settings, site, first, days, service)
    data = {"site": site, "forecasts": [f.as_dict() for f in results]}
    document = forecast_document(results, settings.services, settings.province.name, _scope(settings, site), now)
    return render(data, document, fmt, f"du-bao-{site}-{first.isoformat()}")


def staffing(
    record: Record,
    settings: HubSettings,
    site: str,
    day: date,
    service: str | None,
    probability: float | None,
    fmt: ReportFormat,
    now: datetime,
) -> Rendered:
    """Desks to open per hour at a unit on a day."""
    plan = staffing_plan(record, settings, site, day, service, probability)
    document = staffing_document(plan, settings.province.name, now)
    return render(plan.as_dict(), document, fmt, f"so-quay-{site}-{day.isoformat()}")
