"""End to end through a real Mosquitto: ticket events and ratings published over MQTT, figures read back
from the API and compared with values computed by hand. Covers duplicates, out-of-order delivery,
malformed payloads and the local-day boundary (Asia/Ho_Chi_Minh, UTC+7). The tests that touch the record run
on both engines (SQLite and PostgreSQL) with the same literal figures."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker
from devtools.postgres import PostgresServer
from hub.config import load_settings
from protocol.messages import Envelope, RatingMessage, TicketEvent, TicketMessage
from tests.support.hub_server import HubServer, Publisher
from tests.support.waiting import wait_for

SITE = "bn-kinh-bac"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def ticket(n: str, event: TicketEvent, at: datetime, desk: str = "q01", **extra: Any) -> TicketMessage:
    staff = None if event is TicketEvent.ISSUED else f"cb-{desk}"
    return TicketMessage(
        id=f"{n}-{event.value}-{desk}",
        ts=at,
        site=SITE,
        desk=desk,
        event=event,
        ticket=n,
        staff=staff,
        service="dat-dai",
        **extra,
    )


def the_day() -> list[Envelope]:
    d = "2026-11-20T"
    return [
        ticket("0001", TicketEvent.ISSUED, local(d + "08:00:00")),
        ticket("0001", TicketEvent.CALLED, local(d + "08:06:00")),
        ticket("0001", TicketEvent.FINISHED, local(d + "08:16:00")),
        ticket("0002", TicketEvent.ISSUED, local(d + "08:02:00")),
        ticket("0002", TicketEvent.CALLED, local(d + "08:20:00")),
        ticket("0002", TicketEvent.RECALLED, local(d + "08:21:00")),
        ticket("0002", TicketEvent.FINISHED, local(d + "08:50:00")),
        ticket("0003", TicketEvent.ISSUED, local(d + "08:05:00")),
        ticket("0003", TicketEvent.CALLED, local(d + "08:25:00")),
        ticket("0003", TicketEvent.TRANSFERRED, local(d + "08:30:00"), to_desk="q02"),
        ticket("0003", TicketEvent.CALLED, local(d + "08:40:00"), desk="q02"),
        ticket("0003", TicketEvent.FINISHED, local(d + "08:45:00"), desk="q02"),
        ticket("0004", TicketEvent.ISSUED, local(d + "08:10:00")),
        ticket("0004", TicketEvent.CALLED, local(d + "08:30:00")),
        ticket("0004", TicketEvent.NO_SHOW, local(d + "08:32:00")),
        # 00:30 local on the 20th is still the 19th in UTC: it belongs to the 20th.
        ticket("0006", TicketEvent.ISSUED, datetime(2026, 11, 19, 17, 30, tzinfo=UTC)),
        ticket("0006", TicketEvent.CALLED, datetime(2026, 11, 19, 17, 40, tzinfo=UTC)),
        ticket("0006", TicketEvent.FINISHED, datetime(2026, 11, 19, 17, 45, tzinfo=UTC)),
        # 00:10 local on the 21st is the 20th in UTC: it belongs to the 21st.
        ticket("0005", TicketEvent.ISSUED, datetime(2026, 11, 20, 17, 10, tzinfo=UTC)),
        RatingMessage(
            id="r1", ts=local(d + "08:17:00"), site=SITE, desk="q01", score=4, ticket="0001", channel="button"
        ),
        RatingMessage(
            id="r2", ts=local(d + "08:51:00"), site=SITE, desk="q01", score=3, ticket="0002", channel="button"
        ),
        RatingMessage(
            id="r3", ts=local(d + "08:46:00"), site=SITE, desk="q02", score=2, ticket="0003", channel="touch"
        ),
        RatingMessage(
            id="r4",
            ts=datetime(2026, 11, 20, 17, 5, tzinfo=UTC),
            site=SITE,
            desk="q01",
            score=1,
            channel="button",
        ),
    ]


MALFORMED = [
    (
        f"onestop/v1/{SITE}/q01/ticket",
        b'{"v": 1, "id": "bad-1", "ts": "2026-11-20T08:00:00", "site": "bn-kinh-bac", '
        b'"desk": "q01", "event": "issued", "ticket": "9"}',
        "timezone",
    ),
    (f"onestop/v1/{SITE}/q01/rating", b"not json at all", "Invalid JSON"),
    (
        f"onestop/v1/{SITE}/q09/rating",
        b'{"v": 1, "id": "bad-3", "ts": "2026-11-20T08:00:00Z", "site": "bn-kinh-bac", '
        b'"desk": "q01", "score": 4, "channel": "button"}',
        "disagree with topic",
    ),
]


@pytest.fixture()
def hub(broker: MosquittoBroker, record_url: str, request: pytest.FixtureRequest) -> Iterator[HubServer]:
    """A hub on the session broker with an empty record, once on SQLite and once on PostgreSQL."""
    with HubServer(broker, record_url, client_id=f"hub-{request.node.name}"[:60]) as server:
        yield server


def test_day_figures_match_hand_computation(hub: HubServer, broker: MosquittoBroker) -> None:
    messages, shuffled = shuffled_day_with_duplicates()
    duplicates = shuffled[len(messages) :]
    with Publisher(broker) as publisher:
        sent = publisher.send(shuffled)
        for topic, payload, _ in MALFORMED:
            publisher.send_raw(topic, payload)
    counts = hub.wait_until(lambda c: c["accepted"] + c["duplicates"] + c["rejected"] >= sent + len(MALFORMED))
    assert counts == {**counts, "accepted": len(messages), "duplicates": len(duplicates), "rejected": 3}
    assert_the_days_figures(hub)


def shuffled_day_with_duplicates() -> tuple[list[Envelope], list[Envelope]]:
    """The day's messages, and four of them sent again, all in one shuffled order."""
    messages = the_day()
    shuffled = messages + [messages[i] for i in (1, 4, 10, 19)]
    random.Random(7).shuffle(shuffled)
    return messages, shuffled


