"""Wire protocol v1 shared by edge and hub: topics and message models (edge and hub never import each other)."""

from protocol.errors import ConfigError, OneStopError, ProtocolError
from protocol.messages import (
    AlertMessage,
    ConfigMessage,
    EmotionMessage,
    FeedbackMessage,
    HeartbeatMessage,
    Message,
    QueueMessage,
    RatingMessage,
    StatusMessage,
    TicketEvent,
    TicketMessage,
    new_message_id,
    parse_message,
)
from protocol.topics import MessageKind, Topic, parse_topic, topic_for

__all__ = [
    "AlertMessage",
    "ConfigError",
    "ConfigMessage",
    "EmotionMessage",
    "FeedbackMessage",
    "HeartbeatMessage",
    "Message",
    "MessageKind",
    "OneStopError",
    "ProtocolError",
    "QueueMessage",
    "RatingMessage",
    "StatusMessage",
    "TicketEvent",
    "TicketMessage",
    "Topic",
    "new_message_id",
    "parse_message",
    "parse_topic",
    "topic_for",
]
