"""Loss you can see, without a broker: the hub follows each device's numbered messages (``seq`` in a
``stream``), counts the numbers that never arrived, closes a gap when its message arrives late, ignores
repeats, raises ``messages_missing`` only for gaps open longer than ``ingest.missing_grace_s`` (numbers
committed out of order by two workers raise nothing), raises it once across workers, clears it, and remembers
all of it across a restart."""

from __future__ import annotations

import math
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.outbox import numbered
from hub.config import HubSettings, load_settings
from hub.connection import connect
from hub.live import LiveBoard
from hub.loss import MAX_OPEN_GAPS, StreamLoss
from hub.notify import Notifier
from hub.processor import Incoming, Processor
from hub.progress import group_drained, stale_after_s
from hub.runtime import alert_json
from hub.sqlite_store import SqliteStore
from hub.store import Store, open_store
from protocol.errors import ProtocolError
from protocol.messages import AlertState, AlertType, HeartbeatMessage, QueueMessage, QueueSource, parse_message

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
SITE, DESK = "bn-hcc", "q01"
GRACE = timedelta(seconds=60)  # ingest.missing_grace_s by default


def sample(seq: int | None, stream: str = "s1", desk: str = DESK, at: datetime = NOW) -> Incoming:
    """A queue sample numbered as the edge's outbox numbers it (the id follows the number: a resend repeats it),
    received by the hub at ``at``."""
    message = QueueMessage(id=f"{stream}-{seq}", ts=NOW, site=SITE, desk=desk, length=3, source=QueueSource.CAMERA)
    payload = message.to_payload() if seq is None else numbered(message.to_payload(), seq, stream)
    return Incoming(message.topic, payload, at)


class Hub:
    """One hub worker: its processor and live board on a record (its own connection to it)."""

    def __init__(
        self, path: Path | None = None, store: Store | None = None, settings: HubSettings | None = None
    ) -> None:
        self.settings = settings or load_settings()
        assert self.settings.ingest.missing_grace_s == GRACE.total_seconds()
        self.store = store if store is not None else SqliteStore(path)  # type: ignore[arg-type]
        self.board = LiveBoard(self.settings)
        self.processor = Processor(self.settings, self.store, self.board)

    def send(self, *items: Incoming):  # type: ignore[no-untyped-def]
        return self.processor.process(list(items), items[-1].received_at)

    def tick(self, at: datetime) -> list[tuple[AlertState, int | None]]:
        return [(a.state, a.count) for a in self.processor.tick(at) if a.alert is AlertType.MESSAGES_MISSING]

    def missing(self, desk: str = DESK) -> int:
        return sum(s.missing for s in self.store.stream_losses([(SITE, desk)]))

    def active(self) -> list[tuple[str, int | None]]:
        return [(a.desk, a.count) for a in self.board.active_alerts() if a.alert is AlertType.MESSAGES_MISSING]


def test_gaps_close_out_of_order_and_repeats_change_nothing() -> None:
    stream = StreamLoss(SITE, DESK, "s1")
    stream.note([1, 2, 5, 9])  # 3, 4, 6, 7, 8 not (yet) here
    assert (stream.highest, stream.missing, stream.gaps) == (9, 5, [(3, 4), (6, 8)])
    stream.note([7, 7, 5, 1, 9])  # 7 late, the rest repeats
    assert (stream.missing, stream.gaps) == (4, [(3, 4), (6, 6), (8, 8)])
    stream.note([3, 4, 6, 8, 8])
    assert (stream.highest, stream.missing, stream.gaps) == (9, 0, [])


def test_numbers_below_the_first_received_are_missing() -> None:
    stream = StreamLoss(SITE, DESK, "s1")
    stream.note([4])
    assert (stream.missing, stream.gaps) == (3, [(1, 3)])
    stream.note([2])
    assert (stream.missing, stream.gaps) == (2, [(1, 1), (3, 3)])


