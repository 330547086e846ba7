"""The InfluxDB sink's position in the record, on both engines (``record_url``): a sink stopped and started
again (a restarted hub) resumes exactly after the last row it delivered, never resending nor skipping one."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from hub.connection import connect
from hub.sinks.record import RecordReader
from hub.store import open_store
from protocol.messages import QueueMessage, QueueSource

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def sample(n: int) -> QueueMessage:
    return QueueMessage(
        id=f"q-{n}", ts=NOW + timedelta(seconds=n), site="bn-hcc", desk="q01", length=n, source=QueueSource.CAMERA
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
        assert sink.cursor("influxdb-messages") == 0  # never delivered anything
        first = sink.messages_after(0, 3)
        assert delivered_ids(first) == ["q-0", "q-1", "q-2"]
        sink.save_cursor("influxdb-messages", int(first[-1]["seq"]))  # type: ignore[call-overload]
    keep(record_url, range(5, 8))  # the hub went on ingesting while the sink was down
    with RecordReader(record_url) as restarted:
        position = restarted.cursor("influxdb-messages")
        assert position == first[-1]["seq"]
        rest = restarted.messages_after(position, 100)
        assert delivered_ids(rest) == ["q-3", "q-4", "q-5", "q-6", "q-7"]
        assert [row["kind"] for row in rest] == ["queue"] * 5
        assert restarted.last_positions()[0] == rest[-1]["seq"]
        assert restarted.messages_after(int(rest[-1]["seq"]), 100) == []  # type: ignore[call-overload]


def test_many_dashboard_threads_share_a_few_connections(record_url: str) -> None:
    keep(record_url, range(3))
    with RecordReader(record_url, connections=3) as reader, ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: reader.last_positions()[0], range(64)))
        assert len(set(answers)) == 1 and answers[0] > 0  # every thread read the same newest position
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
