"""Daily roll-ups: per unit and day, and per desk, officer and service field and day, what the reports add up.

Two tables, kept by the ingest in the transaction that changes their raw rows (``refresh``) and rebuilt from
the raw rows on demand (``rebuild``, ``onestop-hub rollups rebuild``):

- ``rollup_unit_days`` (site, day): visits served or in service, no-shows, visits still waiting, and the
  waits of the visits served (count, sum, maximum and the values);
- ``rollup_desk_days`` (site, day, desk, staff, service): transactions (no-shows included) and no-shows;
  the waits and handling times of the served transactions (count, sum, maximum and the values); ratings
  (all, counted, and the counted ones by scale and score, so that "satisfied" follows the configured
  threshold); comments per sentiment; emotions and their valence sum. A rating, comment or emotion belongs
  to the officer it names, or else (as in ``hub.reports.aggregate``) to the officer of the transaction of
  its ticket at its desk that day, and to that transaction's service field. An unknown officer or field is
  the empty text (a key cannot be NULL on PostgreSQL).

Every column is additive: a week, a month or a year is the sum of its days. Medians and 90th percentiles
are not additive, and neither is "within the target" once a target may change (by date, by the unit's
level, by configuration): each row therefore keeps its times themselves (``*_times``: the exact values in
ascending order, packed as 8-byte IEEE 754 doubles, little-endian: the machine's own order on x86 and ARM),
so that a percentile or a share within any target is exact over any period: a histogram of bucket width 0.
Packed, they are read with ``numpy.frombuffer``, without parsing (revision 0008 converted the comma-separated
text that rows kept before). A row of an officer's day holds some tens of values, so a year of an officer is
read in about 250 rows instead of thousands of transactions.

A refresh recomputes the affected rows from the raw rows (it never increments), so a duplicate message, a
visit rebuilt from a late event or a rating judged again leave exactly what a rebuild leaves.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

from protocol.errors import OneStopError

logger = logging.getLogger(__name__)

ROLLUP_SCHEMA = """
CREATE TABLE IF NOT EXISTS rollup_unit_days (
    site TEXT NOT NULL, day TEXT NOT NULL, visits INTEGER NOT NULL, no_shows INTEGER NOT NULL,
    waiting INTEGER NOT NULL, visit_waits INTEGER NOT NULL, visit_wait_sum REAL NOT NULL, visit_wait_max REAL,
    visit_wait_times BLOB NOT NULL, PRIMARY KEY (site, day));
CREATE INDEX IF NOT EXISTS rollup_unit_days_by_day ON rollup_unit_days (day);
CREATE TABLE IF NOT EXISTS rollup_desk_days (
    site TEXT NOT NULL, day TEXT NOT NULL, desk TEXT NOT NULL, staff TEXT NOT NULL, service TEXT NOT NULL,
    transactions INTEGER NOT NULL, no_shows INTEGER NOT NULL,
    waits INTEGER NOT NULL, wait_sum REAL NOT NULL, wait_max REAL, wait_times BLOB NOT NULL,
    handled INTEGER NOT NULL, handling_sum REAL NOT NULL, handling_max REAL, handling_times BLOB NOT NULL,
    ratings INTEGER NOT NULL, ratings_counted INTEGER NOT NULL, scores TEXT NOT NULL,
    comments_negative INTEGER NOT NULL, comments_neutral INTEGER NOT NULL, comments_positive INTEGER NOT NULL,
    emotions INTEGER NOT NULL, valence_sum REAL NOT NULL, PRIMARY KEY (site, day, desk, staff, service));
