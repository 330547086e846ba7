"""The desk agent: wires the outbox, the MQTT link, ticket sources, sensors and the heartbeat."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from gpiozero.pins import Factory

from edge.config import EdgeSettings
from edge.health import Health
from edge.kiosk.service import Kiosk
from edge.kiosk.web import kiosk_router
from edge.mqtt_link import MqttLink
from edge.outbox import Outbox, Spool
from edge.sensors import QueueFusion, QueueReading
from edge.ticket_api import ticket_router
from edge.tickets import DeskButtons
from protocol.messages import Envelope, QueueMessage, TicketMessage

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
        # Whoever needs the desk's ticket events (the kiosk ties each rating to the ticket just served).
        self.ticket_listeners: list[Callable[[TicketMessage], None]] = []
        self.kiosk = (
            Kiosk(settings.kiosk, settings.site, settings.desk, self.emit, pin_factory) if settings.kiosk else None
        )
        if self.kiosk is not None:
            self.ticket_listeners.append(self.kiosk.observe_ticket)
        self._stopping = threading.Event()
        self._timer: threading.Thread | None = None
        self._camera: threading.Thread | None = None
        self._last_queue: tuple[int, bool | None] | None = None
        self._last_queue_at = 0.0

    def emit(self, message: Envelope) -> None:
        """Spool a message for the hub (durable when this returns); ticket events also go to the listeners."""
        self.outbox.put(message)
        if isinstance(message, TicketMessage):
            for listener in self.ticket_listeners:
                try:
                    listener(message)
                except Exception:  # the event is already durable: a listener's fault must not undo it
                    logger.exception("a ticket listener failed on %s %s", message.event.value, message.ticket)

    def _connected(self) -> None:
        self.outbox.notify()

    def start(self) -> None:
        """Connect, publish from the spool, and start the periodic work."""
        self.outbox.start()
        self.link.start()
        self._timer = threading.Thread(target=self._periodic, name="edge-periodic", daemon=True)
        self._timer.start()
        if self.settings.camera is not None:
            self._camera = threading.Thread(target=self._run_camera, name="edge-camera", daemon=True)
            self._camera.start()
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
        if self._camera is not None:
            self._camera.join(timeout=10)
            self._camera = None
        if self.buttons is not None:
            self.buttons.close()
        if self.kiosk is not None:
            self.kiosk.close()
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
        """The node's local HTTP API: ticket endpoint and kiosk page (when configured) and health."""
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
        if self.kiosk is not None and self.kiosk.settings.touch is not None:
            app.include_router(kiosk_router(self.kiosk, self.kiosk.settings.touch))
        app.add_api_route("/api/v1/health", self.status, methods=["GET"], summary="Node health")
        return app

    def _run_camera(self) -> None:
        """The camera pipeline's thread: numbers go to the queue fusion and the outbox, frames go nowhere."""
        from edge.camera.pipeline import CameraFigures, CameraPipeline
        from edge.camera.queue_monitor import QueueSnapshot
        from edge.camera.sources import open_source
        from edge.health import CameraHealth
        from edge.sensors import CameraQueue

        settings = self.settings.camera
        assert settings is not None

        def snapshot(seen: QueueSnapshot) -> None:
            self.sensors.camera_update(
                CameraQueue(seen.length, time.monotonic(), seen.staff_present, seen.head_wait_s, seen.est_wait_s)
            )

        def figures(measured: CameraFigures) -> None:
            self.health.report_camera(CameraHealth(measured.fps, measured.model_latency_ms, measured.camera_ok))

        try:
            pipeline = CameraPipeline.build(
                settings, self.settings.site, self.settings.desk, snapshot, self.emit, on_line=self.emit
            )
            source = open_source(settings.source)
        except Exception:
            logger.exception("the camera pipeline could not start; the desk runs on its sensors")
            self.health.report_camera(CameraHealth(camera_ok=False))
            return
        try:
            pipeline.run(source, self._stopping, figures)
        except Exception:
            logger.exception("the camera pipeline stopped; the desk runs on its sensors")
            self.health.report_camera(CameraHealth(camera_ok=False))
        finally:
            source.close()

    def _periodic(self) -> None:
        next_beat = time.monotonic()
        while not self._stopping.wait(1.0):
            now = time.monotonic()
            try:
                self._publish_queue(now)
                if now >= next_beat:
                    self.emit(self.health.heartbeat(self.outbox.depth, self.spool.dropped))
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
