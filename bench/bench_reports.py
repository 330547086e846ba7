"""The yearly staff evaluation of a province against a bare SQL aggregate over the same table, same run.

A province's year (about 2 million visits, 1,000 officers) is generated straight into an SQLite record
with the hub's schema (no MQTT, no ingest: the record is what the reports read). Then, on the same file:
- baseline: one bare SQL aggregate over the same table (per officer: transactions, mean wait, mean
  handling time over the year), the least any per-officer yearly report has to read;
- evaluation: the hub's evaluation pack (hub.reports.evaluation): volume against the norm of the level in
  force on each day, waits and handling against the targets in force on each day, medians and 90th
  percentiles, satisfaction with Wilson intervals, sentiment, emotion, case-mix adjustment by service
  field, the proposed classification.
The record is measured as a hub keeps it: with its daily roll-ups (``hub.rollups``), built once into the cached
record (what a hub does when it first opens a record without them). The evaluation is timed as the reports'
service computes it (``hub.reports.service``: from the roll-ups when the record keeps them) and, for
comparison, as the raw scan of the events (``hub.reports.evaluation.evaluation_pack``); the two packs must be
equal in every count, share, percentile, proposal and rank (the bench stops otherwise).
Prints the times and the ratio evaluation / bare (aim: at most 2x on each engine, the whole year in under a
minute), then the time to write the PDF, XLSX and CSV of the pack.

``--engine postgresql`` runs the same on PostgreSQL: a private server (``devtools.postgres``) is started, the
hub's schema made by its store, the cached SQLite record and its roll-ups copied in (``COPY``) and analysed;
baseline and evaluation then both read PostgreSQL.

Run: ``.venv/bin/python bench/bench_reports.py [--engine sqlite|postgresql] [--visits N] [--officers N]
[--skip-raw] [--skip-exports]``. The generated record and its roll-ups are cached under ``var/bench/`` (delete
it to regenerate).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.postgres import PostgresServer  # noqa: E402
from hub.config import HubSettings, load_settings  # noqa: E402
from hub.connection import connect  # noqa: E402
from hub.reports.aggregate import GroupBy, period_figures  # noqa: E402
from hub.reports.documents import evaluation_document  # noqa: E402
from hub.reports.evaluation import EvaluationPack, evaluation_pack  # noqa: E402
from hub.reports.export_csv import to_csv  # noqa: E402
from hub.reports.export_pdf import to_pdf  # noqa: E402
from hub.reports.export_xlsx import to_xlsx  # noqa: E402
from hub.reports.periods import year_period  # noqa: E402
from hub.reports.record import Record  # noqa: E402
from hub.reports.rollup_reader import evaluation_from_record  # noqa: E402
from hub.rollups import rebuild, recorded_span  # noqa: E402
from hub.sqlite_store import SqliteStore  # noqa: E402
from hub.store import open_store  # noqa: E402

YEAR = 2025
SERVICES = ["dat-dai", "tu-phap-ho-tich", "chung-thuc", "dang-ky-kinh-doanh", "xay-dung", "lao-dong-viec-lam"]
# Mean handling minutes per field: the case mix the evaluation must not punish an officer for.
SERVICE_MINUTES = {
    "dat-dai": 24.0,
    "tu-phap-ho-tich": 9.0,
    "chung-thuc": 5.0,
    "dang-ky-kinh-doanh": 15.0,
    "xay-dung": 20.0,
    "lao-dong-viec-lam": 10.0,
}
UTC_OFFSET_H = 7


def province_settings(units: int) -> HubSettings:
    """A province of ``units`` units: one provincial centre, a few former district units, communes."""
    base = load_settings()
    sites: list[dict[str, object]] = [
        {"id": "hcc", "name": "Trung tâm Phục vụ hành chính công tỉnh", "level": "province", "lat": 21.0, "lon": 106.0}
    ]
    for index in range(1, units):
        site: dict[str, object] = {
            "id": f"xa-{index:03d}",
            "name": f"Bộ phận Một cửa xã số {index}",
            "lat": 21.0 + index / 1000,
            "lon": 106.0,
        }
        if index <= 8:  # district units until 30 June 2025, communes after
            site["name"] = f"Trung tâm Phục vụ hành chính công số {index}"
            site["levels"] = [
                {"level": "district", "valid_until": date(2025, 6, 30)},
                {"level": "commune", "valid_from": date(2025, 7, 1)},
            ]
        else:
            site["level"] = "commune"
        sites.append(site)
    data = base.model_dump()
    data["sites"] = sites
    data["province"] = {"code": 24, "name": "Bắc Ninh (mô phỏng)"}
    return HubSettings.model_validate(data)


def working_days(year: int) -> list[date]:
    """Monday to Friday of the year."""
    day, days = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _stamp(day_utc_base: np.ndarray, seconds: np.ndarray) -> list[str]:
    """ISO UTC texts of (midnight UTC of the local day as epoch seconds) + local seconds of the day."""
    epoch = (day_utc_base + seconds - UTC_OFFSET_H * 3600).astype(np.int64)
    text = np.datetime_as_string(epoch.astype("datetime64[s]"), unit="s")
    return [f"{t}+00:00" for t in text.tolist()]


def generate(path: Path, visits: int, officers: int, units: int, seed: int = 7) -> HubSettings:
    """Write a province's year into a fresh record at ``path``; return the matching configuration."""
    settings = province_settings(units)
    SqliteStore(path).close()  # the hub's schema
    rng = np.random.default_rng(seed)
    days = working_days(YEAR)
    # Officers: a tenth at the provincial centre, the rest spread over the other units; one desk each.
    officer_site = np.where(np.arange(officers) < officers // 10, 0, 1 + np.arange(officers) % (units - 1))
    officer_service = rng.integers(0, len(SERVICES), officers)
    # A third of the officers (commune desks) also take a second field, for a fifth of their dossiers.
    second_service = np.where(rng.random(officers) < 0.33, rng.integers(0, len(SERVICES), officers), -1)
    officer_speed = rng.lognormal(0.0, 0.18, officers)  # handling time factor
    officer_kindness = rng.normal(0.0, 0.6, officers)  # shifts the rating scores
    desk_of = np.zeros(officers, dtype=np.int64)
    for site in range(units):
        members = np.flatnonzero(officer_site == site)
        desk_of[members] = np.arange(1, len(members) + 1)
    # Busier provincial desks: volume per officer varies by unit.
    weight = np.where(officer_site == 0, 1.6, 1.0) * rng.uniform(0.6, 1.4, officers)
    officer_of_visit = rng.choice(officers, size=visits, p=weight / weight.sum())
    day_index = rng.integers(0, len(days), visits)
    order = np.lexsort((officer_of_visit, day_index))
    officer_of_visit, day_index = officer_of_visit[order], day_index[order]

    day_text = np.array([d.isoformat() for d in days])
    day_epoch = np.array([(datetime(d.year, d.month, d.day, tzinfo=UTC)).timestamp() for d in days])
    morning = rng.random(visits) < 0.6
    issued = np.where(morning, rng.uniform(7.5, 11.0, visits), rng.uniform(13.5, 16.5, visits)) * 3600
    load = np.where(officer_site[officer_of_visit] == 0, 1.3, 1.0)
    wait = rng.exponential(420.0 * load, visits)
    field_of_visit = officer_service[officer_of_visit]
    second = second_service[officer_of_visit]
    use_second = (second >= 0) & (rng.random(visits) < 0.2)
    field_of_visit = np.where(use_second, second, field_of_visit)
    minutes = np.array([SERVICE_MINUTES[SERVICES[s]] for s in field_of_visit])
    service = rng.lognormal(np.log(minutes * 60 * officer_speed[officer_of_visit]), 0.45)
    status_draw = rng.random(visits)
    no_show = status_draw < 0.03
    never_called = (status_draw >= 0.03) & (status_draw < 0.035)
    called = issued + wait
    ended = called + service

    site_ids = [s.id for s in settings.sites]
    sites = np.array(site_ids)[officer_site[officer_of_visit]]
    staff = np.array([f"cb-{i:04d}" for i in range(officers)])[officer_of_visit]
    desks = np.array([f"q{d:02d}" for d in range(officers + 2)])[desk_of[officer_of_visit]]
    services = np.array(SERVICES)[field_of_visit]
    day_of = day_text[day_index]
    base = day_epoch[day_index]
    issued_at, called_at, ended_at = _stamp(base, issued), _stamp(base, called), _stamp(base, ended)
    tickets = [f"{i:07d}" for i in range(visits)]

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    visit_rows = []
    tx_rows = []
    for i in range(visits):
        if never_called[i]:
            visit_rows.append(
                (
                    sites[i],
                    day_of[i],
                    tickets[i],
                    "waiting",
                    issued_at[i],
                    desks[i],
                    services[i],
                    0,
                    None,
                    issued_at[i],
                    desks[i],
                )
            )
            continue
        if no_show[i]:
            visit_rows.append(
                (sites[i], day_of[i], tickets[i], "no_show", issued_at[i], desks[i], services[i], 0, None, None, None)
            )
            tx_rows.append(
                (
                    sites[i],
                    day_of[i],
                    tickets[i],
                    0,
                    desks[i],
                    staff[i],
                    services[i],
                    issued_at[i],
                    called_at[i],
                    called_at[i],
                    "no_show",
                    None,
                    None,
                )
            )
            continue
        w, s = round(float(wait[i])), round(float(service[i]))
        visit_rows.append(
            (sites[i], day_of[i], tickets[i], "done", issued_at[i], desks[i], services[i], 0, float(w), None, None)
        )
        tx_rows.append(
            (
                sites[i],
                day_of[i],
                tickets[i],
                0,
                desks[i],
                staff[i],
                services[i],
                issued_at[i],
                called_at[i],
                ended_at[i],
                "finished",
                float(w),
                float(s),
            )
        )
    conn.executemany("INSERT INTO visits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", visit_rows)
    conn.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tx_rows)
    del visit_rows

    # Ratings after 40 % of services (3 % of them flagged as a burst and not counted), comments after 3 %,
    # camera emotions after the services of a quarter of the desks.
    served = [row for row in tx_rows if row[10] == "finished"]
    draw = rng.random(len(served))
    kindness = officer_kindness[officer_of_visit[~(no_show | never_called)]]
    score = np.clip(np.round(3.3 + kindness + rng.normal(0, 0.8, len(served))), 1, 4).astype(int)
    ratings = []
    feedback = []
    emotions = []
    camera = rng.random(officers + 2) < 0.25
    for k, row in enumerate(served):
        site, day, ticket, _, desk, officer, *_rest = row
        if draw[k] < 0.40:
            counted = draw[k] > 0.012
            # 1 % from kiosks that do not know the officer: attributed through the ticket.
            named = officer if draw[k] > 0.004 else None
            ratings.append(
                (
                    f"r{ticket}",
                    site,
                    desk,
                    day,
                    row[9],
                    int(score[k]),
                    None,
                    ticket,
                    named,
                    "button",
                    None if counted else "burst",
                    int(counted),
                )
            )
        if draw[k] > 0.97:
            mood = "positive" if score[k] >= 3 else ("negative" if score[k] == 1 else "neutral")
            feedback.append((f"f{ticket}", site, desk, day, row[9], mood, 0.9, ticket, officer, None))
        if camera[int(desk[1:])] and draw[k] < 0.9:
            emotions.append((f"e{ticket}", site, desk, day, row[9], ticket, 12, float(score[k] - 2.5) / 2, "{}"))
    conn.executemany(
        "INSERT INTO ratings (id, site, desk, day, ts, score, scale, ticket, staff, channel, flags, counted) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ratings,
    )
    conn.executemany("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", feedback)
    conn.executemany("INSERT INTO emotions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", emotions)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    return settings


