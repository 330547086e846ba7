"""The audit log keeps who did what, newest first, and survives a reopen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.audit import AuditLog


def test_entries_are_kept_newest_first_and_survive_reopen(tmp_path):
    path = tmp_path / "record.db"
    moments = iter([datetime(2026, 3, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=i) for i in range(10)])
    log = AuditLog(path, clock=lambda: next(moments))
    log.record("lan", "report.evaluation.export", "tu-son", {"year": 2026, "format": "pdf"})
    log.record("admin", "user.password.change", "lan")
    log.record("lan", "feedback.text.read", "tu-son")
    log.close()

    reopened = AuditLog(path)
    entries = reopened.entries()
    assert [(e.actor, e.action) for e in entries] == [
        ("lan", "feedback.text.read"),
        ("admin", "user.password.change"),
        ("lan", "report.evaluation.export"),
    ]
    assert entries[-1].detail == {"year": 2026, "format": "pdf"}
    assert entries[-1].at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert [e.action for e in reopened.entries(action_prefix="report.")] == ["report.evaluation.export"]
    assert [e.action for e in reopened.entries(actor="admin")] == ["user.password.change"]
    assert [e.seq for e in reopened.entries(before_seq=entries[0].seq, limit=1)] == [entries[1].seq]


def test_a_prefix_with_like_wildcards_matches_literally(tmp_path):
    log = AuditLog(tmp_path / "record.db")
    log.record("a", "report_x", "u")
    log.record("a", "reportYx", "u")
    assert [e.action for e in log.entries(action_prefix="report_")] == ["report_x"]


def test_purge_removes_only_older_entries(tmp_path):
    moments = iter([datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)])
    log = AuditLog(tmp_path / "record.db", clock=lambda: next(moments))
    log.record("a", "old", "u")
    log.record("a", "new", "u")
    assert log.purge_before(datetime(2025, 1, 1, tzinfo=UTC)) == 1
    assert [e.action for e in log.entries()] == ["new"]
