"""Queue and presence sensors on GPIO (gpiozero), and their fusion with the camera's count.

- Beam-break counters at the queue's entrance and exit: people in line = in − out. Counters drift (two
  people pass as one, someone leaves the line sideways), so the count is reset to zero whenever the line
  is seen empty: by the distance sensor for a while, or by the camera.
- An ultrasonic distance sensor at the entrance end, looking along the line towards the desk: the
  nearest person is the last in line, so the occupied length is the line length minus that distance.
- A PIR sensor on the staff side: an officer counts as present for a while after the last motion.
- Fusion: the camera leads while its count is fresh; the sensors fill in when it is down.

Every device takes an injected pin factory, so tests drive the pins with gpiozero's ``MockFactory``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gpiozero import DigitalInputDevice, DistanceSensor, MotionSensor
from gpiozero.pins import Factory

from edge.config import BeamSettings, DistanceSettings, PresenceSettings, SensorSettings

Clock = Callable[[], float]


class BeamCounter:
    """People in line from two beam-break sensors."""

    def __init__(self, settings: BeamSettings, pin_factory: Factory | None = None) -> None:
        pull_up = not settings.active_high  # modules that pull the line low when the beam breaks
        bounce = settings.bounce_s or None
        self.entrance = DigitalInputDevice(
            settings.entrance_pin, pull_up=pull_up, bounce_time=bounce, pin_factory=pin_factory
        )
        self.exit = DigitalInputDevice(settings.exit_pin, pull_up=pull_up, bounce_time=bounce, pin_factory=pin_factory)
        self._lock = threading.Lock()
        self.entered = 0
        self.left = 0
        self.entrance.when_activated = self._enter
        self.exit.when_activated = self._leave

    def _enter(self) -> None:
        with self._lock:
            self.entered += 1

    def _leave(self) -> None:
        with self._lock:
            self.left += 1

    @property
    def count(self) -> int:
        """People between the two beams (never negative)."""
        with self._lock:
            return max(0, self.entered - self.left)

    def reset(self) -> None:
        """The line was seen empty: forget the accumulated drift."""
        with self._lock:
            self.entered = self.left = 0

    def close(self) -> None:
        """Release the pins (idempotent)."""
        self.entrance.close()
        self.exit.close()


class DistanceQueue:
    """Queue length from an ultrasonic sensor looking along the line from its entrance end."""

    def __init__(self, settings: DistanceSettings, pin_factory: Factory | None = None) -> None:
        self._settings = settings
        self.sensor = DistanceSensor(
            echo=settings.echo_pin,
            trigger=settings.trigger_pin,
            max_distance=settings.line_length_m,
            pin_factory=pin_factory,
        )

    @property
    def length(self) -> int:
        """People in the line, by the space they take."""
        distance = min(self.sensor.distance, self._settings.line_length_m)
        occupied = self._settings.line_length_m - distance
        return max(0, round(occupied / self._settings.spacing_m))

    def close(self) -> None:
        """Release the pins (idempotent)."""
        self.sensor.close()


class Presence:
    """Whether an officer is at the desk, from a PIR sensor (motion only; nothing is recorded)."""

    def __init__(self, settings: PresenceSettings, pin_factory: Factory | None = None, clock: Clock = time.monotonic):
        self._hold = settings.hold_s
        self._clock = clock
        self._last_motion: float | None = None
        self.sensor = MotionSensor(settings.pin, pin_factory=pin_factory)
        self.sensor.when_motion = self._moved

    def _moved(self) -> None:
        self._last_motion = self._clock()

    @property
    def present(self) -> bool:
        """Motion within the hold time. Also polled: a PIR module holds its output high for seconds, longer
        than the agent's one-second polling interval."""
        if self.sensor.motion_detected:
            self._last_motion = self._clock()
        return self._last_motion is not None and self._clock() - self._last_motion <= self._hold

    def close(self) -> None:
        """Release the pin (idempotent)."""
        self.sensor.close()


@dataclass(frozen=True, slots=True)
class QueueReading:
    """The desk's queue as the agent reports it."""

    length: int
    source: str
    present: bool | None
    head_wait_s: float | None = None
    est_wait_s: float | None = None


@dataclass(frozen=True, slots=True)
class CameraQueue:
    """The camera pipeline's latest count (the camera issue feeds this)."""

    length: int
    at: float
    present: bool | None = None
    head_wait_s: float | None = None
    est_wait_s: float | None = None


class QueueFusion:
    """The camera leads while fresh; beams, then distance, fill in; drift is reset when the line is empty."""

    def __init__(
        self,
        settings: SensorSettings,
        pin_factory: Factory | None = None,
        clock: Clock = time.monotonic,
        camera_fresh_s: float = 5.0,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._camera_fresh_s = camera_fresh_s
        self.beams = BeamCounter(settings.beams, pin_factory) if settings.beams else None
        self.distance = DistanceQueue(settings.distance, pin_factory) if settings.distance else None
        self.presence = Presence(settings.presence, pin_factory, clock) if settings.presence else None
        self._camera: CameraQueue | None = None
        self._clear_since: float | None = None

    @property
    def has_sources(self) -> bool:
        """Whether anything measures the queue or presence at this desk."""
        return any((self.beams, self.distance, self.presence, self._camera))

    def camera_update(self, reading: CameraQueue) -> None:
        """Take the camera's latest count."""
        self._camera = reading

    def reading(self) -> QueueReading | None:
        """The queue now, or None when nothing measures it."""
        now = self._clock()
        distance_length = self.distance.length if self.distance else None
        self._correct_drift(now, distance_length)
        present = self.presence.present if self.presence else None
        camera = self._camera
        if camera is not None and now - camera.at <= self._camera_fresh_s:
            if camera.length == 0 and self.beams:
                self.beams.reset()
            return QueueReading(
                camera.length,
                "camera",
                present if present is not None else camera.present,
                camera.head_wait_s,
                camera.est_wait_s,
            )
        if self.beams is not None:
            return QueueReading(self.beams.count, "sensor", present)
        if distance_length is not None:
            return QueueReading(distance_length, "sensor", present)
        return None  # presence alone says nothing about the queue

    def _correct_drift(self, now: float, distance_length: int | None) -> None:
        if self.beams is None or distance_length is None:
            return
        if distance_length > 0:
            self._clear_since = None
            return
        if self._clear_since is None:
            self._clear_since = now
        elif now - self._clear_since >= self._settings.empty_after_s:
            self.beams.reset()

    def close(self) -> None:
        """Release every pin (idempotent)."""
        for device in (self.beams, self.distance, self.presence):
            if device is not None:
                device.close()
