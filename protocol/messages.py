"""Message models of wire protocol v1, one pydantic model per message kind.

Validation of what arrives on the wire is strict (JSON types are not coerced): unknown fields, a wrong
protocol version, times without a UTC offset, ids that do not fit, values out of range, and a site or desk
that disagrees with the topic are all rejected with a :class:`~protocol.errors.ProtocolError` whose text
says which field is wrong and why.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from protocol.errors import ProtocolError
from protocol.topics import IDENTIFIER_PATTERN, MessageKind, Topic, parse_topic

MESSAGE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
TICKET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
STAFF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

EMOTION_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
Seconds = Annotated[float, Field(ge=0, le=7 * 24 * 3600)]

# Bounds of wire protocol v1 (docs/protocol.md, "Bounds"). Every number has one; NaN and Infinity are refused.
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TS = datetime(2100, 1, 1, tzinfo=UTC)
MAX_FRAMES = 10_000_000
MAX_UPTIME_S = 10 * 366 * 24 * 3600
MAX_SPOOL_DEPTH = 100_000_000
MAX_FPS = 1000.0
MAX_LATENCY_MS = 600_000.0
MAX_ALERT_SECONDS = 366 * 24 * 3600
MAX_SETTINGS_BYTES = 16 * 1024
MAX_SETTINGS_DEPTH = 8
MAX_SETTINGS_INT = 2**53
MAX_SEQ = 2**53 - 1  # the largest integer every JSON reader keeps exact
STREAM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# RFC 3339 date-time with an offset; the year is checked against EARLIEST_TS/LATEST_TS after parsing.
_NO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def new_message_id() -> str:
    """Return a fresh message id (32 hex characters)."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    """Return the current time in UTC; the one place protocol code reads the clock."""
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Fields every message carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    kind: ClassVar[MessageKind]

    v: Literal[1] = Field(1, description="Protocol version; always 1 for this protocol.")
    id: str = Field(
        default_factory=new_message_id,
        pattern=MESSAGE_ID_PATTERN,
        description="Unique message id, at most 64 characters; the hub deduplicates on it.",
    )
    ts: AwareDatetime = Field(
        default_factory=utc_now,
        description="When it happened at the desk (RFC 3339 with offset), not when it arrived.",
    )
    site: Identifier = Field(description="Unit id; equal to the topic's site.")
    desk: Identifier = Field(description="Desk id; equal to the topic's desk.")
    seq: int | None = Field(
        None,
        ge=1,
        le=MAX_SEQ,
        description="Optional: the message's number in its device's stream (1, 2, 3, … with no gap); with stream.",
    )
    stream: str | None = Field(
        None,
        pattern=STREAM_PATTERN,
        description="Optional: the numbering's id, new whenever the device's outbox starts counting again from 1.",
    )

    @model_validator(mode="after")
    def _seq_with_stream(self) -> Envelope:
        if (self.seq is None) != (self.stream is None):
            raise ValueError("seq and stream come together: send both or neither")
        return self

    @field_validator("v", mode="before")
    @classmethod
    def _version_is_an_integer(cls, value: Any) -> Any:
        if type(value) is not int:  # JSON true is not the version 1
            raise ValueError(f"expected the integer 1, got {type(value).__name__}")
        return value

    @field_validator("ts", mode="before")
    @classmethod
    def _ts_is_rfc3339(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return value
        if isinstance(value, str) and _NO_OFFSET.match(value):
            raise PydanticCustomError(
                "timezone_aware", "Input should have timezone info (an offset such as +07:00 or Z)"
            )
        if not isinstance(value, str) or not _RFC3339.match(value):
            raise PydanticCustomError(
                "datetime_type",
                "Input should be a valid datetime: an RFC 3339 string with offset, e.g. {example}",
                {"example": "2026-11-20T08:00:00+07:00"},
            )
        year = int(value[:4])
        if not EARLIEST_TS.year <= year < LATEST_TS.year:
            raise ValueError(f"year {year} is outside {EARLIEST_TS.year}–{LATEST_TS.year - 1}")
        try:
            return datetime.fromisoformat(value.upper())
        except ValueError as error:
            raise ValueError(f"not a valid date-time: {error}") from None

    @field_validator("ts", mode="after")
    @classmethod
    def _ts_in_range(cls, value: datetime) -> datetime:
        try:
            in_utc = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("date-time cannot be converted to UTC") from None
        if not EARLIEST_TS <= in_utc < LATEST_TS:
            raise ValueError(f"date-time {value.isoformat()} is outside {EARLIEST_TS.year}–{LATEST_TS.year - 1}")
        return value

    @property
    def topic(self) -> str:
        """The topic this message is published on."""
        return str(Topic(self.site, self.desk, self.kind))

    def to_payload(self) -> bytes:
        """Serialise to the JSON payload sent on the wire (absent optional fields left out)."""
        return self.model_dump_json(exclude_none=True).encode()


class TicketEvent(StrEnum):
    """What happened to a queue ticket."""

    ISSUED = "issued"
    CALLED = "called"
    RECALLED = "recalled"
    STARTED = "started"
    FINISHED = "finished"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"


class TicketMessage(Envelope):
    """A queue ticket event from a desk agent or a queue-number system."""

    kind: ClassVar[MessageKind] = MessageKind.TICKET

    event: TicketEvent = Field(description="issued, called, recalled, started, finished, no_show, transferred.")
    ticket: str = Field(pattern=TICKET_PATTERN, description="Ticket number, unique per site and local day.")
    service: str | None = Field(None, pattern=CODE_PATTERN, description="Service field code, e.g. dat-dai.")
    staff: str | None = Field(None, pattern=STAFF_PATTERN, description="Officer id; required from called on.")
    priority: bool = Field(False, description="Priority citizen: elderly, pregnant, disabled.")
    to_desk: Identifier | None = Field(None, description="On transferred: the desk the citizen is sent to.")

    @field_validator("ticket", mode="before")
    @classmethod
    def _ticket_number_as_text(cls, value: Any) -> Any:
        # Queue-number machines often send the number as a JSON integer; it is still a ticket number.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**32:
            return str(value)
        return value

    @model_validator(mode="after")
    def _staff_known_once_called(self) -> TicketMessage:
        if self.event is not TicketEvent.ISSUED and self.staff is None:
            raise ValueError(f"staff is required for event {self.event.value!r} (every event after issued)")
        if self.to_desk is not None and self.event is not TicketEvent.TRANSFERRED:
            raise ValueError("to_desk is only allowed on a transferred event")
        return self


class QueueSource(StrEnum):
    """What measured a queue length."""

    CAMERA = "camera"
    SENSOR = "sensor"
    FUSED = "fused"


class QueueMessage(Envelope):
    """A queue measurement at a desk."""

    kind: ClassVar[MessageKind] = MessageKind.QUEUE

    length: int = Field(ge=0, le=1000, description="People waiting in the desk's queue.")
    est_wait_s: Seconds | None = Field(None, description="Estimated wait of the last person in line, seconds.")
    head_wait_s: Seconds | None = Field(None, description="How long the person at the head has waited, seconds.")
    source: QueueSource = Field(description="camera, sensor or fused.")
    present: bool | None = Field(None, description="Whether an officer is present at the desk.")


class RatingChannel(StrEnum):
    """How a citizen gave a rating."""

    BUTTON = "button"
    TOUCH = "touch"


class RatingFlag(StrEnum):
    """Why a kiosk doubts a rating (see docs/protocol.md: flagged ratings are kept; some are not counted)."""

    BURST = "burst"
    REPEAT = "repeat"
    TOO_SOON = "too_soon"
    NO_TICKET = "no_ticket"


# Ratings carrying one of these are kept in the record but left out of every satisfaction figure.
NOT_COUNTED_FLAGS = frozenset({RatingFlag.BURST, RatingFlag.REPEAT, RatingFlag.TOO_SOON})


class RatingMessage(Envelope):
    """A citizen's satisfaction rating."""

    kind: ClassVar[MessageKind] = MessageKind.RATING

    score: int = Field(ge=1, le=10, description="Score on the configured scale (default 4 levels, 4 best).")
    scale: int | None = Field(None, ge=2, le=10, description="Number of levels of the scale, when not the default.")
    ticket: str | None = Field(None, pattern=TICKET_PATTERN, description="The ticket just served, when known.")
    staff: str | None = Field(None, pattern=STAFF_PATTERN, description="The officer who served, when known.")
    channel: RatingChannel = Field(description="button or touch.")
    flags: list[RatingFlag] | None = Field(
        None,
        max_length=len(RatingFlag),
        description="Doubts of the kiosk: burst, repeat, too_soon (kept, not counted), no_ticket (counted).",
    )

    @field_validator("ticket", mode="before")
    @classmethod
    def _ticket_number_as_text(cls, value: Any) -> Any:
        return TicketMessage._ticket_number_as_text(value)

    @model_validator(mode="after")
    def _score_on_scale(self) -> RatingMessage:
        if self.scale is not None and self.score > self.scale:
            raise ValueError(f"score {self.score} is above the scale's {self.scale} levels")
        if self.flags is not None and len(set(self.flags)) != len(self.flags):
            raise ValueError(f"flags repeat a value: {[f.value for f in self.flags]}")
        return self

    @property
    def counted(self) -> bool:
        """Whether the rating counts in satisfaction figures (no flag that excludes it)."""
        return not NOT_COUNTED_FLAGS.intersection(self.flags or ())


