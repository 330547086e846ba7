"""Versioned migrations (Alembic, hub/migrations): a record made by the previous schema is upgraded in place
on each engine, its rows kept, and opening it again changes nothing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from hub.database import parse_database_url
from hub.migrations import HEAD
from hub.store import open_store
from protocol.messages import HeartbeatMessage, RatingMessage

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
DAY = "2026-11-20"
SITE = "bn-hcc"

# The record as the release before the rating verdict and the per-device key made it.
PREVIOUS_SCHEMA = (
    "CREATE TABLE messages (id TEXT PRIMARY KEY, kind TEXT NOT NULL, site TEXT NOT NULL, desk TEXT NOT NULL, "
    "ts TEXT NOT NULL, received_at TEXT NOT NULL, payload TEXT NOT NULL)",
    "CREATE TABLE ratings (id TEXT PRIMARY KEY, site TEXT NOT NULL, desk TEXT NOT NULL, day TEXT NOT NULL, "
    "ts TEXT NOT NULL, score INTEGER NOT NULL, scale INTEGER, ticket TEXT, staff TEXT, channel TEXT NOT NULL)",
    "INSERT INTO messages (id, kind, site, desk, ts, received_at, payload) "
    "VALUES ('7', 'heartbeat', 'bn-hcc', 'q01', '2026-11-20T02:00:00+00:00', '2026-11-20T02:00:01+00:00', '{}')",
    "INSERT INTO ratings (id, site, desk, day, ts, score, scale, ticket, staff, channel) "
    "VALUES ('bn-hcc/q01/r0', 'bn-hcc', 'q01', '2026-11-20', '2026-11-20T02:00:00+00:00', 1, 4, NULL, NULL, 'button')",
)


def sql(url: str, statements: tuple[str, ...] = (), query: str | None = None) -> list[tuple[Any, ...]]:
    """Run statements (and one query) on the record directly, outside the store."""
    database = parse_database_url(url)
    if database.path is not None:
        with sqlite3.connect(database.path) as conn:
            for statement in statements:
                conn.execute(statement)
            return conn.execute(query).fetchall() if query else []
    import psycopg

    with psycopg.connect(str(database.dsn), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
        return conn.execute(query).fetchall() if query else []


def test_a_record_of_the_previous_schema_is_upgraded_in_place(record_url: str) -> None:
    sql(record_url, PREVIOUS_SCHEMA)
    store = open_store(record_url)
    try:
        assert sql(record_url, query="SELECT version_num FROM alembic_version") == [(HEAD,)]
        assert [(f.score, f.counted) for f in store.ratings(SITE, DAY)] == [(1, True)]  # old ratings still count
        again = HeartbeatMessage(id="7", ts=NOW, site=SITE, desk="q02", uptime_s=1, spool_depth=0)
        with store.transaction():  # the same id from another desk is no longer a duplicate
            assert store.existing_messages([(SITE, "q02", "heartbeat", "7")]) == {}
            store.add_message(again, again.to_payload(), NOW)
            store.add_rating(RatingMessage(id="r1", ts=NOW, site=SITE, desk="q01", score=4, channel="button"), DAY,
                             counted=False, hub_flags=("burst",))  # fmt: skip
        assert store.message_counts() == {"heartbeat": 2, "rejected": 0}
        assert sorted((f.score, f.counted) for f in store.ratings(SITE, DAY)) == [(1, True), (4, False)]
    finally:
        store.close()
    open_store(record_url).close()  # opening an upgraded record again changes nothing
    assert sql(record_url, query="SELECT COUNT(*) FROM messages") == [(2,)]
    assert sql(record_url, query="SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_an_empty_record_gets_every_revision(record_url: str) -> None:
    open_store(record_url).close()
    assert sql(record_url, query="SELECT version_num FROM alembic_version") == [(HEAD,)]
    columns = sql(record_url, query="SELECT hub_flags, counted FROM ratings")
    assert columns == []  # the columns of the later revisions exist


def test_a_record_at_0008_gets_the_sessions_progress_and_keeps_its_workers(record_url: str) -> None:
    """Revision 0009: hub_workers as revision 0008 left it (no drained_to, probed_at) gains the columns, its rows
    kept, and the progress of a session is then kept (moving forward only)."""
    open_store(record_url).close()
    sql(
        record_url,
        (
            "ALTER TABLE hub_workers DROP COLUMN drained_to",
            "ALTER TABLE hub_workers DROP COLUMN probed_at",
            "INSERT INTO hub_workers (client_id, shared_group, started_at) VALUES ('hub-1', 'hubs', '2026-11-20')",
            "UPDATE alembic_version SET version_num = '0008'",
        ),
    )
    store = open_store(record_url)
    try:
        assert sql(record_url, query="SELECT version_num FROM alembic_version") == [(HEAD,)]
        assert store.session_progress("hubs") == [(None, None)]  # kept, not probed yet
        store.note_session_progress("hub-1", "hubs", probed_at=100.0)
        store.note_session_progress("hub-1", "hubs", drained_to=90.0)
        store.note_session_progress("hub-1", "hubs", probed_at=80.0, drained_to=70.0)  # late: takes nothing back
        store.note_session_progress("hub-2", "hubs", probed_at=101.0)  # a session not registered yet
        assert sorted(store.session_progress("hubs"), key=str) == [(90.0, 100.0), (None, 101.0)]
        assert store.session_progress("other") == []
        assert sql(record_url, query="SELECT started_at FROM hub_workers WHERE client_id = 'hub-1'") == [
            ("2026-11-20",)
        ]
    finally:
        store.close()
