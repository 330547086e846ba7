"""The node's health figures and its ``heartbeat`` message."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from protocol.messages import HeartbeatMessage

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


def cpu_temperature_c(path: Path = THERMAL_ZONE) -> float | None:
    """The SoC temperature where the kernel exposes it (a Raspberry Pi does), else None."""
    try:
        return round(int(path.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


@dataclass(slots=True)
class CameraHealth:
    """What the camera pipeline reports about itself."""

    fps: float | None = None
    model_latency_ms: float | None = None
    camera_ok: bool | None = None


class Health:
    """Collects the figures a heartbeat carries."""

    def __init__(self, site: str, desk: str) -> None:
        self._site, self._desk = site, desk
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._camera = CameraHealth()

    def report_camera(self, figures: CameraHealth) -> None:
        """The camera pipeline's latest figures."""
        with self._lock:
            self._camera = figures

    def heartbeat(self, spool_depth: int, spool_dropped: int | None = None) -> HeartbeatMessage:
        """A heartbeat message for now (``spool_dropped``: what the full outbox dropped unsent)."""
        with self._lock:
            camera = self._camera
        return HeartbeatMessage(
            site=self._site,
            desk=self._desk,
            uptime_s=round(time.monotonic() - self._started, 1),
            spool_depth=spool_depth,
            fps=camera.fps,
            model_latency_ms=camera.model_latency_ms,
            camera_ok=camera.camera_ok,
            cpu_temp_c=cpu_temperature_c(),
            spool_dropped=spool_dropped,
        )