def test_shuffled_with_repeats_counts_exactly_what_never_came() -> None:
    rng = random.Random(7)
    lost = set(rng.sample(range(1, 5000), 321))  # 5000 arrives: a loss at the tail shows only after it
    arrived = [n for n in range(1, 5001) if n not in lost]
    arrived += rng.sample(arrived, 1000)  # redelivered
    arrived.sort()
    windows = [arrived[i : i + 1000] for i in range(0, len(arrived), 1000)]
    for window in windows:  # out of order within a redelivery window, as after reconnects
        rng.shuffle(window)
    arrived = [n for window in reversed(windows) for n in window]  # and the windows themselves backwards
    stream = StreamLoss(SITE, DESK, "s1")
    for start in range(0, len(arrived), 97):
        stream.note(arrived[start : start + 97])
    assert stream.missing == 321
    assert {n for a, b in stream.gaps for n in range(a, b + 1)} == lost


def test_open_gaps_are_bounded_and_still_counted() -> None:
    stream = StreamLoss(SITE, DESK, "s1")
    stream.note(range(1, 2 * (MAX_OPEN_GAPS + 10), 2))  # every even number missing
    assert len(stream.gaps) == MAX_OPEN_GAPS
    assert stream.missing == MAX_OPEN_GAPS + 9
    assert stream.written_off == 9


def test_seq_and_stream_travel_together_and_are_bounded() -> None:
    message = QueueMessage(site=SITE, desk=DESK, length=1, source=QueueSource.SENSOR)
    topic = message.topic
    good = numbered(message.to_payload(), 42, "abc")
    assert parse_message(topic, good).seq == 42
    for payload, reason in (
        (message.to_payload()[:-1] + b',"seq":1}', "seq and stream come together"),
        (numbered(message.to_payload(), 0, "abc"), "seq"),
        (numbered(message.to_payload(), 2**53, "abc"), "seq"),
        (message.to_payload()[:-1] + b',"seq":true,"stream":"abc"}', "seq"),
        (numbered(message.to_payload(), 3, "a b"), "stream"),
    ):
        with pytest.raises(ProtocolError, match=reason):
            parse_message(topic, payload)
    assert parse_message(topic, message.to_payload()).seq is None  # a device that does not number


def test_a_gap_counts_toward_the_alert_once_it_outlives_the_grace() -> None:
    stream = StreamLoss(SITE, DESK, "s1")
    stream.note([1, 4], now=100.0)  # 2-3 open from 100
    stream.note([8], now=130.0)  # 5-7 open from 130
    assert (stream.missing, stream.overdue(159.0, 60), stream.overdue(160.0, 60)) == (5, 0, 2)
    stream.note([2], now=165.0)  # 3 is left of 2-3: it keeps its age
    assert (stream.gaps, stream.overdue(165.0, 60), stream.overdue(190.0, 60)) == ([(3, 3), (5, 7)], 1, 4)
    assert stream.overdue(190.0, 0) == stream.missing == 4


