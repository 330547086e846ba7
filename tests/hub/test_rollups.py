"""The daily roll-ups kept by the ingest are those a rebuild from the raw events gives, and the yearly evaluation
and the dashboard's days read from them equal the raw scan, on both engines (``record_url``).

A year of a small province's traffic (seeded: three units, a roaming officer, transfers, no-shows, citizens
never called, ratings with and without ticket or officer, bursts, comments, emotions, times to the
millisecond) goes through the hub's processor shuffled, with duplicates and with events that arrive days
late (a visit rebuilt after its roll-up rows were written).
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub import rollups
from hub.cli import main
from hub.config import HubSettings, TargetMetric, load_settings, targets_in_force, wait_target
from hub.connection import connect
from hub.figures import compute_figures
from hub.live import LiveBoard
from hub.migrations import HEAD
from hub.processor import Incoming, Processor
from hub.reports import service
from hub.reports.aggregate import Filters, GroupBy, PeriodAggregator, period_figures
from hub.reports.evaluation import evaluation_pack
from hub.reports.periods import parse_period, year_period
from hub.reports.record import Record
from hub.reports.rollup_reader import day_figures, evaluation_from_record, evaluation_from_rollups, rollup_period
from hub.reports.service import ReportFormat
from hub.rollups import DESK_COLUMNS, UNIT_COLUMNS, rebuild
from hub.store import Store, open_store
from protocol.messages import (
    EmotionMessage,
    Envelope,
    FeedbackMessage,
    RatingChannel,
    RatingMessage,
    Sentiment,
    TicketEvent,
    TicketMessage,
)

YEAR = 2025
DAYS = 24  # working days with traffic, spread over the year
ZONE_OFFSET = "+07:00"
# Unit → its desks and their officers; cb-lan also serves at bn-tu-son's q02 on Fridays. bn-tu-son is a
# district unit until 30 June 2025 and a commune unit after: two norms in one year.
UNITS = {
    "bn-hcc": {"q01": "cb-an", "q02": "cb-binh", "q03": "cb-chi"},
    "bn-kinh-bac": {"q01": "cb-dung", "q02": "cb-lan"},
    "bn-tu-son": {"q01": "cb-giang", "q02": "cb-hoa"},
}
FIELDS = ("dat-dai", "tu-phap-ho-tich", "chung-thuc")
EMOTIONS = {"happy": 0.5, "neutral": 0.5}
CHANGING_TARGETS = (
    {"metric": "wait_per_transaction", "limit_minutes": 15, "valid_until": "2025-06-30"},
    {"metric": "wait_per_transaction", "limit_minutes": 8, "valid_from": "2025-07-01"},
    {"metric": "handling_per_dossier", "limit_minutes": 30, "valid_from": "2025-01-01"},
)


def settings() -> HubSettings:
    return load_settings().with_overrides(evaluation={"min_ratings": 3, "min_transactions": 5})


def local(day: date, seconds: float) -> datetime:
    return datetime.fromisoformat(f"{day.isoformat()}T00:00:00{ZONE_OFFSET}") + timedelta(seconds=seconds)


@dataclass
class Traffic:
    """The year's messages, grouped by the local day they were sent on."""

    days: list[tuple[date, list[Envelope]]]


def year_of_traffic(seed: int = 10) -> Traffic:
    rng = random.Random(seed)
    working = [date(YEAR, 1, 2) + timedelta(days=k) for k in range(364)]
    working = sorted(rng.sample([d for d in working if d.weekday() < 5], DAYS))
    days: list[tuple[date, list[Envelope]]] = []
    for day in working:
        sent: list[Envelope] = []
        for site in UNITS:
            for k in range(rng.randint(4, 7)):
                sent += one_visit(rng, site, day, f"{k + 1:03d}")
        days.append((day, sent))
    return Traffic(days)


