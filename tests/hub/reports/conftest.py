"""A small record written the way the hub writes it (visits rebuilt from ticket events by ``build_visit``,
ratings, comments and emotions as protocol messages), for reports computed by hand: on SQLite (``builder``)
or once on each engine (``engine_builder``: SQLite and PostgreSQL, the same figures expected)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hub.config import HubSettings, load_settings
from hub.connection import RecordConnection
from hub.reports.record import Record
from hub.store import open_store
from hub.visits import TicketEventRecord, build_visit
from protocol.messages import (
    EmotionMessage,
    FeedbackMessage,
    RatingChannel,
    RatingFlag,
    RatingMessage,
    Sentiment,
    TicketEvent,
)
from tests.support.require import require

EMOTION_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def at(day: str, clock: str) -> datetime:
    """A local time in Hà Nội (UTC+7)."""
    return datetime.fromisoformat(f"{day}T{clock}:00+07:00")


@dataclass
class RecordBuilder:
    """Writes visits, ratings, comments and emotions into a real record (SQLite or PostgreSQL)."""

    url: str
    settings: HubSettings = field(default_factory=load_settings)
    _events: dict[tuple[str, str, str], list[TicketEventRecord]] = field(default_factory=dict)
    _n: int = 0

    def __post_init__(self) -> None:
        self.store = open_store(self.url)

    def _id(self) -> str:
        self._n += 1
        return f"m{self._n}"

    def event(
        self,
        site: str,
        day: str,
        ticket: str,
        clock: str,
        event: TicketEvent,
        desk: str = "q01",
        staff: str | None = None,
        service: str | None = None,
        to_desk: str | None = None,
    ) -> None:
        """One ticket event; the visit is rebuilt from all its events when the record is saved."""
        record = TicketEventRecord(self._id(), at(day, clock), desk, event, staff, service, False, to_desk)
        self._events.setdefault((site, day, ticket), []).append(record)

    def served(
        self,
        site: str,
        day: str,
        ticket: str,
        issued: str,
        called: str,
        finished: str,
        staff: str,
        service: str = "dat-dai",
        desk: str = "q01",
    ) -> None:
        """A citizen issued a ticket, was called and served to the end at one desk."""
        self.event(site, day, ticket, issued, TicketEvent.ISSUED, desk, service=service)
        self.event(site, day, ticket, called, TicketEvent.CALLED, desk, staff, service)
        self.event(site, day, ticket, finished, TicketEvent.FINISHED, desk, staff, service)

    def minutes(
        self,
        site: str,
        day: str,
        ticket: str,
        wait_min: float,
        service_min: float,
        staff: str,
        service: str = "dat-dai",
        desk: str = "q01",
        start: str = "08:00",
    ) -> None:
        """A served visit given by its wait and handling minutes."""
        issued = at(day, start)
        called = issued + timedelta(minutes=wait_min)
        ended = called + timedelta(minutes=service_min)
        for moment, kind, who in (
            (issued, TicketEvent.ISSUED, None),
            (called, TicketEvent.CALLED, staff),
            (ended, TicketEvent.FINISHED, staff),
        ):
            record = TicketEventRecord(self._id(), moment, desk, kind, who, service, False, None)
            self._events.setdefault((site, day, ticket), []).append(record)

    def rating(
        self,
        site: str,
        day: str,
        clock: str,
        score: int,
        desk: str = "q01",
        ticket: str | None = None,
        staff: str | None = None,
        scale: int | None = None,
        flags: list[RatingFlag] | None = None,
    ) -> None:
        """A rating at a desk."""
        message = RatingMessage(
            id=self._id(),
            ts=at(day, clock),
            site=site,
            desk=desk,
            score=score,
            scale=scale,
            ticket=ticket,
            staff=staff,
            channel=RatingChannel.BUTTON,
            flags=flags,
        )
        with self.store.transaction():
            self.store.add_rating(message, day)

    def comment(
        self,
        site: str,
        day: str,
        clock: str,
        sentiment: Sentiment,
        desk: str = "q01",
        ticket: str | None = None,
        staff: str | None = None,
    ) -> None:
        """A comment's sentiment."""
        message = FeedbackMessage(
            id=self._id(),
            ts=at(day, clock),
            site=site,
            desk=desk,
            sentiment=sentiment,
            confidence=0.9,
            ticket=ticket,
            staff=staff,
        )
        with self.store.transaction():
            self.store.add_feedback(message, day)

    def emotion(self, site: str, day: str, clock: str, valence: float, ticket: str, desk: str = "q01") -> None:
        """A citizen's mean emotion over one service."""
        probabilities = dict.fromkeys(EMOTION_CLASSES, 0.0)
        probabilities["neutral"] = 1.0
        message = EmotionMessage(
            id=self._id(),
            ts=at(day, clock),
            site=site,
            desk=desk,
            ticket=ticket,
            frames=10,
            valence=valence,
            probabilities=probabilities,
        )
        with self.store.transaction():
            self.store.add_emotion(message, day)

    def save(self) -> None:
        """Rebuild every visit from its events and keep it."""
        with self.store.transaction():
            for (site, day, ticket), events in self._events.items():
                for e in events:
                    self.store.add_ticket_event(site, day, ticket, e)
                self.store.save_visit(site, day, build_visit(ticket, events))

    def connect(self) -> RecordConnection:
        """A connection of its own to the record (the audit log, the evaluation entries), on either engine."""
        return self.store.connect()

    def open(self) -> Record:
        """The record opened for reports (read-only)."""
        self.save()
        return Record(self.url)


@pytest.fixture()
def builder(tmp_path: Path) -> Iterator[RecordBuilder]:
    """An empty record with the sample province's configuration."""
    made = RecordBuilder(f"sqlite:///{tmp_path / 'record.db'}")
    yield made
    made.store.close()


@pytest.fixture()
def engine_builder(record_url: str) -> Iterator[RecordBuilder]:
    """An empty record with the sample province's configuration, once on SQLite and once on PostgreSQL."""
    made = RecordBuilder(record_url)
    yield made
    made.store.close()


@pytest.fixture()
def poppler() -> None:
    """The PDF tests read their pages with poppler-utils."""
    require(
        shutil.which("pdftoppm") is not None and shutil.which("pdftotext") is not None,
        "poppler-utils (pdftoppm, pdftotext)",
        "./scripts/setup.sh installs it",
    )