def test_hub_counts_raises_clears_and_remembers(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "hub.db")
    outcome = hub.send(*(sample(n) for n in (1, 2, 3, 6, 7)), sample(None, desk="q02"))
    assert hub.missing() == 2  # the record is exact at once
    assert outcome.alerts == [] and hub.active() == []  # 4 and 5 may still be on their way
    assert hub.tick(NOW + GRACE - timedelta(seconds=1)) == []
    assert hub.tick(NOW + GRACE) == [(AlertState.RAISED, 2)]  # no further traffic: the tick raises it
    assert "thiếu 2 tin nhắn" in hub.store.alerts()[0].message
    assert hub.active() == [(DESK, 2)]
    assert hub.tick(NOW + 2 * GRACE) == []  # raised once
    assert hub.store.stream_losses([(SITE, "q02")]) == []  # no numbers, nothing followed

    later = NOW + 2 * GRACE
    outcome = hub.send(sample(7, at=later), sample(2, at=later))  # repeats: nothing changes, no new alert
    assert (outcome.duplicates, hub.missing(), outcome.alerts) == (2, 2, [])
    outcome = hub.send(sample(10, at=later))  # 8, 9 missing too, not for long yet
    assert hub.missing() == 4 and outcome.alerts == []
    outcome = hub.send(sample(11, at=later + GRACE))  # numbers arriving see that 8, 9 are overdue now
    assert hub.missing() == 4 and [a.count for a in outcome.alerts] == [4]
    hub.store.close()

    again = Hub(tmp_path / "hub.db")  # a restart: the counts and the active alert are still there
    again.processor.restore(later + 2 * GRACE)
    assert again.missing() == 4
    assert again.active() == [(DESK, 4)]
    assert again.tick(later + 2 * GRACE) == []
    outcome = again.send(*(sample(n, at=later + 2 * GRACE) for n in (4, 5, 8, 9)))  # the gaps fill late
    assert again.missing() == 0
    assert [(a.state, a.count) for a in outcome.alerts] == [(AlertState.CLEARED, 0)]
    assert again.active() == []
    stored = [a for a in again.store.alerts() if a.alert is AlertType.MESSAGES_MISSING]
    assert [(a.state, a.count) for a in stored] == [
        (AlertState.CLEARED, 0),
        (AlertState.RAISED, 4),
        (AlertState.RAISED, 2),
    ]
    again.store.close()


def test_two_workers_committing_out_of_order_raise_nothing_and_a_real_gap_once(record_url: str) -> None:
    """A device's numbers split round-robin between two workers of a shared subscription: worker B commits
    6-10 before worker A commits 1-5. Within the grace that is no loss; a gap that stays open is alerted once,
    by one worker, with its count, and cleared once when it fills."""
    a, b = Hub(store=open_store(record_url)), Hub(store=open_store(record_url))
    try:
        step = timedelta(seconds=2)
        assert b.send(*(sample(n, at=NOW) for n in range(6, 11))).alerts == []
        assert a.send(*(sample(n, at=NOW + step) for n in range(1, 6))).alerts == []
        assert b.send(*(sample(n, at=NOW + 2 * step) for n in (14, 15))).alerts == []  # 11-13 on their way
        assert a.send(*(sample(n, at=NOW + 3 * step) for n in (11, 12))).alerts == []  # 13 never comes
        assert a.missing() == 1
        assert a.tick(NOW + 2 * step + GRACE - timedelta(seconds=1)) == []
        assert b.tick(NOW + 2 * step + GRACE - timedelta(seconds=1)) == []
        after = NOW + 2 * step + GRACE
        raised = a.tick(after) + b.tick(after) + a.tick(after + step) + b.tick(after + step)
        assert raised == [(AlertState.RAISED, 1)]
        alerts = [a for a in a.store.alerts() if a.alert is AlertType.MESSAGES_MISSING]
        assert [(x.state, x.count) for x in alerts] == [(AlertState.RAISED, 1)]

        cleared = b.send(sample(13, at=after + 2 * step)).alerts + a.send(sample(16, at=after + 3 * step)).alerts
        assert [(x.state, x.count) for x in cleared] == [(AlertState.CLEARED, 0)]
        assert a.tick(after + 2 * GRACE) + b.tick(after + 2 * GRACE) == []
        assert a.missing() == 0
    finally:
        a.store.close()
        b.store.close()


def test_a_new_stream_of_the_same_desk_is_counted_apart(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "hub.db")
    hub.send(sample(1, "old"), sample(3, "old"), sample(1, "new"), sample(2, "new"))
    streams = {s.stream: s.missing for s in hub.store.stream_losses([(SITE, DESK)])}
    assert streams == {"old": 1, "new": 0}
    hub.store.close()


