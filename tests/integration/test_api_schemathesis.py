"""schemathesis over the hub's OpenAPI document, as a logged-in admin against a real hub (uvicorn on loopback,
SQLite, Mosquitto): no request, valid or not, gets a 5xx or breaks the connection.

The number of cases is bounded (``CASES_PER_OPERATION``) so that the run takes well under 90 s on the 2-core
dev VM. The live stream never ends by design and is left out; its parameters are covered by the hardening
tests."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from devtools.mosquitto import MosquittoBroker
from hub.api.app import create_app
from hub.auth import hash_password
from hub.config import HubSettings, load_settings
from tests.support.hub_server import HubServer
from tests.support.require import require_module

schemathesis = require_module("schemathesis", "schemathesis", "installed with the dev extra: ./scripts/setup.sh")

CASES_PER_OPERATION = 30
ADMIN = ("quantri", "quan-tri-2026")


def fuzzed_settings(database: str) -> HubSettings:
    data = load_settings().model_dump()
    data["database"] = database
    data["access"] = {
        "users": [
            {"name": ADMIN[0], "role": "admin", "password_hash": hash_password(ADMIN[1])},
            {"name": "xem", "role": "viewer", "password_hash": hash_password("chi-xem-thoi")},
        ],
        "public_units": ["bn-kinh-bac"],
        "max_failed_logins": 1_000_000,  # fuzzed logins must not lock the fuzzer out
    }
    return HubSettings.model_validate(data)


# The document as the application publishes it (building the app opens nothing but its session table).
_schema_dir = tempfile.mkdtemp(prefix="onestop-openapi-")
schema = schemathesis.openapi.from_dict(
    create_app(fuzzed_settings(f"sqlite:///{_schema_dir}/schema.db")).openapi()
).exclude(path="/api/v1/stream")


@pytest.fixture(scope="module")
def hub(broker: MosquittoBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    path = tmp_path_factory.mktemp("schemathesis") / "hub.db"
    server = HubServer(broker, path, "hub-schemathesis", fuzzed_settings(f"sqlite:///{path}"))
    server.http.auth = ADMIN
    with server:
        yield server


AUTHORIZATION = {"Authorization": "Basic " + base64.b64encode(":".join(ADMIN).encode()).decode()}


@schema.parametrize()
@settings(
    max_examples=CASES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_gets_a_server_error(case: schemathesis.Case, hub: HubServer) -> None:
    response = case.call(base_url=hub.url, headers=AUTHORIZATION, timeout=30)
    assert response.status_code < 500, (case.method, case.formatted_path, case.query, response.text[:300])
