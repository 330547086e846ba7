"""Flagged ratings in the hub's record (real SQLite): kept with their flags, left out of every satisfaction figure,
and a record made before the flags existed is upgraded in place."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.config import load_settings
from hub.figures import compute_figures
from hub.live import LiveBoard
from hub.processor import Incoming, Processor
from hub.sqlite_store import SqliteStore
from protocol.messages import RatingFlag, RatingMessage

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
DAY = "2026-11-20"

OLD_SCHEMA = """
CREATE TABLE ratings (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, desk TEXT NOT NULL, day TEXT NOT NULL, ts TEXT NOT NULL,
    score INTEGER NOT NULL, scale INTEGER, ticket TEXT, staff TEXT, channel TEXT NOT NULL);
INSERT INTO ratings VALUES ('old-1', 'bn-hcc', 'q01', '2026-11-20', '2026-11-20T02:00:00+00:00', 1, NULL, NULL,
    NULL, 'button');
"""


def rating(score: int, *flags: RatingFlag, minutes_ago: int = 0, ticket: str | None = "A001") -> RatingMessage:
    return RatingMessage(
        site="bn-hcc",
        desk="q01",
        ts=NOW - timedelta(minutes=minutes_ago),
        score=score,
        ticket=ticket,
        channel="button",
        flags=list(flags) or None,
    )


def test_flagged_ratings_are_kept_but_not_counted(tmp_path: Path) -> None:
    settings = load_settings()
    store = SqliteStore(tmp_path / "hub.db")
    board = LiveBoard(settings)
    processor = Processor(settings, store, board)
    messages = [  # a minute apart, so that the hub's own burst check does not step in
        rating(4, minutes_ago=5),
        rating(1, RatingFlag.BURST, RatingFlag.REPEAT, minutes_ago=4),
        rating(1, RatingFlag.BURST, RatingFlag.REPEAT, minutes_ago=3),
        rating(4, RatingFlag.TOO_SOON, minutes_ago=2),
        rating(2, RatingFlag.NO_TICKET, minutes_ago=1, ticket=None),  # counted, but flagged
    ]
    outcome = processor.process([Incoming(m.topic, m.to_payload(), NOW) for m in messages], NOW)
    assert outcome.accepted == 5

    facts = store.ratings("bn-hcc", DAY)
    assert [(f.score, f.counted) for f in facts] == [(4, True), (1, False), (1, False), (4, False), (2, True)]
    figures = compute_figures([], facts, None, None, settings.rating)
    assert (figures.ratings, figures.satisfied, figures.satisfaction_share, figures.ratings_not_counted) == (
        2,
        1,
        0.5,
        3,
    )
    view = board.desk_view("bn-hcc", "q01", NOW)
    assert (view["ratings_today"], view["satisfaction_share_today"]) == (2, 0.5)
    with sqlite3.connect(tmp_path / "hub.db") as conn:
        stored = conn.execute("SELECT flags, counted FROM ratings ORDER BY rowid").fetchall()
    assert stored == [(None, 1), ("burst,repeat", 0), ("burst,repeat", 0), ("too_soon", 0), ("no_ticket", 1)]
    store.close()


def test_a_record_from_before_the_flags_is_upgraded_and_its_ratings_still_count(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    store = SqliteStore(path)
    assert [(f.score, f.counted) for f in store.ratings("bn-hcc", DAY)] == [(1, True)]
    with store.transaction():
        store.add_rating(rating(4, RatingFlag.REPEAT), DAY)
    assert [(f.score, f.counted) for f in store.ratings("bn-hcc", DAY)] == [(1, True), (4, False)]
    store.close()
    SqliteStore(path).close()  # opening an upgraded record again changes nothing
