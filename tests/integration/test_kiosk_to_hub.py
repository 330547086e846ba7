"""The kiosk end to end: presses on the desk's buttons (MockFactory) and comments on its page go through the
agent's outbox, a real Mosquitto and a real hub; the hub's figures count only the ratings that count."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gpiozero.pins.mock import MockFactory

from devtools.mosquitto import MosquittoBroker
from edge.agent import DeskAgent
from edge.config import EdgeSettings
from hub.config import load_settings
from tests.support.hub_server import HubServer

SITE, DESK = "bn-hcc", "q07"
CALL_NEXT, FINISH = "GPIO17", "GPIO27"
RATING_PINS = {4: "GPIO5", 3: "GPIO6", 2: "GPIO19", 1: "GPIO26"}


def node(broker: MosquittoBroker, tmp_path: Path, **kiosk: Any) -> EdgeSettings:
    return EdgeSettings.model_validate(
        {
            "site": SITE,
            "desk": DESK,
            "staff": "cb-017",
            "mqtt": {"host": broker.host, "port": broker.port, "reconnect_min_s": 1, "reconnect_max_s": 2},
            "spool": {"path": str(tmp_path / "outbox.db")},
            "tickets": {"buttons": {"call_next_pin": CALL_NEXT, "finish_pin": FINISH, "bounce_s": 0, "prefix": "A"}},
            "kiosk": {
                "buttons": [{"score": s, "pin": pin} for s, pin in RATING_PINS.items()],
                "bounce_s": 0,
                **kiosk,
            },
        }
    )


def records(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class TestClock:
    """Monotonic seconds that move only when the test says so."""

    __test__ = False

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def factory() -> Iterator[MockFactory]:
    made = MockFactory()
    try:
        yield made
    finally:
        made.reset()


def press(factory: MockFactory, pin: str) -> None:
    factory.pin(pin).drive_low()
    factory.pin(pin).drive_high()


def test_button_presses_reach_the_hub_and_only_counted_ones_make_the_figures(
    own_broker: MosquittoBroker, tmp_path: Path, factory: MockFactory
) -> None:
    database = tmp_path / "hub.db"
    # Short thresholds so that the test runs in seconds; the rules are those of a real desk.
    rules = {"burst_gap_s": 0.5, "too_soon_s": 0.5, "handover_s": 0.5, "ticket_window_s": 2.5, "no_ticket_gap_s": 2}
    # The kiosk's clock is moved by hand below, but the ratings' timestamps are the wall clock's, milliseconds
    # apart: the hub's own time rules (tested in tests/hub/test_hub_ingest_trust.py) would judge every press a
    # burst. Here the hub's time rules are off, so the figures show the kiosk's judgement alone.
    hub_rules = load_settings().with_overrides(ingest={"rating_burst_s": 0, "rating_no_ticket_gap_s": 0})
    with HubServer(own_broker, database, client_id="hub-kiosk-buttons", settings=hub_rules) as hub:
        agent = DeskAgent(node(own_broker, tmp_path, integrity=rules), pin_factory=factory)
        # The integrity rules read the kiosk's clock: a test clock moved by hand, so that "at once" and "0.7 s
        # later" hold however loaded the machine is (real sleeps could stretch an "at once" past 0.5 s).
        clock = TestClock()
        assert agent.kiosk is not None
        agent.kiosk._clock = clock
        agent.start()
        try:
            assert agent.link.wait_connected(10)
            press(factory, CALL_NEXT)  # A001 called
            press(factory, FINISH)  # A001 finished
            press(factory, RATING_PINS[4])  # the officer's own hand, at once: too soon
            clock.now += 0.7
            press(factory, RATING_PINS[4])  # the citizen: counted for A001
            clock.now += 0.7
            for _ in range(10):  # a child at the buttons
                press(factory, RATING_PINS[1])
            press(factory, CALL_NEXT)  # A002 called
            clock.now += 0.7
            press(factory, RATING_PINS[3])  # rated while being served: counted for A002
            press(factory, FINISH)
            clock.now += 2.7  # no ticket in the window any more
            press(factory, RATING_PINS[2])  # counted, flagged no_ticket
            clock.now += 0.7
            press(factory, RATING_PINS[2])  # again moments later: a repeat

            wait_for(lambda: len(records(database, "SELECT id FROM ratings")) == 15, "15 ratings in the record")
            stats = hub.get(f"/api/v1/sites/{SITE}/stats")
            live = hub.get(f"/api/v1/sites/{SITE}/live")
        finally:
            agent.close()

    stored = records(database, "SELECT score, ticket, staff, flags, counted, channel FROM ratings ORDER BY rowid")
    assert stored[0] == (4, "A001", "cb-017", "too_soon", 0, "button")
    assert stored[1] == (4, "A001", "cb-017", None, 1, "button")
    child = stored[2:12]
    assert child[0] == (1, "A001", "cb-017", "repeat", 0, "button")
    assert all(row[3] == "burst,repeat" and row[4] == 0 for row in child[1:])
    assert stored[12] == (3, "A002", "cb-017", None, 1, "button")
    assert stored[13] == (2, None, None, "no_ticket", 1, "button")
    assert stored[14] == (2, None, None, "repeat,no_ticket", 0, "button")

    # Three ratings count (4, 3, 2): two satisfied. Counting all fifteen would give 3 of 15.
    assert (stats["ratings"], stats["satisfied"], stats["ratings_not_counted"]) == (3, 2, 12)
    assert stats["satisfaction_share"] == pytest.approx(2 / 3)
    [desk] = [d for d in stats["desks"] if d["desk"] == DESK]
    assert desk["satisfaction_share"] == pytest.approx(2 / 3)
    [board] = [d for d in live["desks"] if d["desk"] == DESK]
    assert board["ratings_today"] == 3 and board["satisfaction_share_today"] == pytest.approx(2 / 3)


def test_a_comment_reaches_the_hub_as_a_label_and_its_text_only_with_consent(
    own_broker: MosquittoBroker, tmp_path: Path, factory: MockFactory
) -> None:
    database = tmp_path / "hub.db"
    no_burst = load_settings().with_overrides(ingest={"rating_burst_s": 0})  # as the kiosk here: no burst rule
    with HubServer(own_broker, database, client_id="hub-kiosk-comments", settings=no_burst):
        agent = DeskAgent(
            node(own_broker, tmp_path, touch={}, integrity={"too_soon_s": 0, "burst_gap_s": 0}), pin_factory=factory
        )
        agent.start()
        try:
            assert agent.link.wait_connected(10)
            with TestClient(agent.web_app(), client=("127.0.0.1", 40000)) as page:
                press(factory, CALL_NEXT)
                press(factory, FINISH)
                rated = page.post("/kiosk/api/rating", json={"score": 4}).json()
                answer = page.post(
                    "/kiosk/api/comment",
                    json={"text": "Cán bộ rất nhiệt tình, chu đáo", "consent": True, "rating_id": rated["id"]},
                )
                assert answer.status_code == 202
                press(factory, CALL_NEXT)
                press(factory, FINISH)
                rated = page.post("/kiosk/api/rating", json={"score": 1}).json()
                answer = page.post(
                    "/kiosk/api/comment",
                    json={"text": "Chờ quá lâu, cán bộ cáu gắt", "consent": False, "rating_id": rated["id"]},
                )
                assert answer.status_code == 202
            wait_for(lambda: len(records(database, "SELECT id FROM feedback")) == 2, "two comments in the record")
        finally:
            agent.close()

    ratings = records(database, "SELECT score, ticket, channel, counted FROM ratings ORDER BY rowid")
    assert ratings == [(4, "A001", "touch", 1), (1, "A002", "touch", 1)]
    feedback = records(database, "SELECT ticket, staff, sentiment, text FROM feedback ORDER BY rowid")
    assert feedback[0] == ("A001", "cb-017", "positive", "Cán bộ rất nhiệt tình, chu đáo")
    assert feedback[1] == ("A002", "cb-017", "negative", None)
    raw = records(database, "SELECT payload FROM messages WHERE kind = 'feedback'")
    assert not any("cáu gắt" in row[0] for row in raw), "a comment without consent never leaves the Pi"