COPIED_TABLES = ("visits", "transactions", "ratings", "feedback", "emotions", "rollup_unit_days", "rollup_desk_days")
# Tables that have a rowid column on PostgreSQL (revision 0004): SQLite's rowids are copied into it.
ROWID_TABLES = ("ratings", "feedback", "emotions")


def copy_to_postgresql(path: Path, url: str) -> None:
    """Copy the generated SQLite record into the PostgreSQL database at ``url`` (the hub's schema), then analyse."""
    import psycopg

    open_store(url).close()  # the hub's schema and its migrations
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with psycopg.connect(url, autocommit=True) as target:
        for table in COPIED_TABLES:
            columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
            if table in ROWID_TABLES:
                columns = ["rowid", *columns]
            names = ", ".join(columns)
            with target.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in source.execute(f"SELECT {names} FROM {table}"):
                    copy.write_row(row)
        target.execute("VACUUM ANALYZE")
    source.close()


def ensure_rollups(path: Path) -> None:
    """Build the daily roll-ups of the cached record once, as a hub does when it first opens a record without
    them. A build runs day by day, in order: a record whose last day of events has its roll-ups has them all;
    an interrupted build is redone."""
    started = time.perf_counter()
    store = open_store(f"sqlite:///{path}")  # builds them when the record has none
    try:
        span = recorded_span(store)
        if span is not None and store.query("SELECT MAX(day) FROM rollup_unit_days")[0][0] != span[1].isoformat():
            rebuild(store, *span)
        elapsed = time.perf_counter() - started
        if elapsed > 5:
            rows = store.query("SELECT COUNT(*) FROM rollup_desk_days")[0][0]
            print(f"built the daily roll-ups of {path} in {elapsed:.1f} s ({rows:,} desk-day rows)")
    finally:
        store.close()


