"""The Decree 335 entries API on a real hub (no browser): only a supervisor or admin may enter, every entry is
signed with the caller's name and lands in the audit log, a bad entry is refused with its field named and
leaves nothing behind, and the monthly tracking is kept in the record as it is computed."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker
from hub.auth import hash_password
from hub.config import HubSettings, load_settings
from tests.support.hub_server import HubServer

ENTRIES = "/api/v1/evaluation/entries"


@pytest.fixture()
def hub_with_roles(broker: MosquittoBroker, tmp_path: Path) -> Iterator[HubServer]:
    os.environ.pop("ONESTOP_HUB_SESSION_SECRET", None)
    data = load_settings().model_dump()
    data["access"] = {
        "users": [
            {"name": "giamsat", "role": "supervisor", "password_hash": hash_password("mat-khau-8")},
            {"name": "xem", "role": "viewer", "password_hash": hash_password("mat-khau-7")},
        ]
    }
    data["evaluation"]["officers"] = {"cb-an": {"name": "Nguyễn Thị An", "position": "Chuyên viên"}}
    server = HubServer(broker, tmp_path / "hub.db", "hub-decree-api", HubSettings.model_validate(data))
    server.http.auth = ("giamsat", "mat-khau-8")  # the hub's own readiness check logs in with HTTP Basic
    with server:
        yield server


def test_entries_are_signed_audited_and_refused_when_wrong(hub_with_roles: HubServer, tmp_path: Path) -> None:
    url = hub_with_roles.url
    supervisor = ("giamsat", "mat-khau-8")
    entry = {"staff": "cb-an", "kind": "general", "month": "2026-02", "value": 26, "note": "tốt"}
    assert httpx.post(url + ENTRIES, json=entry).status_code == 401
    assert httpx.post(url + ENTRIES, json=entry, auth=("xem", "mat-khau-7")).status_code == 403
    made = httpx.post(url + ENTRIES, json=entry, auth=supervisor)
    assert made.status_code == 201
    assert made.json()["actor"] == "giamsat" and made.json()["label"] == "Điểm tiêu chí chung"

    bad = httpx.post(url + ENTRIES, json={**entry, "month": "2026-2x"}, auth=supervisor)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("month: cần dạng YYYY-MM")
    listed = httpx.get(url + ENTRIES, params={"year": 2026}, auth=supervisor).json()["entries"]
    assert [(e["kind"], e["value"], e["actor"]) for e in listed] == [("general", 26, "giamsat")]

    officers = httpx.get(url + "/api/v1/evaluation/officers", auth=supervisor).json()["officers"]
    assert officers == [{"staff": "cb-an", "name": "Nguyễn Thị An", "position": "Chuyên viên", "group": None}]
    months = httpx.get(
        url + "/api/v1/evaluation/tracking", params={"year": 2026, "staff": "cb-an"}, auth=supervisor
    ).json()["months"]
    assert months[1]["general_points"] == 26 and months[1]["general_source"].startswith("giamsat, ")
    assert (
        httpx.get(
            url + "/api/v1/evaluation/tracking", params={"year": 2025, "staff": "cb-an"}, auth=supervisor
        ).status_code
        == 422
    ), "2025 is judged by the 2021 rules, which have no monthly tracking"

    with sqlite3.connect(tmp_path / "hub.db") as conn:
        audit = conn.execute("SELECT actor, action, target, detail FROM audit_log ORDER BY seq").fetchall()
        stored = conn.execute("SELECT count(*) FROM evaluation_months WHERE staff = 'cb-an'").fetchone()[0]
    assert [(a, act, t) for a, act, t, _ in audit] == [
        ("giamsat", "evaluation.entry.add", "cb-an"),
        ("giamsat", "evaluation.tracking.read", "cb-an"),
    ]
    assert json.loads(audit[0][3])["value"] == 26
    assert stored == 12