def one_visit(rng: random.Random, site: str, day: date, ticket: str) -> list[Envelope]:
    """The messages of one citizen's visit: ticket events, maybe ratings, a comment, an emotion."""
    desks = UNITS[site]
    desk = rng.choice(sorted(desks))
    staff = "cb-lan" if desk == "q02" and site != "bn-hcc" and day.weekday() == 4 else desks[desk]
    service = rng.choice(FIELDS) if rng.random() < 0.9 else None
    sent: list[Envelope] = []

    def ticket_event(kind: TicketEvent, at: float, where: str, who: str | None, **extra: Any) -> None:
        sent.append(
            TicketMessage(
                id=f"{site}-{day}-{ticket}-{len(sent)}",
                ts=local(day, at),
                site=site,
                desk=where,
                event=kind,
                ticket=ticket,
                staff=who,
                service=service,
                **extra,
            )  # fmt: skip
        )

    t = rng.uniform(7.5, 16.0) * 3600 + rng.randint(0, 999) / 1000
    ticket_event(TicketEvent.ISSUED, t, desk, None)
    fate = rng.random()
    if fate < 0.03:
        return sent  # never called: still waiting at the end of the day
    wait = rng.expovariate(1 / 600) + rng.randint(0, 999) / 1000
    ticket_event(TicketEvent.CALLED, t + wait, desk, staff)
    if fate < 0.08:
        ticket_event(TicketEvent.NO_SHOW, t + wait + 120, desk, staff)
        return sent
    handling = rng.lognormvariate(math.log(900), 0.6)
    ticket_event(TicketEvent.STARTED, t + wait + 20, desk, staff)
    if fate < 0.14:  # sent on to another desk of the unit
        other = rng.choice([d for d in sorted(desks) if d != desk])
        ticket_event(TicketEvent.TRANSFERRED, t + wait + handling, desk, staff, to_desk=other)
        desk, staff = other, desks[other]
        t, wait = t + wait + handling, rng.expovariate(1 / 300)
        ticket_event(TicketEvent.CALLED, t + wait, desk, staff)
        handling = rng.lognormvariate(math.log(600), 0.5)
    done = t + wait + handling
    ticket_event(TicketEvent.FINISHED, done, desk, staff)
    key = f"{site}-{day}-{ticket}"
    if rng.random() < 0.55:
        how = rng.random()
        for press in range(2 if how < 0.05 else 1):  # a few double presses: the hub flags a burst
            sent.append(
                RatingMessage(
                    id=f"r{key}-{press}",
                    ts=local(day, done + 30 + press),
                    site=site,
                    desk=desk,
                    score=rng.choice((1, 2, 3, 4, 4, 4)) if how > 0.1 else rng.randint(1, 5),
                    scale=None if how > 0.1 else 5,
                    ticket=ticket if how < 0.95 else None,
                    staff=staff if how < 0.8 else None,
                    channel=RatingChannel.BUTTON,
                )  # fmt: skip
            )
    if rng.random() < 0.12:
        sent.append(
            FeedbackMessage(
                id=f"f{key}",
                ts=local(day, done + 60),
                site=site,
                desk=desk,
                sentiment=rng.choice(list(Sentiment)),
                confidence=0.8,
                ticket=ticket,
                staff=staff if rng.random() < 0.5 else None,
            )  # fmt: skip
        )
    if site != "bn-kinh-bac" and rng.random() < 0.6:
        sent.append(
            EmotionMessage(
                id=f"e{key}",
                ts=local(day, done + 5),
                site=site,
                desk=desk,
                ticket=ticket,
                frames=9,
                probabilities=EMOTIONS,
                valence=round(rng.uniform(-1, 1), 3),
            )  # fmt: skip
        )
    return sent


