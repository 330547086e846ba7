"""Rating buttons and their LEDs through gpiozero's MockFactory: what a press sends and what the LED shows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from edge.kiosk.buttons import LedPatterns
from edge.kiosk.service import Kiosk
from edge.kiosk.settings import KioskSettings
from protocol.messages import Envelope, RatingChannel, RatingFlag, RatingMessage, TicketEvent, TicketMessage

FAST = LedPatterns(
    counted_on_s=0.03, counted_off_s=0.02, counted_times=3, refused_on_s=0.01, refused_off_s=0.01, refused_times=2
)
PINS = {4: ("GPIO5", "GPIO12"), 3: ("GPIO6", "GPIO13"), 2: ("GPIO19", "GPIO16"), 1: ("GPIO26", "GPIO20")}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def kiosk_settings(**extra: Any) -> KioskSettings:
    buttons = [{"score": s, "pin": pin, "led_pin": led} for s, (pin, led) in PINS.items()]
    return KioskSettings.model_validate({"buttons": buttons, "bounce_s": 0, **extra})


def press(factory: MockFactory, score: int) -> None:
    pin = factory.pin(PINS[score][0])
    pin.drive_low()
    pin.drive_high()


def led_flashes(factory: MockFactory, score: int, clear: bool = True) -> list[float]:
    """How the LED of ``score`` lit up since its last check: the brightness of each state it went through."""
    deadline = time.monotonic() + 3
    pin = factory.pin(PINS[score][1])
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < 0.12:  # until the LED stays still
        if len(pin.states) != seen:
            seen, quiet_since = len(pin.states), time.monotonic()
        time.sleep(0.01)
    states = [float(s.state) for s in pin.states]
    if clear:
        pin.clear_states()
    return states


def wait_for_changes(factory: MockFactory, score: int, count: int, timeout: float = 10) -> None:
    """Wait (up to a generous ``timeout``) until the LED of ``score`` has gone through ``count`` states."""
    pin = factory.pin(PINS[score][1])
    deadline = time.monotonic() + timeout
    while len(pin.states) < count:
        assert time.monotonic() < deadline, f"LED {score} went through only {[s.state for s in pin.states]}"
        time.sleep(0.01)
    led_flashes(factory, score, clear=False)  # and then stays still (a fourth blink would show in the history)


def assert_states_and_times(factory: MockFactory, score: int, expected: list[tuple[float | None, float]]) -> None:
    """The whole history of the LED of ``score`` since it was made (or last checked), in the style of gpiozero's
    own ``MockPin.assert_states_and_times``: each entry is (seconds since the previous change, state), None for a
    time not checked. Unlike gpiozero's helper, which zips the two lists, a history longer or shorter than
    expected fails. Times are lower bounds with a generous upper margin: a loaded CI machine runs late, never
    early."""
    pin = factory.pin(PINS[score][1])
    actual = [(round(s.timestamp, 3), float(s.state)) for s in pin.states]
    assert [state for _, state in actual] == [state for _, state in expected], f"LED {score} went through {actual}"
    for (took, _), (wanted, _) in zip(actual, expected, strict=True):
        if wanted is not None:
            assert wanted - 0.005 <= took <= wanted + 1.0, f"LED {score} went through {actual}, expected {expected}"


def assert_stayed_dark(factory: MockFactory, *scores: int) -> None:
    """The LEDs of ``scores`` never lit: their full pin history is the one dark state they started in."""
    for score in scores:
        assert_states_and_times(factory, score, [(None, 0.0)])


def lit_times(states: list[float]) -> int:
    """Times the LED went from dark to lit."""
    return sum(1 for before, after in zip(states, states[1:], strict=False) if before == 0 and after > 0)


@pytest.fixture()
def pwm_factory() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        yield factory
    finally:
        factory.reset()


def finished(ticket: str, staff: str = "cb-017") -> TicketMessage:
    return TicketMessage(site="bn-hcc", desk="q01", event=TicketEvent.FINISHED, ticket=ticket, staff=staff)


def test_a_counted_press_is_sent_with_its_ticket_and_the_led_blinks_slowly(mock_factory: MockFactory) -> None:
    sent: list[Envelope] = []
    clock = FakeClock()
    with Kiosk(kiosk_settings(), "bn-hcc", "q01", sent.append, mock_factory, clock, patterns=FAST) as kiosk:
        kiosk.observe_ticket(finished("A012"))
        clock.now += 6
        press(mock_factory, 4)
        [rating] = sent
        assert isinstance(rating, RatingMessage)
        assert (rating.score, rating.scale, rating.ticket, rating.staff) == (4, 4, "A012", "cb-017")
        assert rating.channel is RatingChannel.BUTTON and rating.flags is None and rating.counted
        wait_for_changes(mock_factory, 4, 7)
        on, off = FAST.counted_on_s, FAST.counted_off_s
        blinks = [(None, 0.0), (None, 1.0), (on, 0.0), (off, 1.0), (on, 0.0), (off, 1.0), (on, 0.0)]
        assert_states_and_times(mock_factory, 4, blinks)
        assert_stayed_dark(mock_factory, 1, 2, 3)


def test_a_child_pressing_again_and_again_is_recorded_but_not_counted(mock_factory: MockFactory) -> None:
    sent: list[Envelope] = []
    clock = FakeClock()
    with Kiosk(kiosk_settings(), "bn-hcc", "q01", sent.append, mock_factory, clock, patterns=FAST) as kiosk:
        kiosk.observe_ticket(finished("A012"))
        clock.now += 5
        press(mock_factory, 1)
        led_flashes(mock_factory, 1)
        for _ in range(9):
            clock.now += 0.3
            press(mock_factory, 1)
            assert lit_times(led_flashes(mock_factory, 1)) == 2  # two quick flickers: not counted
        assert_stayed_dark(mock_factory, 2, 3, 4)
    ratings = [m for m in sent if isinstance(m, RatingMessage)]
    assert len(ratings) == 10 and all(r.ticket == "A012" and r.score == 1 for r in ratings)
    assert [r.counted for r in ratings] == [True] + [False] * 9
    assert all(r.flags == [RatingFlag.BURST, RatingFlag.REPEAT] for r in ratings[1:])


def test_a_press_with_no_ticket_is_counted_and_flagged(mock_factory: MockFactory) -> None:
    sent: list[Envelope] = []
    with Kiosk(kiosk_settings(), "bn-hcc", "q01", sent.append, mock_factory, FakeClock(), patterns=FAST):
        press(mock_factory, 3)
        assert lit_times(led_flashes(mock_factory, 3)) == 3
        assert_stayed_dark(mock_factory, 1, 2, 4)
    [rating] = sent
    assert isinstance(rating, RatingMessage)
    assert rating.ticket is None and rating.flags == [RatingFlag.NO_TICKET] and rating.counted


def test_dimmable_leds_fade_for_a_counted_press_and_flicker_for_one_not_counted(pwm_factory: MockFactory) -> None:
    sent: list[Envelope] = []
    clock = FakeClock()
    settings = kiosk_settings(pwm_leds=True)
    fades = LedPatterns(counted_on_s=0.2, counted_off_s=0.2, counted_times=1, refused_on_s=0.01, refused_off_s=0.01)
    with Kiosk(settings, "bn-hcc", "q01", sent.append, pwm_factory, clock, patterns=fades) as kiosk:
        kiosk.observe_ticket(finished("A012"))
        clock.now += 5
        press(pwm_factory, 4)
        counted = led_flashes(pwm_factory, 4)
        clock.now += 0.5
        press(pwm_factory, 4)
        refused = led_flashes(pwm_factory, 4)
    assert any(0 < level < 1 for level in counted), "a counted press fades in and out"
    assert set(refused) <= {0.0, 1.0} and lit_times(refused) == 2
    assert [m.counted for m in sent if isinstance(m, RatingMessage)] == [True, False]


def test_a_press_that_cannot_be_recorded_is_not_confirmed(mock_factory: MockFactory) -> None:
    def full_disk(message: Envelope) -> None:
        raise OSError("No space left on device")

    with Kiosk(kiosk_settings(), "bn-hcc", "q01", full_disk, mock_factory, FakeClock(), patterns=FAST):
        press(mock_factory, 4)
        assert lit_times(led_flashes(mock_factory, 4)) == 0
        assert_stayed_dark(mock_factory, 1, 2, 3, 4)


@pytest.mark.parametrize(
    ("kiosk", "problem"),
    [
        ({"buttons": [{"score": 4, "pin": "GPIO5"}]}, "each score 1..4 exactly once"),
        ({"levels": 3, "buttons": [{"score": s, "pin": f"GPIO{s}"} for s in (1, 2, 4)]}, "exactly once"),
        (
            {"buttons": [{"score": s, "pin": "GPIO5" if s == 1 else f"GPIO{s + 20}"} for s in (1, 2, 3, 4)]}
            | {"touch": {}},
            None,
        ),
        (
            {"buttons": [{"score": s, "pin": f"GPIO{s + 20}", "led_pin": "GPIO21"} for s in (1, 2, 3, 4)]},
            "pins used twice",
        ),
        ({"levels": 4, "satisfied_min": 5, "touch": {}}, "above the 4 levels"),
        ({"touch": {"listen": "0.0.0.0:8090"}}, "loopback only"),
        ({"touch": {"listen": "nowhere"}}, "HOST:PORT"),
        ({"touch": {}, "integrity": {"burst_gap": 3}}, "Extra inputs are not permitted"),
        ({}, "needs buttons, a touchscreen"),
        ({"levels": 6, "touch": {}}, "levels"),
    ],
)
def test_kiosk_section_is_validated(kiosk: dict[str, Any], problem: str | None) -> None:
    from edge.config import EdgeSettings
    from protocol.config_files import validate_config
    from protocol.errors import ConfigError

    data = {"site": "bn-hcc", "desk": "q01", "kiosk": kiosk}
    if problem is None:
        assert validate_config(EdgeSettings, data, "node.yaml").kiosk is not None
        return
    with pytest.raises(ConfigError, match="kiosk") as caught:
        validate_config(EdgeSettings, data, "node.yaml")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("levels", "satisfied_from", "best"), [(3, 3, "Hài lòng"), (4, 3, "Rất hài lòng"), (5, 4, "Rất hài lòng")]
)
def test_scales_have_vietnamese_labels_and_a_satisfied_threshold(levels: int, satisfied_from: int, best: str) -> None:
    settings = KioskSettings.model_validate({"levels": levels, "touch": {}})
    assert settings.satisfied_from == satisfied_from
    assert settings.label(levels) == best
    assert settings.label(1) in ("Không hài lòng", "Rất không hài lòng")