CREATE INDEX IF NOT EXISTS rollup_desk_days_by_day ON rollup_desk_days (day);
CREATE INDEX IF NOT EXISTS feedback_by_day ON feedback (site, day);
CREATE INDEX IF NOT EXISTS emotions_by_day ON emotions (site, day);
"""

UNIT_COLUMNS = "site, day, visits, no_shows, waiting, visit_waits, visit_wait_sum, visit_wait_max, visit_wait_times"
DESK_COLUMNS = (
    "site, day, desk, staff, service, transactions, no_shows, waits, wait_sum, wait_max, wait_times, handled, "
    "handling_sum, handling_max, handling_times, ratings, ratings_counted, scores, comments_negative, "
    "comments_neutral, comments_positive, emotions, valence_sum"
)
_INSERT_UNIT = f"INSERT INTO rollup_unit_days ({UNIT_COLUMNS}) VALUES ({', '.join('?' * 9)})"
_INSERT_DESK = f"INSERT INTO rollup_desk_days ({DESK_COLUMNS}) VALUES ({', '.join('?' * 23)})"
RAW_TABLES = ("visits", "transactions", "ratings", "feedback", "emotions")
SENTIMENTS = ("negative", "neutral", "positive")


class RollupStore(Protocol):
    """What the roll-ups need of the store (``hub.sqlite_store.SqliteStore`` and its PostgreSQL twin)."""

    def query(self, sql: str, args: Sequence[Any] = (), *, flush: bool = False) -> list[Any]:
        """Rows of a read (statements in SQLite's dialect)."""
        ...

    def write(self, sql: str, row: tuple[Any, ...]) -> None:
        """Buffer a write of the current unit of work."""
        ...


TIMES = np.dtype("<f8")  # a roll-up row's times: IEEE 754 doubles, little-endian


def pack_times(values: Iterable[float]) -> bytes:
    """Times as kept in a roll-up row (``*_times``): ascending, each exactly, 8 bytes each."""
    return np.array(sorted(values), dtype=TIMES).tobytes()


def times_array(packed: bytes | None) -> npt.NDArray[np.float64]:
    """The times of a roll-up row's ``*_times`` column (or of several, concatenated), as native doubles (read-only:
    on a little-endian machine the bytes themselves, not a copy)."""
    return np.frombuffer(packed or b"", dtype=TIMES).astype(np.float64, copy=False)


def unpack_times(packed: bytes | None) -> list[float]:
    """The times of a roll-up row's ``*_times`` column, as a list."""
    return cast(list[float], times_array(packed).tolist())


@dataclass(slots=True)
class UnitDay:
    """A unit's visits of one day."""

    site: str
    day: str
    visits: int = 0
    no_shows: int = 0
    waiting: int = 0
    visit_wait_values: list[float] = field(default_factory=list)

    def row(self) -> tuple[Any, ...]:
        """The table row."""
        waits = self.visit_wait_values
        return (
            self.site, self.day, self.visits, self.no_shows, self.waiting, len(waits), math.fsum(waits),
            max(waits, default=None), pack_times(waits),
        )  # fmt: skip

    @staticmethod
    def of(row: Sequence[Any]) -> UnitDay:
        """From a table row (``UNIT_COLUMNS``)."""
        return UnitDay(row[0], row[1], int(row[2]), int(row[3]), int(row[4]), unpack_times(row[8]))


@dataclass(slots=True)
class DeskDay:
    """One desk's day for one officer and service field ('' where unknown)."""

    site: str
    day: str
    desk: str
    staff: str
    service: str
    transactions: int = 0
    no_shows: int = 0
    wait_values: list[float] = field(default_factory=list)
    handling_values: list[float] = field(default_factory=list)
    ratings: int = 0
    ratings_counted: int = 0
    scores: dict[str, int] = field(default_factory=dict)
    comments: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SENTIMENTS, 0))
    emotions: int = 0
    valence_sum: float = 0.0

    def row(self) -> tuple[Any, ...]:
        """The table row."""
        waits, handling = self.wait_values, self.handling_values
        return (
            self.site, self.day, self.desk, self.staff, self.service, self.transactions, self.no_shows,
            len(waits), math.fsum(waits), max(waits, default=None), pack_times(waits),
            len(handling), math.fsum(handling), max(handling, default=None), pack_times(handling),
            self.ratings, self.ratings_counted, json.dumps(dict(sorted(self.scores.items())), separators=(",", ":")),
            *(self.comments[s] for s in SENTIMENTS), self.emotions, self.valence_sum,
        )  # fmt: skip

    @staticmethod
    def of(row: Sequence[Any]) -> DeskDay:
        """From a table row (``DESK_COLUMNS``)."""
        return DeskDay(
            row[0], row[1], row[2], row[3], row[4], int(row[5]), int(row[6]), unpack_times(row[10]),
            unpack_times(row[14]), int(row[15]), int(row[16]), json.loads(row[17]),
            dict(zip(SENTIMENTS, (int(row[18]), int(row[19]), int(row[20])), strict=True)), int(row[21]),
            float(row[22]),
        )  # fmt: skip

    def satisfied(self, satisfied_min_for: Any) -> int:
        """Counted ratings at or above the satisfied threshold of the scale each was given on."""
        return sum(count for key, count in self.scores.items() if satisfied_score(key, satisfied_min_for))


