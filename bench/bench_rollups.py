"""The daily roll-ups (hub/rollups.py): what reading them saves the reports and what keeping them costs the ingest.

Same data, same run, each against its baseline:
- the yearly evaluation pack of a province (bench_reports.py's generated year, SQLite): the raw scan
  (hub.reports.evaluation, 2 reader threads) against the same pack read from the roll-ups
  (hub.reports.rollup_reader); the packs are compared (they must be equal);
- the unit report of the year (period figures per unit with their monthly series): the raw aggregates
  (hub.reports.aggregate) against the same from the roll-ups;
- the dashboard's 7-day view of the busiest unit: each day's figures from the raw visits and ratings
  (hub.figures.compute_figures, as /stats computes them) against the same figures from the roll-ups;
- the time to rebuild the year's roll-ups from the raw events (``onestop-hub rollups rebuild``);
- the ingest: the hub's processor (in process, batches of 200) on simulated province traffic, with the
  roll-ups kept in each batch's transaction against the same processor with the refresh replaced by a
  no-op (a baseline that exists only here: the hub always keeps them), on SQLite and, with
  ``--engine postgresql``, on a private PostgreSQL.

Run: ``.venv/bin/python bench/bench_rollups.py [--visits N] [--officers N] [--units N] [--messages N]
[--engine sqlite|postgresql|both]``. The generated year is cached under ``var/bench/``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hub.processor  # noqa: E402
from bench.bench_ingest import traffic  # noqa: E402
from bench.bench_reports import YEAR, generate, pack_summary, province_settings  # noqa: E402
from devtools.postgres import PostgresServer  # noqa: E402
from hub.config import HubSettings, TargetMetric, load_settings, targets_in_force, wait_target  # noqa: E402
from hub.figures import compute_figures  # noqa: E402
from hub.live import LiveBoard  # noqa: E402
from hub.processor import Incoming, Processor  # noqa: E402
from hub.reports.aggregate import Filters, GroupBy, PeriodAggregator  # noqa: E402
from hub.reports.evaluation import evaluation_pack  # noqa: E402
from hub.reports.periods import year_period  # noqa: E402
from hub.reports.record import Record  # noqa: E402
from hub.reports.rollup_reader import day_figures, evaluation_from_rollups, rollup_period  # noqa: E402
from hub.rollups import rebuild  # noqa: E402
from hub.store import Store, open_store  # noqa: E402


def best(action: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    """The best of ``runs`` timings of ``action`` (seconds), and all of them."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times), times


def unit_summary(aggregator: PeriodAggregator, found: Any) -> list[Any]:
    """What must be equal between two unit reports: counts, medians, shares and the monthly series."""
    accs, series = found
    result: list[Any] = [series]
    for key in sorted(accs):
        f = aggregator.figures(key, "", accs[key], GroupBy.UNIT)
        result.append((key, f.visits, f.transactions, f.no_shows, f.wait, f.service, f.ratings, f.satisfied))
    return result


def seven_days(store: Store, settings: HubSettings, site: str, last: date, read: str) -> list[Any]:
    """The figures of ``site`` on the 7 days up to ``last``, from the raw rows or from the roll-ups."""
    result = []
    for offset in range(6, -1, -1):
        day = last - timedelta(days=offset)
        level = settings.site(site).level_on(day)  # type: ignore[union-attr]
        rule = wait_target(settings, day, level)
        handling = targets_in_force(settings, day, level).get(TargetMetric.HANDLING_PER_DOSSIER)
        text = day.isoformat()
        if read == "raw":
            figures = compute_figures(
                store.visits(site, text), store.ratings(site, text), rule, handling, settings.rating
            )
        else:  # as the dashboard: a day the roll-ups do not hold (no event at all) is read raw
            found = day_figures(store, settings, site, text, rule, handling)
            figures = found or compute_figures(
                store.visits(site, text), store.ratings(site, text), rule, handling, settings.rating
            )
        # The generated record's wait columns are rounded apart from its times (the ingest keeps them alike):
        # compare the counts, which do not depend on that.
        result.append((figures.visits, figures.transactions, figures.no_shows, figures.ratings, figures.satisfied))
    return result