class Sentiment(StrEnum):
    """Sentiment of a comment."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class FeedbackMessage(Envelope):
    """The sentiment of a citizen's typed comment; the text only with the citizen's consent."""

    kind: ClassVar[MessageKind] = MessageKind.FEEDBACK

    sentiment: Sentiment = Field(description="negative, neutral or positive.")
    confidence: float = Field(ge=0, le=1, description="Classifier confidence in [0, 1].")
    ticket: str | None = Field(None, pattern=TICKET_PATTERN, description="The ticket just served, when known.")
    staff: str | None = Field(None, pattern=STAFF_PATTERN, description="The officer who served, when known.")
    consent: bool = Field(False, description="The citizen ticked that the text may be sent.")
    text: str | None = Field(None, max_length=2000, description="The comment, only when consent is true.")

    @model_validator(mode="after")
    def _text_only_with_consent(self) -> FeedbackMessage:
        if self.text is not None and not self.consent:
            raise ValueError("text may only be sent when the citizen gave consent (consent: true)")
        return self


class EmotionMessage(Envelope):
    """The aggregated emotion of the citizen during one finished service."""

    kind: ClassVar[MessageKind] = MessageKind.EMOTION

    ticket: str | None = Field(None, pattern=TICKET_PATTERN, description="The ticket served, when known.")
    frames: int = Field(ge=1, le=MAX_FRAMES, description="Number of face observations averaged.")
    probabilities: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        max_length=len(EMOTION_CLASSES),
        description=f"Mean class probabilities over the service; classes: {', '.join(EMOTION_CLASSES)}.",
    )
    valence: float = Field(ge=-1, le=1, description="Mean valence in [-1, 1].")

    @model_validator(mode="after")
    def _known_classes_summing_to_one(self) -> EmotionMessage:
        unknown = set(self.probabilities) - set(EMOTION_CLASSES)
        if unknown:
            raise ValueError(f"unknown emotion classes {sorted(unknown)}: expected {', '.join(EMOTION_CLASSES)}")
        total = sum(self.probabilities.values())
        if abs(total - 1.0) > 0.02:
            raise ValueError(f"probabilities sum to {total:.3f}, expected 1")
        return self


class HeartbeatMessage(Envelope):
    """Health of an edge node."""

    kind: ClassVar[MessageKind] = MessageKind.HEARTBEAT

    uptime_s: float = Field(ge=0, le=MAX_UPTIME_S, description="Seconds since the agent started.")
    spool_depth: int = Field(ge=0, le=MAX_SPOOL_DEPTH, description="Messages waiting in the outbox.")
    fps: float | None = Field(None, ge=0, le=MAX_FPS, description="Camera frames processed per second.")
    model_latency_ms: float | None = Field(None, ge=0, le=MAX_LATENCY_MS, description="Mean model inference time, ms.")
    cpu_temp_c: float | None = Field(None, ge=-40, le=150, description="CPU temperature where exposed, °C.")
    camera_ok: bool | None = Field(None, description="Whether the camera delivers frames.")
    spool_dropped: int | None = Field(
        None,
        ge=0,
        le=MAX_SEQ,
        description="Queue samples and heartbeats the full outbox dropped unsent since it was created.",
    )


class StatusMessage(Envelope):
    """Whether an edge node is online (retained; the offline form is the last will)."""

    kind: ClassVar[MessageKind] = MessageKind.STATUS

    online: bool = Field(description="True on connect, false as the last will.")


class ConfigMessage(Envelope):
    """The node settings the hub manages (retained)."""

    kind: ClassVar[MessageKind] = MessageKind.CONFIG

    settings: dict[str, Any] = Field(description="Targets, zones, rating scale and other managed settings.")

    @field_validator("settings", mode="after")
    @classmethod
    def _settings_bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_settings_value(value, 1)
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > MAX_SETTINGS_BYTES:
            raise ValueError(f"settings take {size} bytes as JSON, at most {MAX_SETTINGS_BYTES} allowed")
        return value


def _check_settings_value(value: Any, depth: int) -> None:
    if depth > MAX_SETTINGS_DEPTH:
        raise ValueError(f"settings are nested deeper than {MAX_SETTINGS_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _check_settings_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_settings_value(item, depth + 1)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int):
        if abs(value) > MAX_SETTINGS_INT:
            raise ValueError(f"settings hold an integer beyond ±2^53 ({str(value)[:20]}…)")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("settings hold NaN or Infinity")


class AlertType(StrEnum):
    """What an alert is about."""

    WAIT_TARGET_AT_RISK = "wait_target_at_risk"
    WAIT_TARGET_BROKEN = "wait_target_broken"
    SERVICE_TARGET_BROKEN = "service_target_broken"
    NODE_OFFLINE = "node_offline"
    NO_RATINGS = "no_ratings"
    LINE_TICKET_MISMATCH = "line_ticket_mismatch"
    MESSAGES_MISSING = "messages_missing"


class AlertState(StrEnum):
    """Whether an alert starts or ends."""

    RAISED = "raised"
    CLEARED = "cleared"


class AlertMessage(Envelope):
    """A hub alert: a target at risk or broken, a node offline, a unit without ratings."""

    kind: ClassVar[MessageKind] = MessageKind.ALERT

    alert: AlertType = Field(description="What the alert is about.")
    state: AlertState = Field(AlertState.RAISED, description="raised or cleared.")
    severity: Literal["warning", "critical"] = Field(description="warning (at risk) or critical (broken).")
    message: str = Field(max_length=500, description="A sentence in Vietnamese for people.")
    value_s: float | None = Field(
        None, ge=-MAX_ALERT_SECONDS, le=MAX_ALERT_SECONDS, description="The measured or predicted value, seconds."
    )
    target_s: float | None = Field(
        None, ge=-MAX_ALERT_SECONDS, le=MAX_ALERT_SECONDS, description="The target in force, seconds."
    )
    ticket: str | None = Field(None, pattern=TICKET_PATTERN, description="The ticket concerned, when one.")
    count: int | None = Field(
        None, ge=0, le=MAX_SEQ, description="messages_missing: how many numbered messages of the desk are missing."
    )


class LineEvent(StrEnum):
    """What the camera saw of one person in the line (numbers only, never who)."""

    WALKOUT = "walkout"
    PRE_TICKET_WAIT = "pre_ticket_wait"


class LineMessage(Envelope):
    """One person who left the line unserved, or who reached the ticket machine after queuing (camera)."""

    kind: ClassVar[MessageKind] = MessageKind.LINE

    event: LineEvent = Field(description="walkout (left the line unserved) or pre_ticket_wait (reached the machine).")
    duration_s: float = Field(
        ge=0, le=12 * 3600, description="walkout: time spent in the line; pre_ticket_wait: line to ticket machine, s."
    )


Message = (
    TicketMessage
    | QueueMessage
    | RatingMessage
    | FeedbackMessage
    | EmotionMessage
    | HeartbeatMessage
    | StatusMessage
    | ConfigMessage
    | AlertMessage
    | LineMessage
)

MESSAGE_MODELS: dict[MessageKind, type[Envelope]] = {
    model.kind: model
    for model in (
        TicketMessage,
        QueueMessage,
        RatingMessage,
        FeedbackMessage,
        EmotionMessage,
        HeartbeatMessage,
        StatusMessage,
        ConfigMessage,
        AlertMessage,
        LineMessage,
    )
}


def parse_message(topic: str, payload: bytes | str) -> Message:
    """Validate a payload received on ``topic`` and return its message model.

    Raises:
        ProtocolError: the topic or payload does not conform; the text gives every reason found.
    """
    where = parse_topic(topic)
    model = MESSAGE_MODELS[where.kind]
    try:
        message = model.model_validate_json(payload, strict=True)
    except ValidationError as error:
        raise ProtocolError(_reasons(error)) from None
    if message.site != where.site or message.desk != where.desk:
        raise ProtocolError(
            f"envelope site/desk {message.site}/{message.desk} disagree with topic {where.site}/{where.desk}"
        )
    return message  # type: ignore[return-value]


def _reasons(error: ValidationError) -> str:
    reasons = []
    for detail in error.errors(include_url=False):
        where = ".".join(str(part) for part in detail["loc"]) or "payload"
        reasons.append(f"{where}: {detail['msg']}")
    return "; ".join(reasons)
