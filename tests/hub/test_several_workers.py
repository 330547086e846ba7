"""Several hub workers on one PostgreSQL record: two processors committing events of the same visits at the same
moment, and two live boards evaluating the same desks, as the workers of a shared subscription do."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devtools.postgres import PostgresServer
from hub.config import load_settings
from hub.live import LiveBoard
from hub.live_feed import Snapshot, VisitChange, decode_change, encode_change, payloads, read_payload
from hub.processor import Incoming, Processor
from hub.store import open_store
from hub.visits import TicketEventRecord, VisitStatus, build_visit
from protocol.messages import (
    AlertMessage,
    AlertState,
    AlertType,
    Envelope,
    HeartbeatMessage,
    QueueMessage,
    QueueSource,
    TicketEvent,
    TicketMessage,
)

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
DAY = "2026-11-20"
SITE = "bn-hcc"


class Worker:
    """One worker's processor, live board and connection to the shared record."""

    def __init__(self, url: str) -> None:
        self.settings = load_settings()
        self.store = open_store(url)
        self.board = LiveBoard(self.settings)
        self.processor = Processor(self.settings, self.store, self.board)

    def send(self, messages: list[Envelope], now: datetime = NOW) -> Any:
        return self.processor.process([Incoming(m.topic, m.to_payload(), now) for m in messages], now)


@pytest.fixture()
def workers(postgres_server: PostgresServer, tmp_path: Any) -> Iterator[tuple[Worker, Worker]]:
    url = postgres_server.create_database()
    pair = (Worker(f"{url}?local={tmp_path / 'a.db'}"), Worker(f"{url}?local={tmp_path / 'b.db'}"))
    yield pair
    for worker in pair:
        worker.store.close()


def event(ticket: str, kind: TicketEvent, minutes: int, desk: str = "q01") -> TicketMessage:
    return TicketMessage(
        id=f"{ticket}-{kind.value}-{desk}", ts=NOW + timedelta(minutes=minutes), site=SITE, desk=desk, event=kind,
        ticket=ticket, staff=None if kind is TicketEvent.ISSUED else "cb-01", service="dat-dai",
    )  # fmt: skip


def side_by_side(barrier: threading.Barrier, store: Any, name: str) -> None:
    """Make the store's method ``name`` wait, the first time, until both workers reach it (at most 1 s: the
    other may be held by the lock this test is about)."""
    wrapped = getattr(store, name)
    waited = threading.Event()

    def call(*args: Any, **kwargs: Any) -> Any:
        if not waited.is_set():
            waited.set()
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=1)
        return wrapped(*args, **kwargs)

    setattr(store, name, call)


