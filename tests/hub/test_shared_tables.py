"""What a hub worker keeps beside the ingest is in the record, shared by every worker of it, on both engines:
the audit log, the dashboard sessions, the evaluation entries and the alert outbox. Two stores opened on one
record stand for two workers; alert deliveries go to a real HTTP receiver on loopback."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.audit import AuditLog
from hub.config import HubSettings, load_settings
from hub.migrations import HEAD
from hub.notify import Notifier
from hub.notify.outbox import Outbox
from hub.processor import Incoming
from hub.reports.evaluation_entries import EntryStore, read_entries
from hub.runtime import HubRuntime, alert_json
from hub.sessions import SessionStore
from hub.store import Store, open_store
from protocol.messages import AlertMessage, AlertType, TicketEvent, TicketMessage
from tests.support.clock import Clock
from tests.support.receivers import WebhookReceiver, wait_for

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 09:00 in Việt Nam


@pytest.fixture()
def two_workers(record_url: str) -> Iterator[tuple[Store, Store]]:
    """Two stores on one record, as two hub workers hold them."""
    first, second = open_store(record_url), open_store(record_url)
    yield first, second
    first.close()
    second.close()


def test_an_audit_entry_written_by_one_worker_is_read_by_the_other(two_workers: tuple[Store, Store]) -> None:
    moments = iter(T0 + timedelta(minutes=i) for i in range(10))
    clock = lambda: next(moments)  # noqa: E731 -- one clock for both workers: their entries interleave
    a, b = (AuditLog(store.connect(), clock=clock) for store in two_workers)
    try:
        a.record("lan", "report.evaluation.export", "tu-son", {"year": 2026, "định_dạng": "pdf"})
        b.record("quantri", "user.sessions.revoke", "lan", {"sessions": 2})
        a.record("lan", "feedback.text.read", "tu-son")
        for log in (a, b):
            entries = log.entries()
            assert [(e.actor, e.action) for e in entries] == [
                ("lan", "feedback.text.read"),
                ("quantri", "user.sessions.revoke"),
                ("lan", "report.evaluation.export"),
            ]
            assert entries[-1].detail == {"year": 2026, "định_dạng": "pdf"} and entries[-1].at == T0
            assert [e.action for e in log.entries(action_prefix="user.")] == ["user.sessions.revoke"]
            assert [e.seq for e in log.entries(before_seq=entries[0].seq, limit=1)] == [entries[1].seq]
        assert b.purge_before(T0 + timedelta(minutes=1)) == 1
        assert [e.action for e in a.entries()] == ["feedback.text.read", "user.sessions.revoke"]
    finally:
        a.close()
        b.close()


def test_a_session_made_by_one_worker_is_accepted_and_ended_by_the_other(two_workers: tuple[Store, Store]) -> None:
    a, b = (SessionStore(store.connect) for store in two_workers)
    try:
        now = 1_800_000_000.0
        first = a.issue("giamsat", now, now + 3600)
        second = a.issue("giamsat", now, now + 3600)
        assert b.active(first, "giamsat", now + 10) and b.count("giamsat", now + 10) == 2
        assert not b.active(first, "xem", now + 10)  # the id names its user
        assert not b.active(first, "giamsat", now + 3601)  # expired everywhere
        assert b.revoke(first, now + 20)  # logout through the other worker
        assert not a.active(first, "giamsat", now + 21) and a.active(second, "giamsat", now + 21)
        assert a.revoke_user("giamsat", now + 30) == 1  # an admin's revoke ends the rest
        assert not b.active(second, "giamsat", now + 31) and b.count("giamsat", now + 31) == 0
    finally:
        a.close()
        b.close()


def test_an_evaluation_entry_made_through_one_worker_is_read_by_the_other(two_workers: tuple[Store, Store]) -> None:
    clock = Clock(T0)
    a, b = (EntryStore(store.connect(), clock=clock) for store in two_workers)
    try:
        a.add("giamsat", "cb-an", "general", "2026-02", 26, general_max=30, note="làm tốt")
        b.add("truongphong", "cb-an", "transfer", None, 1, general_max=30, day=date(2026, 7, 1), site="bn-tu-son")
        a.add("giamsat", "cb-an", "general", "2026-02", 27, general_max=30, note="sửa lại")
        b.add("giamsat", "cb-binh", "days_off", "2025-12", 2, general_max=30)
        for entries in (a, b):
            made = entries.entries(year=2026, staff="cb-an")
            assert [(e.actor, e.kind.value, e.month, e.value, e.site, e.note) for e in made] == [
                ("giamsat", "general", "2026-02", 26.0, None, "làm tốt"),
                ("truongphong", "transfer", "2026-07", 1.0, "bn-tu-son", ""),
                ("giamsat", "general", "2026-02", 27.0, None, "sửa lại"),
            ]
            assert made[1].day == date(2026, 7, 1) and made[0].seq < made[1].seq < made[2].seq
        a.store_months([("cb-an", "2026-02", "chuyen-vien", {"points": 88.5})])
        b.store_months([("cb-an", "2026-02", "chuyen-vien", {"points": 91})])  # the latest result replaces it
        assert [(m["month"], m["points"]) for m in a.stored_months("cb-an", 2026)] == [("2026-02", 91)]
        # what the Decree 335 pack reads, from any connection to the record
        conn = two_workers[1].connect()
        try:
            assert [(e.staff, e.value) for e in read_entries(conn, 2025)] == [("cb-binh", 2.0)]
        finally:
            conn.close()
    finally:
        a.close()
        b.close()


def webhook_settings(receiver: WebhookReceiver, **notify: Any) -> HubSettings:
    recipients = [{"id": "ioc", "name": "Trung tâm IOC", "webhook": receiver.url, "kinds": ["wait_target_broken"]}]
    return load_settings().with_overrides(notify={"recipients": recipients, **notify})


def wait_alert(desk: str, at: datetime) -> AlertMessage:
    return AlertMessage(
        ts=at, site="bn-hcc", desk=desk, alert=AlertType.WAIT_TARGET_BROKEN, severity="critical", message="chờ lâu"
    )


def test_two_workers_make_each_due_delivery_once(two_workers: tuple[Store, Store]) -> None:
    with WebhookReceiver(delay_s=0.02) as receiver:
        settings = webhook_settings(receiver)
        notifiers = [Notifier(settings, store, alert_json, worker=f"w{i}") for i, store in enumerate(two_workers)]
        alerts = [wait_alert(f"q{n:02d}", datetime.now(UTC)) for n in range(1, 13)]
        try:
            for notifier in notifiers:
                notifier.start()
            for notifier in notifiers:  # both workers hand every alert over (e.g. each caught it up at start)
                notifier.submit(alerts)
            sent = wait_for(
                lambda: notifiers[1].outbox.counts() == {"pending": 0, "sent": 12, "failed": 0}, 20, "12 sent"
            )
            assert sent
            assert sorted(body["id"] for body in receiver.bodies()) == sorted(a.id for a in alerts)
            log = notifiers[0].outbox.deliveries()
            assert len(log) == 12 and all(len(d["attempt_log"]) == 1 for d in log)
        finally:
            for notifier in notifiers:
                notifier.close()


def test_a_delivery_claimed_by_a_worker_that_died_is_sent_by_another_after_the_lease(
    two_workers: tuple[Store, Store],
) -> None:
    with WebhookReceiver() as receiver:
        settings = webhook_settings(receiver, lease_s=120)
        dead = Outbox(two_workers[0].connect())  # took the alert in, claimed its delivery, then was killed
        raised = wait_alert("q01", T0)
        dead.take_alert(raised, "2026-11-30")
        dead.add_delivery(raised.id, "ioc", "webhook", "first", T0, T0)
        claimed = dead.claim_due("webhook", T0, "dead-worker", T0 + timedelta(seconds=120))
        assert claimed is not None and claimed.alert_id == raised.id
        clock = Clock(T0 + timedelta(seconds=119))
        notifier = Notifier(settings, two_workers[1], alert_json, clock=clock, worker="alive")
        try:
            assert notifier.outbox.claim_due("webhook", clock.now, "alive", clock.now + timedelta(seconds=120)) is None
            assert notifier.outbox.next_due("webhook") == T0 + timedelta(seconds=120)  # it waits for the lease
            clock.now = T0 + timedelta(seconds=121)
            notifier.start()
            posts = wait_for(lambda: receiver.bodies(id=raised.id), 10, "the delivery taken over after the lease")
            wait_for(lambda: notifier.outbox.counts()["sent"] == 1, 10, "the taken-over delivery logged")
            assert len(posts) == 1 and dead.counts() == {"pending": 0, "sent": 1, "failed": 0}
        finally:
            notifier.close()
            dead.close()


def test_a_restarted_worker_sends_at_once_what_it_held_when_it_died(two_workers: tuple[Store, Store]) -> None:
    with WebhookReceiver() as receiver:
        settings = webhook_settings(receiver)
        before = Outbox(two_workers[0].connect())  # the worker, before it was killed mid-send
        raised = wait_alert("q01", T0)
        before.take_alert(raised, "2026-11-30")
        before.add_delivery(raised.id, "ioc", "webhook", "first", T0, T0)
        assert before.claim_due("webhook", T0, "may-1/hub-a", T0 + timedelta(seconds=300)) is not None
        before.close()
        restarted = Notifier(
            settings, two_workers[1], alert_json, clock=Clock(T0 + timedelta(seconds=5)), worker="may-1/hub-a"
        )
        other = Outbox(two_workers[1].connect())
        try:
            restarted.start()
            wait_for(lambda: receiver.bodies(id=raised.id), 10, "the held delivery sent by the restarted worker")
            wait_for(lambda: other.counts()["sent"] == 1, 10, "the delivery logged as sent")
            assert len(receiver.bodies()) == 1
        finally:
            restarted.close()
            other.close()


def test_an_acknowledgement_through_one_worker_stops_the_escalation_of_the_other(
    two_workers: tuple[Store, Store],
) -> None:
    with WebhookReceiver() as receiver:
        recipients = [
            {
                "id": "gd",
                "name": "Nguyễn Văn An",
                "webhook": receiver.url,
                "escalation": {"to": "pho", "after_minutes": 10},
            },
            {"id": "pho", "name": "Hoàng Văn Em", "webhook": receiver.url, "sites": []},
        ]
        settings = load_settings().with_overrides(notify={"recipients": recipients})
        clock = Clock(T0)
        a, b = (
            Notifier(settings, store, alert_json, clock=clock, worker=f"w{i}") for i, store in enumerate(two_workers)
        )
        acknowledged, ignored = wait_alert("q01", T0), wait_alert("q02", T0)
        try:
            a.start()
            a.submit([acknowledged, ignored])
            wait_for(lambda: len(receiver.bodies(escalation=False)) == 2, 10, "both alerts to the first person")
            assert a.acknowledge(acknowledged.id, "giamsat") is not None
            a.close()  # worker A is gone: only B can escalate now
            b.start()
            assert b.annotate([{"id": acknowledged.id}])[0]["acknowledged_by"] == "giamsat"
            clock.now = T0 + timedelta(minutes=10, seconds=1)
            b.wake()
            escalated = wait_for(lambda: receiver.bodies(escalation=True), 10, "the escalation of the ignored alert")
            wait_for(lambda: b.outbox.escalations(acknowledged.id)[0]["status"] != "waiting", 10, "the decision")
            assert [body["id"] for body in escalated] == [ignored.id]
            assert [e["status"] for e in b.outbox.escalations(acknowledged.id)] == ["acknowledged"]
            assert [e["status"] for e in b.outbox.escalations(ignored.id)] == ["sent"]
        finally:
            a.close()
            b.close()


def test_an_sqlite_record_of_the_previous_release_keeps_its_tables_in_place(tmp_path: Any) -> None:
    path = tmp_path / "hub.db"
    store = open_store(f"sqlite:///{path}")
    store.close()
    with sqlite3.connect(path) as conn:  # as the previous release left it: at 0003, an outbox without claims
        conn.execute("UPDATE alembic_version SET version_num = '0003'")
        conn.execute("DROP TABLE notify_outbox")
        conn.execute(
            "CREATE TABLE notify_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, "
            "recipient TEXT NOT NULL, channel TEXT NOT NULL, stage TEXT NOT NULL, created_at TEXT NOT NULL, "
            "due_at TEXT NOT NULL, held INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending', "
            "attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, sent_at TEXT, "
            "UNIQUE (alert_id, recipient, channel, stage))"
        )
        conn.execute(
            "INSERT INTO notify_alerts VALUES ('a1', 'a1', 'bn-hcc', 'q01', 'wait_target_broken', 'raised', "
            f"'{T0.isoformat()}', '2026-11-30', '{wait_alert('q01', T0).model_dump_json()}', NULL)"
        )
        conn.execute(
            "INSERT INTO notify_outbox (alert_id, recipient, channel, stage, created_at, due_at) "
            f"VALUES ('a1', 'ioc', 'webhook', 'first', '{T0.isoformat()}', '{T0.isoformat()}')"
        )
        conn.execute(
            "INSERT INTO audit_log (at, actor, action, target, detail) "
            f"VALUES ('{T0.isoformat()}', 'lan', 'feedback.text.read', 'tu-son', '{{}}')"
        )
        conn.execute("INSERT INTO sessions (id, user, issued_at, expires_at) VALUES ('s1', 'lan', 1, 9e9)")
    store = open_store(f"sqlite:///{path}")
    try:
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
        audit, sessions, outbox = AuditLog(store.connect()), SessionStore(store.connect), Outbox(store.connect())
        assert [e.action for e in audit.entries()] == ["feedback.text.read"]
        assert sessions.active("s1", "lan", 2)
        pending = outbox.claim_due("webhook", T0, "w0", T0 + timedelta(minutes=5))
        assert pending is not None and pending.alert_id == "a1"
        for part in (audit, sessions, outbox):
            part.close()
    finally:
        store.close()


def worker(settings: HubSettings, url: str, name: str) -> HubRuntime:
    """A hub worker's runtime on the record, not connected to any broker: its processor and its notifier."""
    return HubRuntime(settings.with_overrides(mqtt={"client_id": name}), open_store(url))


