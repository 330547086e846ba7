"""What the hub does with each incoming message: validate, deduplicate, keep, rebuild visits, update live state.

Synchronous and free of MQTT, so that it is tested without a broker. A batch is one database transaction:
if the database refuses it, nothing of it is half-kept and the caller retries the whole batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hub.config import HubSettings
from hub.hall import Call
from hub.live import DeskKey, LiveBoard
from hub.store import QueueSample, Store
from hub.visits import TicketEventRecord, build_visit
from protocol.errors import ProtocolError
from protocol.messages import (
    AlertMessage,
    EmotionMessage,
    FeedbackMessage,
    HeartbeatMessage,
    LineMessage,
    Message,
    QueueMessage,
    RatingMessage,
    StatusMessage,
    TicketEvent,
    TicketMessage,
    parse_message,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message as it came off the broker."""

    topic: str
    payload: bytes
    received_at: datetime


@dataclass(slots=True)
class BatchOutcome:
    """What a batch changed: counts, desks whose live state changed, alerts raised or cleared."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    changed_desks: set[DeskKey] = field(default_factory=set)
    alerts: list[AlertMessage] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)


class Processor:
    """Turns incoming messages into the record and the live board."""

    def __init__(self, settings: HubSettings, store: Store, board: LiveBoard) -> None:
        self._settings = settings
        self._store = store
        self._board = board
        self._zone = settings.zone

    def local_day(self, moment: datetime) -> str:
        """The local day (YYYY-MM-DD, hub time zone) of a moment."""
        return moment.astimezone(self._zone).date().isoformat()

    def process(self, batch: Sequence[Incoming], now: datetime) -> BatchOutcome:
        """Handle a batch in one transaction; malformed messages are kept as rejected, never raised."""
        outcome = BatchOutcome()
        self._board.start_day(self.local_day(now))
        dirty_visits: set[tuple[str, str, str]] = set()
        with self._store.transaction():
            parsed: list[tuple[Incoming, Message]] = []
            for item in batch:
                try:
                    parsed.append((item, parse_message(item.topic, item.payload)))
                except ProtocolError as error:
                    self._store.add_rejected(item.topic, item.payload, str(error), item.received_at)
                    outcome.rejected += 1
            seen = self._store.existing_message_ids([message.id for _, message in parsed])
            for item, message in parsed:
                if message.id in seen:
                    outcome.duplicates += 1
                    continue
                seen.add(message.id)
                self._store.add_message(message, item.payload, item.received_at)
                outcome.accepted += 1
                self._keep(message, dirty_visits, outcome)
            for site, day, ticket in dirty_visits:
                visit = build_visit(ticket, self._store.ticket_events(site, day, ticket))
                self._store.save_visit(site, day, visit)
                outcome.changed_desks |= self._board.apply_visit(site, day, visit)
        return outcome

    def _keep(self, message: Message, dirty_visits: set[tuple[str, str, str]], outcome: BatchOutcome) -> None:
        day = self.local_day(message.ts)
        board = self._board
        if isinstance(message, TicketMessage):
            record = TicketEventRecord(
                id=message.id,
                ts=message.ts,
                desk=message.desk,
                event=message.event,
                staff=message.staff,
                service=message.service,
                priority=message.priority,
                to_desk=message.to_desk,
            )
            self._store.add_ticket_event(message.site, day, message.ticket, record)
            dirty_visits.add((message.site, day, message.ticket))
            if message.event in (TicketEvent.CALLED, TicketEvent.RECALLED):
                recalled = message.event is TicketEvent.RECALLED
                outcome.calls.append(Call(message.site, message.desk, message.ticket, message.ts, recalled))
        elif isinstance(message, QueueMessage):
            self._store.add_queue_sample(message)
            sample = QueueSample(
                message.site,
                message.desk,
                message.ts,
                message.length,
                message.est_wait_s,
                message.head_wait_s,
                message.source.value,
                message.present,
            )
            outcome.changed_desks |= board.apply_queue(sample)
        elif isinstance(message, RatingMessage):
            self._store.add_rating(message, day)
            outcome.changed_desks |= board.apply_rating(
                message.site, message.desk, day, message.score, message.scale, message.counted
            )
        elif isinstance(message, FeedbackMessage):
            self._store.add_feedback(message, day)
        elif isinstance(message, EmotionMessage):
            self._store.add_emotion(message, day)
        elif isinstance(message, LineMessage):
            self._store.add_line_event(message, day)
            outcome.changed_desks |= board.apply_line(
                message.site, message.desk, day, message.event.value, message.duration_s
            )
        elif isinstance(message, HeartbeatMessage):
            self._store.record_node(message.site, message.desk, message.ts, None, message)
            outcome.changed_desks |= board.apply_node(message.site, message.desk, message.ts, None)
        elif isinstance(message, StatusMessage):
            self._store.record_node(message.site, message.desk, message.ts, message.online, None)
            outcome.changed_desks |= board.apply_node(message.site, message.desk, message.ts, message.online)
        # config and alert messages are kept in the raw record only.

    def tick(self, now: datetime) -> list[AlertMessage]:
        """Re-evaluate live alerts now (waits grow without messages); keep and return the changes."""
        self._board.start_day(self.local_day(now))
        alerts = self._board.evaluate(now)
        if alerts:
            with self._store.transaction():
                for alert in alerts:
                    self._store.add_alert(alert)
        return alerts

    def restore(self, now: datetime) -> None:
        """Rebuild today's live board from the record (after a restart)."""
        day = self.local_day(now)
        self._board.start_day(day)
        for site, visits in self._store.visits_on(day).items():
            for visit in visits:
                self._board.apply_visit(site, day, visit)
        for sample in self._store.latest_queue_samples():
            self._board.apply_queue(sample)
        for node in self._store.nodes():
            self._board.apply_node(node.site, node.desk, node.last_seen, node.online)
        for site, desks in self._store.seen_units().items():
            for desk in desks:
                for rating in self._store.ratings(site, day, desk):
                    self._board.apply_rating(site, desk, day, rating.score, rating.scale, rating.counted)
            for line in self._store.line_events(site, day):
                self._board.apply_line(site, line.desk, day, line.event, line.duration_s)
