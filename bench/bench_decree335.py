"""The Decree 335 pack of a province's year against a bare SQL aggregate and the 2021 pack, same record, same run.

The record is a province's year generated like ``bench_reports.py`` (its generator, moved to 2026, the first
year the decree judges), with signed entries for every officer (general points each month, a few errors).
Timed on the same file, alternating so that other load on the machine hits all alike:
- bare: one SQL aggregate per officer over the year (the least any per-officer yearly report reads);
- legacy: the 2021 evaluation pack (``hub.reports.evaluation``) over the same year;
- decree: the Decree 335 pack (``hub.reports.decree335``): per officer and day the products and late ones
  against the targets in force, ratings per month, entries, 12 months × officers, quotas.
Prints the best of each and the ratios decree / bare and decree / legacy, then the time to write the PDF.

Run: ``.venv/bin/python bench/bench_decree335.py [--visits N] [--officers N] [--units N]``.
The generated record is cached under ``var/bench/`` (delete it to regenerate).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_reports  # noqa: E402

from hub.reports.decree335 import decree335_pack  # noqa: E402
from hub.reports.decree335_document import decree335_document  # noqa: E402
from hub.reports.evaluation import evaluation_pack  # noqa: E402
from hub.reports.evaluation_entries import EntryStore  # noqa: E402
from hub.reports.export_pdf import to_pdf  # noqa: E402
from hub.reports.periods import year_period  # noqa: E402
from hub.reports.record import Record  # noqa: E402

YEAR = 2026


def add_entries(path: Path) -> int:
    """General points for every officer and month, and two months of errors for every tenth officer."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    officers = [row[0] for row in conn.execute("SELECT DISTINCT staff FROM transactions WHERE staff IS NOT NULL")]
    conn.close()
    store = EntryStore(path, clock=lambda: datetime(YEAR, 12, 31, 9, tzinfo=UTC))
    made = 0
    for k, staff in enumerate(sorted(officers)):
        for month in range(1, 13):
            store.add("giamsat", staff, "general", f"{YEAR}-{month:02d}", 20 + k % 11, 30)
            made += 1
        if k % 10 == 0:
            store.add("giamsat", staff, "errors", f"{YEAR}-03", 2, 30)
            store.add("giamsat", staff, "errors", f"{YEAR}-09", 1, 30)
            made += 2
    store.close()
    return made


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) the record, time the three in alternation, print the ratios and the PDF time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=500_000)
    parser.add_argument("--officers", type=int, default=300)
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (the best is reported)")
    args = parser.parse_args(argv)

    bench_reports.YEAR = YEAR  # the generator reads the year at call time
    cache = Path("var/bench")
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"decree335-{args.visits}-{args.officers}-{args.units}.db"
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".part")
        for leftover in cache.glob(partial.name + "*"):
            leftover.unlink()
        bench_reports.generate(partial, args.visits, args.officers, args.units)
        entries = add_entries(partial)
        partial.rename(path)
        print(f"generated {path} with {entries:,} entries in {time.perf_counter() - started:.1f} s")
    settings = bench_reports.province_settings(args.units)
    profile = settings.evaluation.profile_for(year_period(YEAR).first)
    assert profile is not None and profile.method == "decree_335"
    period = year_period(YEAR)
    with Record(f"sqlite:///{path}") as record:
        bench_reports.bare_aggregate(path, YEAR)  # warm the page cache
        pack = decree335_pack(record, settings, period, profile)
        bare, legacy, decree = [], [], []
        for _ in range(args.runs):
            bare.append(bench_reports.bare_aggregate(path, YEAR))
            legacy.append(bench_reports.timed(lambda: evaluation_pack(record, settings, period)))
            decree.append(bench_reports.timed(lambda: decree335_pack(record, settings, period, profile)))
    best_bare, best_legacy, best_decree = min(bare), min(legacy), min(decree)
    print(f"officers in the pack: {len(pack.officers):,}; units: {len(pack.units)}")
    print(f"bare aggregate: {best_bare:.2f} s; 2021 pack: {best_legacy:.2f} s; Decree 335 pack: {best_decree:.2f} s")
    print(f"ratio decree / bare: {best_decree / best_bare:.2f}; decree / 2021 pack: {best_decree / best_legacy:.2f}")
    started = time.perf_counter()
    content = to_pdf(decree335_document(pack, datetime(YEAR + 1, 1, 5, 8, tzinfo=UTC), "Tỉnh"))
    print(f"Decree 335 pack as PDF: {time.perf_counter() - started:.1f} s, {len(content) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
