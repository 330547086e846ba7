"""The hall display on the TV of a public unit, in headless Chromium (Debian's, driven by Playwright) against a
real hub and a real Mosquitto: the numbers waiting and the expected waits are shown, a call-next event published
on MQTT appears on the page within two seconds without a reload, and the page fetches the spoken call, a WAV
made by espeak-ng whose duration and loudness are checked here. A screenshot goes to test-artifacts/."""

from __future__ import annotations

import os
import time
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Response, expect

from devtools.mosquitto import MosquittoBroker
from hub.auth import hash_password
from hub.config import HubSettings, load_settings
from protocol.messages import TicketEvent, TicketMessage
from tests.support.hub_server import HubServer, Publisher

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SITE = "bn-kinh-bac"  # public, and speaks its calls; desks Quầy 1–3


def hall_settings(cache: Path) -> HubSettings:
    data = load_settings().model_dump()
    data["access"] = {
        "users": [{"name": "giamsat", "role": "supervisor", "password_hash": hash_password("mat-khau-8")}],
        "public_units": [SITE],
    }
    data["hall"] = {"speak_units": [SITE], "cache_dir": str(cache)}
    return HubSettings.model_validate(data)


@pytest.fixture()
def hub(tmp_path: Path) -> Iterator[tuple[MosquittoBroker, HubServer]]:
    os.environ.pop("ONESTOP_HUB_SESSION_SECRET", None)
    with MosquittoBroker(workdir=tmp_path / "broker") as broker:
        server = HubServer(broker, tmp_path / "hub.db", client_id="hub-hall", settings=hall_settings(tmp_path / "wav"))
        server.http.auth = ("giamsat", "mat-khau-8")  # the test's own requests log in; the TV does not
        server.start()
        try:
            yield broker, server
        finally:
            server.stop()


def issued(ticket: str, desk: str, service: str, minutes_ago: float) -> TicketMessage:
    ts = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return TicketMessage(ts=ts, site=SITE, desk=desk, event=TicketEvent.ISSUED, ticket=ticket, service=service)


def wav_figures(data: bytes, path: Path) -> tuple[float, float]:
    """Duration (s) and RMS (full scale 1) of a 16-bit mono WAV."""
    path.write_bytes(data)
    with wave.open(str(path)) as audio:
        assert (audio.getsampwidth(), audio.getnchannels()) == (2, 1)
        duration = audio.getnframes() / audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2").astype(np.float64) / 32768
    return duration, float(np.sqrt(np.mean(samples**2)))


def test_the_hall_shows_a_called_number_within_two_seconds_and_speaks_it(
    browser: Browser, hub: tuple[MosquittoBroker, HubServer], tmp_path: Path
) -> None:
    broker, server = hub
    with Publisher(broker, client_id="hall-tickets") as publisher:
        publisher.send(
            [
                issued("25", "q03", "lao-dong-viec-lam", 6),
                issued("26", "q03", "lao-dong-viec-lam", 4),
                issued("27", "q03", "lao-dong-viec-lam", 2),
                issued("B01", "q01", "dat-dai", 3),
            ]
        )
        server.wait_until(lambda c: c["accepted"] >= 4)

        context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
        page = context.new_page()
        try:
            page.goto(f"{server.url}/hall/{SITE}")  # no login: a public unit's TV
            expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15000)
            expect(page.locator("#hall-unit")).to_have_text("Trung tâm Phục vụ hành chính công phường Kinh Bắc")
            row = page.locator('#hall-desk-rows tr[data-desk="q03"]')
            expect(row.locator(".name")).to_have_text("Quầy 3")
            expect(row.locator(".next")).to_have_text("25  26  27")
            expect(row.locator(".serving")).to_have_text("—")
            labour = page.locator('#hall-wait-list li[data-service="lao-dong-viec-lam"]')
            # Three waiting, none served yet: 10 minutes assumed each, so a new ticket waits about 30 minutes.
            expect(labour).to_have_text("Lao động – Việc làm" + "Khoảng 30 phút")
            expect(page.locator("#hall-status")).to_have_text("Đang cập nhật trực tiếp", timeout=5000)
            page.evaluate("window.__notReloaded = true")

            spoken: list[Response] = []
            asked: dict[str, float] = {}  # ticket → when the page first asked for its spoken call
            page.on("response", lambda r: spoken.append(r) if "/hall/call.wav" in r.url else None)
            page.on(
                "request",
                lambda r: (
                    asked.setdefault(r.url.rsplit("ticket=", 1)[1], time.monotonic())
                    if "/hall/call.wav" in r.url
                    else None
                ),
            )
            call = TicketMessage(site=SITE, desk="q03", event=TicketEvent.CALLED, ticket="25", staff="cb-kb-3")
            publisher.send([call])
            called_at = time.monotonic()
            expect(page.locator("#hall-call-text")).to_have_text("Số 25 → Quầy 3", timeout=2000)
            expect(row.locator(".serving")).to_have_text("25", timeout=2000 - (time.monotonic() - called_at) * 1000)
            expect(row.locator(".next")).to_have_text("26  27")
            assert page.evaluate("window.__notReloaded") is True, "the page reloaded instead of updating live"

            # Another desk calls at once: shown at once, heard after the first call, not over it.
            publisher.send(
                [TicketMessage(site=SITE, desk="q01", event=TicketEvent.CALLED, ticket="B01", staff="cb-kb-1")]
            )
            expect(page.locator("#hall-call-text")).to_have_text("Số B01 → Quầy 1", timeout=2000)
            deadline = time.monotonic() + 20
            while len({r.url for r in spoken}) < 2 and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            heard = list(dict.fromkeys(r.url.rsplit("ticket=", 1)[1] for r in spoken))
            assert heard == ["25", "B01"], f"the page fetched the spoken calls {heard}"
            # B01 was asked for only once 25 had been heard (its WAV lasts at least 1.5 s, checked below).
            assert asked["B01"] - asked["25"] >= 1.5
            # 206: the audio element asks for byte ranges, as browsers do for media.
            assert spoken[0].status in (200, 206) and spoken[0].headers["content-type"] == "audio/wav"
            expect(page.locator("#hall-sound")).to_be_hidden()  # played: the browser did not ask for a tap
            ARTIFACTS.mkdir(exist_ok=True)
            page.wait_for_function("document.getAnimations().length === 0")  # the call's flash is over
            page.screenshot(path=str(ARTIFACTS / "hall-display.png"))
            speech_url = spoken[0].url
        finally:
            context.close()

    # The same WAV, as anyone may fetch it for a public unit: Vietnamese speech of a sensible length.
    response = httpx.get(speech_url)
    assert response.status_code == 200
    duration, rms = wav_figures(response.content, tmp_path / "call.wav")
    assert 1.5 <= duration <= 8.0
    assert rms > 0.01

    # Only numbers really called are spoken, and a unit that is not public stays closed to the TV.
    assert httpx.get(f"{server.url}/api/v1/sites/{SITE}/hall/call.wav?desk=q03&ticket=99").status_code == 404
    assert httpx.get(f"{server.url}/api/v1/sites/bn-hcc/hall").status_code == 401
    assert server.get("/api/v1/sites/bn-hcc/hall")["speak"] is False
