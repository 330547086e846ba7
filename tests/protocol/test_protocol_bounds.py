"""Wire protocol v1 is as strict as docs/protocol.md says: strict JSON types, bounded numbers, no NaN or
Infinity, dates within 2000–2099 that convert to UTC, bounded config settings; each refusal names its field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from protocol.errors import ProtocolError
from protocol.messages import parse_message

ENVELOPE = {"v": 1, "id": "m-1", "ts": "2026-11-20T08:00:00+07:00", "site": "bn-hcc", "desk": "q01"}
BODIES: dict[str, dict[str, Any]] = {
    "emotion": {"frames": 12, "valence": 0.2, "probabilities": {"happy": 0.6, "neutral": 0.4}},
    "heartbeat": {"uptime_s": 60, "spool_depth": 0, "fps": 7.5, "model_latency_ms": 38.0},
    "queue": {"length": 3, "source": "camera", "est_wait_s": 600},
    "rating": {"score": 4, "channel": "button"},
    "config": {"settings": {"rating": {"levels": 4}}},
    "alert": {"alert": "node_offline", "severity": "critical", "message": "Mất kết nối", "value_s": 120},
    "ticket": {"event": "issued", "ticket": "A001"},
}


def raw(kind: str, text: str) -> str:
    """Parse a payload given as JSON text (for what json.dumps cannot write: 400 digits, NaN)."""
    return parse_message(f"onestop/v1/bn-hcc/q01/{kind}", text)  # type: ignore[return-value]


def payload(kind: str, **change: Any) -> str:
    return json.dumps({**ENVELOPE, **BODIES[kind], **change})


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_every_example_body_is_accepted(kind: str) -> None:
    raw(kind, payload(kind))


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("ticket", {"ts": "4"}, "ts"),
        ("ticket", {"ts": 4}, "ts"),
        ("ticket", {"ts": "9999-12-31T23:59:59Z"}, "ts"),
        ("ticket", {"ts": "0001-01-01T00:00:00+05:00"}, "ts"),
        ("ticket", {"ts": "2100-01-01T00:00:00Z"}, "ts"),
        ("ticket", {"ts": "2026-02-30T08:00:00Z"}, "ts"),
        ("ticket", {"v": True}, "v"),
        ("ticket", {"v": 1.0}, "v"),
        ("ticket", {"ticket": 10**40}, "ticket"),
        ("emotion", {"frames": 2**63}, "frames"),
        ("emotion", {"frames": 0}, "frames"),
        ("heartbeat", {"spool_depth": 2**70}, "spool_depth"),
        ("heartbeat", {"uptime_s": 1e300}, "uptime_s"),
        ("heartbeat", {"fps": 1e6}, "fps"),
        ("heartbeat", {"model_latency_ms": 1e12}, "model_latency_ms"),
        ("queue", {"length": 1001}, "length"),
        ("queue", {"est_wait_s": 1e9}, "est_wait_s"),
        ("rating", {"score": True}, "score"),
        ("rating", {"score": "4"}, "score"),
        ("alert", {"value_s": 1e20}, "value_s"),
        ("config", {"settings": {"x": "y" * (1024 * 1024)}}, "settings"),
        ("config", {"settings": {"n": 2**60}}, "settings"),
        ("config", {"settings": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {}}}}}}}}}}, "settings"),
    ],
)
def test_a_value_out_of_its_bounds_or_type_is_rejected_naming_the_field(
    kind: str, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        raw(kind, payload(kind, **change))
    assert str(caught.value).startswith(f"{field}: ") or f"; {field}: " in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "field", "literal"),
    [
        ("emotion", "frames", "9" * 400),
        ("emotion", "valence", "NaN"),
        ("emotion", "valence", "Infinity"),
        ("heartbeat", "uptime_s", "-Infinity"),
        ("heartbeat", "fps", "NaN"),
        ("queue", "length", "9" * 400),
        ("rating", "score", "1e400"),
    ],
)
def test_huge_integers_nan_and_infinity_are_rejected(kind: str, field: str, literal: str) -> None:
    body = json.loads(payload(kind))
    body.pop(field)
    text = json.dumps(body)[:-1] + f', "{field}": {literal}}}'
    with pytest.raises(ProtocolError, match=rf"(^|; ){field}: "):
        raw(kind, text)


def test_nan_inside_emotion_probabilities_and_config_settings_is_rejected() -> None:
    with pytest.raises(ProtocolError, match=r"probabilities\.happy: "):
        raw("emotion", payload("emotion")[:-1].replace('"happy": 0.6', '"happy": NaN') + "}")
    with pytest.raises(ProtocolError, match="settings: .*NaN or Infinity"):
        raw("config", payload("config", settings={"x": 1}).replace('"x": 1', '"x": NaN'))


def test_a_time_without_offset_still_says_so() -> None:
    with pytest.raises(ProtocolError, match="ts: Input should have timezone info"):
        raw("ticket", payload("ticket", ts="2026-11-20T08:00:00"))