def satisfied_score(key: str, satisfied_min_for: Any) -> bool:
    """Whether a key of ``scores`` (``scale/score``, no scale: the configured one) is a satisfied score."""
    scale, score = key.split("/")
    return int(score) >= satisfied_min_for(int(scale) if scale else None)


# -- computing rows from the raw record ------------------------------------------------------------------------


# Unit-days read in one statement (each desk key takes 3 parameters: far within either engine's limit).
DAYS_PER_READ = 500
# The raw rows of each table, as (site, day, kind, desk, ticket, then four columns by kind; see _desk_days).
_RAW_PARTS = (
    ("t", "transactions", "ticket, seq, staff, service, end_reason, wait_s, service_s"),
    ("r", "ratings", "ticket, counted, staff, CAST(scale AS TEXT), CAST(score AS TEXT), NULL, NULL"),
    ("f", "feedback", "ticket, NULL, staff, NULL, sentiment, NULL, NULL"),
    ("e", "emotions", "ticket, NULL, NULL, NULL, NULL, valence, NULL"),
)


@dataclass(frozen=True, slots=True)
class DayToRead:
    """What to read of a unit's day: the rows of some desks (None: of all) and, with ``visits``, its visits."""

    site: str
    day: str
    desks: Collection[str] | None
    visits: bool


def _values(name: str, columns: str, keys: Sequence[tuple[str, ...]]) -> tuple[str, list[str]]:
    """A common table of these keys (``WITH`` part) and its parameters."""
    width = len(keys[0])
    row = f"({', '.join('?' * width)})"
    return f"{name} ({columns}) AS (VALUES {', '.join([row] * len(keys))})", [v for key in keys for v in key]


def _raw_rows(store: RollupStore, days: Sequence[DayToRead]) -> dict[tuple[str, str], dict[str, list[Any]]]:
    """The raw rows each unit's day (of some desks) is computed from, by (site, day) and table, in one round trip
    per ``DAYS_PER_READ`` days: the cost of a batch's refresh is its rows, not a round trip per unit-day."""
    found: dict[tuple[str, str], dict[str, list[Any]]] = {
        (d.site, d.day): {"t": [], "r": [], "f": [], "e": [], "v": []} for d in days
    }
    for start in range(0, len(days), DAYS_PER_READ):
        chunk = days[start : start + DAYS_PER_READ]
        whole = [(d.site, d.day) for d in chunk if d.desks is None]
        some = [(d.site, d.day, desk) for d in chunk if d.desks is not None for desk in sorted(d.desks)]
        visits = [(d.site, d.day) for d in chunk if d.visits]
        tables: list[str] = []
        args: list[Any] = []
        parts: list[str] = []
        for name, keys, columns, join in (
            ("kw", whole, "site, day", "x.site = k.site AND x.day = k.day"),
            ("kd", some, "site, day, desk", "x.site = k.site AND x.day = k.day AND x.desk = k.desk"),
        ):
            if keys:
                table, table_args = _values(name, columns, keys)
                tables.append(table)
                args += table_args
                parts += [
                    f"SELECT x.site, x.day, '{kind}', x.desk, {_prefixed(selected)} FROM {name} k "
                    f"JOIN {raw} x ON {join}"
                    for kind, raw, selected in _RAW_PARTS
                ]
        if visits:
            table, table_args = _values("kv", "site, day", visits)
            tables.append(table)
            args += table_args
            parts.append(
                "SELECT x.site, x.day, 'v', NULL, NULL, NULL, NULL, NULL, x.status, x.wait_s, NULL "
                "FROM kv k JOIN visits x ON x.site = k.site AND x.day = k.day"
            )
        if not parts:
            continue
        for row in store.query(f"WITH {', '.join(tables)} " + " UNION ALL ".join(parts), args):
            found[(row[0], row[1])][row[2]].append(row[3:])
    return found


