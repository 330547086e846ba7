"""Wire protocol v1: what conforms is accepted, what does not is rejected with a reason that names it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from protocol import ProtocolError, parse_message, topic_for
from protocol.messages import MESSAGE_MODELS, RatingMessage, TicketMessage
from protocol.topics import MessageKind

TOPIC = "onestop/v1/bn-hcc/q01/{kind}"
ENVELOPE = {"v": 1, "id": "m-1", "ts": "2026-11-20T08:00:00+07:00", "site": "bn-hcc", "desk": "q01"}

EXAMPLES: dict[str, dict[str, Any]] = {
    "ticket": {
        "event": "called",
        "ticket": "A012",
        "service": "dat-dai",
        "staff": "cb-017",
        "priority": False,
    },
    "queue": {"length": 4, "est_wait_s": 840, "head_wait_s": 300, "source": "camera", "present": True},
    "rating": {"score": 4, "ticket": "A012", "staff": "cb-017", "channel": "button"},
    "feedback": {
        "sentiment": "positive",
        "confidence": 0.93,
        "ticket": "A012",
        "consent": True,
        "text": "Cán bộ nhiệt tình",
    },
    "emotion": {
        "ticket": "A012",
        "frames": 12,
        "probabilities": {
            "angry": 0.05,
            "disgust": 0.0,
            "fear": 0.02,
            "happy": 0.5,
            "sad": 0.03,
            "surprise": 0.1,
            "neutral": 0.3,
        },
        "valence": 0.41,
    },
    "heartbeat": {
        "uptime_s": 3600,
        "spool_depth": 0,
        "fps": 7.5,
        "model_latency_ms": 38.0,
        "cpu_temp_c": 55.1,
    },
    "status": {"online": True},
    "config": {"settings": {"rating": {"levels": 4}}},
    "alert": {
        "alert": "wait_target_at_risk",
        "state": "raised",
        "severity": "warning",
        "message": "Quầy 1: thời gian chờ dự báo 18 phút, sắp vượt chỉ tiêu 15 phút.",
        "value_s": 1080,
        "target_s": 900,
    },
    "line": {"event": "walkout", "duration_s": 412.4},
}


def test_every_kind_has_an_example() -> None:
    assert set(EXAMPLES) == {kind.value for kind in MESSAGE_MODELS}


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_documented_example_is_accepted_and_round_trips(kind: str) -> None:
    payload = json.dumps({**ENVELOPE, **EXAMPLES[kind]})
    message = parse_message(TOPIC.format(kind=kind), payload)
    again = parse_message(message.topic, message.to_payload())
    assert again == message
    assert message.kind.value == kind


@pytest.mark.parametrize(
    ("topic", "change", "reason"),
    [
        (
            "onestop/v1/bn-hcc/q01/ticket",
            {"ts": "2026-11-20T08:00:00"},
            "ts: Input should have timezone info",
        ),
        ("onestop/v1/bn-hcc/q01/ticket", {"ts": 1763600000}, "ts: Input should be a valid datetime"),
        ("onestop/v1/bn-hcc/q01/ticket", {"v": 2}, "v: Input should be 1"),
        ("onestop/v1/bn-hcc/q01/ticket", {"id": "x" * 65}, "id: String should match pattern"),
        ("onestop/v1/bn-hcc/q01/ticket", {"id": "has space"}, "id: String should match pattern"),
        ("onestop/v1/bn-hcc/q01/ticket", {"desk": "q02"}, "disagree with topic"),
        ("onestop/v1/bn-hcc/q01/ticket", {"event": "eaten"}, "event: Input should be"),
        ("onestop/v1/bn-hcc/q01/ticket", {"staff": None}, "staff is required for event 'called'"),
        ("onestop/v1/bn-hcc/q01/ticket", {"surprise": 1}, "surprise: Extra inputs are not permitted"),
        (
            "onestop/v1/bn-hcc/q01/rating",
            {"score": 11, "channel": "button", "event": None},
            "score: Input should be less",
        ),
        (
            "onestop/v1/bn-hcc/q01/queue",
            {"length": -1, "source": "camera"},
            "length: Input should be greater",
        ),
        ("onestop/v1/bn-hcc/q01/feedback", {"consent": False, "text": "hay"}, "consent"),
        ("onestop/v1/bn-hcc/q01/unknown", {}, "unknown message kind 'unknown'"),
        ("onestop/v1/BN_HCC/q01/ticket", {}, "site id 'BN_HCC' is invalid"),
        ("onestop/v2/bn-hcc/q01/ticket", {}, "is not of the form"),
    ],
)
def test_nonconforming_message_is_rejected_with_its_reason(topic: str, change: dict[str, Any], reason: str) -> None:
    kind = topic.rsplit("/", 1)[1]
    body = {**ENVELOPE, **EXAMPLES.get(kind, {}), **change}
    body = {k: v for k, v in body.items() if v is not None or k == "staff"}
    if kind != "ticket":
        body.pop("event", None)
    with pytest.raises(ProtocolError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_message(topic, json.dumps(body))


def test_payload_that_is_not_json_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="Invalid JSON"):
        parse_message("onestop/v1/bn-hcc/q01/rating", b"\xff{not json")


def test_ticket_number_sent_as_integer_is_read_as_text() -> None:
    body = {**ENVELOPE, "event": "issued", "ticket": 17}
    assert parse_message("onestop/v1/bn-hcc/q01/ticket", json.dumps(body)).ticket == "17"  # type: ignore[union-attr]


def test_messages_built_in_python_serialise_with_offset_and_topic() -> None:
    message = RatingMessage(site="bn-hcc", desk="q01", score=3, channel="touch")
    payload = json.loads(message.to_payload())
    assert payload["ts"].endswith("Z") or "+" in payload["ts"]
    assert message.topic == "onestop/v1/bn-hcc/q01/rating"
    assert topic_for("bn-hcc", "q01", MessageKind.TICKET) == "onestop/v1/bn-hcc/q01/ticket"
    with pytest.raises(ProtocolError):
        topic_for("bn-hcc", "Quầy 1", "ticket")
    assert TicketMessage(site="a", desk="b", event="issued", ticket="1").staff is None


def test_every_example_in_the_protocol_document_is_valid() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
    checked = set()
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        kind = re.match(r"`(\w+)`", section).group(1)  # type: ignore[union-attr]
        for block in re.findall(r"```json\n(.*?)```", section, flags=re.S):
            body = json.loads(block)
            parse_message(f"onestop/v1/{body['site']}/{body['desk']}/{kind}", block)
            checked.add(kind)
    assert checked == {kind.value for kind in MESSAGE_MODELS}