def waiting_since(minutes: int, ticket: str = "0007") -> Incoming:
    issued = TicketMessage(
        id=f"{ticket}-issued", ts=T0 - timedelta(minutes=minutes), site="bn-hcc", desk="q01",
        event=TicketEvent.ISSUED, ticket=ticket, service="dat-dai",
    )  # fmt: skip
    return Incoming(issued.topic, issued.to_payload(), T0)


def test_an_alert_raised_by_a_worker_killed_right_after_its_commit_is_delivered_once(record_url: str) -> None:
    """The worker that raised an alert dies between the commit that records it and anything after (handing it to
    its notifier, publishing it): its deliveries were queued in that same transaction, and another worker (on
    SQLite: the hub started again) sends them, once. No catch-up at start helps here (``catch_up_minutes`` 0,
    and the other worker was running before the raise)."""
    with WebhookReceiver() as receiver:
        settings = webhook_settings(receiver, catch_up_minutes=0)
        killed, alive = worker(settings, record_url, "hub-a"), worker(settings, record_url, "hub-b")
        try:
            alive.notifier.start()
            killed.processor.process([waiting_since(20)], T0)  # 20 minutes waiting: past the 15-minute target
            raised = [a for a in killed.processor.tick(T0) if a.alert is AlertType.WAIT_TARGET_BROKEN]
            killed.store.close()  # killed: its runtime neither wakes its notifier nor publishes the alert
            assert len(raised) == 1
            wait_for(lambda: receiver.bodies(id=raised[0].id), 10, "the alert delivered by the surviving worker")
            wait_for(lambda: alive.notifier.outbox.counts()["sent"] == 1, 10, "the delivery logged as sent")
            alive.processor.restore(T0 + timedelta(minutes=1))  # the survivor's board holds it raised already
            assert alive.processor.tick(T0 + timedelta(minutes=1)) == []
            assert alive.notifier.outbox.counts() == {"pending": 0, "sent": 1, "failed": 0}
            assert len(receiver.bodies()) == 1
        finally:
            alive.close()
            killed.notifier.close()
            killed.audit.close()