def _prefixed(columns: str) -> str:
    """The columns of a raw table as read through the alias ``x`` (constants and casts kept as they are)."""
    out = []
    for column in columns.split(", "):
        if column == "NULL":
            out.append(column)
        elif column.startswith("CAST("):
            out.append("CAST(x." + column[len("CAST(") :])
        else:
            out.append(f"x.{column}")
    return ", ".join(out)


def _unit_day(site: str, day: str, visits: list[Any]) -> UnitDay | None:
    """A unit's day from its visits' rows (status in the 7th column, wait in the 8th); None without any."""
    if not visits:
        return None
    result = UnitDay(site, day)
    for row in visits:
        status, wait = row[5], row[6]
        if status in ("serving", "done"):
            result.visits += 1
            if wait is not None:
                result.visit_wait_values.append(float(wait))
        elif status == "no_show":
            result.no_shows += 1
        elif status == "waiting":
            result.waiting += 1
    return result


def recompute(
    store: RollupStore, site: str, day: str, desks: Collection[str] | None = None, unit: bool = True
) -> tuple[UnitDay | None, list[DeskDay]]:
    """The unit row (when ``unit``) and the desk rows (of the given desks only, when given) of a unit's day,
    computed from the raw rows."""
    raw = _raw_rows(store, [DayToRead(site, day, desks, unit)])[(site, day)]
    return _unit_day(site, day, raw["v"]), _desk_days(site, day, raw)


def _desk_days(site: str, day: str, raw: dict[str, list[Any]]) -> list[DeskDay]:
    """The desk rows of a unit's day from its raw rows (see ``_raw_rows`` for their columns)."""
    rows: dict[tuple[str, str, str], DeskDay] = {}

    def row_of(desk: str, staff: str | None, service: str | None) -> DeskDay:
        key = (desk, staff or "", service or "")
        found = rows.get(key)
        if found is None:
            found = rows[key] = DeskDay(site, day, *key)
        return found

    # The transaction a rating, comment or emotion refers to: its ticket's latest at its desk that day.
    latest: dict[tuple[str, str], tuple[int, str | None, str | None]] = {}
    for desk, ticket, seq, staff, service, end_reason, wait, handling in raw["t"]:
        t = row_of(desk, staff, service)
        t.transactions += 1
        t.no_shows += end_reason == "no_show"
        if wait is not None:
            t.wait_values.append(float(wait))
        if handling is not None:
            t.handling_values.append(float(handling))
        if (desk, ticket) not in latest or latest[(desk, ticket)][0] < seq:
            latest[(desk, ticket)] = (seq, staff, service)

    def attributed(desk: str, ticket: str | None, named: str | None) -> DeskDay:
        _, staff, service = latest.get((desk, ticket), (0, None, None)) if ticket is not None else (0, None, None)
        return row_of(desk, named if named is not None else staff, service)

    for desk, ticket, counted, staff, scale, score, _, _ in raw["r"]:
        r = attributed(desk, ticket, staff)
        r.ratings += 1
        if counted:
            r.ratings_counted += 1
            key = f"{scale or ''}/{score}"
            r.scores[key] = r.scores.get(key, 0) + 1
    for desk, ticket, _, staff, _, sentiment, _, _ in raw["f"]:
        c = attributed(desk, ticket, staff)
        c.comments[sentiment] = c.comments.get(sentiment, 0) + 1
    valences: dict[int, tuple[DeskDay, list[float]]] = {}
    for desk, ticket, _, _, _, _, valence, _ in raw["e"]:
        e = attributed(desk, ticket, None)
        e.emotions += 1
        valences.setdefault(id(e), (e, []))[1].append(float(valence))
    for e, values in valences.values():
        e.valence_sum = math.fsum(values)  # exact whatever order the rows come in: a rebuild writes the same
    return [rows[key] for key in sorted(rows)]


