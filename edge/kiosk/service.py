"""The kiosk of one desk: turns presses and comments into ``rating`` and ``feedback`` messages.

It sees the desk's ticket events (the agent hands it every ticket message it sends), applies the
rating-integrity rules (:mod:`edge.kiosk.integrity`) to every press, whether from a button or the
touchscreen, and sends each rating with the ticket, the officer and the rules' flags through the outbox.

A comment's sentiment is computed here, on the Pi, by :class:`edge.kiosk.sentiment.SentimentClassifier`
(loaded once, on the first comment). Only the label and its confidence leave the Pi, and the text itself
only when the citizen ticked consent. The text is never logged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from gpiozero.pins import Factory

from edge.kiosk.buttons import DEFAULT_LED_PATTERNS, LedPatterns, RatingButtons
from edge.kiosk.integrity import RatingIntegrity, RatingVerdict
from edge.kiosk.settings import KioskSettings
from protocol.errors import OneStopError
from protocol.messages import (
    Envelope,
    FeedbackMessage,
    RatingChannel,
    RatingMessage,
    Sentiment,
    TicketMessage,
)

logger = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 2000
_REMEMBERED_RATINGS = 64


class KioskInputError(OneStopError, ValueError):
    """A rating or comment the kiosk cannot take (a score off the scale, a comment too long)."""


class SentimentUnavailableError(OneStopError, RuntimeError):
    """The sentiment model cannot judge a comment on this Pi now (it did not load, or it failed)."""


class SentimentLike(Protocol):
    """What the kiosk reads of a prediction."""

    @property
    def label(self) -> str:
        """negative, neutral or positive."""
        ...

    @property
    def confidence(self) -> float:
        """Probability of the label, 0–1."""
        ...


class CommentClassifier(Protocol):
    """The interface of :class:`edge.kiosk.sentiment.SentimentClassifier` that the kiosk uses."""

    def predict(self, texts: Sequence[str]) -> Sequence[SentimentLike]:
        """One prediction per text."""
        ...


def load_sentiment_classifier() -> CommentClassifier:
    """The shipped sentiment model (imported here so that a desk without comments never loads onnxruntime)."""
    from edge.kiosk.sentiment import SentimentClassifier

    return SentimentClassifier.load()


@dataclass(frozen=True, slots=True)
class RatingOutcome:
    """A rating the kiosk sent: its message and what the integrity rules made of it."""

    message: RatingMessage
    verdict: RatingVerdict

    @property
    def counted(self) -> bool:
        """Whether it counts in the satisfaction figures."""
        return self.verdict.counted


class Kiosk:
    """Buttons, touchscreen and comments of one desk; everything goes out through ``emit``.

    Args:
        settings: The kiosk section of the node's configuration.
        site: Unit id.
        desk: Desk id.
        emit: Makes a message durable in the outbox (the agent's ``emit``).
        pin_factory: gpiozero pin factory for the buttons and LEDs.
        clock: Monotonic seconds for the integrity rules.
        classifier_loader: Builds the sentiment classifier on the first comment.
        patterns: LED timings.
    """

    def __init__(
        self,
        settings: KioskSettings,
        site: str,
        desk: str,
        emit: Callable[[Envelope], None],
        pin_factory: Factory | None = None,
        clock: Callable[[], float] = time.monotonic,
        classifier_loader: Callable[[], CommentClassifier] = load_sentiment_classifier,
        patterns: LedPatterns = DEFAULT_LED_PATTERNS,
    ) -> None:
        self.settings = settings
        self._site, self._desk = site, desk
        self._emit = emit
        self._clock = clock
        self._integrity = RatingIntegrity(settings.integrity)
        self._lock = threading.Lock()
        self._loader = classifier_loader
        self._classifier: CommentClassifier | None = None
        self._classifier_lock = threading.Lock()
        # Which ticket a touch rating went to, so that the comment typed after it goes to the same one.
        self._recent: OrderedDict[str, RatingVerdict] = OrderedDict()
        self.buttons = (
            RatingButtons(settings, self._button_pressed, pin_factory, patterns) if settings.buttons else None
        )

    def observe_ticket(self, message: TicketMessage) -> None:
        """Take in a ticket event of this desk (the agent calls this for every ticket message it sends)."""
        if message.site != self._site or message.desk != self._desk:
            return
        with self._lock:
            self._integrity.ticket_event(message.event, message.ticket, message.staff, self._clock())

    def rate(self, score: int, channel: RatingChannel) -> RatingOutcome:
        """Judge a press, send the rating (durable when this returns) and say whether it counted.

        Raises:
            KioskInputError: ``score`` is not on the configured scale.
        """
        if not 1 <= score <= self.settings.levels:
            raise KioskInputError(
                f"score {score} is not on the {self.settings.levels}-level scale (1..{self.settings.levels})"
            )
        with self._lock:
            verdict = self._integrity.judge(self._clock())
            message = RatingMessage(
                site=self._site,
                desk=self._desk,
                score=score,
                scale=self.settings.levels,
                ticket=verdict.ticket,
                staff=verdict.staff,
                channel=channel,
                flags=list(verdict.flags) or None,
            )
            self._emit(message)
            self._recent[message.id] = verdict
            while len(self._recent) > _REMEMBERED_RATINGS:
                self._recent.popitem(last=False)
        if channel is RatingChannel.TOUCH and self._classifier is None:
            # The comment screen opens now: load the model while the citizen reads it, not after "send".
            threading.Thread(target=self._warm_up, name="kiosk-sentiment-load", daemon=True).start()
        logger.info(
            "rating %d (%s) for ticket %s: %s",
            score,
            channel.value,
            verdict.ticket or "-",
            "counted" if verdict.counted else "not counted: " + ", ".join(f.value for f in verdict.flags),
        )
        return RatingOutcome(message, verdict)

    def comment(self, text: str, consent: bool, rating_id: str | None = None) -> FeedbackMessage | None:
        """Judge a comment's sentiment here and send it; None for an empty comment (nothing is sent).

        Args:
            text: What the citizen typed; never logged, sent only with ``consent``.
            consent: The citizen ticked that the text may be sent.
            rating_id: The id of the rating just given on the touchscreen, to tie the comment to its ticket.

        Raises:
            KioskInputError: The comment is longer than the protocol allows.
            SentimentUnavailableError: The model cannot be loaded; nothing is sent.
        """
        cleaned = " ".join(text.split())
        if not cleaned:
            return None
        if len(cleaned) > MAX_COMMENT_CHARS:
            raise KioskInputError(f"a comment may have at most {MAX_COMMENT_CHARS} characters, found {len(cleaned)}")
        classifier = self._sentiment()
        try:
            [prediction] = classifier.predict([cleaned])
            sentiment = Sentiment(prediction.label)
        except Exception as error:  # the model's own failure; the text is not in the log
            logger.error("the sentiment model failed on a comment (%s); it is not sent", type(error).__name__)
            raise SentimentUnavailableError("the sentiment model failed on this comment") from error
        with self._lock:
            verdict = self._recent.get(rating_id) if rating_id else None
        message = FeedbackMessage(
            site=self._site,
            desk=self._desk,
            sentiment=sentiment,
            confidence=min(1.0, max(0.0, float(prediction.confidence))),
            ticket=verdict.ticket if verdict else None,
            staff=verdict.staff if verdict else None,
            consent=consent,
            text=cleaned if consent else None,
        )
        self._emit(message)
        logger.info(
            "comment judged %s (%.2f), text %s",
            message.sentiment.value,
            message.confidence,
            "sent with consent" if consent else "not sent (no consent)",
        )
        return message

    def _sentiment(self) -> CommentClassifier:
        with self._classifier_lock:
            if self._classifier is None:
                try:
                    self._classifier = self._loader()
                except Exception as error:
                    logger.error("the sentiment model cannot be loaded (%s); comments are not sent", error)
                    raise SentimentUnavailableError(f"the sentiment model cannot be loaded: {error}") from error
            return self._classifier

    def _warm_up(self) -> None:
        with contextlib.suppress(SentimentUnavailableError):  # logged; the comment itself will be answered 503
            self._sentiment()

    def _button_pressed(self, score: int) -> bool:
        return self.rate(score, RatingChannel.BUTTON).counted

    def close(self) -> None:
        """Release the buttons and LEDs (idempotent)."""
        if self.buttons is not None:
            self.buttons.close()

    def __enter__(self) -> Kiosk:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