@contextmanager
def record_url(engine: str, path: Path) -> Iterator[str]:
    """The URL of the record the bench reads: the cached SQLite file, or a private PostgreSQL holding a copy."""
    if engine == "sqlite":
        yield f"sqlite:///{path}"
        return
    with PostgresServer() as server:
        url = server.create_database()
        started = time.perf_counter()
        copy_to_postgresql(path, url)
        print(f"copied into PostgreSQL in {time.perf_counter() - started:.1f} s")
        yield url


def bare_aggregate(url: str, year: int) -> float:
    """Seconds for the baseline: per officer, transactions, mean wait and mean handling over the year."""
    conn = connect(url, read_only=True)
    started = time.perf_counter()
    rows = conn.execute(
        "SELECT staff, COUNT(*), AVG(wait_s), AVG(service_s) FROM transactions "
        "WHERE day BETWEEN ? AND ? GROUP BY staff",
        (f"{year}-01-01", f"{year}-12-31"),
    ).fetchall()
    elapsed = time.perf_counter() - started
    conn.close()
    assert rows
    return elapsed


def _runs(times: list[float]) -> str:
    return "runs: " + ", ".join(f"{t:.2f}" for t in times)


def pack_summary(pack: EvaluationPack) -> list[tuple[object, ...]]:
    """What must be equal between two packs: every officer's counts, shares, percentiles, proposal and rank
    (a mean of handling times or of valences is a float sum, equal only to the last bits between plans)."""
    return [
        (
            o.staff,
            o.site,
            o.sites,
            o.service,
            o.received,
            o.no_shows,
            o.wait.count,
            o.wait.median,
            o.wait.p90,
            o.wait.judged,
            o.wait.within,
            o.handling.count,
            o.handling.judged,
            o.handling.within,
            o.ratings,
            o.satisfied,
            o.ratings_not_counted,
            o.emotions,
            o.comments,
            o.proposal,
            o.rank_in_field,
        )
        for o in pack.officers
    ]


