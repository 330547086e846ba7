"""The hub's ingest against bad and hostile input (real SQLite, no broker): one bad message never stops the
ones after it, dates outside the window never move live state, ids are deduplicated per device and kind,
rejected payloads are bounded and keep no comment text without consent, and ratings are judged by the hub."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.config import HubSettings, load_settings
from hub.figures import compute_figures
from hub.ingest import _Inbox
from hub.live import LiveBoard
from hub.processor import DUPLICATE_REASON, Incoming, Processor
from hub.sinks.influx import record_points
from hub.sinks.record import RecordReader
from hub.sqlite_store import SqliteStore
from protocol.messages import (
    EmotionMessage,
    Envelope,
    HeartbeatMessage,
    QueueMessage,
    QueueSource,
    RatingChannel,
    RatingMessage,
    StatusMessage,
    TicketEvent,
    TicketMessage,
)

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
DAY = "2026-11-20"
SITE, DESK = "bn-hcc", "q01"


class Hub:
    """A processor, its live board and its record, as the running hub has them."""

    def __init__(self, path: Path, settings: HubSettings | None = None) -> None:
        self.settings = settings or load_settings()
        self.store = SqliteStore(path)
        self.board = LiveBoard(self.settings)
        self.processor = Processor(self.settings, self.store, self.board)

    def send(self, *messages: Envelope | tuple[str, bytes | str | dict[str, Any]], now: datetime = NOW) -> Any:
        batch = []
        for message in messages:
            if isinstance(message, Envelope):
                batch.append(Incoming(message.topic, message.to_payload(), now))
            else:
                topic, payload = message
                data = json.dumps(payload) if isinstance(payload, dict) else payload
                batch.append(Incoming(topic, data.encode() if isinstance(data, str) else data, now))
        return self.processor.process(batch, now)

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.store.path) as conn:
            return conn.execute(query, args).fetchall()

    def desk(self, now: datetime = NOW, desk: str = DESK) -> dict[str, Any]:
        return self.board.desk_view(SITE, desk, now)


@pytest.fixture()
def hub(tmp_path: Path) -> Hub:
    return Hub(tmp_path / "hub.db")


def topic(kind: str, desk: str = DESK) -> str:
    return f"onestop/v1/{SITE}/{desk}/{kind}"


def beat(message_id: str, at: datetime = NOW, desk: str = DESK) -> HeartbeatMessage:
    return HeartbeatMessage(id=message_id, ts=at, site=SITE, desk=desk, uptime_s=60, spool_depth=0)


def emotion(message_id: str, **change: Any) -> dict[str, Any]:
    body = {
        "v": 1,
        "id": message_id,
        "ts": NOW.isoformat(),
        "site": SITE,
        "desk": DESK,
        "frames": 12,
        "valence": 0.2,
        "probabilities": {"happy": 0.6, "neutral": 0.4},
    }
    return {**body, **change}


# -- one bad message never stops the ones after it ---------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"frames": 2**63}, "frames"),
        ({"ts": "9999-12-31T23:59:59Z"}, "ts"),
        ({"ts": "0001-01-01T00:00:00+05:00"}, "ts"),
    ],
)
def test_a_poison_message_is_rejected_and_the_batch_after_it_is_kept(
    hub: Hub, change: dict[str, Any], field: str
) -> None:
    outcome = hub.send((topic("emotion"), emotion("bad", **change)), beat("after-1"), beat("after-2"))
    assert (outcome.accepted, outcome.rejected) == (2, 1)
    [(reason,)] = hub.sql("SELECT reason FROM rejected")
    assert reason.startswith(f"{field}: ")
    assert hub.sql("SELECT id FROM messages ORDER BY rowid") == [("after-1",), ("after-2",)]


class RefusingStore(SqliteStore):
    """A record whose SQLite refuses one emotion (an integer it cannot bind), as a poison message would."""

    def add_emotion(self, message: EmotionMessage, day: str) -> None:
        if message.id == "poison":
            message = message.model_copy(update={"frames": 2**63})  # past the validation, as a bug would
        super().add_emotion(message, day)


def test_a_batch_the_database_refuses_is_split_until_the_one_message_is_found(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "hub.db")
    hub.store.close()
    hub.store = RefusingStore(tmp_path / "hub.db")
    hub.processor = Processor(hub.settings, hub.store, hub.board)
    queue = QueueMessage(id="queue-1", ts=NOW, site=SITE, desk=DESK, length=3, source=QueueSource.CAMERA)
    batch: list[Any] = [beat(f"b{n}") for n in range(40)]
    batch.insert(27, (topic("emotion"), emotion("poison")))
    batch.append(queue)
    outcome = hub.send(*batch)
    assert (outcome.accepted, outcome.rejected, outcome.isolated) == (41, 1, 1)
    [(rejected_topic, reason)] = hub.sql("SELECT topic, reason FROM rejected")
    assert rejected_topic == topic("emotion") and "OverflowError" in reason and "'poison'" in reason
    assert len(hub.sql("SELECT id FROM messages")) == 41
    assert hub.desk()["queue_length"] == 3  # the live board took what was committed
    # The next batch goes through at once: nothing is stuck.
    assert hub.send(beat("later")).accepted == 1


def test_a_database_that_is_away_makes_the_batch_wait_whole(hub: Hub) -> None:
    blocker = sqlite3.connect(hub.store.path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    hub.store._conn.execute("PRAGMA busy_timeout = 0")
    with pytest.raises(sqlite3.OperationalError):
        hub.send(beat("b1"), beat("b2"))
    blocker.rollback()
    blocker.close()
    assert hub.sql("SELECT COUNT(*) FROM rejected") == [(0,)]
    assert hub.send(beat("b1"), beat("b2")).accepted == 2  # retried later: nothing lost, nothing rejected


# -- dates outside the window ------------------------------------------------------------------------------


def test_a_queue_sample_dated_in_the_future_is_rejected_and_does_not_pin_the_desk(hub: Hub) -> None:
    real = QueueMessage(id="q-now", ts=NOW, site=SITE, desk=DESK, length=2, head_wait_s=60, source=QueueSource.CAMERA)
    future = QueueMessage(
        id="q-2099",
        ts=datetime(2099, 1, 1, tzinfo=UTC),
        site=SITE,
        desk=DESK,
        length=400,
        head_wait_s=7 * 24 * 3600,
        source=QueueSource.CAMERA,
    )
    outcome = hub.send(real, future)
    assert (outcome.accepted, outcome.rejected) == (1, 1)
    [(reason,)] = hub.sql("SELECT reason FROM rejected")
    assert reason.startswith("ts: 2099-01-01T00:00:00+00:00 is") and "ahead of the hub's clock" in reason
    later = QueueMessage(id="q-later", ts=NOW + timedelta(seconds=30), site=SITE, desk=DESK, length=1, source="camera")
    hub.send(later, now=NOW + timedelta(seconds=30))
    view = hub.desk(NOW + timedelta(seconds=31))
    assert (view["queue_length"], view["state"]) == (1, "ok")


def test_a_heartbeat_dated_in_the_future_does_not_keep_a_silent_node_online(hub: Hub) -> None:
    hub.send(StatusMessage(id="s-on", ts=NOW, site=SITE, desk=DESK, online=True), beat("h-now"))
    assert hub.send(beat("h-2099", at=datetime(2099, 1, 1, tzinfo=UTC))).rejected == 1
    silent = NOW + timedelta(seconds=hub.settings.live.offline_after_s + 5)
    alerts = hub.board.evaluate(silent)
    assert [(a.alert.value, a.desk) for a in alerts if a.alert.value == "node_offline"] == [("node_offline", DESK)]
    # The last will, sent later, takes effect too.
    hub.send(StatusMessage(id="s-off", ts=silent, site=SITE, desk=DESK, online=False), now=silent)
    assert hub.desk(silent)["node_online"] is False


def test_a_message_older_than_the_window_is_rejected_but_a_retained_status_is_not(hub: Hub) -> None:
    old = NOW - timedelta(days=31)
    outcome = hub.send(beat("h-old", at=old), StatusMessage(id="s-old", ts=old, site=SITE, desk="q02", online=True))
    assert (outcome.accepted, outcome.rejected) == (1, 1)
    [(reason,)] = hub.sql("SELECT reason FROM rejected")
    assert "more than 30 days before the hub's clock" in reason


def test_the_window_is_configurable(tmp_path: Path) -> None:
    settings = load_settings().with_overrides(ingest={"max_age_days": 400, "max_ahead_s": 3600})
    hub = Hub(tmp_path / "hub.db", settings)
    outcome = hub.send(beat("h-old", at=NOW - timedelta(days=300)), beat("h-ahead", at=NOW + timedelta(minutes=50)))
    assert (outcome.accepted, outcome.rejected) == (2, 0)


def test_a_restart_ignores_future_records_kept_before_the_window_existed(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "hub.db")
    future = datetime(2099, 1, 1, tzinfo=UTC)
    hub.send(QueueMessage(id="q-now", ts=NOW, site=SITE, desk=DESK, length=2, source=QueueSource.CAMERA), beat("h-now"))
    with hub.store.transaction():  # what an older hub kept without looking at the date
        hub.store.add_queue_sample(
            QueueMessage(id="q-2099", ts=future, site=SITE, desk=DESK, length=400, source=QueueSource.CAMERA)
        )
        hub.store.record_node(SITE, DESK, future, True, None)
    hub.store.close()
    restarted = Hub(tmp_path / "hub.db")
    restarted_at = NOW + timedelta(seconds=10)
    restarted.processor.restore(restarted_at)
    assert restarted.desk(restarted_at)["queue_length"] == 2
    silent = restarted_at + timedelta(seconds=restarted.settings.live.offline_after_s + 5)
    assert "node_offline" in [a.alert.value for a in restarted.board.evaluate(silent)]
    assert [n.last_seen for n in restarted.store.nodes()] == [restarted_at]  # the health page shows it too


# -- size, retention, privacy of what is rejected ---------------------------------------------------------


def test_a_payload_over_the_limit_is_rejected_and_only_a_preview_is_kept(hub: Hub) -> None:
    big = json.dumps(emotion("big", probabilities={"happy": 1.0}, ticket="x" * (70 * 1024)))
    outcome = hub.send((topic("emotion"), big), beat("after"))
    assert (outcome.accepted, outcome.rejected) == (1, 1)
    [(payload, reason)] = hub.sql("SELECT payload, reason FROM rejected")
    assert reason.startswith(f"payload: {len(big)} bytes, more than the hub's limit of 65536 bytes")
    assert len(payload) == 2048 and f"cut to 2048 of {len(big)} bytes" in reason
    [preview] = hub.store.rejected(limit=1, preview_bytes=100)
    assert len(preview.payload) == 100


def test_a_comment_without_consent_keeps_no_text_even_when_rejected(hub: Hub) -> None:
    secret = "Cán bộ Nguyễn Văn A đòi tiền"
    body = {"v": 1, "id": "f1", "ts": NOW.isoformat(), "site": SITE, "desk": DESK, "sentiment": "negative"}
    hub.send(
        (topic("feedback"), {**body, "confidence": 0.9, "consent": False, "text": secret}),
        (topic("feedback"), {**body, "id": "f2", "confidence": 7, "text": secret}),
        (topic("feedback"), f'{{"text": "{secret}", broken'),
        (topic("feedback"), {**body, "id": "f3", "confidence": 0.8}),
    )
    rows = hub.sql("SELECT payload, reason FROM rejected ORDER BY seq")
    assert len(rows) == 3
    everything = (
        hub.sql("SELECT * FROM rejected") + hub.sql("SELECT * FROM messages") + hub.sql("SELECT * FROM feedback")
    )
    assert secret not in repr(everything) and secret.encode() not in b"".join(r[0] for r in rows)
    assert [reason.endswith("(text removed: no consent)") for _, reason in rows[:2]] == [True, True]
    assert rows[2][0] == b"" and "payload not kept" in rows[2][1]
    assert json.loads(rows[0][0])["sentiment"] == "negative"  # the rest is kept for inspection


def test_rejected_messages_are_kept_within_a_count_and_an_age(tmp_path: Path) -> None:
    settings = load_settings().with_overrides(ingest={"rejected_keep_count": 10, "rejected_keep_days": 7})
    hub = Hub(tmp_path / "hub.db", settings)
    old = NOW - timedelta(days=8)
    hub.processor.process([Incoming(topic("heartbeat"), b"old", old) for _ in range(3)], old)
    hub.send(*[(topic("heartbeat"), f"junk {n}") for n in range(12)])
    assert hub.sql("SELECT COUNT(*) FROM rejected") == [(15,)]
    assert hub.processor.prune_rejected(NOW) == 5
    assert [r[0] for r in hub.sql("SELECT payload FROM rejected ORDER BY seq")] == [
        f"junk {n}".encode() for n in range(2, 12)
    ]
    hub.processor.tick(NOW)  # the tick applies the same retention
    assert hub.sql("SELECT COUNT(*) FROM rejected") == [(10,)]


# -- deduplication per device and kind -------------------------------------------------------------------


def test_the_same_id_from_another_desk_or_kind_is_kept(hub: Hub) -> None:
    ticket = TicketMessage(id="4", ts=NOW, site=SITE, desk="q02", event=TicketEvent.ISSUED, ticket="A004")
    other_ticket = TicketMessage(id="4", ts=NOW, site=SITE, desk="q03", event=TicketEvent.ISSUED, ticket="B004")
    outcome = hub.send(beat("4"), ticket, other_ticket)
    assert (outcome.accepted, outcome.duplicates, outcome.rejected) == (3, 0, 0)
    assert {v.ticket for v in hub.store.visits(SITE, DAY)} == {"A004", "B004"}
    assert hub.send(beat("4"), ticket).duplicates == 2  # a true re-send is still a duplicate


def test_a_duplicate_id_with_different_content_is_rejected_and_the_first_kept(hub: Hub) -> None:
    first = QueueMessage(id="q-7", ts=NOW, site=SITE, desk=DESK, length=2, source=QueueSource.CAMERA)
    second = QueueMessage(id="q-7", ts=NOW, site=SITE, desk=DESK, length=9, source=QueueSource.CAMERA)
    reordered = json.dumps(json.loads(first.to_payload()), indent=2, sort_keys=True)
    outcome = hub.send(first, second, (first.topic, reordered))
    assert (outcome.accepted, outcome.duplicates, outcome.rejected) == (1, 1, 1)
    assert hub.sql("SELECT reason FROM rejected") == [(DUPLICATE_REASON,)]
    assert hub.sql("SELECT length FROM queue_samples") == [(2,)]
    assert hub.desk()["queue_length"] == 2


OLD_MESSAGES = """
CREATE TABLE messages (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, site TEXT NOT NULL, desk TEXT NOT NULL,
    ts TEXT NOT NULL, received_at TEXT NOT NULL, payload TEXT NOT NULL);
