"""API hardening against a real hub (uvicorn, SQLite, Mosquitto) with users, an API key and a public unit:
each attack of issue 12 first, then what a user would notice — a 4xx instead of a bypass or a 500, a cookie
that stops working, an audit entry naming who read what."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker
from hub.auth import hash_password
from hub.config import HubSettings, load_settings
from protocol.messages import FeedbackMessage, Sentiment
from tests.support.hub_server import HubServer, Publisher

PASSWORDS = {"quantri": "quan-tri-2026", "giamsat": "giam-sat-2026", "xem": "chi-xem-thoi"}
ROLES = {"quantri": "admin", "giamsat": "supervisor", "xem": "viewer"}
API_KEY = "khoa-trung-tam-dieu-hanh-0123456789abcdef"
PUBLIC = "bn-kinh-bac"
PRIVATE = "bn-tu-son"


def hardened_settings() -> HubSettings:
    data = load_settings().model_dump()
    data["access"] = {
        "users": [
            {"name": name, "role": ROLES[name], "password_hash": hash_password(password)}
            for name, password in PASSWORDS.items()
        ],
        "public_units": [PUBLIC],
        "api_keys": [
            {
                "name": "trung-tam",
                "role": "supervisor",
                "key_hash": "sha256$" + hashlib.sha256(API_KEY.encode()).hexdigest(),
            }
        ],
        "max_streams_per_user": 2,
        "max_streams_total": 3,
    }
    return HubSettings.model_validate(data)


@pytest.fixture(scope="module")
def hub(broker: MosquittoBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    server = HubServer(broker, tmp_path_factory.mktemp("hardened") / "hub.db", "hub-hardened", hardened_settings())
    server.http.auth = ("quantri", PASSWORDS["quantri"])
    with server:
        yield server


def client(hub: HubServer, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=hub.url, timeout=20, **kwargs)


def logged_in(hub: HubServer, name: str) -> httpx.Client:
    session = client(hub)
    response = session.post("/api/v1/auth/login", json={"name": name, "password": PASSWORDS[name]})
    assert response.status_code == 200, response.text
    return session


def audit_actions(hub: HubServer, action: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = hub.get("/api/v1/audit", action=action)
    return entries


def test_a_repeated_site_cannot_slip_past_the_public_unit_check(hub: HubServer) -> None:
    anonymous = client(hub)
    assert anonymous.get(f"/api/v1/alerts?site={PUBLIC}").status_code == 200
    for path in ("/api/v1/alerts", "/api/v1/stream"):
        response = anonymous.get(f"{path}?site={PUBLIC}&site={PRIVATE}")
        assert response.status_code == 400, (path, response.status_code)
        assert "site" in response.json()["detail"]
    # Logged in, a repeated parameter is just as ambiguous.
    assert hub.http.get(f"/api/v1/alerts?site={PRIVATE}&site={PUBLIC}").status_code == 400
    assert hub.http.get(f"/api/v1/sites/{PRIVATE}/stats?date=2026-03-02&date=2026-03-03").status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/sites/{PUBLIC}/days?to=0001-01-01",
        f"/api/v1/sites/{PUBLIC}/days?to=9999-12-31",
        f"/api/v1/sites/{PUBLIC}/stats?date=0001-01-01",
        f"/api/v1/sites/{PUBLIC}/hours?date=9999-12-31",
        f"/api/v1/reports/forecast?site={PUBLIC}&from=9999-12-25",
        f"/api/v1/reports/staffing?site={PUBLIC}&date=9999-12-31",
        "/api/v1/reports/figures?period=9999-W52",
        "/api/v1/reports/figures?period=0001-01-01..9999-12-31",
        "/api/v1/reports/decision766?period=2000-01-01..2099-12-31",
        "/api/v1/reports/evaluation?period=0001",
    ],
)
def test_extreme_dates_and_periods_get_a_clear_4xx(hub: HubServer, path: str) -> None:
    response = hub.http.get(path)  # refused before any computation (on main: 500s, or minutes of work)
    assert response.status_code == 422, (path, response.status_code, response.text[:200])
    assert "detail" in response.json()


def test_logout_ends_the_session_on_the_hub(hub: HubServer) -> None:
    session = logged_in(hub, "giamsat")
    cookie = session.cookies.get("onestop_session")
    assert cookie
    assert session.get("/api/v1/sites").status_code == 200
    assert session.post("/api/v1/auth/logout").status_code == 200
    # A copy of the cookie kept by an attacker (or a shared browser) no longer works.
    replay = client(hub, cookies={"onestop_session": cookie})
    assert replay.get("/api/v1/sites").status_code == 401
    assert any(e["target"] == "giamsat" for e in audit_actions(hub, "session.logout"))


def test_an_admin_revoke_ends_every_session_of_a_user(hub: HubServer) -> None:
    laptop, phone = logged_in(hub, "xem"), logged_in(hub, "xem")
    assert laptop.get("/api/v1/sites").status_code == 200 and phone.get("/api/v1/sites").status_code == 200
    assert logged_in(hub, "giamsat").post("/api/v1/access/users/xem/revoke").status_code == 403
    answer = hub.http.post("/api/v1/access/users/xem/revoke")
    assert answer.status_code == 200 and answer.json()["sessions_ended"] >= 2
    assert laptop.get("/api/v1/sites").status_code == 401 and phone.get("/api/v1/sites").status_code == 401
    assert hub.http.post("/api/v1/access/users/nobody/revoke").status_code == 404
    entry = audit_actions(hub, "user.sessions.revoke")[0]
    assert (entry["actor"], entry["target"]) == ("quantri", "xem")
    assert logged_in(hub, "xem").get("/api/v1/sites").status_code == 200  # a fresh login works again


def test_http_basic_is_throttled_like_the_login_and_forwarded_for_does_not_dodge_it(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    server = HubServer(broker, tmp_path / "hub.db", "hub-throttle", hardened_settings())
    server.http.auth = ("quantri", PASSWORDS["quantri"])
    with server:
        for attempt in range(10):
            # Each guess claims another address: from loopback, without trusted proxies, that counts for nothing.
            wrong = client(server, auth=("giamsat", f"sai-{attempt}"), headers={"X-Forwarded-For": f"10.0.0.{attempt}"})
            assert wrong.get("/api/v1/sites").status_code == 401
        right = client(server, auth=("giamsat", PASSWORDS["giamsat"]), headers={"X-Forwarded-For": "10.9.9.9"})
        assert right.get("/api/v1/sites").status_code == 429
        login = client(server).post("/api/v1/auth/login", json={"name": "giamsat", "password": PASSWORDS["giamsat"]})
        assert login.status_code == 429
        # The admin's client was verified before the flood and is remembered: scripts already running keep working.
        assert server.http.get("/api/v1/sites").status_code == 200


def test_every_response_carries_the_security_headers(hub: HubServer) -> None:
    anonymous = client(hub)
    for path, status in [("/", 200), ("/app.js", 200), ("/api/v1/sites", 401), ("/api/v1/auth/me", 200)]:
        response = anonymous.get(path)
        assert response.status_code == status, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp, path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
    index = anonymous.get("/").text
    assert "<script>" not in index and '<script type="module">' not in index  # no inline script to allow


def test_live_streams_are_capped_per_user_and_in_total(hub: HubServer) -> None:
    first, second, third = (logged_in(hub, name) for name in ("xem", "xem", "giamsat"))
    with first.stream("GET", "/api/v1/stream") as one, second.stream("GET", "/api/v1/stream") as two:
        assert one.status_code == 200 and two.status_code == 200
        refused = logged_in(hub, "xem").get("/api/v1/stream")
        assert refused.status_code == 429 and "user" in refused.json()["detail"]
        with third.stream("GET", "/api/v1/stream") as three:
            assert three.status_code == 200
            crowded = hub.http.get("/api/v1/stream")
            assert crowded.status_code == 429 and "hub" in crowded.json()["detail"]
    # Once closed, the hub notices the disconnects and a stream can be opened again.
    deadline = time.monotonic() + 30
    while True:
        with first.stream("GET", "/api/v1/stream") as again:
            if again.status_code == 200:
                break
        assert time.monotonic() < deadline, "closed streams were never released"
        time.sleep(0.2)


def test_an_api_key_reads_but_changes_nothing_and_sees_no_personnel_data(hub: HubServer) -> None:
    centre = client(hub, headers={"Authorization": f"Bearer {API_KEY}"})
    assert centre.get("/api/v1/sites").status_code == 200
    assert centre.get("/api/v1/reports/decision766?period=2026-03").status_code == 200
    assert centre.get("/api/v1/reports/evaluation?period=2026").status_code == 403
    assert centre.get("/api/v1/audit").status_code == 403
    assert centre.post("/api/v1/access/users/xem/revoke").status_code == 403
    assert client(hub, headers={"Authorization": "Bearer not-the-key"}).get("/api/v1/sites").status_code == 401


def test_reading_the_evaluation_pack_is_audited_and_the_audit_log_is_for_admins(hub: HubServer) -> None:
    assert hub.http.get("/api/v1/reports/evaluation?period=2026").status_code == 200
    assert hub.http.get("/api/v1/reports/evaluation?period=2026&format=csv").status_code == 200
    entries = audit_actions(hub, "report.evaluation.")
    assert [e["action"] for e in entries[:2]] == ["report.evaluation.export", "report.evaluation.read"]
    assert {e["actor"] for e in entries[:2]} == {"quantri"}
    supervisor = logged_in(hub, "giamsat")
    assert supervisor.get("/api/v1/reports/figures?period=2026-03&by=officer").status_code == 200
    personnel = audit_actions(hub, "report.personnel.read")[0]
    assert personnel["actor"] == "giamsat" and personnel["detail"]["period"] == "2026-03"
    assert supervisor.get("/api/v1/audit").status_code == 403


def test_a_comment_text_is_shown_to_admins_only_and_erased_on_request(hub: HubServer, broker: MosquittoBroker) -> None:
    comment = FeedbackMessage(
        site=PRIVATE,
        desk="q01",
        sentiment=Sentiment.NEGATIVE,
        confidence=0.9,
        consent=True,
        text="Chờ quá lâu ở quầy 1",
    )
    before = hub.counts()["accepted"]
    with Publisher(broker, "privacy-publisher") as publisher:
        publisher.send([comment])
    hub.wait_until(lambda counts: counts["accepted"] > before)
    day = comment.ts.astimezone(hub.settings.zone).date().isoformat()
    assert logged_in(hub, "giamsat").get(f"/api/v1/feedback/texts?site={PRIVATE}&date={day}").status_code == 403
    texts = hub.get("/api/v1/feedback/texts", site=PRIVATE, date=day)
    assert [(t["id"], t["text"]) for t in texts] == [(comment.id, "Chờ quá lâu ở quầy 1")]
    assert audit_actions(hub, "feedback.text.read")[0]["target"] == f"{PRIVATE}/{day}"

    erase = f"/api/v1/feedback/{PRIVATE}/q01/{comment.id}/text"
    assert hub.http.delete(f"/api/v1/feedback/{PRIVATE}/q02/{comment.id}/text").status_code == 404  # another desk
    assert hub.http.delete(erase).status_code == 200
    assert hub.get("/api/v1/feedback/texts", site=PRIVATE, date=day) == []
    assert hub.http.delete(erase).status_code == 404
    erasures = [(e["actor"], e["target"], e["detail"]) for e in audit_actions(hub, "feedback.text.erase")[:2]]
    target = f"{PRIVATE}/q01/{comment.id}"
    assert erasures == [("quantri", target, {"erased": False}), ("quantri", target, {"erased": True})]
    database = Path(hub.settings.database.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as conn:
        sentiment, text = conn.execute("SELECT sentiment, text FROM feedback WHERE id = ?", (target,)).fetchone()
        (payload,) = conn.execute("SELECT payload FROM messages WHERE id = ?", (comment.id,)).fetchone()
    assert (sentiment, text) == ("negative", None)  # the sentiment still counts
    assert "Chờ quá lâu" not in payload