def test_a_record_kept_before_the_grace_keeps_its_gaps_and_alert(tmp_path: Path) -> None:
    """Gaps kept as [first, last] and an alert raised before alert_states followed messages_missing: after the
    upgrade the gaps count as overdue, the alert stays active and clears once when they fill."""
    hub = Hub(tmp_path / "hub.db")
    hub.send(*(sample(n) for n in (1, 4)))
    old_alert = hub.board.missing_alert(SITE, DESK, 2, NOW)
    with hub.store.transaction():
        hub.store.add_alert(old_alert)
    hub.store.close()
    with sqlite3.connect(tmp_path / "hub.db") as conn:
        conn.execute("UPDATE seq_streams SET gaps = '[[2,3]]'")
        conn.execute("DELETE FROM alert_states")

    again = Hub(tmp_path / "hub.db")
    again.processor.restore(NOW)
    assert again.active() == [(DESK, 2)]
    assert again.tick(NOW) == []  # overdue already, and already alerted
    outcome = again.send(sample(2), sample(3))
    assert [(a.state, a.count) for a in outcome.alerts] == [(AlertState.CLEARED, 0)]
    assert again.active() == []
    again.store.close()


def test_an_alert_raised_by_the_tick_is_queued_for_delivery_with_its_raise(tmp_path: Path) -> None:
    """The e-mail and webhook deliveries of an alert are queued in the transaction that records it; a
    messages_missing alert raised by the tick (no further traffic from the device) must be queued too."""
    hub = Hub(tmp_path / "hub.db")
    queued: list[tuple[AlertType, AlertState, int | None]] = []
    hub.processor.take_alerts = lambda alerts: queued.extend(
        (a.alert, a.state, a.count) for a in alerts if a.alert is AlertType.MESSAGES_MISSING
    )
    hub.send(*(sample(n) for n in (1, 2, 5)))
    assert hub.tick(NOW + GRACE) == [(AlertState.RAISED, 2)]
    assert queued == [(AlertType.MESSAGES_MISSING, AlertState.RAISED, 2)]
    hub.store.close()


def refuse_alert_intake(url: str) -> None:
    """Make the record refuse, for good, every alert the deliveries take in (a persistent database error)."""
    conn = connect(url)
    try:
        if conn.postgresql:
            conn.raw.execute(
                "CREATE FUNCTION refuse_intake() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'notify_alerts refused by the test'; END $$"
            )
            conn.raw.execute(
                "CREATE TRIGGER refuse_intake BEFORE INSERT ON notify_alerts "
                "FOR EACH ROW EXECUTE FUNCTION refuse_intake()"
            )
        else:
            conn.raw.execute(
                "CREATE TRIGGER refuse_intake BEFORE INSERT ON notify_alerts "
                "BEGIN SELECT RAISE(ABORT, 'notify_alerts refused by the test'); END"
            )
    finally:
        conn.close()


def test_alerts_whose_deliveries_the_record_refuses_are_kept_once_and_queued_apart(record_url: str) -> None:
    """A persistent error while queueing an alert's deliveries used to fail the batch that raised it: split, and
    the message that raised the alert kept as rejected. The batch is now kept whole, once, without them."""
    hub = Hub(store=open_store(record_url))
    notifier = Notifier(hub.settings, hub.store, alert_json)
    hub.processor.take_alerts = notifier.take_in
    deferred: list[tuple[str, AlertType, int | None]] = []
    hub.processor.defer_alerts = lambda alerts: deferred.extend((a.desk, a.alert, a.count) for a in alerts)
    refuse_alert_intake(record_url)
    try:
        assert hub.send(sample(1), sample(5)).accepted == 2  # 2 to 4 missing, within the grace: no alert yet
        later = NOW + GRACE + timedelta(seconds=1)
        outcome = hub.send(sample(6, at=later))  # the gap outlived the grace: this batch raises the alert
        assert (outcome.accepted, outcome.rejected, outcome.isolated) == (1, 0, 0)
        assert [(a.state, a.count) for a in outcome.alerts] == [(AlertState.RAISED, 3)]
        assert deferred == [(DESK, AlertType.MESSAGES_MISSING, 3)]
        assert [a.count for a in hub.store.raised_alerts(AlertType.MESSAGES_MISSING)] == [3]
        assert hub.store.message_counts() == {"queue": 3, "rejected": 0}
        assert hub.send(sample(6, at=later)).duplicates == 1  # redelivered: counted once
        assert hub.missing() == 3 and hub.store.message_counts() == {"queue": 3, "rejected": 0}
        assert notifier.outbox.alerts_seen() == 0  # the record refused them: nothing half queued

        # The tick's alerts too: a gap of another desk that outlives the grace with no more traffic.
        assert hub.send(sample(1, desk="q02", at=later), sample(4, desk="q02", at=later)).accepted == 2
        assert hub.tick(later + 2 * GRACE) == [(AlertState.RAISED, 2)]
        assert deferred[1:] == [("q02", AlertType.MESSAGES_MISSING, 2)]
        assert sorted(a.count or 0 for a in hub.store.raised_alerts(AlertType.MESSAGES_MISSING)) == [2, 3]
    finally:
        notifier.close()
        hub.store.close()