def assert_the_days_figures(hub: HubServer) -> None:
    """The figures of the day, computed by hand, as the hub's API gives them."""
    stats = hub.get(f"/api/v1/sites/{SITE}/stats", date="2026-11-20")
    waits = [360, 600, 600, 1080, 1200]  # 0001, 0003 at q02, 0006, 0002, 0003 at q01
    assert stats["visits"] == 4 and stats["transactions"] == 5 and stats["no_shows"] == 1
    assert stats["mean_wait_s"] == pytest.approx(sum(waits) / 5)
    assert stats["median_wait_s"] == pytest.approx(600)
    assert stats["p90_wait_s"] == pytest.approx(1080 + 0.6 * 120)
    assert stats["within_target_share"] == pytest.approx(3 / 5)
    assert stats["target_wait_s"] == 900
    assert stats["mean_service_s"] == pytest.approx((600 + 1800 + 300 + 300 + 300) / 5)
    assert stats["within_service_target_share"] == pytest.approx(1.0)
    assert stats["ratings"] == 3 and stats["satisfaction_share"] == pytest.approx(2 / 3)
    q02 = next(d for d in stats["desks"] if d["desk"] == "q02")
    assert q02["transactions"] == 1 and q02["mean_wait_s"] == pytest.approx(600) and q02["ratings"] == 1

    next_day = hub.get(f"/api/v1/sites/{SITE}/stats", date="2026-11-21")
    assert next_day["visits"] == 0 and next_day["waiting"] == 1 and next_day["ratings"] == 1

    # The dashboard's days, read from the daily roll-ups kept by the ingest: the same hand-computed figures.
    first, second = hub.get(f"/api/v1/sites/{SITE}/days", to="2026-11-21", days=2)["days"]
    assert (first["date"], first["visits"], first["transactions"], first["no_shows"]) == ("2026-11-20", 4, 5, 1)
    assert first["mean_wait_s"] == pytest.approx(sum(waits) / 5)
    assert first["p90_wait_s"] == pytest.approx(1080 + 0.6 * 120)
    assert first["within_target_share"] == pytest.approx(3 / 5)
    assert first["ratings"] == 3 and first["satisfaction_share"] == pytest.approx(2 / 3)
    assert (second["visits"], second["waiting"], second["ratings"]) == (0, 1, 1)

    rejected = hub.get("/api/v1/rejected")
    assert len(rejected) == 3
    for topic, _, reason in MALFORMED:
        assert any(r["topic"] == topic and reason in r["reason"] for r in rejected), (topic, reason, rejected)


