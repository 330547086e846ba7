"""The rating buttons on the citizen's side of the desk and the LEDs that answer a press.

Every device is a gpiozero device built with the pin factory it is given (``MockFactory`` in tests). A
press is handed to ``on_press(score)``, which makes the rating durable and says whether it counted; only
then does the pressed button's LED answer:

- counted: three slow blinks (dimmable LEDs: three slow fades), about two seconds, "your rating is in";
- not counted (a burst, a repeat, the officer's own press): two short, quick flickers, so that a child
  pressing again and again gets no reward and an officer sees the press was noticed for what it is.

Wiring: each button between its GPIO and ground (the internal pull-up holds it high); each LED from its
GPIO through a resistor (330 Ω for 3.3 V) to ground.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from gpiozero import LED, PWMLED, Button
from gpiozero.pins import Factory

from edge.kiosk.settings import KioskSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LedPatterns:
    """How long the LED answers take, seconds (tests shorten them)."""

    counted_on_s: float = 0.4
    counted_off_s: float = 0.2
    counted_times: int = 3
    refused_on_s: float = 0.08
    refused_off_s: float = 0.12
    refused_times: int = 2


DEFAULT_LED_PATTERNS = LedPatterns()


class RatingButtons:
    """One button (and optional LED) per level of the scale.

    Args:
        settings: The kiosk section of the node's configuration.
        on_press: Called with the score of a press; returns whether the rating counted.
        pin_factory: gpiozero pin factory (None: gpiozero's default).
        patterns: LED timings.
    """

    def __init__(
        self,
        settings: KioskSettings,
        on_press: Callable[[int], bool],
        pin_factory: Factory | None = None,
        patterns: LedPatterns = DEFAULT_LED_PATTERNS,
    ) -> None:
        self._on_press = on_press
        self._patterns = patterns
        self._pwm = settings.pwm_leds
        self.buttons: dict[int, Button] = {}
        self.leds: dict[int, LED | PWMLED] = {}
        self._closed = False
        try:
            for entry in settings.buttons:
                button = Button(entry.pin, bounce_time=settings.bounce_s or None, pin_factory=pin_factory)
                button.when_pressed = self._handler(entry.score)
                self.buttons[entry.score] = button
                if entry.led_pin is not None:
                    led_class = PWMLED if settings.pwm_leds else LED
                    self.leds[entry.score] = led_class(entry.led_pin, pin_factory=pin_factory)
        except BaseException:
            self.close()
            raise

    def _handler(self, score: int) -> Callable[[], None]:
        def pressed() -> None:
            try:
                counted = self._on_press(score)
            except Exception:
                # The rating could not be made durable: no LED answer, so nobody is told it was taken.
                logger.exception("a press of the %d button could not be recorded", score)
                return
            self.answer(score, counted)

        return pressed

    def answer(self, score: int, counted: bool) -> None:
        """Show on the LED of ``score`` whether its press counted (other LEDs go dark)."""
        if self._closed:
            return
        for other, led in self.leds.items():
            if other != score:
                led.off()
        led = self.leds.get(score)
        if led is None:
            return
        p = self._patterns
        if counted and isinstance(led, PWMLED):
            led.pulse(fade_in_time=p.counted_on_s, fade_out_time=p.counted_off_s, n=p.counted_times)
        elif counted:
            led.blink(on_time=p.counted_on_s, off_time=p.counted_off_s, n=p.counted_times)
        else:
            led.blink(on_time=p.refused_on_s, off_time=p.refused_off_s, n=p.refused_times)

    def close(self) -> None:
        """Release the pins (idempotent)."""
        self._closed = True
        for device in (*self.buttons.values(), *self.leds.values()):
            device.close()
        self.buttons.clear()
        self.leds.clear()

    def __enter__(self) -> RatingButtons:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
