"""Queue sensors driven through gpiozero's MockFactory: beams, distance, presence, and their fusion."""

from __future__ import annotations

import time

import pytest
from gpiozero.pins.mock import MockFactory, MockTriggerPin

from edge.config import BeamSettings, DistanceSettings, PresenceSettings, SensorSettings
from edge.sensors import CameraQueue, QueueFusion


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pulse(factory: MockFactory, pin: str) -> None:
    """A person breaks the beam (the module pulls the line low) and walks on."""
    factory.pin(pin).drive_low()
    factory.pin(pin).drive_high()


def test_beams_count_people_in_and_out(mock_factory: MockFactory) -> None:
    settings = SensorSettings(beams=BeamSettings(entrance_pin="GPIO5", exit_pin="GPIO6", bounce_s=0))
    fusion = QueueFusion(settings, mock_factory)
    for _ in range(5):
        pulse(mock_factory, "GPIO5")
    for _ in range(2):
        pulse(mock_factory, "GPIO6")
    reading = fusion.reading()
    assert reading is not None and (reading.length, reading.source) == (3, "sensor")
    for _ in range(4):
        pulse(mock_factory, "GPIO6")
    assert fusion.reading().length == 0  # type: ignore[union-attr]
    fusion.close()


def test_distance_sensor_measures_the_line() -> None:
    factory = MockFactory(pin_class=MockTriggerPin)
    echo = factory.pin("GPIO24")
    # Someone stands 2 m from the sensor along a 5 m line: 3 m occupied, 0.7 m a person → 4 people.
    factory.pin("GPIO23", pin_class=MockTriggerPin, echo_pin=echo, echo_time=2 * 2.0 / 343.26)
    factory.pin("GPIO5")
    factory.pin("GPIO6")
    clock = Clock()
    settings = SensorSettings(
        beams=BeamSettings(entrance_pin="GPIO5", exit_pin="GPIO6", bounce_s=0),
        distance=DistanceSettings(echo_pin="GPIO24", trigger_pin="GPIO23", line_length_m=5, spacing_m=0.7),
        empty_after_s=20,
    )
    fusion = QueueFusion(settings, factory, clock=clock)
    deadline = time.monotonic() + 5
    while fusion.distance.length != 4 and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.05)
    assert fusion.distance.length == 4  # type: ignore[union-attr]
    fusion.close()


def test_line_seen_empty_resets_the_beam_count(mock_factory: MockFactory) -> None:
    clock = Clock()
    settings = SensorSettings(beams=BeamSettings(entrance_pin="GPIO5", exit_pin="GPIO6", bounce_s=0))
    fusion = QueueFusion(settings, mock_factory, clock=clock)
    for _ in range(3):
        pulse(mock_factory, "GPIO5")  # three came in; one slipped out sideways, unseen by the exit beam
    pulse(mock_factory, "GPIO6")
    assert fusion.reading().length == 2  # type: ignore[union-attr]
    fusion.camera_update(CameraQueue(length=0, at=clock.now))  # the camera sees the line empty
    assert fusion.reading().length == 0  # type: ignore[union-attr]
    clock.now += 60  # camera down: the beams fill in, drift gone
    reading = fusion.reading()
    assert reading is not None and (reading.length, reading.source) == (0, "sensor")
    fusion.close()


def test_camera_leads_while_fresh_and_sensors_fill_in(mock_factory: MockFactory) -> None:
    clock = Clock()
    settings = SensorSettings(beams=BeamSettings(entrance_pin="GPIO5", exit_pin="GPIO6", bounce_s=0))
    fusion = QueueFusion(settings, mock_factory, clock=clock)
    for _ in range(2):
        pulse(mock_factory, "GPIO5")
    fusion.camera_update(CameraQueue(length=3, at=clock.now, head_wait_s=240))
    reading = fusion.reading()
    assert reading is not None and (reading.length, reading.source, reading.head_wait_s) == (3, "camera", 240)
    clock.now += 30
    reading = fusion.reading()
    assert reading is not None and (reading.length, reading.source) == (2, "sensor")
    fusion.close()


@pytest.mark.parametrize(("since_motion", "present"), [(10, True), (200, False)])
def test_pir_presence_holds_after_motion(mock_factory: MockFactory, since_motion: float, present: bool) -> None:
    clock = Clock()
    fusion = QueueFusion(SensorSettings(presence=PresenceSettings(pin="GPIO16", hold_s=120)), mock_factory, clock=clock)
    assert fusion.presence is not None
    mock_factory.pin("GPIO16").drive_high()  # someone moves at the desk
    deadline = time.monotonic() + 3
    while not fusion.presence.present and time.monotonic() < deadline:  # the PIR reading is smoothed
        time.sleep(0.02)
    mock_factory.pin("GPIO16").drive_low()
    while fusion.presence.sensor.motion_detected and time.monotonic() < deadline + 3:
        time.sleep(0.02)
    clock.now += since_motion
    assert fusion.presence is not None and fusion.presence.present is present
    fusion.close()