def reports(args: argparse.Namespace) -> None:
    """The evaluation pack and the 7-day view, raw against roll-ups, on the generated year."""
    # The year bench_reports.py generates (and caches): the roll-ups are built in it when it is first opened.
    path = Path("var/bench") / f"reports-{args.visits}-{args.officers}-{args.units}.db"
    if not path.exists():  # generated once (what an interrupted run left is removed first)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        for leftover in path.parent.glob(partial.name + "*"):
            leftover.unlink()
        started = time.perf_counter()
        generate(partial, args.visits, args.officers, args.units)
        print(f"generated {path} in {time.perf_counter() - started:.1f} s")
        partial.rename(path)
    settings = province_settings(args.units)
    url = f"sqlite:///{path}"
    period = year_period(YEAR)
    store = open_store(url)  # a record without roll-ups gets them here, once
    try:
        rebuilt, _ = best(lambda: rebuild(store, period.first, period.last), 1)
        rows = store.query("SELECT COUNT(*) FROM rollup_desk_days")[0][0]
        visits = store.query("SELECT COUNT(*) FROM visits")[0][0]
        print(f"record: {visits:,} visits; roll-ups: {rows:,} desk-day rows, rebuilt for the year in {rebuilt:.1f} s")
        with Record(url) as record:
            raw_pack = evaluation_pack(record, settings, period)  # warms the page cache
            rolled_pack = evaluation_from_rollups(store, settings, period)
            same = pack_summary(raw_pack) == pack_summary(rolled_pack)
            raw_s, raw_runs = best(lambda: evaluation_pack(record, settings, period), args.runs)
            rolled_s, rolled_runs = best(lambda: evaluation_from_rollups(store, settings, period), args.runs)
        print(
            f"yearly evaluation pack ({len(raw_pack.officers):,} officers): raw scan {raw_s:.2f} s, roll-ups "
            f"{rolled_s:.2f} s: {raw_s / rolled_s:.1f}x faster; packs equal: {'yes' if same else 'NO'}"
            f"  (runs raw {', '.join(f'{t:.2f}' for t in raw_runs)}; roll-ups"
            f" {', '.join(f'{t:.2f}' for t in rolled_runs)})"
        )
        with Record(url) as record:  # the unit report of the year: its aggregates and monthly series
            aggregator = PeriodAggregator(record, settings, period)
            rolled = rollup_period(record, aggregator, Filters())
            assert rolled is not None

            def raw_units() -> Any:
                return aggregator.collect(GroupBy.UNIT, Filters()), aggregator.series(Filters(), period.buckets(), True)

            def rolled_units() -> Any:
                return rolled.collect(GroupBy.UNIT, Filters()), rolled.series(Filters(), period.buckets())

            same_units = unit_summary(aggregator, raw_units()) == unit_summary(aggregator, rolled_units())
            raw_report, _ = best(raw_units, args.runs)
            rolled_report, _ = best(rolled_units, args.runs)
        print(
            f"unit report of the year ({len(settings.sites)} units, monthly series): raw scan {raw_report:.2f} s, "
            f"roll-ups {rolled_report:.2f} s: {raw_report / rolled_report:.1f}x faster; figures equal: "
            f"{'yes' if same_units else 'NO'}"
        )
        last = date(YEAR, 11, 28)
        site = settings.sites[0].id
        raw_days = seven_days(store, settings, site, last, "raw")
        same_days = raw_days == seven_days(store, settings, site, last, "rollups")
        raw_week, _ = best(lambda: seven_days(store, settings, site, last, "raw"), args.runs * 3)
        rolled_week, _ = best(lambda: seven_days(store, settings, site, last, "rollups"), args.runs * 3)
        served = sum(d[1] for d in raw_days)
        print(
            f"dashboard's 7 days of {site} ({served:,} transactions): raw {raw_week * 1000:.1f} ms, roll-ups "
            f"{rolled_week * 1000:.1f} ms: {raw_week / rolled_week:.1f}x faster; figures equal: "
            f"{'yes' if same_days else 'NO'}"
        )
    finally:
        store.close()


def ingest_rate(url: str, messages: list[tuple[str, bytes]], keep_rollups: bool) -> float:
    """Messages per second through the processor, in batches of 200, with or without the roll-ups kept."""
    settings = load_settings()
    store = open_store(url)
    processor = Processor(settings, store, LiveBoard(settings))
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    kept = hub.processor.refresh_rollups
    if not keep_rollups:
        hub.processor.refresh_rollups = lambda *_: None  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        for start in range(0, len(messages), 200):
            processor.process([Incoming(t, p, now) for t, p in messages[start : start + 200]], now)
        return len(messages) / (time.perf_counter() - started)
    finally:
        hub.processor.refresh_rollups = kept
        store.close()


def ingest(args: argparse.Namespace) -> None:
    """The processor's rate with and without the roll-ups, alternated, on each engine asked for."""
    messages = traffic(args.messages)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(PostgresServer()) if "postgresql" in engines else None
        for engine in engines:
            rates: dict[bool, list[float]] = {True: [], False: []}
            for run in range(args.runs):
                for keep in (False, True):
                    if engine == "sqlite":
                        url = f"sqlite:///{folder / f'ingest-{run}-{keep}.db'}"
                    else:
                        assert server is not None
                        url = f"{server.create_database()}?local={folder / f'local-{run}-{keep}.db'}"
                    rates[keep].append(ingest_rate(url, messages, keep))
            with_rollups, without = max(rates[True]), max(rates[False])
            print(
                f"ingest on {engine}, {len(messages):,} messages in batches of 200: {without:,.0f} msg/s without the"
                f" roll-ups, {with_rollups:,.0f} msg/s keeping them: ratio {with_rollups / without:.2f}"
            )


def main(argv: list[str] | None = None) -> int:
    """Run the comparisons and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=2_000_000)
    parser.add_argument("--officers", type=int, default=1000)
    parser.add_argument("--units", type=int, default=126)
    parser.add_argument("--messages", type=int, default=6000, help="simulated messages for the ingest part")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both", help="for the ingest")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (the best is reported)")
    parser.add_argument("--skip-reports", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_reports:
        reports(args)
    if not args.skip_ingest:
        ingest(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