def test_two_workers_ticking_together_deliver_the_alert_once(record_url: str) -> None:
    with WebhookReceiver() as receiver:
        settings = webhook_settings(receiver, catch_up_minutes=0)
        pair = [worker(settings, record_url, name) for name in ("hub-a", "hub-b")]
        try:
            pair[0].processor.process([waiting_since(20, "0008")], T0)
            barrier = threading.Barrier(2)

            def tick(runtime: HubRuntime) -> list[AlertMessage]:
                runtime.processor.restore(T0)  # both boards know the ticket, as through the live feed
                runtime.notifier.start()
                barrier.wait(timeout=10)
                return runtime.processor.tick(T0)

            with ThreadPoolExecutor(2) as pool:
                ticked = [
                    a for alerts in pool.map(tick, pair) for a in alerts if a.alert is AlertType.WAIT_TARGET_BROKEN
                ]
            assert len(ticked) == 1  # raised by one worker only
            wait_for(lambda: receiver.bodies(id=ticked[0].id), 10, "the alert delivered")
            wait_for(lambda: pair[1].notifier.outbox.counts()["sent"] == 1, 10, "the delivery logged as sent")
            assert pair[0].notifier.outbox.counts() == {"pending": 0, "sent": 1, "failed": 0}
            assert len(receiver.bodies()) == 1
        finally:
            for runtime in pair:
                runtime.close()