def test_new_unit_and_desk_appear_under_their_ids(hub: HubServer, broker: MosquittoBroker) -> None:
    now = datetime.now(UTC)
    message = TicketMessage(ts=now, site="xa-moi", desk="q07", event=TicketEvent.ISSUED, ticket="1")
    with Publisher(broker) as publisher:
        publisher.send([message])
    hub.wait_until(lambda c: c["accepted"] >= 1)
    sites = {s["id"]: s for s in hub.get("/api/v1/sites")}
    assert "xa-moi" in sites and sites["xa-moi"]["configured"] is False
    live = hub.get("/api/v1/sites/xa-moi/live")
    assert [d["desk"] for d in live["desks"]] == ["q07"]
    assert live["desks"][0]["queue_length"] == 1


def test_live_stream_shows_a_ticket_within_two_seconds(hub: HubServer, broker: MosquittoBroker) -> None:
    events: list[dict[str, Any]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{hub.url}/api/v1/stream", timeout=10) as response:
            name = None
            for line in response.iter_lines():
                ready.set()
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name == "desk":
                    events.append(json.loads(line.removeprefix("data: ")))
                    if any(e["site"] == "bn-gia-binh" for e in events):
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(5)
    published = time.monotonic()
    with Publisher(broker) as publisher:
        publisher.send([TicketMessage(site="bn-gia-binh", desk="q01", event=TicketEvent.ISSUED, ticket="0042")])
    listener.join(timeout=5)
    elapsed = time.monotonic() - published
    desk = next(e for e in events if e["site"] == "bn-gia-binh")
    assert [t["ticket"] for t in desk["waiting_tickets"]] == ["0042"]
    assert elapsed < 2.0


def test_alert_when_the_head_of_the_line_waited_past_the_target(hub: HubServer, broker: MosquittoBroker) -> None:
    now = datetime.now(UTC)
    with Publisher(broker) as publisher:
        publisher.send(
            [
                TicketMessage(
                    ts=now - timedelta(minutes=20),
                    site="bn-luc-ngan",
                    desk="q02",
                    event=TicketEvent.ISSUED,
                    ticket="0100",
                ),
            ]
        )
    deadline = time.monotonic() + 5
    alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not alerts:
        alerts = [a for a in hub.get("/api/v1/alerts", site="bn-luc-ngan") if a["alert"] == "wait_target_broken"]
        time.sleep(0.1)
    assert alerts, "no alert raised"
    alert = alerts[0]
    assert alert["desk"] == "q02" and alert["severity"] == "critical" and alert["target_s"] == 900
    assert "vượt chỉ tiêu 15 phút" in alert["message"]
    live = hub.get("/api/v1/sites/bn-luc-ngan/live")
    q02 = next(d for d in live["desks"] if d["desk"] == "q02")
    assert q02["state"] == "broken" and q02["head_wait_s"] >= 20 * 60


def test_hub_restart_keeps_the_record_and_receives_what_was_sent_while_down(
    broker: MosquittoBroker, record_url: str
) -> None:
    database = record_url
    first = the_day()[:9]
    later = the_day()[9:15]
    with HubServer(broker, database, client_id=f"hub-restart-{database[:6]}") as hub:
        with Publisher(broker) as publisher:
            publisher.send(first)
        hub.wait_until(lambda c: c["accepted"] >= len(first))
    with Publisher(broker) as publisher:  # the hub is down: its persistent session queues these
        publisher.send(later + first[:3])
    with HubServer(broker, database, client_id=f"hub-restart-{database[:6]}") as hub:
        counts = hub.wait_until(lambda c: c["accepted"] + c["duplicates"] >= len(later) + 3)
        # Each message recorded once. The three resent are duplicates; QoS 1 may also bring again a message
        # whose acknowledgement the broker had not taken when the first hub stopped: a duplicate too, never a
        # second record (seen once on PostgreSQL under CI load).
        assert counts["accepted"] == len(later) and counts["duplicates"] >= 3
        stats = hub.get(f"/api/v1/sites/{SITE}/stats", date="2026-11-20")
        assert stats["transactions"] == 4 and stats["no_shows"] == 1


def test_todays_ratings_on_the_desk_cards_survive_a_hub_restart(broker: MosquittoBroker, record_url: str) -> None:
    database = record_url
    # 40 s apart: the hub counts ratings of one desk without a ticket closer than 30 s (or a burst) once.
    start = datetime.now(UTC) - timedelta(seconds=80)
    ratings = [
        RatingMessage(
            site="bn-tien-du", desk="q02", score=score, channel="button", ts=start + timedelta(seconds=40 * n)
        )
        for n, score in enumerate((4, 3, 1))
    ]
    with HubServer(broker, database, client_id=f"hub-ratings-restart-{database[:6]}") as hub:
        with Publisher(broker) as publisher:
            publisher.send(ratings)
        hub.wait_until(lambda c: c["accepted"] >= 3)
        before = next(d for d in hub.get("/api/v1/sites/bn-tien-du/live")["desks"] if d["desk"] == "q02")
    with HubServer(broker, database, client_id=f"hub-ratings-restart-{database[:6]}") as hub:
        after = next(d for d in hub.get("/api/v1/sites/bn-tien-du/live")["desks"] if d["desk"] == "q02")
    assert before["ratings_today"] == after["ratings_today"] == 3
    assert after["satisfaction_share_today"] == pytest.approx(2 / 3)


def test_three_workers_on_a_shared_subscription_give_the_same_figures_and_each_shows_the_whole_province(
    broker: MosquittoBroker, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    record = postgres_server.create_database()
    group = f"e2e{time.monotonic_ns()}"
    settings = load_settings().with_overrides(ingest={"max_age_days": 36500}, mqtt={"shared_group": group})
    messages, shuffled = shuffled_day_with_duplicates()
    now = datetime.now(UTC)
    # Today, three units: a waiting ticket at each, and one ticket whose issue and call may reach two workers.
    today = [
        TicketMessage(ts=now - timedelta(minutes=3), site=site, desk="q01", event=TicketEvent.ISSUED, ticket="0501")
        for site in ("bn-gia-binh", "bn-luong-tai", "bn-que-vo")
    ]
    called = [
        TicketMessage(ts=now - timedelta(minutes=2, seconds=n), site="bn-que-vo", desk="q02", event=event,
                      ticket="0502", staff=None if event is TicketEvent.ISSUED else "cb-q02")
        for n, event in ((30, TicketEvent.ISSUED), (0, TicketEvent.CALLED))
    ]  # fmt: skip
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(
                HubServer(
                    broker, f"{record}?local={tmp_path / f'w{n}.db'}", client_id=f"{group}-w{n}", settings=settings
                )
            )
            for n in (1, 2, 3)
        ]
        with Publisher(broker, client_id=f"{group}-pub") as publisher:
            sent = publisher.send(shuffled + today + called)
            for topic, payload, _ in MALFORMED:
                publisher.send_raw(topic, payload)

        def totals() -> dict[str, int] | None:
            counts = [w.counts() for w in workers]
            total = {k: sum(c[k] for c in counts) for k in ("accepted", "duplicates", "rejected")}
            return total if sum(total.values()) >= sent + len(MALFORMED) else None

        total = wait_for(totals, 20, "every message taken by one of the three workers")
        assert total == {"accepted": len(messages) + 5, "duplicates": 4, "rejected": 3}
        assert all(w.counts()["batches"] > 0 for w in workers)  # the broker shared the messages out
        for worker in workers:
            assert_the_days_figures(worker)

            def whole_province(worker: HubServer = worker) -> bool:
                desks = {
                    (site, d["desk"]): d
                    for site in ("bn-gia-binh", "bn-luong-tai", "bn-que-vo")
                    for d in worker.get(f"/api/v1/sites/{site}/live")["desks"]
                }
                return (
                    all([t["ticket"] for t in desks[(s, "q01")]["waiting_tickets"]] == ["0501"]
                        for s in ("bn-gia-binh", "bn-luong-tai", "bn-que-vo"))
                    and (desks[("bn-que-vo", "q02")]["serving"] or {}).get("ticket") == "0502"
                )  # fmt: skip

            wait_for(whole_province, 10, f"the whole province on {worker.url}")