def deliver(store: Store, board_settings: HubSettings, traffic: Traffic, seed: int = 11) -> None:
    """Each day's messages shuffled, in batches, 4 % sent twice; 5 % held back and delivered two days later."""
    rng = random.Random(seed)
    processor = Processor(board_settings, store, LiveBoard(board_settings))
    for day, sent in traffic.days:
        now = local(day, 23 * 3600)
        late = [m for m in sent if rng.random() < 0.05]
        on_time = [m for m in sent if m not in late]
        on_time += [m for m in on_time if rng.random() < 0.04]
        rng.shuffle(on_time)
        for start in range(0, len(on_time), 100):
            processor.process([Incoming(m.topic, m.to_payload(), now) for m in on_time[start : start + 100]], now)
        later = now + timedelta(days=2)
        processor.process([Incoming(m.topic, m.to_payload(), later) for m in late + late[:2]], later)


def rollup_rows(store: Store) -> tuple[list[Any], list[Any]]:
    return (
        store.query(f"SELECT {UNIT_COLUMNS} FROM rollup_unit_days ORDER BY site, day"),
        store.query(f"SELECT {DESK_COLUMNS} FROM rollup_desk_days ORDER BY site, day, desk, staff, service"),
    )


# Means of sums of floating-point times or valences: equal to the last bits only (see hub.reports.rollup_reader).
SUMMED = (
    "handling.mean_s",
    "mean_valence",
    "components.emotion.score",
    "mean_transaction_wait_s",
    "mean_visit_wait_s",
)


