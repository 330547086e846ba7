"""Fixtures shared by the whole suite: a real Mosquitto broker and a real hub serving HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.mosquitto import MosquittoBroker
from tests.support.hub_server import HubServer


@pytest.fixture(scope="session")
def broker() -> Iterator[MosquittoBroker]:
    """A private Mosquitto on loopback for the whole session."""
    with MosquittoBroker() as running:
        yield running


@pytest.fixture()
def own_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker for one test that may stop and start it (fault injection)."""
    with MosquittoBroker(workdir=tmp_path / "broker") as running:
        yield running


@pytest.fixture()
def hub(broker: MosquittoBroker, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[HubServer]:
    """A hub on the session broker with its own SQLite record and MQTT session."""
    with HubServer(broker, tmp_path / "hub.db", client_id=f"hub-{request.node.name}"[:60]) as server:
        yield server
