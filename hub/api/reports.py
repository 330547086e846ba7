"""Reports: period figures, the staff evaluation pack, Decision 766 points, demand forecast and staffing.

Each answers JSON, or with ``format=csv|xlsx|pdf`` a file to download. Reports read the record through
their own read-only connections, so the hub keeps ingesting while one is computed.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from hub.api.deps import Runtime, bounded_day, bounded_span
from hub.api.session import audit
from hub.reports import service
from hub.reports.aggregate import Filters, GroupBy
from hub.reports.periods import Period, parse_period
from hub.reports.record import Record
from hub.reports.service import Rendered, ReportFormat
from protocol.errors import OneStopError
from protocol.topics import is_identifier

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
_opening = threading.Lock()


def report_record(request: Request) -> Record:
    """The reports' reader threads and connections (opened on first use, closed with the application)."""
    record: Record | None = getattr(request.app.state, "report_record", None)
    if record is None:
        with _opening:
            record = getattr(request.app.state, "report_record", None)
            if record is None:
                try:
                    record = request.app.state.report_record = Record(request.app.state.runtime.settings.database)
                except OneStopError as error:
                    raise HTTPException(status_code=503, detail=str(error)) from None
    return record


Reports = Annotated[Record, Depends(report_record)]
Format = Annotated[ReportFormat, Query(description="json (default), csv, xlsx or pdf.")]


def _period(text: str) -> Period:
    try:
        chosen = parse_period(text)
    except OneStopError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    except OverflowError:
        raise HTTPException(status_code=422, detail=f"period {text!r} is outside the calendar") from None
    bounded_span(chosen.first, chosen.last, "period")
    return chosen


def _identifier(value: str | None, what: str) -> str | None:
    if value is not None and not is_identifier(value):
        raise HTTPException(status_code=422, detail=f"{value!r} is not a valid {what} id")
    return value


def _answer(compute: object) -> Response:
    assert callable(compute)
    try:
        rendered: Rendered = compute()
    except OneStopError as error:
        status = 422 if isinstance(error, ValueError) else 503
        raise HTTPException(status_code=status, detail=str(error)) from None
    headers = {}
    if not rendered.media_type.startswith("application/json"):
        headers["Content-Disposition"] = f'attachment; filename="{rendered.filename}"'
    return Response(rendered.content, media_type=rendered.media_type, headers=headers)


def _verb(format: ReportFormat) -> str:
    return "read" if format is ReportFormat.JSON else "export"


def _now(runtime: Runtime) -> datetime:
    return runtime.clock().astimezone(runtime.settings.zone)


@router.get("/figures", summary="Visits, waits, handling and satisfaction per group over a period")
def figures(
    request: Request,
    runtime: Runtime,
    record: Reports,
    period: Annotated[str, Query(description="YYYY-MM-DD, YYYY-Www, YYYY-MM, YYYY-Qn, YYYY or FROM..TO.")],
    by: Annotated[GroupBy, Query(description="One row per province, unit, desk, service or officer.")] = GroupBy.UNIT,
    site: Annotated[str | None, Query(description="Only this unit.")] = None,
    desk: Annotated[str | None, Query(description="Only this desk (with site).")] = None,
    service_field: Annotated[str | None, Query(alias="service", description="Only this service field.")] = None,
    staff: Annotated[str | None, Query(description="Only this officer.")] = None,
    format: Format = ReportFormat.JSON,
) -> Response:
    """Each wait judged against the target in force on its own day; see the report's notes for definitions."""
    filters = Filters(
        site=_identifier(site, "unit"), desk=_identifier(desk, "desk"), service=service_field, staff=staff
    )
    chosen = _period(period)
    if by is GroupBy.OFFICER or staff is not None:  # figures per officer are personnel data
        audit(request, f"report.personnel.{_verb(format)}", staff or chosen.code, {"period": chosen.code, "by": by})
    return _answer(lambda: service.figures(record, runtime.settings, chosen, by, filters, format, _now(runtime)))


@router.get("/evaluation", summary="The evaluation pack of every desk officer (or one)")
def evaluation(
    request: Request,
    runtime: Runtime,
    record: Reports,
    period: Annotated[str, Query(description="Usually a year: YYYY.")],
    staff: Annotated[str | None, Query(description="Only this officer (still compared with all).")] = None,
    format: Format = ReportFormat.JSON,
) -> Response:
    """Volume against the norm, waits and handling against the targets, satisfaction with Wilson intervals,
    the proposed classification and the evidence behind every figure."""
    chosen = _period(period)
    audit(request, f"report.evaluation.{_verb(format)}", staff or "all", {"period": chosen.code, "format": format})
    return _answer(lambda: service.evaluation(record, runtime.settings, chosen, staff, format, _now(runtime)))


@router.get("/decision766", summary="Decision 766 satisfaction points per unit")
def decision766(
    runtime: Runtime,
    record: Reports,
    period: Annotated[str, Query(description="YYYY-MM-DD, YYYY-Www, YYYY-MM, YYYY-Qn, YYYY or FROM..TO.")],
    site: Annotated[str | None, Query(description="Only this unit.")] = None,
    format: Format = ReportFormat.JSON,
) -> Response:
    """6 × min(1, satisfied share / 0.90); 0 and a warning for a unit without ratings."""
    chosen = _period(period)
    unit = _identifier(site, "unit")
    return _answer(lambda: service.decision766(record, runtime.settings, chosen, unit, format, _now(runtime)))


@router.get("/forecast", summary="Arrivals per hour per service field for the coming days")
def forecast(
    runtime: Runtime,
    record: Reports,
    site: Annotated[str, Query(description="The unit.")],
    first: Annotated[date | None, Query(alias="from", description="First day; tomorrow if absent.")] = None,
    days: Annotated[int, Query(ge=1, le=28, description="Number of days.")] = 7,
    service_field: Annotated[str | None, Query(alias="service", description="Only this service field.")] = None,
    format: Format = ReportFormat.JSON,
) -> Response:
    """The model of each field is chosen by back-testing on the record; every model's error is reported."""
    unit = _identifier(site, "unit")
    assert unit is not None
    start = bounded_day(first, "from") or _now(runtime).date() + timedelta(days=1)
    return _answer(
        lambda: service.forecast(record, runtime.settings, unit, start, days, service_field, format, _now(runtime))
    )


@router.get("/staffing", summary="Desks to open per hour (Erlang C) for a day")
def staffing(
    runtime: Runtime,
    record: Reports,
    site: Annotated[str, Query(description="The unit.")],
    day: Annotated[date | None, Query(alias="date", description="The day; tomorrow if absent.")] = None,
    service_field: Annotated[str | None, Query(alias="service", description="Only this service field.")] = None,
    probability: Annotated[
        float | None, Query(gt=0, lt=1, description="Chance of a wait within the target; the configured one if absent.")
    ] = None,
    format: Format = ReportFormat.JSON,
) -> Response:
    """Fewest desks per hour that keep a citizen's wait within the target with the stated probability."""
    unit = _identifier(site, "unit")
    assert unit is not None
    chosen = bounded_day(day, "date") or _now(runtime).date() + timedelta(days=1)
    return _answer(
        lambda: service.staffing(
            record, runtime.settings, unit, chosen, service_field, probability, format, _now(runtime)
        )
    )
