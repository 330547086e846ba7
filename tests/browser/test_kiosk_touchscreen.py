"""A citizen rates on the kiosk's touchscreen page in headless Chromium (Debian's, driven by Playwright): taps a
rating, adds a phrase, types on the on-screen keyboard, ticks consent, sends; the rating and the comment arrive
at a real hub through a real Mosquitto. Screenshots of each screen go to
test-artifacts/screenshots/ (`make screenshots` refreshes docs/screenshots/)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from devtools.mosquitto import MosquittoBroker, free_port
from edge.agent import DeskAgent
from edge.config import EdgeSettings
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, require_chromium
from tests.support.hub_server import HubServer
from tests.support.require import require_module

require_module("playwright.sync_api", "Playwright", "installed with the dev extra: ./scripts/setup.sh")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.browser

SITE, DESK = "bn-hcc", "q02"


class AgentServer:
    """The desk agent in this process, its web app (ticket API and kiosk page) served by uvicorn."""

    def __init__(self, broker: MosquittoBroker, tmp_path: Path) -> None:
        self.port = free_port()
        settings = EdgeSettings.model_validate(
            {
                "site": SITE,
                "desk": DESK,
                "staff": "cb-021",
                "mqtt": {"host": broker.host, "port": broker.port, "reconnect_min_s": 1, "reconnect_max_s": 2},
                "spool": {"path": str(tmp_path / "outbox.db")},
                "tickets": {"api": {"listen": f"127.0.0.1:{self.port}"}},
                "kiosk": {
                    "touch": {"listen": f"127.0.0.1:{self.port}", "thanks_s": 3},
                    "integrity": {"too_soon_s": 0},
                },
            }
        )
        self.agent = DeskAgent(settings)
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.agent.web_app(), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> AgentServer:
        self.agent.start()
        self._thread.start()
        wait_for(lambda: _answers(f"{self.url}/api/v1/health") and self.agent.link.connected, "the desk agent")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.agent.close()

    def ticket(self, event: str, number: str) -> None:
        response = httpx.post(f"{self.url}/api/v1/tickets", json={"event": event, "ticket": number}, timeout=5)
        assert response.status_code == 202, response.text


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def records(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture()
def page() -> Iterator[Page]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, has_touch=True, locale="vi-VN")
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def type_keys(page: Page, *keys: str) -> None:
    """Tap keys of the on-screen keyboard ({space}, {shift}, {hoi}… for the special ones)."""
    for key in keys:
        page.locator(f'#keyboard [data-key="{key}"]').click()


TONE_CASES = [
    ("hoa", "huyen", "hòa"),
    ("cua", "hoi", "của"),
    ("toan", "sac", "toán"),
    ("ngươi", "huyen", "người"),  # ươ takes the tone on ơ
    ("người", "huyen", "ngươi"),  # the same tone again takes it off
    ("qua", "sac", "quá"),
    ("gia", "nga", "giã"),
    ("nhiêt", "nang", "nhiệt"),
    ("Cam", "hoi", "Cảm"),
    ("thuy", "hoi", "thủy"),
    ("ngoai", "huyen", "ngoài"),
    ("tinh", "huyen", "tình"),
    ("bcd", "sac", "bcd"),
    ("hòa", "sac", "hóa"),
]


def test_a_citizen_rates_and_comments_on_the_touchscreen(
    page: Page, own_broker: MosquittoBroker, tmp_path: Path
) -> None:
    database = tmp_path / "hub.db"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with HubServer(own_broker, database, client_id="hub-kiosk-browser"), AgentServer(own_broker, tmp_path) as desk:
        desk.ticket("called", "A031")
        desk.ticket("finished", "A031")

        page.goto(f"{desk.url}/kiosk")
        expect(page.locator("#screen-rate h1")).to_have_text("Ông/Bà có hài lòng với sự phục vụ hôm nay không?")
        expect(page.locator(".rating .label")).to_have_text(
            ["Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng"]
        )
        page.screenshot(path=str(SCREENSHOTS / "kiosk-rating.png"))

        page.locator("#lang").click()
        expect(page.locator("#screen-rate h1")).to_have_text("Are you satisfied with the service today?")
        expect(page.locator(".rating .label").first).to_have_text("Very satisfied")
        page.locator("#lang").click()
        expect(page.locator(".rating .label").first).to_have_text("Rất hài lòng")

        # The citizen of A031: very satisfied, a phrase and a few words typed, consent ticked.
        page.locator(".rating", has_text="Rất hài lòng").click()
        expect(page.locator("#comment-title")).to_have_text("Cảm ơn Ông/Bà đã đánh giá!")
        page.locator(".phrase", has_text="Cán bộ nhiệt tình, chu đáo").click()
        type_keys(page, ".", "{space}", "{shift}", "c", "a", "m", "{hoi}", "{space}", "ơ", "n")
        expect(page.locator("#comment")).to_have_value("Cán bộ nhiệt tình, chu đáo. Cảm ơn")
        page.locator("label.consent").click()
        expect(page.locator("#consent")).to_be_checked()
        fits = page.evaluate(
            "() => { const s = document.getElementById('screen-comment'); return s.scrollHeight <= s.clientHeight; }"
        )
        assert fits, "the comment screen must fit a 1280x800 screen without scrolling"
        page.screenshot(path=str(SCREENSHOTS / "kiosk-comment.png"))
        page.locator("#send").click()
        expect(page.locator("#screen-thanks h1")).to_be_visible()
        expect(page.locator("#screen-thanks h1")).to_have_text("Xin cảm ơn Ông/Bà!")
        expect(page.locator("#comment-error")).to_be_hidden()
        page.screenshot(path=str(SCREENSHOTS / "kiosk-thanks.png"))
        # The thank-you screen goes back to the start by itself, in Vietnamese, with nothing left of the comment.
        expect(page.locator("#screen-rate")).to_be_visible(timeout=8000)
        assert page.locator("#comment").input_value() == ""

        # The tone keys put the mark where Vietnamese spelling puts it.
        placed = page.evaluate(
            "cases => cases.map(([word, tone]) => window.VietKeyboard.applyTone(word, tone))",
            [[w, t] for w, t, _ in TONE_CASES],
        )
        assert placed == [expected for _, _, expected in TONE_CASES]

        # The citizen of A032: not satisfied, a phrase, no consent: only the label leaves the Pi.
        desk.ticket("called", "A032")
        desk.ticket("finished", "A032")
        page.locator(".rating", has_text="Không hài lòng").click()
        expect(page.locator(".phrase").first).to_have_text("Phải chờ quá lâu")
        page.locator(".phrase", has_text="Phải chờ quá lâu").click()
        page.locator("#send").click()
        expect(page.locator("#screen-thanks")).to_be_visible()

        wait_for(lambda: len(records(database, "SELECT id FROM feedback")) == 2, "two comments at the hub")
        ratings = records(database, "SELECT score, ticket, staff, channel, counted FROM ratings ORDER BY rowid")
        feedback = records(database, "SELECT ticket, sentiment, text FROM feedback ORDER BY rowid")

    assert ratings == [(4, "A031", "cb-021", "touch", 1), (1, "A032", "cb-021", "touch", 1)]
    assert feedback == [("A031", "positive", "Cán bộ nhiệt tình, chu đáo. Cảm ơn"), ("A032", "negative", None)]