def refresh(store: RollupStore, units: Iterable[tuple[str, str]], desks: Iterable[tuple[str, str, str]]) -> None:
    """Recompute, inside the current unit of work, the roll-up rows of these (site, day) units and (site, day,
    desk) desks from the raw rows (after the unit of work's own buffered writes).

    A batch of a country's desks touches hundreds of unit-days: they are locked in one statement and read in
    one (``_raw_rows``), never one round trip each."""
    dirty_units = set(units)
    by_day: dict[tuple[str, str], set[str]] = {}
    for site, day, desk in desks:
        by_day.setdefault((site, day), set()).add(desk)
    keys = sorted(dirty_units | set(by_day))
    if not keys:
        return
    if getattr(store, "dialect", "sqlite") == "postgresql":
        # Hub workers sharing one record: the recomputes of one unit's day run one after the other, each
        # reading what the previous committed (SQLite has one writer at a time already). Taken in one order
        # (the VALUES' order, sorted), after the batch's own rows are written.
        for start in range(0, len(keys), DAYS_PER_READ):
            table, args = _values("k", "site, day", keys[start : start + DAYS_PER_READ])
            store.query(
                f"WITH {table} SELECT pg_advisory_xact_lock(hashtext(site), hashtext(day)) FROM k", args, flush=True
            )
    else:
        store.query("SELECT 1", flush=True)  # the batch's own rows first
    days = [DayToRead(site, day, by_day.get((site, day), set()), (site, day) in dirty_units) for site, day in keys]
    raw = _raw_rows(store, days)
    for site, day in keys:
        named = by_day.get((site, day), set())
        if (site, day) in dirty_units:
            store.write("DELETE FROM rollup_unit_days WHERE site = ? AND day = ?", (site, day))
            unit_row = _unit_day(site, day, raw[(site, day)]["v"])
            if unit_row is not None:
                store.write(_INSERT_UNIT, unit_row.row())
        for desk in sorted(named):
            store.write("DELETE FROM rollup_desk_days WHERE site = ? AND day = ? AND desk = ?", (site, day, desk))
        for row in _desk_days(site, day, raw[(site, day)]):
            store.write(_INSERT_DESK, row.row())


@dataclass(frozen=True, slots=True)
class RebuildOutcome:
    """What a rebuild wrote."""

    days: int
    unit_days: int
    unit_rows: int
    desk_rows: int


def raw_unit_days(store: RollupStore, first: str, last: str) -> list[tuple[str, str]]:
    """Every (site, day) of the range with a raw row in any table the roll-ups read."""
    found: set[tuple[str, str]] = set()
    for table in RAW_TABLES:
        sql = f"SELECT DISTINCT site, day FROM {table} WHERE day BETWEEN ? AND ?"
        found.update((site, day) for site, day in store.query(sql, (first, last)))
    return sorted(found)


def rebuild(store: Any, first: date, last: date) -> RebuildOutcome:
    """Recompute every roll-up row from ``first`` to ``last`` from the raw rows, one transaction per day.

    The rows of a unit's day that has no raw row left (its per-ticket records purged by the retention) are
    kept: they are all that remains of that day.
    """
    pairs = raw_unit_days(store, first.isoformat(), last.isoformat())
    by_day: dict[str, list[str]] = {}
    for site, day in pairs:
        by_day.setdefault(day, []).append(site)
    unit_rows = desk_rows = 0
    for day, sites in sorted(by_day.items()):
        with store.transaction():
            raw = _raw_rows(store, [DayToRead(site, day, None, True) for site in sites])
            for site in sites:
                store.write("DELETE FROM rollup_unit_days WHERE site = ? AND day = ?", (site, day))
                store.write("DELETE FROM rollup_desk_days WHERE site = ? AND day = ?", (site, day))
                unit_row, rows = _unit_day(site, day, raw[(site, day)]["v"]), _desk_days(site, day, raw[(site, day)])
                if unit_row is not None:
                    store.write(_INSERT_UNIT, unit_row.row())
                    unit_rows += 1
                for row in rows:
                    store.write(_INSERT_DESK, row.row())
                    desk_rows += 1
    return RebuildOutcome(len(by_day), len(pairs), unit_rows, desk_rows)