def differences(raw: Any, rolled: Any, path: str = "") -> list[str]:
    """Where two JSON-like values differ; a float of a ``SUMMED`` path may differ by a relative 1e-12."""
    if isinstance(raw, dict) and isinstance(rolled, dict):
        if raw.keys() != rolled.keys():
            return [f"{path}: keys {sorted(raw)} != {sorted(rolled)}"]
        return [d for k in raw for d in differences(raw[k], rolled[k], f"{path}.{k}".lstrip("."))]
    if isinstance(raw, list) and isinstance(rolled, list):
        if len(raw) != len(rolled):
            return [f"{path}: {len(raw)} items != {len(rolled)}"]
        out = []
        for i, (a, b) in enumerate(zip(raw, rolled, strict=True)):
            name = a.get("name", a.get("staff", i)) if isinstance(a, dict) else i
            out += differences(a, b, f"{path}.{name}" if path.endswith("components") else path)
        return out
    if isinstance(raw, float) and isinstance(rolled, float) and path.endswith(SUMMED):
        return [] if math.isclose(raw, rolled, rel_tol=1e-12) else [f"{path}: {raw!r} != {rolled!r}"]
    return [] if raw == rolled and type(raw) is type(rolled) else [f"{path}: {raw!r} != {rolled!r}"]


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return year_of_traffic()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, traffic: Traffic) -> Iterator[str]:
    """The same year delivered the same way into an SQLite record, for the raw scan of the reports (the record
    under test on SQLite: its roll-ups are left as the ingest kept them, the test checks it)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('rollups') / 'reference.db'}"
    store = open_store(url)
    deliver(store, settings(), traffic)
    store.close()
    yield url


def test_rollups_kept_on_ingest_equal_a_rebuild_and_the_year_read_from_them_equals_the_raw_scan(
    record_url: str, reference: str, traffic: Traffic
) -> None:
    chosen = settings()
    on_sqlite = record_url.startswith("sqlite")
    store = open_store(reference if on_sqlite else record_url)  # on SQLite the reference is the record itself
    try:
        if not on_sqlite:
            deliver(store, chosen, traffic)
        kept = rollup_rows(store)
        units, desks = kept
        assert len(units) == 3 * DAYS and len(desks) > 150
        assert sum(row[2] for row in units) > 250  # visits served over the year
        if not on_sqlite:
            reference_store = open_store(reference)
            assert rollup_rows(reference_store) == kept  # the same roll-ups on both engines
            reference_store.close()

        with store.transaction():  # a rebuild must not merely keep what is there
            store.write("DELETE FROM rollup_desk_days WHERE day < ?", ("2025-07-01",))
            store.write("UPDATE rollup_unit_days SET visits = visits + 1 WHERE site = ?", ("bn-hcc",))
        outcome = rebuild(store, date(YEAR, 1, 1), date(YEAR, 12, 31))
        assert (outcome.days, outcome.unit_days) == (DAYS, 3 * DAYS)
        assert rollup_rows(store) == kept

        period = year_period(YEAR)
        with Record(reference) as record:
            raw = evaluation_pack(record, chosen, period).as_dict()
        rolled = evaluation_from_rollups(store, chosen, period).as_dict()
        assert len(raw["officers"]) == 7
        assert {o["staff"]: o["sites"] for o in raw["officers"]}["cb-lan"] == 2
        assert sum(1 for o in raw["officers"] if o["proposal"]) >= 5
        assert differences(raw, rolled) == []
        # The reports' own read-only record (the API's and the command line's) reads them too, on its threads.
        with Record(reference if on_sqlite else record_url) as record:
            from_record = evaluation_from_record(record, chosen, period)
        assert from_record is not None and differences(raw, from_record.as_dict()) == []
        by_row = evaluation_from_rollups(store, chosen, period, by_row=True).as_dict()
        assert differences(raw, by_row) == []
        # A wait target that changes on 1 July: each wait judged against its own day's (the per-row path).
        changing = chosen.with_overrides(targets=[*CHANGING_TARGETS])
        with Record(reference) as record:
            raw_changing = evaluation_pack(record, changing, period).as_dict()
        assert differences(raw_changing, evaluation_from_rollups(store, changing, period).as_dict()) == []
        assert raw_changing != raw
        one = evaluation_from_rollups(store, chosen, period, staff="cb-lan").as_dict()
        lan = [o for o in raw["officers"] if o["staff"] == "cb-lan"]
        assert differences({"officers": lan}, {"officers": one["officers"]}) == []

        # The dashboard's days: each unit's day from the roll-ups equals compute_figures over the raw rows.
        for day, _ in traffic.days[::5]:
            for site in UNITS:
                level = chosen.site(site).level_on(day)  # type: ignore[union-attr]
                rule = wait_target(chosen, day, level)
                handling = targets_in_force(chosen, day, level).get(TargetMetric.HANDLING_PER_DOSSIER)
                text = day.isoformat()
                expected = compute_figures(store.visits(site, text), store.ratings(site, text), rule, handling,
                                           chosen.rating).as_dict()  # fmt: skip
                found = day_figures(store, chosen, site, text, rule, handling)
                assert found is not None
                got = found.as_dict()
                for key in ("mean_wait_s", "mean_visit_wait_s", "mean_transaction_wait_s", "mean_service_s"):
                    assert got.pop(key) == pytest.approx(expected.pop(key), rel=1e-12)
                assert got == expected
    finally:
        store.close()


def test_rollups_rebuild_on_the_command_line_recomputes_a_range_and_keeps_purged_days(
    tmp_path: Path, traffic: Traffic, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'record.db'}"
    store = open_store(url)
    deliver(store, settings(), Traffic(traffic.days[:4]))
    kept = rollup_rows(store)
    with Record(url) as record:
        received = sum(o.received for o in evaluation_pack(record, settings(), year_period(YEAR)).officers)
    first, last = traffic.days[1][0], traffic.days[2][0]
    with store.transaction():
        store.write("DELETE FROM rollup_desk_days WHERE day BETWEEN ? AND ?", (first.isoformat(), last.isoformat()))
        store.write("DELETE FROM rollup_unit_days WHERE day BETWEEN ? AND ?", (first.isoformat(), last.isoformat()))
        # The first day's raw records purged by the retention: its roll-ups are all that is left of it.
        for table in ("visits", "transactions", "ratings", "feedback", "emotions"):
            store.write(f"DELETE FROM {table} WHERE day = ?", (traffic.days[0][0].isoformat(),))
    store.close()

    assert main(["rollups", "rebuild", "--database", url, "--from", str(first), "--to", str(last)]) == 0
    assert f"rollups rebuild {first}..{last}: 6 unit-days over 2 days" in capsys.readouterr().out
    store = open_store(url)
    assert rollup_rows(store) == kept
    store.close()
    assert main(["rollups", "rebuild", "--database", url]) == 0  # every day with raw events; the purged one kept
    assert "9 unit-days over 3 days" in capsys.readouterr().out
    store = open_store(url)
    assert rollup_rows(store) == kept
    store.close()
    assert main(["rollups", "rebuild", "--database", url, "--from", "2025-12-31", "--to", "2025-01-01"]) == 2
    assert "--from 2025-12-31 is after --to 2025-01-01" in capsys.readouterr().err

    # The year's evaluation report reads the roll-ups: the purged day still counts, as it did before.
    with Record(url) as record:
        raw = evaluation_pack(record, settings(), year_period(YEAR))
        report = service.evaluation(record, settings(), year_period(YEAR), None, ReportFormat.JSON, datetime.now(UTC))
    assert sum(o["received"] for o in json.loads(report.content)["officers"]) == received
    assert sum(o.received for o in raw.officers) < received


def test_a_record_from_before_the_rollups_gets_them_when_the_hub_opens_it(record_url: str, traffic: Traffic) -> None:
    store = open_store(record_url)
    deliver(store, settings(), Traffic(traffic.days[:2]))
    kept = rollup_rows(store)
    assert len(kept[0]) == 6
    with store.transaction():
        store.write("DELETE FROM rollup_unit_days WHERE site <> ?", ("",))
        store.write("DELETE FROM rollup_desk_days WHERE site <> ?", ("",))
    store.close()
    store = open_store(record_url)
    try:
        assert rollup_rows(store) == kept
    finally:
        store.close()


def test_decision766_points_from_the_rollups_equal_the_raw_scan_and_a_rebuild(
    record_url: str, traffic: Traffic
) -> None:
    now = datetime(YEAR + 1, 1, 5, 1, 0, tzinfo=UTC)
    chosen = settings()
    store = open_store(record_url)
    deliver(store, chosen, Traffic(traffic.days[:8]))
    asked = [(year_period(YEAR), None), (parse_period("2025-Q1"), "bn-tu-son")]

    def points() -> list[Any]:
        with Record(record_url) as record:
            return [
                json.loads(service.decision766(record, chosen, p, site, ReportFormat.JSON, now).content)
                for p, site in asked
            ]

    try:
        rolled = points()
        with store.transaction():  # without roll-ups, the reports scan the raw ratings and transactions
            store.write("DELETE FROM rollup_desk_days WHERE site <> ?", ("",))
            store.write("DELETE FROM rollup_unit_days WHERE site <> ?", ("",))
        raw = points()
        rebuild(store, date(YEAR, 1, 1), date(YEAR, 12, 31))
        rebuilt = points()
    finally:
        store.close()
    assert rolled == raw == rebuilt
    units = {u["site"]: u for u in raw[0]["units"]}
    assert all(units[s]["ratings"] > units[s]["satisfied"] > 0 for s in UNITS)  # judged, not all satisfied
    assert all(units[s]["transactions"] > 0 for s in UNITS)
    assert [u["site"] for u in raw[1]["units"]] == ["bn-tu-son"]


# The roll-up tables as the releases before revision 0008 made them: the times as comma-separated text.
TEXT_ROLLUPS = """
CREATE TABLE rollup_unit_days (
    site TEXT NOT NULL, day TEXT NOT NULL, visits INTEGER NOT NULL, no_shows INTEGER NOT NULL,
    waiting INTEGER NOT NULL, visit_waits INTEGER NOT NULL, visit_wait_sum REAL NOT NULL, visit_wait_max REAL,
    visit_wait_values TEXT NOT NULL, PRIMARY KEY (site, day));
