"""Two hub workers on one record, as behind a load balancer (real hubs over HTTP, real Mosquitto, SQLite and
PostgreSQL): a login made at one worker is accepted at the other and a logout at either ends it everywhere; an
evaluation entry made through one is listed by the other; the audit log of either shows what both did."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker
from hub.auth import hash_password
from hub.config import HubSettings, load_settings
from tests.support.hub_server import HubServer

PASSWORDS = {"quantri": "quan-tri-2026", "giamsat": "giam-sat-2026"}
ENTRIES = "/api/v1/evaluation/entries"


@pytest.fixture()
def two_workers(
    broker: MosquittoBroker, record_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[HubServer, HubServer]]:
    monkeypatch.setenv("ONESTOP_HUB_SESSION_SECRET", "khoa-chung-cua-moi-worker")  # the same on every worker
    data = load_settings().model_dump()
    data["access"] = {
        "users": [
            {"name": "quantri", "role": "admin", "password_hash": hash_password(PASSWORDS["quantri"])},
            {"name": "giamsat", "role": "supervisor", "password_hash": hash_password(PASSWORDS["giamsat"])},
        ]
    }
    data["evaluation"]["officers"] = {"cb-an": {"name": "Nguyễn Thị An", "position": "Chuyên viên"}}
    settings = HubSettings.model_validate(data)
    workers = [HubServer(broker, record_url, f"hub-shared-{name}", settings) for name in ("a", "b")]
    for worker in workers:
        worker.http.auth = ("quantri", PASSWORDS["quantri"])  # the readiness check and the audit reads
    with workers[0], workers[1]:
        yield workers[0], workers[1]


def test_a_login_entries_and_the_audit_log_are_shared_by_two_workers(two_workers: tuple[HubServer, HubServer]) -> None:
    a, b = two_workers
    browser = httpx.Client(timeout=20)
    try:
        login = browser.post(a.url + "/api/v1/auth/login", json={"name": "giamsat", "password": PASSWORDS["giamsat"]})
        assert login.status_code == 200, login.text
        assert browser.get(b.url + "/api/v1/auth/me").json()["name"] == "giamsat"  # the other worker knows it

        entry = {"staff": "cb-an", "kind": "general", "month": "2026-02", "value": 26, "note": "tốt"}
        made = browser.post(b.url + ENTRIES, json=entry)
        assert made.status_code == 201 and made.json()["actor"] == "giamsat"
        listed = browser.get(a.url + ENTRIES, params={"year": 2026}).json()["entries"]
        assert [(e["staff"], e["value"], e["actor"], e["note"]) for e in listed] == [("cb-an", 26, "giamsat", "tốt")]

        assert browser.post(b.url + "/api/v1/auth/logout").status_code == 200
        refused = httpx.get(
            a.url + ENTRIES, params={"year": 2026}, cookies={"onestop_session": login.cookies["onestop_session"]}
        )
        assert refused.status_code == 401  # the cookie, kept, no longer works at the worker that issued it

        for worker in (a, b):
            actions = [(e["actor"], e["action"]) for e in worker.get("/api/v1/audit", actor="giamsat")]
            assert ("giamsat", "evaluation.entry.add") in actions
            done = [action for _, action in actions]
            assert done.index("session.logout") < done.index("evaluation.entry.add")  # newest first
        logins = [e for e in a.get("/api/v1/audit", action="session.") if e["target"] == "giamsat"]
        assert [e["action"] for e in logins] == ["session.logout", "session.login"]
    finally:
        browser.close()