def timed(action: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) the record, time both in alternation, print the ratio and the export times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--visits", type=int, default=2_000_000)
    parser.add_argument("--officers", type=int, default=1000)
    parser.add_argument("--units", type=int, default=126)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (the best is reported)")
    parser.add_argument("--skip-exports", action="store_true", help="do not time the PDF, XLSX and CSV")
    parser.add_argument("--skip-raw", action="store_true", help="time the raw scan only once (for the equality)")
    args = parser.parse_args(argv)

    cache = Path("var/bench")
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"reports-{args.visits}-{args.officers}-{args.units}.db"
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".part")
        for leftover in cache.glob(partial.name + "*"):
            leftover.unlink()
        generate(partial, args.visits, args.officers, args.units)
        partial.rename(path)
        print(f"generated {path} in {time.perf_counter() - started:.1f} s")
    ensure_rollups(path)
    settings = province_settings(args.units)
    with record_url(args.engine, path) as url:
        run(args, settings, url)
    return 0


def run(args: argparse.Namespace, settings: HubSettings, url: str) -> None:
    """Time the bare aggregate and the evaluation pack on the record at ``url``; print the figures."""
    period = year_period(YEAR)
    conn = connect(url, read_only=True)
    counts = {
        t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("visits", "transactions", "ratings", "emotions")
    }
    conn.close()
    print(
        f"record ({args.engine}): {counts['visits']:,} visits, {counts['transactions']:,} transactions,"
        f" {counts['ratings']:,} ratings, {counts['emotions']:,} emotions, {args.officers:,} officers,"
        f" {args.units} units, year {YEAR}"
    )

    with Record(url) as two:
        # As the reports' service computes it: from the roll-ups when the record keeps them (it does here).
        def served() -> EvaluationPack:
            pack = evaluation_from_record(two, settings, period)
            assert pack is not None, "the bench record has no roll-ups"
            return pack

        # Warm the page cache for all three, then alternate so that other load on the machine hits them alike.
        bare_aggregate(url, YEAR)
        pack = served()
        raw_pack = evaluation_pack(two, settings, period)
        if pack_summary(pack) != pack_summary(raw_pack):
            raise SystemExit("the pack from the roll-ups differs from the raw scan's")
        bare, rolled, raw = [], [], []
        for _ in range(args.runs):
            bare.append(bare_aggregate(url, YEAR))
            rolled.append(timed(served))
            if not args.skip_raw:
                raw.append(timed(lambda: evaluation_pack(two, settings, period)))
        best_bare, best_rolled = min(bare), min(rolled)
        print(f"bare SQL aggregate per officer (count, mean wait, mean handling): {best_bare:.2f} s  ({_runs(bare)})")
        print(f"evaluation pack as the service computes it (roll-ups): {best_rolled:.2f} s  ({_runs(rolled)})")
        if raw:
            print(f"evaluation pack from the raw events, 2 reader threads: {min(raw):.2f} s  ({_runs(raw)})")
        print(
            f"ratio evaluation / bare on {args.engine}: {best_rolled / best_bare:.2f} (roll-ups)"
            + (f", {min(raw) / best_bare:.2f} (raw events)" if raw else "")
            + "; aim <= 2"
        )
        proposals = Counter(officer.proposal_name for officer in pack.officers)
        print(
            f"proposals ({len(pack.officers):,} officers, equal from the roll-ups and the raw events): "
            + "; ".join(f"{name}: {n}" for name, n in sorted(proposals.items()))
        )
        print(
            f"unit report for the year (126 units, with charts' series): "
            f"{timed(lambda: period_figures(two, settings, period, GroupBy.UNIT)):.2f} s"
        )
        if not args.skip_exports:
            now = datetime(YEAR + 1, 1, 5, 8, 0, tzinfo=settings.zone)
            document = evaluation_document(pack, now, f"Tỉnh {settings.province.name}")
            for name, render in (("CSV", to_csv), ("XLSX", to_xlsx), ("PDF", to_pdf)):
                started = time.perf_counter()
                content = render(document)
                print(f"evaluation pack as {name}: {time.perf_counter() - started:.1f} s, {len(content) / 1e6:.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
