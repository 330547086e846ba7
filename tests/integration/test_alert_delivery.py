"""Alerts that reach a phone: a real Mosquitto, a real hub, a real SMTP server (aiosmtpd) and a real HTTP
webhook receiver on loopback. A scripted day raises a wait alert; the tests check that it reaches the mailbox
and the webhook within 5 s and once (also across a hub restart), that a receiver that is down gets it when it
comes back, and that an unacknowledged alert goes to the second person after its delay, and an acknowledged
one does not."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.mosquitto import MosquittoBroker, free_port
from hub.config import HubSettings, load_settings
from protocol.messages import Envelope, RatingMessage, TicketEvent, TicketMessage
from tests.support.hub_server import HubServer, Publisher
from tests.support.receivers import Mailbox, WebhookReceiver, wait_for

SENDER = "canhbao@hcc.bacninh.gov.vn"


def settings_with(notify: dict[str, Any]) -> HubSettings:
    return load_settings().with_overrides(notify=notify)


def smtp(port: int) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "security": "none", "sender": SENDER, "timeout_s": 5}


def scripted_day(site: str, desk: str = "q01") -> list[Envelope]:
    """A morning at a desk: two citizens served and rated, then one waiting 20 minutes (target: 15)."""
    now = datetime.now(UTC)
    at = [now - timedelta(minutes=m) for m in (60, 55, 45, 44, 40, 30, 28, 20)]

    def ticket(number: str, event: TicketEvent, when: datetime) -> TicketMessage:
        staff = None if event is TicketEvent.ISSUED else "cb-01"
        return TicketMessage(ts=when, site=site, desk=desk, event=event, ticket=number, staff=staff, service="dat-dai")

    return [
        ticket("0001", TicketEvent.ISSUED, at[0]),
        ticket("0001", TicketEvent.CALLED, at[1]),
        ticket("0001", TicketEvent.FINISHED, at[2]),
        RatingMessage(ts=at[3], site=site, desk=desk, score=4, ticket="0001", channel="button"),
        ticket("0002", TicketEvent.ISSUED, at[4]),
        ticket("0002", TicketEvent.CALLED, at[5]),
        ticket("0002", TicketEvent.FINISHED, at[6]),
        ticket("0003", TicketEvent.ISSUED, at[7]),  # not called: past the 15-minute wait target now
    ]


def broken_alert(hub: HubServer, site: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        alerts = hub.get("/api/v1/alerts", site=site)
        return next((a for a in alerts if a["alert"] == "wait_target_broken"), None)

    return wait_for(find, 10, f"a wait_target_broken alert at {site}")


def test_alert_reaches_mailbox_and_webhook_within_5_s_once(broker: MosquittoBroker, tmp_path: Path) -> None:
    site = "bn-luc-ngan"
    with Mailbox() as mailbox, WebhookReceiver() as receiver:
        settings = settings_with(
            {
                "smtp": smtp(mailbox.port),
                "recipients": [
                    {
                        "id": "gd-luc-ngan",
                        "name": "Nguyễn Văn An",
                        "email": "an@lucngan.bacninh.gov.vn",
                        "webhook": receiver.url,
                        "sites": [site],
                        "kinds": ["wait_target_broken"],
                    },
                    # subscribed to another unit only: must get nothing
                    {"id": "gd-khac", "name": "Trần Thị Bình", "email": "binh@bacninh.gov.vn", "sites": ["bn-hcc"]},
                ],
            }
        )
        database = tmp_path / "hub.db"
        with HubServer(broker, database, client_id="hub-notify-once", settings=settings) as hub:
            with Publisher(broker, client_id="pub-notify-once") as publisher:
                published = time.monotonic()
                publisher.send(scripted_day(site))
            mail = wait_for(lambda: mailbox.to("an@lucngan.bacninh.gov.vn"), 5, "the e-mail")
            mail_after = time.monotonic() - published
            posts = wait_for(lambda: receiver.bodies(site=site), 5, "the webhook POST")
            post_after = time.monotonic() - published
            alert = broken_alert(hub, site)

        assert mail_after < 5 and post_after < 5
        message = mail[0]
        assert message["Subject"] == (
            "[Nghiêm trọng] Vượt chỉ tiêu thời gian chờ: Quầy 1 – Trung tâm Phục vụ hành chính công xã Lục Ngạn"
        )
        assert message["From"].addresses[0].addr_spec == SENDER
        text = message.get_content()
        assert "người đầu hàng đã chờ 20 phút, vượt chỉ tiêu 15 phút" in text
        assert "Đơn vị: Trung tâm Phục vụ hành chính công xã Lục Ngạn" in text
        body = posts[0]
        assert body["id"] == alert["id"] and body["alert"] == "wait_target_broken" and body["active"] is True
        assert body["site_name"] == "Trung tâm Phục vụ hành chính công xã Lục Ngạn" and body["desk_name"] == "Quầy 1"
        assert body["target_s"] == 900 and body["escalation"] is False
        assert mailbox.to("binh@bacninh.gov.vn") == []

        # A restart keeps the still-open alert (the record says it is raised): the same alert, not delivered again.
        with HubServer(broker, database, client_id="hub-notify-once", settings=settings) as hub:
            again = broken_alert(hub, site)
            assert again["id"] == alert["id"]
            linked = wait_for(
                lambda: hub.get("/api/v1/notify/deliveries", alert=again["id"])["deliveries"], 10, "the re-raised alert"
            )
            assert {(d["alert_id"], d["status"]) for d in linked} == {(alert["id"], "sent")}
            assert hub.get("/api/v1/health")["notify"]["deliveries"] == {"pending": 0, "sent": 2, "failed": 0}
        assert len(mailbox.to("an@lucngan.bacninh.gov.vn")) == 1
        assert len(receiver.bodies(site=site)) == 1


def test_a_receiver_that_is_down_gets_the_alert_when_it_comes_back(broker: MosquittoBroker, tmp_path: Path) -> None:
    site = "bn-viet-yen"
    smtp_port, hook_port = free_port(), free_port()
    receiver = WebhookReceiver(port=hook_port)
    settings = settings_with(
        {
            "smtp": smtp(smtp_port),
            "retry": {"first_delay_s": 0.2, "max_delay_s": 0.5, "max_attempts": 1000},
            "recipients": [
                {
                    "id": "gd",
                    "name": "Lê Văn Cường",
                    "email": "cuong@vietyen.vn",
                    "webhook": receiver.url,
                    "kinds": ["wait_target_broken"],
                }
            ],
        }
    )
    with HubServer(broker, tmp_path / "hub.db", client_id="hub-notify-down", settings=settings) as hub:
        with Publisher(broker, client_id="pub-notify-down") as publisher:
            publisher.send(scripted_day(site))
        alert = broken_alert(hub, site)

        def failures() -> list[dict[str, Any]]:
            log = hub.get("/api/v1/notify/deliveries", alert=alert["id"])["deliveries"]
            return [d for d in log if sum(not a["ok"] for a in d["attempt_log"]) >= 2]

        wait_for(lambda: len(failures()) == 2, 15, "two failed attempts on each channel")
        assert receiver.posts == []
        with Mailbox(port=smtp_port) as mailbox, receiver:
            wait_for(lambda: mailbox.to("cuong@vietyen.vn"), 10, "the e-mail once the server is back")
            wait_for(lambda: receiver.bodies(site=site), 10, "the POST once the receiver is back")
            log = hub.get("/api/v1/notify/deliveries", alert=alert["id"])["deliveries"]
            assert sorted(d["channel"] for d in log) == ["email", "webhook"]
            for delivery in log:
                attempts = delivery["attempt_log"]
                assert delivery["status"] == "sent" and delivery["attempts"] == len(attempts) >= 3
                assert [a["ok"] for a in attempts] == [False] * (len(attempts) - 1) + [True]
            assert len(mailbox.to("cuong@vietyen.vn")) == 1 and len(receiver.bodies(site=site)) == 1


def test_escalation_fires_after_its_delay_unless_acknowledged(broker: MosquittoBroker, tmp_path: Path) -> None:
    ignored, acknowledged = "bn-tien-du", "bn-gia-binh"
    delay_s = 3
    with Mailbox() as mailbox, WebhookReceiver() as receiver:
        settings = settings_with(
            {
                "smtp": smtp(mailbox.port),
                "recipients": [
                    {
                        "id": "truong-bp",
                        "name": "Phạm Thị Dung",
                        "email": "dung@bacninh.gov.vn",
                        "sites": [ignored, acknowledged],
                        "kinds": ["wait_target_broken"],
                        "escalation": {"to": "pho-gd", "after_minutes": delay_s / 60},
                    },
                    {
                        "id": "pho-gd",
                        "name": "Hoàng Văn Em",
                        "email": "em@bacninh.gov.vn",
                        "webhook": receiver.url,
                        "sites": [],
                    },
                ],
            }
        )
        with HubServer(broker, tmp_path / "hub.db", client_id="hub-notify-esc", settings=settings) as hub:
            with Publisher(broker, client_id="pub-notify-esc") as publisher:
                publisher.send(scripted_day(ignored) + scripted_day(acknowledged))
            to_ack = broken_alert(hub, acknowledged)
            answer = hub.http.post(f"/api/v1/alerts/{to_ack['id']}/ack")
            assert answer.status_code == 200 and answer.json()["by"] == "local"
            shown = next(a for a in hub.get("/api/v1/alerts", site=acknowledged) if a["id"] == to_ack["id"])
            assert shown["acknowledged_by"] == "local"
            not_acked = broken_alert(hub, ignored)
            raised = datetime.fromisoformat(not_acked["ts"])

            escalated = wait_for(lambda: mailbox.to("em@bacninh.gov.vn"), 15, "the escalation e-mail")
            arrived = datetime.now(UTC)
            assert (arrived - raised).total_seconds() >= delay_s
            assert escalated[0]["Subject"].startswith("[Chuyển cấp – chưa ai xác nhận] Vượt chỉ tiêu thời gian chờ")
            assert "xã Tiên Du" in escalated[0]["Subject"]
            assert "đã được gửi cho Phạm Thị Dung nhưng chưa ai xác nhận" in escalated[0].get_content()
            hook = wait_for(lambda: receiver.bodies(site=ignored), 5, "the escalation POST")
            assert hook[0]["escalation"] is True and hook[0]["recipient"] == "pho-gd"

            def decided() -> str | None:
                escalations = hub.get("/api/v1/notify/deliveries", alert=to_ack["id"])["escalations"]
                return escalations[0]["status"] if escalations and escalations[0]["status"] != "waiting" else None

            assert wait_for(decided, 15, "the acknowledged alert's escalation decided") == "acknowledged"
            first = hub.get("/api/v1/notify/deliveries", alert=not_acked["id"])["escalations"]
            assert [(e["to"], e["status"]) for e in first] == [("pho-gd", "sent")]
        assert len(mailbox.to("em@bacninh.gov.vn")) == 1
        assert receiver.bodies(site=acknowledged) == []
        assert len(mailbox.to("dung@bacninh.gov.vn")) == 2  # both alerts reached the first person


def test_a_slow_webhook_slows_neither_ingest_nor_the_e_mail(broker: MosquittoBroker, tmp_path: Path) -> None:
    site = "bn-yen-phong"
    with Mailbox() as mailbox, WebhookReceiver(delay_s=8) as receiver:
        settings = settings_with(
            {
                "smtp": smtp(mailbox.port),
                "webhook": {"timeout_s": 20},
                "recipients": [
                    {
                        "id": "gd",
                        "name": "Vũ Thị Giang",
                        "email": "giang@yenphong.vn",
                        "webhook": receiver.url,
                        "kinds": ["wait_target_broken"],
                    }
                ],
            }
        )
        with HubServer(broker, tmp_path / "hub.db", client_id="hub-notify-slow", settings=settings) as hub:
            with Publisher(broker, client_id="pub-notify-slow") as publisher:
                publisher.send(scripted_day(site))
                assert receiver.started.wait(10), "the webhook POST never started"
                # The POST now hangs for 8 s: the e-mail and new messages go through meanwhile.
                before = hub.counts()["accepted"]
                published = time.monotonic()
                publisher.send(
                    [TicketMessage(site=site, desk="q02", event=TicketEvent.ISSUED, ticket="0100", service="dat-dai")]
                )
                hub.wait_until(lambda c: c["accepted"] > before, timeout=10)
                ingested_after = time.monotonic() - published
                wait_for(lambda: mailbox.to("giang@yenphong.vn"), 5, "the e-mail while the webhook hangs")
                assert receiver.posts == []  # still hanging: the e-mail did not wait for it
            assert ingested_after < 2
            wait_for(lambda: receiver.bodies(site=site), 15, "the slow webhook's POST in the end")
