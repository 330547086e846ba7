"""Fixtures shared by the whole suite: a real Mosquitto broker and a real hub serving HTTP.

Under CI=true no test may skip: any skip (from ``tests.support.require`` or any other ``pytest.skip``,
``importorskip`` or ``skipif``) is reported as a failure that carries the skip's reason."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from devtools.mosquitto import MosquittoBroker
from devtools.postgres import PostgresError, PostgresServer
from tests.support.hub_server import HubServer
from tests.support.require import in_ci, require, require_module


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _fail_skip_under_ci(report: pytest.CollectReport | pytest.TestReport) -> None:
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report).removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"CI=true forbids skipping; this test would have skipped: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, None]:
    outcome = yield
    _fail_skip_under_ci(outcome.get_result())  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, object, None]:
    outcome = yield
    _fail_skip_under_ci(outcome.get_result())  # type: ignore[attr-defined]


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server on loopback for the whole session (a fresh database per test)."""
    require_module("psycopg", "psycopg", "./scripts/setup.sh installs the hub extra")
    try:
        server = PostgresServer()
    except PostgresError as error:
        require(False, "PostgreSQL 15", f"./scripts/setup.sh installs Debian's postgresql: {error}")
        raise
    with server as running:
        yield running


ENGINES = ("sqlite", "postgresql")


@pytest.fixture(params=ENGINES)
def record_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty record, once on each engine: SQLite in ``tmp_path``, a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()
