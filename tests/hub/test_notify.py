"""Alert delivery settings, quiet hours and back-off, and the quiet-hours hold against a real SMTP server with the
clock moved by the test; the Fisher test of the three voices against published values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from hub.config import load_settings
from hub.notify import Notifier
from hub.notify.settings import QuietHours, RetrySettings
from hub.runtime import alert_json
from hub.sqlite_store import SqliteStore
from hub.voices import fisher_exact_p
from protocol.errors import ConfigError
from protocol.messages import AlertMessage, AlertState, AlertType
from tests.support.clock import Clock
from tests.support.receivers import Mailbox, wait_for

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


@pytest.mark.parametrize(
    ("start", "end", "now", "release"),
    [
        (time(21), time(7), "2026-11-29 22:30", "2026-11-30 07:00"),
        (time(21), time(7), "2026-11-29 21:00", "2026-11-30 07:00"),
        (time(21), time(7), "2026-11-30 06:59", "2026-11-30 07:00"),
        (time(21), time(7), "2026-11-30 07:00", None),
        (time(21), time(7), "2026-11-30 12:00", None),
        (time(12), time(13, 30), "2026-11-30 12:15", "2026-11-30 13:30"),
        (time(12), time(13, 30), "2026-11-30 13:30", None),
        (time(12), time(13, 30), "2026-11-30 11:59", None),
    ],
)
def test_quiet_hours_hold_until_their_end(start: time, end: time, now: str, release: str | None) -> None:
    quiet = QuietHours(start=start, end=end)
    assert quiet.release_at(local(now)) == (local(release) if release else None)


def test_back_off_doubles_up_to_the_longest_pause() -> None:
    retry = RetrySettings(first_delay_s=10, max_delay_s=900)
    assert [retry.delay_after(n) for n in (1, 2, 3, 4, 7, 8, 20)] == [10, 20, 40, 80, 640, 900, 900]


def write_config(tmp_path: Path, notify: dict[str, Any]) -> Path:
    path = tmp_path / "hub.yaml"
    data = yaml.safe_load(Path("hub/default_config.yaml").read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**data, "notify": notify}, allow_unicode=True), encoding="utf-8")
    return path


RECIPIENT = {"id": "gd", "name": "Nguyễn Văn An", "email": "an@bn.vn"}
SMTP = {"host": "127.0.0.1", "sender": "canhbao@bn.vn"}


@pytest.mark.parametrize(
    ("notify", "expected"),
    [
        ({"recipients": [RECIPIENT]}, "a recipient has an email address but there is no smtp section"),
        ({"smtp": SMTP, "recipients": [{**RECIPIENT, "email": "khong-phai-thu"}]}, "notify.recipients.0.email"),
        ({"smtp": SMTP, "recipients": [{"id": "gd", "name": "An"}]}, "give an email address, a webhook URL or both"),
        (
            {"smtp": SMTP, "recipients": [{**RECIPIENT, "escalation": {"to": "ai-do", "after_minutes": 10}}]},
            "recipient gd: escalation.to 'ai-do' is not a recipient id",
        ),
        ({"smtp": SMTP, "recipients": [RECIPIENT, RECIPIENT]}, "recipient ids repeated: gd"),
        (
            {"smtp": SMTP, "recipients": [{**RECIPIENT, "quiet_hours": {"start": "21:00", "end": "21:00"}}]},
            "notify.recipients.0.quiet_hours",
        ),
        ({"smtp": SMTP, "recipients": [{**RECIPIENT, "kinds": ["mat_dien"]}]}, "notify.recipients.0.kinds.0"),
        ({"smtp": {**SMTP, "secruity": "none"}, "recipients": [RECIPIENT]}, "notify.smtp.secruity"),
        (
            {"smtp": {**SMTP, "timeout_s": 100}, "lease_s": 150, "recipients": [RECIPIENT]},
            "lease_s 150 is below twice the longest channel timeout (100 s)",
        ),
    ],
)
def test_config_errors_name_their_key(tmp_path: Path, notify: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match="notify") as error:
        load_settings(write_config(tmp_path, notify))
    assert expected in str(error.value)


def test_fisher_exact_test_matches_published_values() -> None:
    # Fisher's lady tasting tea, 3 of 4 cups right: two-sided p = 34/70.
    assert fisher_exact_p(3, 1, 1, 3) == pytest.approx(34 / 70)
    # The worked example of the Wikipedia article "Fisher's exact test" (1/9 against 11/3): p = 0.002759.
    assert fisher_exact_p(1, 9, 11, 3) == pytest.approx(0.002759, abs=5e-7)
    assert fisher_exact_p(5, 5, 5, 5) == pytest.approx(1.0)


@pytest.fixture()
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


def alert(kind: AlertType, at: datetime, desk: str) -> AlertMessage:
    return AlertMessage(
        ts=at,
        site="bn-hcc",
        desk=desk,
        alert=kind,
        severity="critical" if kind is AlertType.WAIT_TARGET_BROKEN else "warning",
        message=f"{desk}: cảnh báo thử",
    )


def test_quiet_hours_hold_non_critical_alerts_until_morning(tmp_path: Path, mailbox: Mailbox) -> None:
    settings = load_settings().with_overrides(
        notify={
            "smtp": {"host": "127.0.0.1", "port": mailbox.port, "security": "none", "sender": "canhbao@bn.vn"},
            "recipients": [{**RECIPIENT, "quiet_hours": {"start": "21:00", "end": "07:00"}}],
        }
    )
    clock = Clock(local("2026-11-29 22:00").astimezone(UTC))
    store = SqliteStore(tmp_path / "hub.db")
    notifier = Notifier(settings, store, alert_json, clock=clock)
    notifier.start()
    try:
        notifier.submit(
            [alert(AlertType.NODE_OFFLINE, clock.now, "q02"), alert(AlertType.WAIT_TARGET_BROKEN, clock.now, "q01")]
        )
        critical = wait_for(lambda: mailbox.to("an@bn.vn"), 10, "the critical alert during quiet hours")
        assert [m["Subject"] for m in critical] == [
            "[Nghiêm trọng] Vượt chỉ tiêu thời gian chờ: Quầy 1 – Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh"
        ]
        held = [d for d in notifier.outbox.deliveries() if d["alert"] == "node_offline"]
        assert [(d["held"], d["status"], d["due_at"]) for d in held] == [
            (True, "pending", local("2026-11-30 07:00").astimezone(UTC).isoformat(timespec="microseconds"))
        ]
        clock.now = local("2026-11-30 07:00:01").astimezone(UTC)
        notifier.wake()
        wait_for(lambda: len(mailbox.to("an@bn.vn")) == 2, 10, "the held alert after the quiet hours")
        morning = mailbox.to("an@bn.vn")[1]
        assert morning["Subject"] == (
            "[Cảnh báo] Thiết bị tại quầy mất kết nối: Quầy 2 – Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh"
        )
        assert "Phát sinh lúc: 22:00 ngày 29/11/2026 (giờ Việt Nam)" in morning.get_content()
        # the attempt is logged just after the server took the mail
        wait_for(lambda: notifier.outbox.counts() == {"pending": 0, "sent": 2, "failed": 0}, 10, "both logged as sent")
    finally:
        notifier.close()
        store.close()


def test_a_delivery_is_given_up_after_its_attempts_and_logged(tmp_path: Path) -> None:
    settings = load_settings().with_overrides(
        notify={
            "retry": {"first_delay_s": 0.05, "max_delay_s": 0.1, "max_attempts": 3},
            "recipients": [{"id": "ioc", "name": "Trung tâm IOC", "webhook": "http://127.0.0.1:9/khong-co"}],
        }
    )
    store = SqliteStore(tmp_path / "hub.db")
    notifier = Notifier(settings, store, alert_json)
    notifier.start()
    try:
        notifier.submit([alert(AlertType.WAIT_TARGET_BROKEN, datetime.now(UTC), "q01")])
        failed = wait_for(lambda: [d for d in notifier.outbox.deliveries() if d["status"] == "failed"], 10, "given up")
        assert failed[0]["attempts"] == 3 and len(failed[0]["attempt_log"]) == 3
        assert all(not a["ok"] and "webhook unreachable" in a["detail"] for a in failed[0]["attempt_log"])
        assert "khong-co" not in failed[0]["last_error"]  # the URL (which may hold a token) is not logged
    finally:
        notifier.close()
        store.close()


def test_retry_delays_accept_only_ordered_bounds() -> None:
    with pytest.raises(ValueError, match="first_delay_s 20.0 is above max_delay_s 10.0"):
        RetrySettings(first_delay_s=20, max_delay_s=10)
    assert timedelta(seconds=RetrySettings().delay_after(1)) == timedelta(seconds=10)


def test_an_alert_that_ended_is_not_escalated(tmp_path: Path, mailbox: Mailbox) -> None:
    settings = load_settings().with_overrides(
        notify={
            "smtp": {"host": "127.0.0.1", "port": mailbox.port, "security": "none", "sender": "canhbao@bn.vn"},
            "recipients": [
                {**RECIPIENT, "escalation": {"to": "pho-gd", "after_minutes": 10}},
                {"id": "pho-gd", "name": "Hoàng Văn Em", "email": "em@bn.vn", "sites": []},
            ],
        }
    )
    clock = Clock(local("2026-11-30 09:00").astimezone(UTC))
    store = SqliteStore(tmp_path / "hub.db")
    notifier = Notifier(settings, store, alert_json, clock=clock)
    notifier.start()
    try:
        ended, open_ = (
            alert(AlertType.WAIT_TARGET_BROKEN, clock.now, "q01"),
            alert(AlertType.NODE_OFFLINE, clock.now, "q02"),
        )
        notifier.submit([ended, open_])
        wait_for(lambda: len(mailbox.to("an@bn.vn")) == 2, 10, "both alerts to the first person")
        cleared = ended.model_copy(
            update={"id": "het-1", "state": AlertState.CLEARED, "ts": clock.now + timedelta(minutes=4)}
        )
        notifier.submit([cleared])
        wait_for(lambda: notifier.outbox.known("het-1"), 10, "the end of the first alert taken in")
        clock.now += timedelta(minutes=10, seconds=1)
        notifier.wake()
        escalated = wait_for(lambda: mailbox.to("em@bn.vn"), 10, "the escalation of the open alert")
        assert [m["Subject"].split(":")[0] for m in escalated] == [
            "[Chuyển cấp – chưa ai xác nhận] Thiết bị tại quầy mất kết nối"
        ]
        assert [e["status"] for e in notifier.outbox.escalations(ended.id)] == ["cleared"]
        assert [e["status"] for e in notifier.outbox.escalations(open_.id)] == ["sent"]
        assert len(mailbox.to("an@bn.vn")) == 2  # the end was not sent: the recipient did not ask for it
    finally:
        notifier.close()
        store.close()
