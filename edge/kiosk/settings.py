"""The ``kiosk:`` section of a desk node's YAML: rating buttons and LEDs, the scale, the touchscreen page and
the thresholds of the rating-integrity rules.

Example (four buttons, LEDs in the buttons, a touchscreen)::

    kiosk:
      levels: 4                       # 4 Rất hài lòng, 3 Hài lòng, 2 Bình thường, 1 Không hài lòng
      buttons:
        - {score: 4, pin: GPIO5, led_pin: GPIO12}
        - {score: 3, pin: GPIO6, led_pin: GPIO13}
        - {score: 2, pin: GPIO19, led_pin: GPIO16}
        - {score: 1, pin: GPIO26, led_pin: GPIO20}
      touch: {listen: "127.0.0.1:8090"}
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from protocol.config_files import parse_host_port
from protocol.errors import ConfigError

# The wording of each scale, best first; these are the labels on the buttons and on the touchscreen.
SCALE_LABELS: dict[int, dict[int, tuple[str, str]]] = {
    3: {3: ("Hài lòng", "Satisfied"), 2: ("Bình thường", "Neutral"), 1: ("Không hài lòng", "Dissatisfied")},
    4: {
        4: ("Rất hài lòng", "Very satisfied"),
        3: ("Hài lòng", "Satisfied"),
        2: ("Bình thường", "Neutral"),
        1: ("Không hài lòng", "Dissatisfied"),
    },
    5: {
        5: ("Rất hài lòng", "Very satisfied"),
        4: ("Hài lòng", "Satisfied"),
        3: ("Bình thường", "Neutral"),
        2: ("Không hài lòng", "Dissatisfied"),
        1: ("Rất không hài lòng", "Very dissatisfied"),
    },
}

# The lowest satisfied score of each scale when the file does not say: the same share of the scale as the
# hub's default (3 of 4), so that the desk and the hub agree without configuration.
DEFAULT_SATISFIED_MIN = {3: 3, 4: 3, 5: 4}

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatingButtonSettings(_Strict):
    """One rating button on the citizen's side of the desk, with its optional LED."""

    score: int = Field(ge=1, le=5, description="The score this button gives (the highest is the best).")
    pin: str = Field(description="GPIO of the button (e.g. GPIO5 or BOARD29); the button closes it to ground.")
    led_pin: str | None = Field(
        None, description="GPIO of the LED that confirms a press (the LED in an arcade button, through a resistor)."
    )


class IntegritySettings(_Strict):
    """Thresholds of the rating-integrity rules (README, "Rating integrity"); the defaults suit most desks."""

    burst_gap_s: float = Field(
        2.0, ge=0, le=30, description="A press this soon after the previous press is part of a burst: not counted."
    )
    too_soon_s: float = Field(
        1.5,
        ge=0,
        le=30,
        description="A press this soon after the ticket was finished is the officer's own hand: not counted.",
    )
    ticket_window_s: float = Field(
        300, gt=0, le=3600, description="A ticket finished this long ago can still be rated; after it: no_ticket."
    )
    handover_s: float = Field(
        60,
        ge=0,
        le=600,
        description="For this long after a ticket is finished, presses belong to it even if the next one is called.",
    )
    no_ticket_gap_s: float = Field(
        30, ge=0, le=600, description="Without a ticket, a press this soon after a counted rating is a repeat."
    )


class TouchSettings(_Strict):
    """The touchscreen page the agent serves to the kiosk-mode browser on this Pi."""

    listen: str = Field(
        "127.0.0.1:8090", description="HOST:PORT of the page, on loopback only (open http://HOST:PORT/kiosk)."
    )
    language: Literal["vi", "en"] = Field("vi", description="Language the page starts in (vi: Vietnamese).")
    thanks_s: float = Field(6, ge=2, le=60, description="The thank-you screen goes back to the start after this.")
    idle_s: float = Field(
        90, ge=15, le=600, description="A comment screen left untouched this long goes back to the start."
    )

    @field_validator("listen")
    @classmethod
    def _loopback_host_port(cls, value: str) -> str:
        try:
            host, _ = parse_host_port(value)
        except ConfigError as error:
            raise ValueError(str(error)) from None
        if host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"the kiosk page takes ratings without a password, so it listens on loopback only, not {host}"
            )
        return value


class KioskSettings(_Strict):
    """The citizen's side of the desk: rating buttons, their LEDs, the scale and the touchscreen."""

    levels: Literal[3, 4, 5] = Field(
        4, description="Levels of the scale: 3, 4 (4 Rất hài lòng … 1 Không hài lòng) or 5."
    )
    satisfied_min: int | None = Field(
        None,
        ge=1,
        le=5,
        description="Lowest score that counts as satisfied (default 3 of 4, 3 of 3, 4 of 5); keep it equal to the "
        "hub's rating.satisfied_min for the same scale.",
    )
    buttons: list[RatingButtonSettings] = Field(
        default_factory=list, description="One button per level, if physical buttons are fitted."
    )
    bounce_s: float = Field(0.05, ge=0, le=1, description="Debounce time of the buttons, seconds.")
    pwm_leds: bool = Field(False, description="The LEDs are dimmable (PWM): a fade confirms a counted press.")
    touch: TouchSettings | None = Field(None, description="The touchscreen page, if a screen is fitted.")
    integrity: IntegritySettings = Field(
        default_factory=IntegritySettings, description="Thresholds of the rating-integrity rules."
    )

    @property
    def satisfied_from(self) -> int:
        """The lowest satisfied score on this scale."""
        return self.satisfied_min if self.satisfied_min is not None else DEFAULT_SATISFIED_MIN[self.levels]

    def label(self, score: int, language: str = "vi") -> str:
        """The wording of a score in ``language`` (vi or en)."""
        vietnamese, english = SCALE_LABELS[self.levels][score]
        return vietnamese if language == "vi" else english

    @model_validator(mode="after")
    def _consistent(self) -> KioskSettings:
        if self.satisfied_min is not None and self.satisfied_min > self.levels:
            raise ValueError(f"satisfied_min {self.satisfied_min} is above the {self.levels} levels")
        if self.buttons:
            scores = sorted(button.score for button in self.buttons)
            if scores != list(range(1, self.levels + 1)):
                raise ValueError(
                    f"buttons must give each score 1..{self.levels} exactly once (levels: {self.levels}), "
                    f"found scores {scores}"
                )
            pins = [p for button in self.buttons for p in (button.pin, button.led_pin) if p is not None]
            doubled = sorted({p for p in pins if pins.count(p) > 1})
            if doubled:
                raise ValueError(f"pins used twice among the kiosk buttons and LEDs: {', '.join(doubled)}")
        if not self.buttons and self.touch is None:
            raise ValueError("a kiosk needs buttons, a touchscreen (touch) or both")
        return self
