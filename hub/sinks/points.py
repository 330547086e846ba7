"""What the hub writes to InfluxDB: time-series points made from the record. Pure code, no I/O.

Measurements (README, "InfluxDB"): ``queue``, ``visit``, ``rating``, ``feedback``, ``emotion``,
``device_health``, ``alert`` (from the record, complete after any outage) and ``desk_state`` (samples of the
live board). Tags ``site``, ``desk``, ``service``, ``staff`` where they apply; every field is numeric, so
that any InfluxDB-compatible store keeps it and Flux can average it.

Points from stored messages take the message's time plus ``seq % 1000`` nanoseconds: two ratings at the same
desk in the same instant stay two points instead of one overwriting the other. A transaction's point takes
its call time plus its sequence number, so re-sending it after later ticket events overwrites it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from protocol.messages import EMOTION_CLASSES, NOT_COUNTED_FLAGS
from protocol.topics import MessageKind

FieldValue = int | float

SENTIMENT_VALUE = {"negative": -1, "neutral": 0, "positive": 1}
STATE_LEVEL = {"ok": 0, "at_risk": 1, "broken": 2}

MEASUREMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "queue": {"tags": ("site", "desk", "source"), "fields": ("length", "est_wait_s", "head_wait_s", "present")},
    "visit": {
        "tags": ("site", "desk", "service", "staff", "end"),
        "fields": ("wait_s", "service_s", "no_show", "within_target"),
    },
    "rating": {"tags": ("site", "desk", "staff", "channel"), "fields": ("score", "scale", "satisfied", "counted")},
    "feedback": {
        "tags": ("site", "desk", "staff", "sentiment"),
        "fields": ("sentiment_value", "confidence", "consented"),
    },
    "emotion": {"tags": ("site", "desk"), "fields": ("valence", "frames", *EMOTION_CLASSES)},
    "device_health": {
        "tags": ("site", "desk"),
        "fields": ("uptime_s", "spool_depth", "fps", "model_latency_ms", "cpu_temp_c", "camera_ok", "online"),
    },
    "alert": {"tags": ("site", "desk", "alert", "severity"), "fields": ("raised", "value_s", "target_s")},
    "desk_state": {
        "tags": ("site", "desk"),
        "fields": (
            "queue_length",
            "head_wait_s",
            "predicted_wait_s",
            "target_wait_s",
            "state_level",
            "staff_present",
            "ratings_today",
            "satisfaction_share_today",
        ),
    },
}


@dataclass(frozen=True, slots=True)
class SinkPoint:
    """One point: measurement, tags, numeric fields, time in nanoseconds since the epoch (UTC)."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    ts_ns: int

    def to_line(self) -> str:
        """The point in InfluxDB line protocol."""
        tags = "".join(f",{_escape(k)}={_escape(v)}" for k, v in sorted(self.tags.items()))
        fields = ",".join(f"{_escape(k)}={_field(v)}" for k, v in sorted(self.fields.items()))
        return f"{_escape(self.measurement)}{tags} {fields} {self.ts_ns}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _field(value: FieldValue) -> str:
    if isinstance(value, bool):
        return f"{int(value)}i"
    if isinstance(value, int):
        return f"{value}i"
    return repr(float(value))


