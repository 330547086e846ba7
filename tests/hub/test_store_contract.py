"""One contract for the record, run against both engines (``record_url``: SQLite and a private PostgreSQL):
what the processor keeps and what the hub reads back must not depend on where the record lives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.config import load_settings
from hub.live import LiveBoard
from hub.processor import DUPLICATE_REASON, Incoming, Processor
from hub.store import Store, open_store
from protocol.messages import (
    AlertMessage,
    AlertType,
    Envelope,
    HeartbeatMessage,
    QueueMessage,
    QueueSource,
    RatingMessage,
    StatusMessage,
    TicketEvent,
    TicketMessage,
)

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
DAY = "2026-11-20"
SITE = "bn-hcc"


class Hub:
    """A processor, its live board and its record, as a running hub has them."""

    def __init__(self, url: str) -> None:
        self.settings = load_settings()
        self.store: Store = open_store(url)
        self.board = LiveBoard(self.settings)
        self.processor = Processor(self.settings, self.store, self.board)

    def send(self, *messages: Envelope | tuple[str, bytes], now: datetime = NOW) -> Any:
        batch = [
            Incoming(m.topic, m.to_payload(), now) if isinstance(m, Envelope) else Incoming(m[0], m[1], now)
            for m in messages
        ]
        return self.processor.process(batch, now)

    def restarted(self, url: str) -> Hub:
        self.store.close()
        again = Hub(url)
        again.processor.restore(NOW)
        return again


@pytest.fixture()
def hub(record_url: str) -> Iterator[Hub]:
    running = Hub(record_url)
    yield running
    running.store.close()


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def event(ticket: str, kind: TicketEvent, minutes: int, desk: str = "q01", **extra: Any) -> TicketMessage:
    staff = None if kind is TicketEvent.ISSUED else f"cb-{desk}"
    return TicketMessage(
        id=f"{ticket}-{kind.value}-{desk}", ts=at(minutes), site=SITE, desk=desk, event=kind, ticket=ticket,
        staff=staff, service="dat-dai", **extra,
    )  # fmt: skip


def test_a_repeated_id_is_counted_once_and_a_changed_one_is_rejected_without_overwriting(hub: Hub) -> None:
    first = event("0001", TicketEvent.ISSUED, -30)
    changed = first.model_copy(update={"ticket": "0999"})
    other_desk = first.model_copy(update={"desk": "q02"})  # ids are unique per device only
    outcome = hub.send(first, first, changed, other_desk)
    assert (outcome.accepted, outcome.duplicates, outcome.rejected) == (2, 1, 1)
    assert [r.reason for r in hub.store.rejected()] == [DUPLICATE_REASON]
    assert hub.send(first).duplicates == 1  # in a later batch too
    assert hub.store.message_counts() == {"ticket": 2, "rejected": 1}
    assert [v.ticket for v in hub.store.visits(SITE, DAY)] == ["0001"]
    assert hub.store.seen_units() == {SITE: {"q01", "q02"}}


def test_ticket_events_in_any_order_make_the_same_visits(hub: Hub) -> None:
    hub.send(
        event("0002", TicketEvent.FINISHED, -1, desk="q02"),
        event("0002", TicketEvent.TRANSFERRED, -13, to_desk="q02"),
        event("0001", TicketEvent.CALLED, -40),
        event("0002", TicketEvent.ISSUED, -46),
        event("0002", TicketEvent.CALLED, -21),
        event("0001", TicketEvent.ISSUED, -50),
        event("0002", TicketEvent.CALLED, -9, desk="q02"),
        event("0001", TicketEvent.FINISHED, -25),
    )
    visits = {v.ticket: v for v in hub.store.visits(SITE, DAY)}
    assert sorted(visits) == ["0001", "0002"]
    assert [(t.desk, t.wait_s, t.service_s) for t in visits["0001"].transactions] == [("q01", 600.0, 900.0)]
    assert [(t.desk, t.wait_s, t.service_s) for t in visits["0002"].transactions] == [
        ("q01", 1500.0, 480.0),
        ("q02", 240.0, 480.0),
    ]
    assert list(hub.store.visits_on(DAY)) == [SITE]
    assert hub.store.visits_on("2026-11-21") == {}
    assert hub.store.ticket_served_at(SITE, DAY, "0002", "q02")
    assert not hub.store.ticket_served_at(SITE, DAY, "0001", "q02")


def test_ratings_keep_the_hubs_verdict(hub: Hub) -> None:
    hub.send(event("0001", TicketEvent.ISSUED, -30), event("0001", TicketEvent.CALLED, -20))
    good = RatingMessage(id="r1", ts=at(-10), site=SITE, desk="q01", score=4, ticket="0001", channel="button")
    again = RatingMessage(id="r2", ts=at(-9), site=SITE, desk="q01", score=1, ticket="0001", channel="button")
    hub.send(good, again)
    facts = hub.store.ratings(SITE, DAY)
    assert sorted((f.score, f.counted) for f in facts) == [(1, False), (4, True)]
    assert [f.score for f in hub.store.ratings(SITE, DAY, desk="q02")] == []
    assert hub.store.rating_exists(SITE, DAY, "q01", ticket="0001", counted_only=True)
    assert hub.store.rating_exists(SITE, DAY, "q01", between=(at(-11), at(-8)), channel="button")
    assert not hub.store.rating_exists(SITE, DAY, "q01", without_ticket=True)
    assert not hub.store.rating_exists(SITE, DAY, "q01", channel="touch")


def test_queue_samples_and_nodes_come_back_latest_first(hub: Hub) -> None:
    samples = [
        QueueMessage(id=f"s{n}", ts=at(-n), site=SITE, desk=desk, length=length, source=QueueSource.CAMERA,
                     est_wait_s=60.5 * length, present=n % 2 == 0)
        for n, desk, length in ((3, "q01", 7), (1, "q01", 2), (2, "q02", 5), (9, "q02", 9))
    ]  # fmt: skip
    beats = [
        HeartbeatMessage(id=f"h{n}", ts=at(-n), site=SITE, desk="q01", uptime_s=60 * (10 - n), spool_depth=n)
        for n in (8, 5, 2)  # in time order
    ]
    hub.send(*samples, *beats)
    latest = {(s.desk, s.length, s.est_wait_s, s.present, s.ts) for s in hub.store.latest_queue_samples()}
    assert latest == {("q01", 2, 121.0, False, at(-1)), ("q02", 5, 302.5, True, at(-2))}
    until = {(s.desk, s.length) for s in hub.store.latest_queue_samples(until=at(-3))}
    assert until == {("q01", 7), ("q02", 9)}
    [node] = hub.store.nodes()
    assert (node.site, node.desk, node.last_seen) == (SITE, "q01", at(-2))
    assert node.heartbeat is not None and node.heartbeat["spool_depth"] == 2
    assert hub.store.clamp_node_times(at(-3), NOW) == 1
    assert hub.store.nodes()[0].last_seen == NOW


def test_a_late_older_heartbeat_does_not_replace_the_newer_one(hub: Hub) -> None:
    def beat(minutes: int, spool: int) -> HeartbeatMessage:
        return HeartbeatMessage(id=f"h{spool}", ts=at(minutes), site=SITE, desk="q01", uptime_s=600, spool_depth=spool)

    def stored() -> tuple[Any, datetime]:
        [node] = hub.store.nodes()
        assert node.heartbeat is not None
        return node.heartbeat["spool_depth"], node.last_seen

    hub.send(beat(-2, 2), beat(-8, 8))  # the older one late, in the same batch
    assert stored() == (2, at(-2))
    hub.send(beat(-5, 5))  # and in a later batch
    assert stored() == (2, at(-2))
    hub.send(StatusMessage(id="s1", ts=at(-6), site=SITE, desk="q01", online=True))  # no heartbeat: keeps it
    assert stored() == (2, at(-2))
    hub.send(beat(-1, 1))  # a newer one replaces it
    assert stored() == (1, at(-1))


def test_rejected_messages_are_kept_whole_and_pruned_oldest_first(hub: Hub) -> None:
    for n in range(5):
        hub.send((f"onestop/v1/{SITE}/q01/rating", b"\x00\xffnot json " + bytes([n])), now=at(n))
    kept = hub.store.rejected(preview_bytes=4)
    assert [r.payload for r in kept] == [b"\x00\xffno"] * 5
    assert [r.received_at for r in kept] == [at(4), at(3), at(2), at(1), at(0)]
    assert all("JSON" in r.reason for r in kept)
    assert hub.store.rejected(limit=1)[0].payload == b"\x00\xffnot json \x04"
    assert hub.store.prune_rejected(keep=3, before=at(1)) == 2
    assert [r.received_at for r in hub.store.rejected()] == [at(4), at(3), at(2)]
    assert hub.store.prune_rejected(keep=1, before=at(0)) == 2
    assert hub.store.message_counts() == {"rejected": 1}


def test_a_restarted_hub_rebuilds_todays_live_board(hub: Hub, record_url: str) -> None:
    hub.send(
        event("0001", TicketEvent.ISSUED, -30),
        event("0001", TicketEvent.CALLED, -20),
        event("0002", TicketEvent.ISSUED, -15),
        RatingMessage(id="r1", ts=at(-10), site=SITE, desk="q01", score=4, ticket="0001", channel="button"),
        QueueMessage(id="s1", ts=at(-1), site=SITE, desk="q01", length=3, source=QueueSource.SENSOR),
        HeartbeatMessage(id="h1", ts=at(-1), site=SITE, desk="q01", uptime_s=60, spool_depth=0),
    )
    before = hub.board.desk_view(SITE, "q01", NOW)
    again = hub.restarted(record_url)
    try:
        after = again.board.desk_view(SITE, "q01", NOW)
        assert after == before
        assert [t["ticket"] for t in after["waiting_tickets"]] == ["0002"]
        assert after["ratings_today"] == 1 and after["queue_length"] == 3
    finally:
        again.store.close()


def test_alerts_come_back_newest_first_with_their_vietnamese_text(hub: Hub) -> None:
    with hub.store.transaction():  # as the processor keeps the alerts it raises
        for n, site in enumerate((SITE, "bn-khac", SITE)):
            hub.store.add_alert(
                AlertMessage(id=f"a{n}", ts=at(n - 10), site=site, desk="q01", alert=AlertType.WAIT_TARGET_BROKEN,
                             severity="critical", message=f"Quầy q01: người chờ đầu hàng vượt chỉ tiêu {n} phút")
            )  # fmt: skip
    assert [(a.id, a.message[-7:]) for a in hub.store.alerts(site=SITE)] == [("a2", " 2 phút"), ("a0", " 0 phút")]
    assert [a.id for a in hub.store.alerts(limit=2)] == ["a2", "a1"]


def test_numbered_streams_keep_each_devices_gaps(hub: Hub) -> None:
    beats = [
        HeartbeatMessage(id=f"h{n}", ts=at(n - 10), site=SITE, desk=desk, uptime_s=60, spool_depth=0, seq=n,
                         stream="s1")
        for desk, numbers in (("q01", (1, 2, 5)), ("q02", (1, 2, 3)))
        for n in numbers
    ]  # fmt: skip
    assert hub.send(*beats).alerts == []  # 3 and 4 may still be on their way (ingest.missing_grace_s)
    alerts = hub.processor.tick(NOW + timedelta(seconds=hub.settings.ingest.missing_grace_s))
    missing = [(a.desk, a.count) for a in alerts if a.alert is AlertType.MESSAGES_MISSING]
    assert missing == [("q01", 2)]
    devices = [(SITE, "q01"), (SITE, "q02"), (SITE, "q09")]
    losses = {(s.desk, s.stream): (s.highest, s.missing) for s in hub.store.stream_losses(devices)}
    assert losses == {("q01", "s1"): (5, 2), ("q02", "s1"): (3, 0)}
    hub.send(beats[0].model_copy(update={"id": "h3", "seq": 3}), beats[0].model_copy(update={"id": "h4", "seq": 4}))
    assert [(s.desk, s.missing) for s in hub.store.stream_losses([(SITE, "q01")])] == [("q01", 0)]
