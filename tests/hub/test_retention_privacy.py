"""Retention and personal-data documents: the purge removes what the configuration no longer allows and keeps
each unit's daily figures; a comment is erased on request; the impact assessment and the notices follow the
configuration. The purge and the erasure run on both engines (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hub.audit import AuditLog
from hub.cli import main
from hub.config import HubSettings
from hub.connection import connect
from hub.privacy_docs import camera_notice, dpia_markdown, dpia_pdf, kiosk_notice
from hub.retention import DailyPurge
from hub.rollups import rebuild
from hub.runtime import HubRuntime
from protocol.messages import FeedbackMessage, Sentiment
from tests.hub.reports.conftest import RecordBuilder, at

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
OLD_DAY = "2019-05-06"  # beyond five years
KEPT_DAY = "2024-03-04"  # within five years
STALE_TEXT_DAY = "2026-05-04"  # a comment text older than 90 days
FRESH_TEXT_DAY = "2026-11-20"


def comment_with_text(builder: RecordBuilder, message_id: str, day: str, text: str) -> None:
    message = FeedbackMessage(
        id=message_id,
        ts=at(day, "09:00"),
        site="bn-tu-son",
        desk="q01",
        sentiment=Sentiment.NEGATIVE,
        confidence=0.8,
        consent=True,
        text=text,
    )
    with builder.store.transaction():
        builder.store.add_message(message, message.to_payload(), message.ts)
        builder.store.add_feedback(message, day)


@pytest.fixture()
def record(record_url: str) -> tuple[RecordBuilder, HubSettings]:
    builder = RecordBuilder(record_url)
    for n, day in enumerate((OLD_DAY, OLD_DAY, KEPT_DAY)):
        builder.minutes("bn-tu-son", day, f"A{n}", wait_min=10 + n, service_min=5, staff="cb01")
        builder.rating("bn-tu-son", day, "09:30", 4, ticket=f"A{n}")
    comment_with_text(builder, "old-comment", OLD_DAY, "Rất lâu")
    comment_with_text(builder, "stale-comment", STALE_TEXT_DAY, "Cán bộ nhiệt tình")
    comment_with_text(builder, "fresh-comment", FRESH_TEXT_DAY, "Cần thêm ghế chờ")
    builder.save()
    settings = builder.settings.with_overrides(
        database=builder.url, retention={"comment_text_days": 90, "ticket_records_years": 5, "audit_years": 5}
    )
    return builder, settings


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    conn = connect(url)
    try:
        return [tuple(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def test_the_purge_keeps_what_is_allowed_and_the_daily_figures_of_what_goes(
    record: tuple[RecordBuilder, HubSettings],
) -> None:
    builder, settings = record
    old_audit = AuditLog(builder.connect(), clock=lambda: datetime(2020, 1, 1, tzinfo=UTC))
    old_audit.record("lan", "report.evaluation.read", "2019")
    old_audit.close()
    runtime = HubRuntime(settings)
    try:
        runtime.audit.record("lan", "report.evaluation.read", "2026")
        before = runtime.site_stats("bn-tu-son", date.fromisoformat(OLD_DAY))
        outcome = runtime.purge(NOW)
        after = runtime.site_stats("bn-tu-son", date.fromisoformat(OLD_DAY))
    finally:
        runtime.close()
    # The dashboard's day figures of a purged day are the ones kept, not zeros.
    assert (before["transactions"], before["mean_wait_s"]) == (2, 630.0)
    assert (after["transactions"], after["mean_wait_s"]) == (2, 630.0)

    path = builder.url
    assert rows(path, "SELECT DISTINCT day FROM visits ORDER BY day") == [(KEPT_DAY,)]
    assert rows(path, "SELECT DISTINCT day FROM ratings") == [(KEPT_DAY,)]
    # The old day's figures survive the per-ticket rows: two served visits, waits of 10 and 11 minutes.
    (figures,) = rows(path, f"SELECT figures FROM daily_figures WHERE site = 'bn-tu-son' AND day = '{OLD_DAY}'")[0]
    assert '"transactions": 2' in str(figures) and '"mean_wait_s": 630.0' in str(figures)
    comments = dict(rows(path, "SELECT id, text FROM feedback"))  # type: ignore[arg-type]
    # the old one went entirely (feedback rows are keyed per device: unit/desk/message id)
    assert comments == {"bn-tu-son/q01/stale-comment": None, "bn-tu-son/q01/fresh-comment": "Cần thêm ghế chờ"}
    assert rows(path, "SELECT sentiment FROM feedback WHERE id = 'bn-tu-son/q01/stale-comment'") == [("negative",)]
    (payload,) = rows(path, "SELECT payload FROM messages WHERE id = 'stale-comment'")[0]
    assert "Cán bộ" not in str(payload) and "negative" in str(payload)
    assert rows(path, "SELECT COUNT(*) FROM messages WHERE id = 'old-comment'") == [(0,)]
    audit = AuditLog(builder.connect())
    assert [e.target for e in audit.entries(action_prefix="report.")] == ["2026"]
    (purge_entry,) = audit.entries(action_prefix="retention.purge")
    assert purge_entry.detail == outcome.as_dict()
    assert (outcome.comment_texts, outcome.days_summarised, outcome.audit_entries) == (2, 1, 1)


def test_the_purge_takes_the_officer_roll_ups_of_the_days_it_purges(record: tuple[RecordBuilder, HubSettings]) -> None:
    builder, settings = record
    rebuild(builder.store, date.fromisoformat(OLD_DAY), date.fromisoformat(FRESH_TEXT_DAY))
    officer_days = "SELECT day, staff, transactions FROM rollup_desk_days WHERE staff <> '' ORDER BY day"
    assert rows(builder.url, officer_days) == [(OLD_DAY, "cb01", 2), (KEPT_DAY, "cb01", 1)]
    old_rows = rows(builder.url, f"SELECT COUNT(*) FROM rollup_desk_days WHERE day = '{OLD_DAY}'")[0][0]
    runtime = HubRuntime(settings)
    try:
        outcome = runtime.purge(NOW)
    finally:
        runtime.close()
    # The officer's figures of the purged day went with its per-ticket records; those of the kept day stay.
    assert rows(builder.url, officer_days) == [(KEPT_DAY, "cb01", 1)]
    assert rows(builder.url, f"SELECT COUNT(*) FROM rollup_desk_days WHERE day < '{KEPT_DAY}'") == [(0,)]
    assert outcome.officer_rollup_rows == old_rows
    # The unit's day (no person in it) stays, as its daily figures do.
    assert rows(builder.url, "SELECT day, visits FROM rollup_unit_days ORDER BY day") == [(OLD_DAY, 2), (KEPT_DAY, 1)]


def test_purge_and_erase_from_the_command_line(
    record: tuple[RecordBuilder, HubSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    builder, _ = record
    erase = ["privacy", "erase-comment", "bn-tu-son", "q01", "fresh-comment"]
    assert main([*erase, "--by", "lan", "--database", builder.url]) == 0
    assert "erased" in capsys.readouterr().out
    assert rows(builder.url, "SELECT text FROM feedback WHERE id = 'bn-tu-son/q01/fresh-comment'") == [(None,)]
    (payload,) = rows(builder.url, "SELECT payload FROM messages WHERE id = 'fresh-comment'")[0]
    assert "ghế chờ" not in str(payload)
    assert main([*erase, "--database", builder.url]) == 1
    assert "no comment text" in capsys.readouterr().err
    entries = AuditLog(builder.connect()).entries(action_prefix="feedback.text.erase")
    assert [(e.actor, e.detail["erased"]) for e in entries] == [(entries[0].actor, False), ("lan", True)]

    assert main(["purge", "--database", builder.url]) == 0  # the sample config: 180 days of texts, 5 years
    assert "ticket_rows" in capsys.readouterr().out
    assert rows(builder.url, "SELECT DISTINCT day FROM visits WHERE day = '2019-05-06'") == []


def test_the_daily_purge_runs_again_and_survives_a_failure() -> None:
    calls: list[int] = []
    twice = threading.Event()

    def run() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database locked")
        twice.set()

    purge = DailyPurge(run, interval_s=0.01, first_s=0.0)
    purge.start()
    try:
        assert twice.wait(timeout=10)
    finally:
        purge.stop()


def test_the_impact_assessment_and_notices_follow_the_configuration(tmp_path: Path) -> None:
    settings = HubSettings.model_validate(
        {
            **RecordBuilder(f"sqlite:///{tmp_path / 'r.db'}").settings.model_dump(),
            "retention": {"comment_text_days": 45, "ticket_records_years": 3, "audit_years": 7},
            "privacy": {"controller": "UBND tỉnh Bắc Ninh", "contact": "Hotline 1022, email mot-cua@bacninh.gov.vn"},
        }
    )
    text = dpia_markdown(settings, NOW)
    assert text.startswith("# Hồ sơ đánh giá tác động xử lý dữ liệu cá nhân")
    for expected in (
        "UBND tỉnh Bắc Ninh",
        "Hotline 1022",
        "Nội dung chữ: 45 ngày",
        "3 năm, sau đó chỉ giữ số liệu tổng hợp",
        "Nhật ký: 7 năm",
        "91/2025/QH15",
        "Hình ảnh camera tại quầy và sảnh chờ",
        "Không lưu: mỗi khung hình bị hủy ngay",
        "/api/v1/reports/evaluation: từ vai trò quản trị",
    ):
        assert expected in text, expected
    pdf = dpia_pdf(settings, NOW)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page>") >= 1

    camera = camera_notice(settings)
    assert "không lưu hình ảnh" in camera and "Hotline 1022" in camera and "Điều 32" in camera
    assert "3 năm" in camera
    kiosk = kiosk_notice(settings)
    assert "45 ngày" in kiosk and "ô đồng ý" in kiosk and "UBND tỉnh Bắc Ninh" in kiosk


def test_the_cli_writes_the_assessment_as_markdown_and_pdf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["privacy", "dpia", "--format", "pdf", "-o", str(tmp_path / "dpia.pdf")]) == 0
    assert (tmp_path / "dpia.pdf").read_bytes().startswith(b"%PDF")
    assert main(["privacy", "dpia"]) == 0
    assert "## 2. Dữ liệu, mục đích, cơ sở pháp lý, thời hạn lưu" in capsys.readouterr().out
    assert main(["privacy", "notice", "kiosk"]) == 0
    assert "ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG" in capsys.readouterr().out