"""


def test_a_record_keyed_on_the_id_alone_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = beat("4")
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_MESSAGES)
        for n, message in enumerate((beat("1"), old)):
            conn.execute(
                "INSERT INTO messages (rowid, id, kind, site, desk, ts, received_at, payload) "
                "VALUES (?, ?, 'heartbeat', ?, ?, ?, ?, ?)",
                (10 + n, message.id, SITE, DESK, NOW.isoformat(), NOW.isoformat(), message.to_payload().decode()),
            )
    hub = Hub(path)
    keyed = [row[1] for row in sorted(hub.sql("PRAGMA table_info(messages)"), key=lambda r: r[5]) if row[5]]
    assert keyed == ["site", "desk", "kind", "id"]
    assert hub.sql("SELECT rowid, id FROM messages ORDER BY rowid") == [(10, "1"), (11, "4")]
    ticket = TicketMessage(id="4", ts=NOW, site=SITE, desk="q02", event=TicketEvent.ISSUED, ticket="A004")
    outcome = hub.send(old, ticket)
    assert (outcome.accepted, outcome.duplicates) == (1, 1)
    hub.store.close()
    Hub(path).store.close()  # opening the upgraded record again changes nothing


# -- ratings judged by the hub -------------------------------------------------------------------------------


def served(ticket: str, at: datetime, desk: str = DESK) -> list[TicketMessage]:
    """A ticket issued, called and finished at the desk, finishing a minute before ``at``."""
    steps = ((TicketEvent.ISSUED, 10, None), (TicketEvent.CALLED, 5, "cb-1"), (TicketEvent.FINISHED, 1, "cb-1"))
    return [
        TicketMessage(ts=at - timedelta(minutes=m), site=SITE, desk=desk, event=e, ticket=ticket, staff=staff)
        for e, m, staff in steps
    ]


def rating(
    score: int, at: datetime, ticket: str | None, channel: RatingChannel = RatingChannel.BUTTON
) -> RatingMessage:
    return RatingMessage(ts=at, site=SITE, desk=DESK, score=score, ticket=ticket, channel=channel)


def test_five_hundred_ratings_for_one_ticket_count_once(hub: Hub) -> None:
    start = NOW - timedelta(hours=2)
    fair: list[Envelope] = []
    for n in range(8):  # eight citizens served and satisfied, ten minutes apart
        at = start + timedelta(minutes=10 * n)
        fair += [*served(f"A{n:03d}", at), rating(4, at, f"A{n:03d}")]
    hub.send(*fair)
    hostile = [rating(1, NOW - timedelta(seconds=5 * n), "A000") for n in range(500)]  # unflagged, 5 s apart
    outcome = hub.send(*hostile)
    assert outcome.accepted == 500
    figures = compute_figures([], hub.store.ratings(SITE, DAY), None, None, hub.settings.rating)
    assert (figures.ratings, figures.satisfied, figures.ratings_not_counted) == (8, 8, 500)
    assert hub.desk()["ratings_today"] == 8 and hub.desk()["satisfaction_share_today"] == 1.0
    assert hub.sql("SELECT DISTINCT hub_flags FROM ratings WHERE score = 1") == [("repeat",)]


def test_a_burst_counts_once_and_each_channel_of_a_served_ticket_once(hub: Hub) -> None:
    hub.send(*served("A001", NOW - timedelta(minutes=5)))
    burst = [rating(2, NOW - timedelta(minutes=3, milliseconds=-100 * n), None) for n in range(10)]
    outcome = hub.send(*burst)
    assert outcome.accepted == 10
    hub.send(
        rating(4, NOW - timedelta(minutes=2), "A001", RatingChannel.BUTTON),
        rating(3, NOW - timedelta(minutes=1), "A001", RatingChannel.TOUCH),
        rating(1, NOW, "A001", RatingChannel.TOUCH),
    )
    rows = hub.sql("SELECT score, ticket, channel, counted, hub_flags FROM ratings ORDER BY rowid")
    assert rows[0] == (2, None, "button", 1, "no_ticket")
    assert all(row[3] == 0 and row[4].startswith("burst") for row in rows[1:10])
    assert rows[10:] == [
        (4, "A001", "button", 1, None),
        (3, "A001", "touch", 1, None),
        (1, "A001", "touch", 0, "repeat"),
    ]


def test_the_influx_sink_copies_the_hubs_verdict_not_only_the_kiosks(hub: Hub) -> None:
    hub.send(*served("A001", NOW - timedelta(minutes=5)))
    hub.send(*[rating(1, NOW - timedelta(seconds=10 * n), "A001") for n in range(3)])
    with RecordReader(hub.store.path) as reader:
        points = record_points(hub.settings, reader, reader.messages_after(0, 1000))
    assert sorted(p.fields["counted"] for p in points if p.measurement == "rating") == [0, 0, 1]


def test_a_rating_for_a_ticket_the_hub_never_saw_served_is_flagged(hub: Hub) -> None:
    hub.send(rating(4, NOW, "Z999"))
    assert hub.sql("SELECT counted, hub_flags FROM ratings") == [(1, "no_ticket")]


def test_the_kiosk_flags_remain_a_second_opinion(hub: Hub) -> None:
    hub.send(*served("A001", NOW - timedelta(minutes=5)))
    flagged = RatingMessage(ts=NOW, site=SITE, desk=DESK, score=1, ticket="A001", channel="button", flags=["too_soon"])
    hub.send(flagged)
    assert hub.sql("SELECT flags, counted, hub_flags FROM ratings") == [("too_soon", 0, None)]


# -- the hand-over queue between the network and the database -----------------------------------------------


def test_the_inbox_holds_back_the_network_when_full_and_lets_go_when_stopping() -> None:
    inbox = _Inbox(max_items=2, max_bytes=100)
    assert inbox.put(("t", b"x" * 10, 1, 1, 0, None)) and inbox.put(("t", b"x" * 10, 2, 1, 0, None))
    third = threading.Thread(target=inbox.put, args=(("t", b"x" * 10, 3, 1, 0, None),), daemon=True)
    third.start()
    wait_until(lambda: inbox.waits == 1)
    assert third.is_alive()  # the network thread waits: paho stops reading from the broker
    first = inbox.get(timeout=1)
    assert first is not None and first[2] == 1
    third.join(timeout=5)
    assert not third.is_alive()
    assert [inbox.get_nowait()[2], inbox.get_nowait()[2]] == [2, 3]  # type: ignore[index]
    # One payload larger than the byte bound still passes alone, and a full inbox lets go when stopping.
    assert inbox.put(("t", b"x" * 500, 4, 1, 0, None))
    stopping = threading.Event()
    stopping.set()
    assert inbox.put(("t", b"x" * 10, 5, 1, 0, None), give_up=stopping) is False
    assert inbox.peak_bytes == 500


def wait_until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