def recorded_span(store: RollupStore) -> tuple[date, date] | None:
    """The first and last local day of the raw record (None when it is empty)."""
    spans = [store.query(f"SELECT MIN(day), MAX(day) FROM {table}")[0] for table in RAW_TABLES]
    found = [(str(a), str(b)) for a, b in spans if a is not None]
    if not found:
        return None
    return date.fromisoformat(min(a for a, _ in found)), date.fromisoformat(max(b for _, b in found))


def fill_new_rollups(store: Any) -> RebuildOutcome | None:
    """Build the roll-ups of a record that has raw events but no roll-up yet (a record made before them),
    once, when the store opens it: the readers may then trust that every day with events has its rows."""
    if store.query("SELECT 1 FROM rollup_unit_days LIMIT 1") or store.query("SELECT 1 FROM rollup_desk_days LIMIT 1"):
        return None
    span = recorded_span(store)
    if span is None:
        return None
    outcome = rebuild(store, *span)
    logger.info("daily roll-ups built from the record's events: %s", outcome)
    return outcome


# -- reading -----------------------------------------------------------------------------------------------


def read_unit_days(store: RollupStore, first: str, last: str, site: str | None = None) -> list[UnitDay]:
    """The unit rows of a range of days (of one unit when given), by unit and day."""
    where, args = ("", ()) if site is None else (" AND site = ?", (site,))
    rows = store.query(
        f"SELECT {UNIT_COLUMNS} FROM rollup_unit_days WHERE day BETWEEN ? AND ?{where} ORDER BY site, day",
        (first, last, *args),
    )
    return [UnitDay.of(row) for row in rows]


def read_desk_days(store: RollupStore, first: str, last: str, site: str | None = None) -> list[DeskDay]:
    """The desk rows of a range of days (of one unit when given), in key order."""
    where, args = ("", ()) if site is None else (" AND site = ?", (site,))
    rows = store.query(
        f"SELECT {DESK_COLUMNS} FROM rollup_desk_days WHERE day BETWEEN ? AND ?{where} "
        "ORDER BY site, day, desk, staff, service",
        (first, last, *args),
    )
    return [DeskDay.of(row) for row in rows]


# -- the command line ------------------------------------------------------------------------------------------


def add_rollups_parser(commands: Any) -> None:
    """Add ``rollups rebuild`` to the hub's command line."""
    rollups = commands.add_parser("rollups", help="the daily roll-up tables the dashboards and reports read")
    actions = rollups.add_subparsers(dest="rollups", required=True)
    rebuild_parser = actions.add_parser(
        "rebuild",
        help="recompute the roll-ups from the raw events (all days, or --from/--to); the hub may keep running",
    )
    rebuild_parser.add_argument("--config", type=Path, default=None, help="hub YAML file (default: the sample)")
    rebuild_parser.add_argument("--database", metavar="URL", help="database URL, e.g. sqlite:///var/onestop.db")
    rebuild_parser.add_argument("--from", dest="first", type=_day, metavar="YYYY-MM-DD", help="first local day")
    rebuild_parser.add_argument("--to", dest="last", type=_day, metavar="YYYY-MM-DD", help="last local day")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def run_rollups(args: argparse.Namespace, database: str) -> int:
    """``onestop-hub rollups rebuild``: print what was recomputed; 2 for a bad range or record."""
    from hub.store import open_store

    try:
        store = open_store(database)
    except OneStopError as error:
        print(f"onestop-hub rollups: {error}", file=sys.stderr)
        return 2
    try:
        span = recorded_span(store)
        if span is None:
            print("rollups rebuild: the record holds no events; nothing to do")
            return 0
        first, last = args.first or span[0], args.last or span[1]
        if first > last:
            print(f"onestop-hub rollups: --from {first} is after --to {last}", file=sys.stderr)
            return 2
        started = time.perf_counter()
        outcome = rebuild(store, first, last)
    finally:
        store.close()
    print(
        f"rollups rebuild {first}..{last}: {outcome.unit_days} unit-days over {outcome.days} days, "
        f"{outcome.unit_rows} unit rows and {outcome.desk_rows} desk rows written in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return 0