def run_together(*jobs: Callable[[], Any]) -> list[Any]:
    results: list[Any] = [None] * len(jobs)
    threads = [
        threading.Thread(target=lambda n=n, job=job: results.__setitem__(n, job())) for n, job in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_workers_committing_events_of_the_same_visits_at_once_build_whole_visits(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    tickets = [f"{n:04d}" for n in range(1, 21)]
    # Worker a gets the issue and the call of every visit, worker b the end of it: in one batch each, both
    # inside their transactions together (the barriers), each reading the visit's events while the other's
    # are not committed yet.
    first = [e for t in tickets for e in (event(t, TicketEvent.ISSUED, -20), event(t, TicketEvent.CALLED, -15))]
    second = [event(t, TicketEvent.FINISHED, -5) for t in tickets]
    begin, read = threading.Barrier(2), threading.Barrier(2)
    for worker in workers:
        side_by_side(begin, worker.store, "lock_keys")
        side_by_side(read, worker.store, "ticket_events")
    outcome_a, outcome_b = run_together(lambda: a.send(first), lambda: b.send(second))
    assert outcome_a.accepted == 40 and outcome_b.accepted == 20

    visits = {v.ticket: v for v in a.store.visits(SITE, DAY)}
    assert sorted(visits) == tickets
    for visit in visits.values():  # issued 09:40, called 09:45, finished 09:55: waited 5 min, served 10
        assert visit.status is VisitStatus.DONE and visit.wait_s == 300
        assert [(t.desk, t.service_s) for t in visit.transactions] == [("q01", 600)]


def test_a_message_sent_twice_to_two_workers_at_once_is_kept_and_counted_once(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    message = event("0042", TicketEvent.ISSUED, -10)
    begin = threading.Barrier(2)
    for worker in workers:
        side_by_side(begin, worker.store, "lock_keys")
    outcomes = run_together(lambda: a.send([message]), lambda: b.send([message]))
    assert sorted((o.accepted, o.duplicates) for o in outcomes) == [(0, 1), (1, 0)]
    assert b.store.message_counts()["ticket"] == 1


def test_a_large_batch_and_a_small_one_of_the_same_device_commit_one_after_the_other(
    workers: tuple[Worker, Worker],
) -> None:
    """A batch of many devices (more than the advisory locks a batch holds) and a batch of one of them: both
    read the device's numbered stream together unless the locks keep them apart; read together, one would
    overwrite the other's numbers and leave a gap that never closes (seen in bench/bench_country.py)."""
    a, b = workers

    def numbered(desk: str, seq: int) -> QueueMessage:
        return QueueMessage(
            id=f"{desk}-{seq}", ts=NOW, site=SITE, desk=desk, length=1, source=QueueSource.CAMERA, seq=seq,
            stream=f"s-{desk}",
        )  # fmt: skip

    many = [numbered("q01", 2)] + [numbered(f"d{n:03d}", 1) for n in range(300)]
    begin, read = threading.Barrier(2), threading.Barrier(2)
    for worker in workers:
        side_by_side(begin, worker.store, "lock_keys")
        side_by_side(read, worker.store, "stream_losses")
    run_together(lambda: a.send(many), lambda: b.send([numbered("q01", 1)]))
    [stream] = a.store.stream_losses([(SITE, "q01")])
    assert (stream.highest, stream.missing, stream.gaps) == (2, 0, [])


def test_two_batches_of_the_same_desks_in_opposite_orders_commit_side_by_side_without_a_deadlock(
    workers: tuple[Worker, Worker],
) -> None:
    """Heartbeats and numbered samples of the same 40 known desks reach both workers at once, one batch in the
    opposite order of the other: a desk's row of nodes and of its stream is written by both, neither batch
    holding the other's locks from its start. Both commit (a deadlock between them would fail one with an error
    here), and each desk keeps its newest heartbeat and all its numbers (neither overwrote the other's)."""
    a, b = workers
    desks = [f"d{n:02d}" for n in range(40)]

    def messages(seq: int, minutes: int) -> list[Envelope]:
        out: list[Envelope] = []
        for desk in desks:
            at = NOW + timedelta(minutes=minutes)
            out.append(
                HeartbeatMessage(id=f"{desk}-hb-{seq}", ts=at, site=SITE, desk=desk, uptime_s=60.0 * seq, spool_depth=0)
            )
            sample = QueueMessage(
                id=f"{desk}-q-{seq}", ts=at, site=SITE, desk=desk, length=seq, source=QueueSource.CAMERA, seq=seq,
                stream=f"s-{desk}",
            )  # fmt: skip
            out.append(sample)
        return out

    a.send(messages(1, -3))  # the desks are known (their units and nodes exist): the rows are updated, not added
    begin = threading.Barrier(2)
    for worker in workers:
        side_by_side(begin, worker.store, "claim_messages")
    outcomes = run_together(lambda: a.send(messages(2, -2)), lambda: b.send(messages(3, -1)[::-1]))
    assert [o.accepted for o in outcomes] == [80, 80]
    nodes = {node.desk: node for node in a.store.nodes()}
    assert all(nodes[desk].heartbeat and nodes[desk].heartbeat["uptime_s"] == 180.0 for desk in desks)
    streams = {s.desk: s for s in a.store.stream_losses([(SITE, desk) for desk in desks])}
    assert all((streams[desk].highest, streams[desk].missing) == (3, 0) for desk in desks)


def test_two_boards_evaluating_the_same_desk_raise_and_clear_its_alert_once(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    a.send([event("0007", TicketEvent.ISSUED, -20)])  # 20 minutes waiting: past the 15-minute target
    for worker in workers:
        worker.processor.restore(NOW)  # both boards know the ticket, as through the live feed

    def tick_together(at: datetime) -> list[AlertMessage]:
        barrier = threading.Barrier(2)

        def tick(worker: Worker) -> list[AlertMessage]:
            barrier.wait(timeout=5)
            return worker.processor.tick(at)

        raised = [alert for alerts in run_together(lambda: tick(a), lambda: tick(b)) for alert in alerts]
        return [alert for alert in raised if alert.alert is AlertType.WAIT_TARGET_BROKEN]

    raised = tick_together(NOW)
    assert [(x.site, x.desk, x.state) for x in raised] == [(SITE, "q01", AlertState.RAISED)]
    for worker in workers:  # the worker that lost the claim keeps the alert active too
        assert AlertType.WAIT_TARGET_BROKEN in {x.alert for x in worker.board.active_alerts()}
    assert tick_together(NOW + timedelta(minutes=1)) == []

    a.send([event("0007", TicketEvent.CALLED, 2)], now=NOW + timedelta(minutes=2))
    for worker in workers:
        worker.board.reset()
        worker.processor.restore(NOW + timedelta(minutes=2))
    cleared = tick_together(NOW + timedelta(minutes=2))
    assert [(x.desk, x.state) for x in cleared] == [("q01", AlertState.CLEARED)]
    kept = [x for x in a.store.alerts(SITE) if x.alert is AlertType.WAIT_TARGET_BROKEN]
    assert sorted(x.state.value for x in kept) == ["cleared", "raised"]


def test_a_restarted_worker_keeps_an_alert_raised_before_and_clears_it_once(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    a.send([event("0009", TicketEvent.ISSUED, -20)])
    a.processor.restore(NOW)
    raised = a.processor.tick(NOW)
    assert AlertType.WAIT_TARGET_BROKEN in {x.alert for x in raised}
    b.processor.restore(NOW + timedelta(minutes=1))  # a worker started later: the alert is already raised
    assert {x.id for x in b.board.active_alerts()} == {x.id for x in raised}
    assert b.processor.tick(NOW + timedelta(minutes=1)) == []


def test_live_changes_travel_in_notifications_within_the_size_limit() -> None:
    events = [event("0001", TicketEvent.ISSUED, -20), event("0001", TicketEvent.CALLED, -15)]
    visit = build_visit("0001", [TicketEventRecord(e.id, e.ts, e.desk, e.event, e.staff, e.service) for e in events])
    changes: list[Any] = [VisitChange(SITE, DAY, visit)] * 200
    texts = list(payloads(changes, limit=2000))
    assert len(texts) > 1 and all(len(t.encode()) <= 2000 for t in texts)
    decoded = [c for t in texts for c in read_payload(f"77 {t}")[1]]
    assert decoded == changes
    assert decode_change(encode_change(changes[0])) == changes[0]
    snapshot = Snapshot.parse("100:105:101,103")
    assert [x for x in range(98, 108) if snapshot.holds(x)] == [98, 99, 100, 102, 104]