# Several workers on a shared subscription (hub/progress.py): each session's progress through its queue at the
# broker, as the workers' probes keep it in hub_workers (POSIX seconds).
GROUP = "hubs"
T = NOW.timestamp()


def grouped(record_url: str) -> Hub:
    return Hub(store=open_store(record_url), settings=load_settings().with_overrides(mqtt={"shared_group": GROUP}))


def progress(hub: Hub, client_id: str, probed_at: float, drained_to: float | None) -> None:
    hub.store.note_session_progress(client_id, GROUP, probed_at=probed_at, drained_to=drained_to)


def test_a_gap_counts_only_once_every_session_is_drained_past_it(record_url: str) -> None:
    """Worker hub-b's session is ten minutes behind: a gap opened now may be its numbers, still queued at the
    broker. Past the grace it is not reported; once hub-b is drained past the gap's opening, it is."""
    hub = grouped(record_url)
    try:
        progress(hub, "hub-a", T, T)
        progress(hub, "hub-b", T, T - 600)
        hub.send(sample(1), sample(4))  # 2-3 open from NOW
        later = NOW + GRACE
        progress(hub, "hub-a", later.timestamp(), later.timestamp() - 0.5)
        progress(hub, "hub-b", later.timestamp(), T - 1)  # probed, still draining what came before the gap
        assert hub.tick(later) == []
        assert hub.send(sample(5, at=later)).alerts == []  # nor by the batches of the device
        progress(hub, "hub-b", later.timestamp(), T + 1)  # drained past the gap: 2-3 are not in its queue
        assert hub.tick(later) == [(AlertState.RAISED, 2)]
        assert hub.active() == [(DESK, 2)]
    finally:
        hub.store.close()


def test_a_session_nobody_probes_any_more_holds_no_gap_back(record_url: str) -> None:
    """hub-b's worker is gone and nobody drains its session: three graces after its last probe its progress no
    longer counts, and the gap is reported."""
    hub = grouped(record_url)
    try:
        progress(hub, "hub-b", T - 1, T - 600)
        hub.send(sample(1), sample(4))
        stale = timedelta(seconds=stale_after_s(GRACE.total_seconds(), hub.settings.live.tick_s))
        assert stale == 3 * GRACE
        for at in (NOW + GRACE, NOW + stale - timedelta(seconds=2), NOW + stale):
            progress(hub, "hub-a", at.timestamp(), at.timestamp() - 0.5)  # the living worker drains its own
            assert hub.tick(at) == ([(AlertState.RAISED, 2)] if at == NOW + stale else [])
    finally:
        hub.store.close()


