"""MQTT topic scheme of wire protocol v1: ``onestop/v1/{site}/{desk}/{kind}``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from protocol.errors import ProtocolError

PROTOCOL_VERSION = 1
TOPIC_ROOT = "onestop/v1"
SUBSCRIPTION_ALL = f"{TOPIC_ROOT}/#"
IDENTIFIER_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)

# Alerts that concern a whole unit rather than one desk are published under this desk id, which is
# therefore reserved: no real desk may be called "all".
UNIT_WIDE_DESK = "all"


class MessageKind(StrEnum):
    """The last topic level: what a message is about."""

    TICKET = "ticket"
    QUEUE = "queue"
    RATING = "rating"
    FEEDBACK = "feedback"
    EMOTION = "emotion"
    HEARTBEAT = "heartbeat"
    STATUS = "status"
    CONFIG = "config"
    ALERT = "alert"
    LINE = "line"


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed protocol topic."""

    site: str
    desk: str
    kind: MessageKind

    def __str__(self) -> str:
        return f"{TOPIC_ROOT}/{self.site}/{self.desk}/{self.kind.value}"


def is_identifier(value: str) -> bool:
    """Whether ``value`` is a valid site or desk id (lower-case letters, digits and hyphens, 1–63 chars)."""
    return bool(_IDENTIFIER.match(value))


def topic_for(site: str, desk: str, kind: MessageKind | str) -> str:
    """Return the topic a message of ``kind`` from ``site``/``desk`` is published on.

    Raises:
        ProtocolError: if the site or desk id is not a valid identifier or the kind is unknown.
    """
    return str(Topic(_checked_identifier("site", site), _checked_identifier("desk", desk), _kind(kind)))


@lru_cache(maxsize=65536)
def parse_topic(topic: str) -> Topic:
    """Split a protocol topic into site, desk and kind.

    Raises:
        ProtocolError: if the topic is not ``onestop/v1/{site}/{desk}/{kind}`` with valid parts.
    """
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        raise ProtocolError(f"topic {topic!r} is not of the form {TOPIC_ROOT}/{{site}}/{{desk}}/{{kind}}")
    site, desk, kind = parts[2], parts[3], parts[4]
    return Topic(_checked_identifier("site", site), _checked_identifier("desk", desk), _kind(kind))


def _checked_identifier(what: str, value: str) -> str:
    if not is_identifier(value):
        raise ProtocolError(
            f"{what} id {value!r} is invalid: expected 1–63 lower-case letters, digits or hyphens, "
            "starting with a letter or digit"
        )
    return value


def _kind(kind: MessageKind | str) -> MessageKind:
    try:
        return MessageKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in MessageKind)
        raise ProtocolError(f"unknown message kind {kind!r}: expected one of {known}") from None
