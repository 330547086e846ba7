"""The InfluxDB sink's position in the record, on both engines (``record_url``): a sink stopped and started
again (a restarted hub) resumes exactly after the last row it delivered, never resending nor skipping one."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from devtools.postgres import PostgresServer
from hub.connection import connect
from hub.database import parse_database_url
from hub.sinks.record import START, RecordReader, position_of
from hub.store import open_store
from protocol.messages import QueueMessage, QueueSource

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def sample(n: int, desk: str = "q01") -> QueueMessage:
    return QueueMessage(
        id=f"q-{n}", ts=NOW + timedelta(seconds=n), site="bn-hcc", desk=desk, length=n, source=QueueSource.CAMERA
    )


def keep(url: str, numbers: range) -> None:
    store = open_store(url)
    try:
        with store.transaction():
            for n in numbers:
                message = sample(n)
                store.add_message(message, message.to_payload(), message.ts)
    finally:
        store.close()


def delivered_ids(rows: list[dict[str, object]]) -> list[str]:
    return [json.loads(str(row["payload"]))["id"] for row in rows]


def test_a_restarted_sink_resumes_after_the_last_row_it_delivered(record_url: str) -> None:
    keep(record_url, range(5))
    with RecordReader(record_url) as sink:
        assert sink.cursor("influxdb-messages") == START  # never delivered anything
        first = sink.messages_after(0, 3)
        assert delivered_ids(first) == ["q-0", "q-1", "q-2"]
        sink.save_cursor("influxdb-messages", position_of(first[-1]))
    keep(record_url, range(5, 8))  # the hub went on ingesting while the sink was down
    with RecordReader(record_url) as restarted:
        position = restarted.cursor("influxdb-messages")
        assert position == position_of(first[-1])
        rest = restarted.messages_after(position, 100)
        assert delivered_ids(rest) == ["q-3", "q-4", "q-5", "q-6", "q-7"]
        assert [row["kind"] for row in rest] == ["queue"] * 5
        assert restarted.last_positions()[0] == position_of(rest[-1])
        assert restarted.messages_after(position_of(rest[-1]), 100) == []


def test_many_dashboard_threads_share_a_few_connections(record_url: str) -> None:
    keep(record_url, range(3))
    with RecordReader(record_url, connections=3) as reader, ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: reader.last_positions()[0], range(64)))
        assert len(set(answers)) == 1 and answers[0].seq > 0  # every thread read the same newest position
        if record_url.startswith("postgresql"):
            check = connect(record_url)
            try:
                (opened,) = check.execute(
                    "SELECT COUNT(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
            finally:
                check.close()
            assert opened <= 3  # not one per thread: a shared server's connections are bounded


def test_a_row_committed_late_below_one_the_sink_passed_is_delivered_once(postgres_server: PostgresServer) -> None:
    """Several workers on PostgreSQL: a row's position is taken when it is inserted, not when it commits. Worker a
    inserts first (the lower rowid) and commits after worker b, whose row the sink reads meanwhile; the sink
    delivers both rows, each once, and never passes a row that may still commit below its cursor."""
    url = postgres_server.create_database()
    a, b = open_store(url), open_store(url)
    delivered: list[str] = []
    try:
        with RecordReader(url) as sink:

            def deliver() -> None:  # what the InfluxDB sink does: read after its cursor, then move the cursor
                rows = sink.messages_after(sink.cursor("influxdb-messages"), 100)
                delivered.extend(delivered_ids(rows))
                if rows:
                    sink.save_cursor("influxdb-messages", position_of(rows[-1]))

            with a.transaction():
                late = sample(1, "q01")  # two devices: the batches of one device commit one after the other
                a.add_message(late, late.to_payload(), late.ts)
                a.query("SELECT 1", flush=True)  # its row is inserted (its rowid taken), not committed
                with b.transaction():
                    early = sample(2, "q02")
                    b.add_message(early, early.to_payload(), early.ts)
                deliver()  # b's row is committed, a's may still commit below it
            deliver()
            deliver()
            rowids = {delivered_ids([row])[0]: row["seq"] for row in sink.messages_after(0, 100)}
    finally:
        a.close()
        b.close()
    assert rowids["q-1"] < rowids["q-2"]  # the case itself: the lower position committed last
    assert sorted(delivered) == ["q-1", "q-2"]


def test_a_sink_of_a_record_made_before_the_transaction_ids_resumes_where_it_stood(record_url: str) -> None:
    """A record and a sink cursor of the release before revision 0006 (positions by rowid alone), upgraded in
    place: the sink sends neither the rows it had sent again nor skips the rows kept after the upgrade."""
    keep(record_url, range(3))
    database = parse_database_url(record_url)
    old_cursor = (
        "DROP TABLE IF EXISTS sink_cursors",
        "CREATE TABLE sink_cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
        "INSERT INTO sink_cursors (name, seq) SELECT 'influxdb-messages', MAX(rowid) FROM messages WHERE id <> 'q-2'",
        "UPDATE alembic_version SET version_num = '0005'",
    )
    if database.path is not None:
        with sqlite3.connect(database.path) as conn:
            for statement in old_cursor:
                conn.execute(statement)
    else:
        import psycopg

        with psycopg.connect(str(database.dsn), autocommit=True) as conn:
            for table in ("messages", "alerts"):  # as revision 0004 left them
                conn.execute(f"DROP INDEX {table}_by_xact")
                conn.execute(f"ALTER TABLE {table} DROP COLUMN xact")
            for statement in old_cursor:
                conn.execute(statement)
    keep(record_url, range(3, 5))  # opening the store upgrades the record
    with RecordReader(record_url) as sink:
        position = sink.cursor("influxdb-messages")
        assert delivered_ids(sink.messages_after(position, 100)) == ["q-2", "q-3", "q-4"]