def test_an_alert_is_not_cleared_by_a_session_that_falls_behind(record_url: str) -> None:
    """A raised alert clears when its gaps fill, not when a worker joins the group with its queue still to drain
    (its progress then holds only new raises back)."""
    hub = grouped(record_url)
    try:
        progress(hub, "hub-a", T, T)
        hub.send(sample(1), sample(4))
        later = NOW + GRACE
        progress(hub, "hub-a", later.timestamp(), later.timestamp())
        assert hub.tick(later) == [(AlertState.RAISED, 2)]
        progress(hub, "hub-c", later.timestamp(), None)  # started: probed, not drained yet
        assert hub.send(sample(4, at=later), sample(6, at=later)).alerts == []  # 5 opens, 2-3 stay raised
        assert hub.active() == [(DESK, 2)]
        outcome = hub.send(sample(2, at=later), sample(3, at=later), sample(5, at=later))
        assert [(a.state, a.count) for a in outcome.alerts] == [(AlertState.CLEARED, 0)]
    finally:
        hub.store.close()


def test_the_group_is_drained_up_to_its_slowest_session_probed_lately() -> None:
    assert group_drained([], 100.0, 30.0) == math.inf  # no session probed: the grace alone
    assert group_drained([(90.0, 99.0), (50.0, 98.0)], 100.0, 30.0) == 50.0
    assert group_drained([(90.0, 99.0), (50.0, 60.0)], 100.0, 30.0) == 90.0  # probed 40 s ago: nobody drains it
    assert group_drained([(90.0, 99.0), (None, 99.0)], 100.0, 30.0) == 0.0  # probed, nothing drained yet
    assert group_drained([(90.0, None)], 100.0, 30.0) == math.inf  # registered, never probed


def test_no_desk_is_taken_for_offline_while_a_session_may_still_hold_its_heartbeats(record_url: str) -> None:
    """A hub catching up on a backlog (a country's took every one of its 17,000 desks for offline, bench_country):
    the desk's last heartbeat committed is five minutes old, but hub-b's session is drained only up to 30 s after
    it, and the desk's later heartbeats may wait there. Neither the board nor an alert takes the desk for offline
    until hub-b is drained past the moment it would have gone silent; then both do. A session that falls behind
    later does not clear the raised alert; the desk's next heartbeat does."""
    hub = grouped(record_url)
    try:
        beat = HeartbeatMessage(id="hb-1", ts=NOW, site=SITE, desk=DESK, uptime_s=60, spool_depth=0)
        hub.send(Incoming(beat.topic, beat.to_payload(), NOW))
        later = NOW + timedelta(minutes=5)
        progress(hub, "hub-a", later.timestamp(), later.timestamp() - 0.5)
        progress(hub, "hub-b", later.timestamp(), T + 30)
        assert [a for a in hub.processor.tick(later) if a.alert is AlertType.NODE_OFFLINE] == []
        assert hub.board.desk_view(SITE, DESK, later)["node_online"] is True
        progress(hub, "hub-b", later.timestamp(), later.timestamp() - 1)  # drained: the desk is silent indeed
        offline = [a.state for a in hub.processor.tick(later) if a.alert is AlertType.NODE_OFFLINE]
        assert offline == [AlertState.RAISED]
        assert hub.board.desk_view(SITE, DESK, later)["node_online"] is False
        # A third worker joins with its queue still to drain: the raised alert stays (raises only are held back).
        progress(hub, "hub-c", later.timestamp(), T - 600)
        assert [a for a in hub.processor.tick(later) if a.alert is AlertType.NODE_OFFLINE] == []
        back = later + timedelta(seconds=5)  # the desk's next heartbeat clears it
        beat = HeartbeatMessage(id="hb-2", ts=back, site=SITE, desk=DESK, uptime_s=400, spool_depth=0)
        hub.send(Incoming(beat.topic, beat.to_payload(), back))
        cleared = [a.state for a in hub.processor.tick(back) if a.alert is AlertType.NODE_OFFLINE]
        assert cleared == [AlertState.CLEARED]
    finally:
        hub.store.close()
