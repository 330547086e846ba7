"""The desk agent: wires the outbox, the MQTT link, ticket sources, sensors and the heartbeat."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fastapi import FastAPI
from gpiozero.pins import Factory

from edge.config import EdgeSettings
from edge.health import Health
from edge.mqtt_link import MqttLink
from edge.outbox import Outbox, Spool
from edge.sensors import QueueFusion, QueueReading
from edge.ticket_api import ticket_router
from edge.tickets import DeskButtons
from protocol.messages import Envelope, QueueMessage

logger = logging.getLogger(__name__)


class DeskAgent:
    """Everything one desk node runs. Every message goes through the outbox."""

    def __init__(self, settings: EdgeSettings, pin_factory: Factory | None = None) -> None:
        self.settings = settings
        self.spool = Spool(settings.spool.path, settings.spool.max_messages)
        self.link = MqttLink(settings.mqtt, settings.site, settings.desk, on_connected=self._connected)
        self.outbox = Outbox(self.spool, self.link.client, settings.spool.in_flight)
        self.health = Health(settings.site, settings.desk)
        self.sensors = QueueFusion(settings.sensors, pin_factory)
        self.buttons = (
            DeskButtons(
                settings.tickets.buttons,
                settings.site,
                settings.desk,
                settings.staff or "",
                settings.service,
                self.emit,
                pin_factory,
            )
            if settings.tickets.buttons
            else None
        )
        self._stopping = threading.Event()
        self._timer: threading.Thread | None = None
        self._last_queue: tuple[int, bool | None] | None = None
        self._last_queue_at = 0.0

    def emit(self, message: Envelope) -> None:
        """Spool a message for the hub (durable when this returns)."""
        self.outbox.put(message)

    def _connected(self) -> None:
        self.outbox.notify()

    def start(self) -> None:
        """Connect, publish from the spool, and start the periodic work."""
        self.outbox.start()
        self.link.start()
        self._timer = threading.Thread(target=self._periodic, name="edge-periodic", daemon=True)
        self._timer.start()
        logger.info(
            "desk agent %s/%s started; %d message(s) waiting in the outbox",
            self.settings.site,
            self.settings.desk,
            self.outbox.depth,
        )

    def close(self) -> None:
        """Stop everything; what is not yet delivered stays in the spool (idempotent)."""
        self._stopping.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
            self._timer = None
        if self.buttons is not None:
            self.buttons.close()
        self.sensors.close()
        self.outbox.close()
        self.link.close()
        self.spool.close()

    def status(self) -> dict[str, Any]:
        """The node's own view of its health (served on the local HTTP API)."""
        return {
            "site": self.settings.site,
            "desk": self.settings.desk,
            "mqtt_connected": self.link.connected,
            "last_error": self.link.last_error,
            "spool_depth": self.outbox.depth,
            "published": self.outbox.published,
            "acknowledged": self.outbox.acknowledged,
            "dropped": self.spool.dropped,
        }

    def web_app(self) -> FastAPI:
        """The node's local HTTP API: ticket endpoint (when configured) and health."""
        app = FastAPI(title="One-Stop Monitor desk agent", version="1")
        api = self.settings.tickets.api
        if api is not None:
            app.include_router(
                ticket_router(
                    self.settings.site,
                    self.settings.desk,
                    self.settings.staff,
                    self.settings.service,
                    api.token,
                    self.emit,
                )
            )
        app.add_api_route("/api/v1/health", self.status, methods=["GET"], summary="Node health")
        return app

    def _periodic(self) -> None:
        next_beat = time.monotonic()
        while not self._stopping.wait(1.0):
            now = time.monotonic()
            try:
                self._publish_queue(now)
                if now >= next_beat:
                    self.emit(self.health.heartbeat(self.outbox.depth))
                    next_beat = now + self.settings.heartbeat_s
            except Exception:
                logger.exception("periodic work failed; trying again in a second")

    def _publish_queue(self, now: float) -> None:
        reading: QueueReading | None = self.sensors.reading()
        if reading is None:
            return
        key = (reading.length, reading.present)
        if key == self._last_queue and now - self._last_queue_at < self.settings.queue_interval_s:
            return
        self._last_queue, self._last_queue_at = key, now
        self.emit(
            QueueMessage(
                site=self.settings.site,
                desk=self.settings.desk,
                length=reading.length,
                source=reading.source,
                present=reading.present,
                head_wait_s=reading.head_wait_s,
                est_wait_s=reading.est_wait_s,
            )
        )
