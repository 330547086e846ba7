"""The hub's web application: REST API, live stream and the dashboard's static files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from hub.api import admin, alerts, dashboard, hall, notify, reports, session, sites, stream, system
from hub.api import evaluation as evaluation_api
from hub.api import provinces as provinces_api
from hub.auth import AccessMiddleware, AccessPolicy
from hub.config import HubSettings, parse_host_port
from hub.events import Broadcaster
from hub.runtime import HubRuntime
from hub.sessions import SessionStore
from protocol.resources import package_dir

logger = logging.getLogger(__name__)

DASHBOARD_DIR = package_dir("onestop_dashboards", "web")


def create_app(settings: HubSettings, runtime_factory: Callable[[HubSettings], HubRuntime] = HubRuntime) -> FastAPI:
    """Build the application; the runtime (database, MQTT) opens in the lifespan, not here."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = runtime_factory(settings)
        runtime.start(Broadcaster(asyncio.get_running_loop()))
        app.state.runtime = runtime
        try:
            yield
        finally:
            runtime.close()
            reader = getattr(app.state, "record_reader", None)
            if reader is not None:
                reader.close()
            report_record = getattr(app.state, "report_record", None)
            if report_record is not None:
                report_record.close()
            entries = getattr(app.state, "evaluation_entries", None)
            if entries is not None:
                entries.close()
                app.state.evaluation_entries = None
            sessions.close()

    app = FastAPI(
        title="One-Stop Monitor hub",
        description="Giám sát Bộ phận Một cửa: thời gian chờ, mức độ hài lòng, cảnh báo theo thời gian thực.",
        version="1",
        lifespan=lifespan,
    )
    for module in (sites, alerts, stream, system, reports, notify, admin, evaluation_api):
        app.include_router(module.router)
    # Access: refuses to build a hub that would listen beyond loopback without users (hub.auth). Sessions are
    # in the record, shared by every worker; the connection opens at the first login, after the lifespan's store.
    sessions = SessionStore(lambda: app.state.runtime.store.connect())
    policy = AccessPolicy(settings.access, parse_host_port(settings.listen)[0], sessions=sessions)
    app.state.access_policy = policy
    app.add_middleware(AccessMiddleware, policy=policy, tile_url=settings.map.tile_url)
    for extra in (session, dashboard, hall, provinces_api):
        app.include_router(extra.router)
    if DASHBOARD_DIR.is_dir():
        app.mount("/", StaticFiles(directory=DASHBOARD_DIR, html=True), name="dashboard")
    else:
        logger.warning("dashboard files not found at %s; serving the API only", DASHBOARD_DIR)
    return app