def ns(moment: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (exact to the microsecond)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _tags(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None and str(v) != ""}


def _fields(**values: Any) -> dict[str, FieldValue]:
    out: dict[str, FieldValue] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = int(value) if isinstance(value, bool) else value
    return out


@dataclass(slots=True)
class MessagePoints:
    """Points made from a run of stored messages, and the visits whose transactions need looking up."""

    points: list[SinkPoint] = field(default_factory=list)
    visits: set[tuple[str, str, str]] = field(default_factory=set)


# Key under which the hub's own verdict on a rating is passed along with its payload (see ``record_points``).
HUB_COUNTED = "_hub_counted"


def points_from_message(
    seq: int,
    kind: str,
    data: Mapping[str, Any],
    out: MessagePoints,
    day: str,
    satisfied_min_for: Callable[[int | None], int],
) -> None:
    """Add the points one stored message gives.

    Args:
        seq: the message's position in the record.
        kind: its kind (``queue``, ``rating``, …).
        data: its JSON payload.
        out: where the points (and the visits to look up) go.
        day: its local day (YYYY-MM-DD).
        satisfied_min_for: the lowest satisfied score on a scale of so many levels (None: the configured one).
    """
    site, desk = data["site"], data["desk"]
    ts = ns(datetime.fromisoformat(data["ts"])) + seq % 1000
    if kind == MessageKind.QUEUE:
        out.points.append(
            SinkPoint(
                "queue",
                _tags(site=site, desk=desk, source=data.get("source")),
                _fields(
                    length=int(data["length"]),
                    est_wait_s=_float(data.get("est_wait_s")),
                    head_wait_s=_float(data.get("head_wait_s")),
                    present=data.get("present"),
                ),
                ts,
            )
        )
    elif kind == MessageKind.RATING:
        out.points.append(
            SinkPoint(
                "rating",
                _tags(site=site, desk=desk, staff=data.get("staff"), channel=data.get("channel")),
                _fields(
                    score=int(data["score"]),
                    scale=data.get("scale"),
                    satisfied=int(data["score"]) >= satisfied_min_for(data.get("scale")),
                    counted=data.get(HUB_COUNTED, not NOT_COUNTED_FLAGS.intersection(data.get("flags") or ())),
                ),
                ts,
            )
        )
    elif kind == MessageKind.FEEDBACK:
        sentiment = data["sentiment"]
        out.points.append(
            SinkPoint(
                "feedback",
                _tags(site=site, desk=desk, staff=data.get("staff"), sentiment=sentiment),
                _fields(
                    sentiment_value=SENTIMENT_VALUE.get(sentiment, 0),
                    confidence=float(data["confidence"]),
                    consented=bool(data.get("consent", False)),
                ),
                ts,
            )
        )
    elif kind == MessageKind.EMOTION:
        probabilities = {k: float(v) for k, v in data["probabilities"].items() if k in EMOTION_CLASSES}
        out.points.append(
            SinkPoint(
                "emotion",
                _tags(site=site, desk=desk),
                _fields(valence=float(data["valence"]), frames=int(data["frames"]), **probabilities),
                ts,
            )
        )
    elif kind == MessageKind.HEARTBEAT:
        out.points.append(
            SinkPoint(
                "device_health",
                _tags(site=site, desk=desk),
                _fields(
                    uptime_s=_float(data.get("uptime_s")),
                    spool_depth=data.get("spool_depth"),
                    fps=_float(data.get("fps")),
                    model_latency_ms=_float(data.get("model_latency_ms")),
                    cpu_temp_c=_float(data.get("cpu_temp_c")),
                    camera_ok=data.get("camera_ok"),
                    online=True,
                ),
                ts,
            )
        )
    elif kind == MessageKind.STATUS:
        out.points.append(
            SinkPoint("device_health", _tags(site=site, desk=desk), _fields(online=bool(data["online"])), ts)
        )
    elif kind == MessageKind.TICKET:
        out.visits.add((site, day, str(data["ticket"])))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def points_from_transactions(
    site: str, rows: Iterable[Mapping[str, Any]], target_wait_s: float | None
) -> list[SinkPoint]:
    """One ``visit`` point per ended transaction of a visit (rows of the record's transactions table)."""
    points = []
    for row in rows:
        end = row["end_reason"]
        if end is None or row["ended_at"] is None:
            continue
        no_show = end == "no_show"
        wait = None if no_show else row["wait_s"]
        points.append(
            SinkPoint(
                "visit",
                _tags(site=site, desk=row["desk"], service=row["service"], staff=row["staff"], end=end),
                _fields(
                    wait_s=_float(wait),
                    service_s=None if no_show else _float(row["service_s"]),
                    no_show=no_show,
                    within_target=(wait <= target_wait_s) if wait is not None and target_wait_s else None,
                ),
                ns(datetime.fromisoformat(row["called_at"])) + int(row["seq"]),
            )
        )
    return points


def point_from_alert(seq: int, payload: str) -> SinkPoint:
    """An ``alert`` point from a stored alert (raised 1, cleared 0)."""
    data = json.loads(payload)
    return SinkPoint(
        "alert",
        _tags(site=data["site"], desk=data["desk"], alert=data["alert"], severity=data["severity"]),
        _fields(
            raised=data.get("state", "raised") == "raised",
            value_s=_float(data.get("value_s")),
            target_s=_float(data.get("target_s")),
        ),
        ns(datetime.fromisoformat(data["ts"])) + seq % 1000,
    )


def point_from_desk_view(view: Mapping[str, Any], at: datetime) -> SinkPoint:
    """A ``desk_state`` sample from a desk's live view (as the API's ``/live`` shows it)."""
    return SinkPoint(
        "desk_state",
        _tags(site=view["site"], desk=view["desk"]),
        _fields(
            queue_length=int(view["queue_length"]),
            head_wait_s=_float(view.get("head_wait_s")),
            predicted_wait_s=_float(view.get("predicted_wait_s")),
            target_wait_s=_float(view.get("target_wait_s")),
            state_level=STATE_LEVEL.get(view.get("state", "ok"), 0),
            staff_present=view.get("staff_present"),
            ratings_today=int(view.get("ratings_today") or 0),
            satisfaction_share_today=_float(view.get("satisfaction_share_today")),
        ),
        ns(at),
    )
