"""``onestop-hub report …``: the reports from the command line, written to a file or to standard output."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from hub.config import HubSettings
from hub.reports.aggregate import Filters, GroupBy
from hub.reports.periods import parse_period
from hub.reports.record import Record
from hub.reports.service import Rendered, ReportFormat, decision766, evaluation, figures, forecast, staffing
from protocol.errors import OneStopError


def add_report_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` and its kinds to the hub's command line."""
    report = commands.add_parser(
        "report",
        help="period figures, staff evaluation, Decision 766 points, forecast, staffing (CSV, XLSX, PDF, JSON)",
        description="Reports computed from the record through a read-only connection (the hub may keep running).",
    )
    kinds = report.add_subparsers(dest="report", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", type=Path, default=None, help="hub YAML file (default: the sample province)")
        parser.add_argument("--database", metavar="URL", help="database URL, e.g. sqlite:///var/onestop.db")
        parser.add_argument(
            "--format", choices=[f.value for f in ReportFormat], default="pdf", help="output format (default pdf)"
        )
        parser.add_argument("--output", "-o", type=Path, help="file to write (default: a name from the report)")

    period_help = "YYYY-MM-DD, YYYY-Www, YYYY-MM, YYYY-Qn, YYYY or FROM..TO"
    by_figures = kinds.add_parser("figures", help="visits, waits, handling, satisfaction per group over a period")
    by_figures.add_argument("--period", required=True, help=period_help)
    by_figures.add_argument("--by", choices=[g.value for g in GroupBy], default="unit", help="one row per …")
    by_figures.add_argument("--site", help="only this unit")
    by_figures.add_argument("--desk", help="only this desk (with --site)")
    by_figures.add_argument("--service", help="only this service field")
    by_figures.add_argument("--staff", help="only this officer")
    common(by_figures)

    pack = kinds.add_parser("evaluation", help="annual evaluation pack of every desk officer")
    pack.add_argument("--year", type=int, help="calendar year (or give --period)")
    pack.add_argument("--period", help=period_help)
    pack.add_argument("--staff", help="only this officer (still compared with all)")
    common(pack)

    points = kinds.add_parser("decision766", help="Decision 766 satisfaction points per unit")
    points.add_argument("--period", required=True, help=period_help)
    points.add_argument("--site", help="only this unit")
    common(points)

    demand = kinds.add_parser("forecast", help="arrivals per hour per service field for the coming days")
    demand.add_argument("--site", required=True, help="the unit")
    demand.add_argument("--from", dest="first", type=date.fromisoformat, help="first day (default tomorrow)")
    demand.add_argument("--days", type=int, default=7, help="number of days (default 7)")
    demand.add_argument("--service", help="only this service field")
    common(demand)

    desks = kinds.add_parser("staffing", help="desks to open per hour (Erlang C) for a day")
    desks.add_argument("--site", required=True, help="the unit")
    desks.add_argument("--date", type=date.fromisoformat, help="the day (default tomorrow)")
    desks.add_argument("--service", help="only this service field")
    desks.add_argument("--probability", type=float, help="chance of a wait within the target (default: config)")
    common(desks)


def run_report(args: argparse.Namespace, settings: HubSettings) -> int:
    """Compute the report the arguments name and write it; 0 on success, 2 on a bad request."""
    fmt = ReportFormat(args.format)
    now = datetime.now(settings.zone)
    tomorrow = now.date() + timedelta(days=1)
    try:
        with Record(settings.database) as record:
            rendered = _compute(args, settings, record, fmt, now, tomorrow)
    except OneStopError as error:
        print(f"onestop-hub report: {error}", file=sys.stderr)
        return 2
    if args.output is not None and str(args.output) == "-":
        sys.stdout.buffer.write(rendered.content)
        return 0
    target = args.output or Path(rendered.filename)
    target.write_bytes(rendered.content)
    print(f"{target} ({len(rendered.content):,} bytes)")
    return 0


def _compute(
    args: argparse.Namespace, settings: HubSettings, record: Record, fmt: ReportFormat, now: datetime, tomorrow: date
) -> Rendered:
    if args.report == "figures":
        filters = Filters(site=args.site, desk=args.desk, service=args.service, staff=args.staff)
        return figures(record, settings, parse_period(args.period), GroupBy(args.by), filters, fmt, now)
    if args.report == "evaluation":
        if args.period is None and args.year is None:
            raise OneStopError("give --year or --period")
        period = parse_period(args.period or str(args.year))
        return evaluation(record, settings, period, args.staff, fmt, now)
    if args.report == "decision766":
        return decision766(record, settings, parse_period(args.period), args.site, fmt, now)
    if args.report == "forecast":
        return forecast(record, settings, args.site, args.first or tomorrow, args.days, args.service, fmt, now)
    return staffing(record, settings, args.site, args.date or tomorrow, args.service, args.probability, fmt, now)