CREATE TABLE rollup_desk_days (
    site TEXT NOT NULL, day TEXT NOT NULL, desk TEXT NOT NULL, staff TEXT NOT NULL, service TEXT NOT NULL,
    transactions INTEGER NOT NULL, no_shows INTEGER NOT NULL,
    waits INTEGER NOT NULL, wait_sum REAL NOT NULL, wait_max REAL, wait_values TEXT NOT NULL,
    handled INTEGER NOT NULL, handling_sum REAL NOT NULL, handling_max REAL, handling_values TEXT NOT NULL,
    ratings INTEGER NOT NULL, ratings_counted INTEGER NOT NULL, scores TEXT NOT NULL,
    comments_negative INTEGER NOT NULL, comments_neutral INTEGER NOT NULL, comments_positive INTEGER NOT NULL,
    emotions INTEGER NOT NULL, valence_sum REAL NOT NULL, PRIMARY KEY (site, day, desk, staff, service));
"""


def as_text(packed: bytes) -> str:
    """Times as the releases before revision 0008 wrote them: ascending, comma-separated, shortest round trip."""
    return ",".join(repr(v) for v in sorted(rollups.unpack_times(packed)))


def test_a_record_keeping_the_times_as_text_is_upgraded_to_packed_times_with_the_same_figures(
    record_url: str, traffic: Traffic
) -> None:
    now = datetime(YEAR + 1, 1, 5, 1, 0, tzinfo=UTC)
    store = open_store(record_url)
    deliver(store, settings(), Traffic(traffic.days[:3]))
    with store.transaction():  # the first day's raw records purged: only its roll-ups are left of it
        for table in rollups.RAW_TABLES:
            store.write(f"DELETE FROM {table} WHERE day = ?", (traffic.days[0][0].isoformat(),))
    units, desks = kept = rollup_rows(store)
    store.close()
    assert any(row[8] for row in units) and any(row[10] and row[14] for row in desks)
    with Record(record_url) as record:
        before = service.evaluation(record, settings(), year_period(YEAR), None, ReportFormat.JSON, now).content

    # The same record as the release before kept it: its roll-ups' times as text, at revision 0007.
    old = connect(record_url)
    old.execute("DROP TABLE rollup_unit_days")
    old.execute("DROP TABLE rollup_desk_days")
    old.execute_script(TEXT_ROLLUPS)
    with old.transaction():
        old.executemany(
            f"INSERT INTO rollup_unit_days VALUES ({', '.join('?' * 9)})", [(*r[:8], as_text(r[8])) for r in units]
        )
        old.executemany(
            f"INSERT INTO rollup_desk_days VALUES ({', '.join('?' * 23)})",
            [(*r[:10], as_text(r[10]), *r[11:14], as_text(r[14]), *r[15:]) for r in desks],
        )
        old.execute("UPDATE alembic_version SET version_num = '0007'")
    assert old.execute("SELECT COUNT(*) FROM rollup_desk_days WHERE wait_values LIKE '%,%'").fetchone()[0] > 5
    old.close()

    store = open_store(record_url)  # revision 0008: the times packed, exactly, in place
    try:
        assert store.query("SELECT version_num FROM alembic_version") == [(HEAD,)]  # 0008 and those after it
        assert rollup_rows(store) == kept
    finally:
        store.close()
    with Record(record_url) as record:
        after = service.evaluation(record, settings(), year_period(YEAR), None, ReportFormat.JSON, now).content
    assert differences(json.loads(before), json.loads(after)) == []  # sums of floats: to the last bits
    assert sum(o["received"] for o in json.loads(after)["officers"]) > 0


@pytest.mark.parametrize(
    ("period", "by", "site"),
    [
        ("2025", GroupBy.PROVINCE, None),
        ("2025", GroupBy.UNIT, None),
        ("2025", GroupBy.OFFICER, None),
        ("2025-Q3", GroupBy.SERVICE, None),
        ("2025-07", GroupBy.DESK, "bn-tu-son"),
    ],
)
def test_period_figures_from_the_rollups_equal_the_raw_scan(
    reference: str, tmp_path: Path, period: str, by: GroupBy, site: str | None
) -> None:
    raw_copy = tmp_path / "raw.db"  # the same record without its roll-ups: the reports scan the raw events
    with sqlite3.connect(reference.removeprefix("sqlite:///")) as source, sqlite3.connect(raw_copy) as copy:
        source.backup(copy)
        copy.execute("DELETE FROM rollup_desk_days")
        copy.execute("DELETE FROM rollup_unit_days")
    for chosen in (settings(), settings().with_overrides(targets=[*CHANGING_TARGETS])):
        with Record(f"sqlite:///{raw_copy}") as record:
            raw = period_figures(record, chosen, parse_period(period), by, Filters(site=site)).as_dict()
        with Record(reference) as record:
            assert rollup_period(record, PeriodAggregator(record, chosen, parse_period(period)), Filters()) is not None
            rolled = period_figures(record, chosen, parse_period(period), by, Filters(site=site)).as_dict()
        assert raw["total"]["transactions"] > 5 and raw["total"]["series"]
        assert differences(raw, rolled) == []


def test_two_workers_recomputing_one_unit_day_on_postgresql_do_not_lose_each_others_visits(
    postgres_server: Any, tmp_path: Path, traffic: Traffic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker A reads a unit's day for its roll-ups; worker B commits another visit of that day before A
    commits. Without a lock A would write roll-ups that miss B's visit; with it B waits for A."""
    url = f"{postgres_server.create_database()}?local={tmp_path / 'local.db'}"
    chosen = settings()
    day, sent = traffic.days[0]
    now = local(day, 23 * 3600)
    site = "bn-hcc"
    tickets = sorted({m.ticket for m in sent if isinstance(m, TicketMessage) and m.site == site})[:2]
    mine = {t: [m for m in sent if isinstance(m, TicketMessage) and m.site == site and m.ticket == t] for t in tickets}
    stores = {"A": open_store(url), "B": open_store(url)}
    racing = [m for ms in mine.values() for m in ms]
    Processor(chosen, stores["A"], LiveBoard(chosen)).process(
        [Incoming(m.topic, m.to_payload(), now) for m in sent if m not in racing], now
    )  # the rest of the day first: the two visits then share nothing but their unit's day
    a_read, b_done = threading.Event(), threading.Event()
    original = rollups._raw_rows

    def raw_rows(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        if threading.current_thread().name == "A":
            a_read.set()
            b_done.wait(3)  # B commits now if nothing stops it
        return found

    monkeypatch.setattr(rollups, "_raw_rows", raw_rows)

    def work(name: str, ticket: str) -> None:
        if name == "B":
            assert a_read.wait(30)
        processor = Processor(chosen, stores[name], LiveBoard(chosen))
        processor.process([Incoming(m.topic, m.to_payload(), now) for m in mine[ticket]], now)
        if name == "B":
            b_done.set()

    try:
        workers = [threading.Thread(target=work, args=(n, t), name=n) for n, t in zip("AB", tickets, strict=True)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        units, _ = rollup_rows(stores["A"])
        visits = {m.ticket for m in sent if isinstance(m, TicketMessage) and m.site == site}
        assert [u[2] + u[3] + u[4] for u in units if u[0] == site] == [len(visits)]  # both visits counted
        kept = rollup_rows(stores["A"])
        rebuild(stores["A"], day, day)
        assert rollup_rows(stores["A"]) == kept
    finally:
        for store in stores.values():
            store.close()
