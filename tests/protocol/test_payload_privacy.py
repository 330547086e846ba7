"""No published payload of any MQTT kind can carry an image, a face crop, an embedding or free text without
consent: read from the protocol's own pydantic models (their JSON schema), field by field, and checked on the
parser with payloads that try to smuggle one in.

Rules, for every kind:
- no unknown field (``additionalProperties: false``), so an ``image`` or ``embedding`` field is refused;
- every string is bounded and constrained: a pattern anchored at both ends without ``*`` or ``+``, an
  enumeration, a constant or a date-time, except the free-text fields listed in ``FREE_TEXT`` (the comment,
  which needs consent, and the hub's own alert sentence);
- no array of numbers anywhere (an embedding is one); arrays hold enumerated labels only;
- the only maps are the emotion class probabilities (fixed key set, checked by the parser) and the hub's
  managed node settings (``config``, published by the hub's account alone).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from protocol.errors import ProtocolError
from protocol.messages import MESSAGE_MODELS, parse_message
from protocol.topics import MessageKind

# Free text a payload may carry, and why it is allowed.
FREE_TEXT = {
    ("feedback", "text"): "the citizen's comment, only with consent: true (checked below)",
    ("alert", "message"): "a Vietnamese sentence written by the hub; devices may not publish alerts",
}
# Maps (objects with arbitrary keys) a payload may carry.
MAPS = {
    ("emotion", "probabilities"): "the 7 emotion class probabilities; other keys are refused (checked below)",
    ("config", "settings"): "the hub's managed node settings; devices may not publish config",
}
# Kinds only the hub publishes (the broker's ACL refuses them from devices).
HUB_ONLY = {MessageKind.ALERT, MessageKind.CONFIG}


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _variants(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return [v for option in schema["anyOf"] for v in _variants(option, defs)]
    return [schema]


def _bounded_pattern(pattern: str) -> bool:
    return pattern.startswith("^") and pattern.endswith("$") and not re.search(r"(?<!\\)[*+]", pattern)


def _problems(kind: str, schema: dict[str, Any]) -> list[str]:
    defs = schema.get("$defs", {})
    found = []
    if schema.get("additionalProperties") is not False:
        found.append(f"{kind}: unknown fields are not refused")
    for name, field_schema in schema["properties"].items():
        for variant in _variants(field_schema, defs):
            where = f"{kind}.{name}"
            kind_of = variant.get("type")
            if kind_of == "string":
                constrained = (
                    "enum" in variant
                    or "const" in variant
                    or variant.get("format") == "date-time"
                    or ("pattern" in variant and _bounded_pattern(variant["pattern"]))
                )
                if not constrained and (kind, name) not in FREE_TEXT:
                    found.append(f"{where}: a free string (no bounded pattern, enumeration or format)")
                if (kind, name) in FREE_TEXT and "maxLength" not in variant:
                    found.append(f"{where}: free text without a length bound")
            elif kind_of == "array":
                items = _variants(variant.get("items", {}), defs)
                if not all("enum" in item or "const" in item for item in items):
                    found.append(f"{where}: an array of something other than enumerated labels")
            elif kind_of == "object" or "additionalProperties" in variant:
                if (kind, name) not in MAPS:
                    found.append(f"{where}: a map with arbitrary keys")
            elif "enum" in variant or "const" in variant or kind_of in ("integer", "number", "boolean", "null"):
                pass
            else:
                found.append(f"{where}: a value of unchecked shape {variant}")
    return found


@pytest.mark.parametrize("kind", sorted(MESSAGE_MODELS, key=str))
def test_every_field_of_every_kind_is_bounded_or_an_allowed_exception(kind: MessageKind) -> None:
    schema = MESSAGE_MODELS[kind].model_json_schema()
    assert _problems(kind.value, schema) == []


def test_the_allowed_exceptions_exist_and_free_text_from_devices_is_only_the_consented_comment() -> None:
    for kind, name in [*FREE_TEXT, *MAPS]:
        assert name in MESSAGE_MODELS[MessageKind(kind)].model_json_schema()["properties"], (kind, name)
    device_free_text = {(k, n) for k, n in [*FREE_TEXT, *MAPS] if MessageKind(k) not in HUB_ONLY}
    assert device_free_text == {("feedback", "text"), ("emotion", "probabilities")}


def _envelope(kind: str) -> dict[str, Any]:
    return {"v": 1, "id": f"privacy-{kind}", "ts": "2026-03-02T01:00:00Z", "site": "bn-hcc", "desk": "q01"}


def test_a_comment_text_without_consent_is_refused() -> None:
    payload = {**_envelope("feedback"), "sentiment": "negative", "confidence": 0.9, "text": "Chờ quá lâu"}
    with pytest.raises(ProtocolError, match="consent"):
        parse_message("onestop/v1/bn-hcc/q01/feedback", json.dumps(payload))
    accepted = parse_message("onestop/v1/bn-hcc/q01/feedback", json.dumps({**payload, "consent": True}))
    assert accepted.text == "Chờ quá lâu"  # type: ignore[union-attr]


def test_an_embedding_or_an_image_cannot_ride_along() -> None:
    probabilities = {
        "angry": 0.0,
        "disgust": 0.0,
        "fear": 0.0,
        "happy": 0.5,
        "sad": 0.0,
        "surprise": 0.0,
        "neutral": 0.5,
    }
    emotion = {**_envelope("emotion"), "frames": 10, "valence": 0.2, "probabilities": probabilities}
    assert parse_message("onestop/v1/bn-hcc/q01/emotion", json.dumps(emotion)).frames == 10  # type: ignore[union-attr]
    smuggled = [
        {**emotion, "probabilities": {**probabilities, "embedding_0": 0.0}},  # an extra key in the map
        {**emotion, "embedding": [0.1] * 128},  # an extra field
        {**emotion, "face": "iVBORw0KGgoAAAANSUhEUgAA" * 100},  # a base64 image
        {**emotion, "ticket": "A" * 5000},  # an image in a bounded field
    ]
    for payload in smuggled:
        with pytest.raises(ProtocolError):
            parse_message("onestop/v1/bn-hcc/q01/emotion", json.dumps(payload))
    queue = {**_envelope("queue"), "length": 3, "source": "camera", "frame": "base64..."}
    with pytest.raises(ProtocolError):
        parse_message("onestop/v1/bn-hcc/q01/queue", json.dumps(queue))
