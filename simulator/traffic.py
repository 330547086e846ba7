"""Realistic one-stop traffic of a province, as protocol messages in time order.

A discrete-event model per unit: citizens arrive by hour of day (a morning peak and a smaller afternoon
one, nobody at lunch or after hours), take a ticket for a service field, queue at the least busy desk that
handles it, are called, served for a time drawn per field, sometimes transferred to another desk or not
there when called, and often rate the service, worse the longer they waited. Queue samples and heartbeats
come from the desks' edge nodes. Pure: the caller decides when to publish what this yields.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hub.config import HubSettings
from protocol.messages import (
    Envelope,
    HeartbeatMessage,
    QueueMessage,
    RatingMessage,
    StatusMessage,
    TicketEvent,
    TicketMessage,
)

# Mean service minutes per field (lognormal, σ = 0.45): land dossiers take longest, certification least.
SERVICE_MINUTES = {
    "dat-dai": 14.0,
    "xay-dung": 13.0,
    "dang-ky-kinh-doanh": 11.0,
    "lao-dong-viec-lam": 9.0,
    "giao-thong-van-tai": 8.0,
    "tu-phap-ho-tich": 7.0,
    "chung-thuc": 4.0,
}
DEFAULT_SERVICE_MINUTES = 9.0

# Relative arrival intensity by local hour (working hours 7:30–11:30 and 13:30–17:00, Monday to Friday).
HOURLY_PROFILE = {7: 0.6, 8: 1.4, 9: 1.5, 10: 1.2, 11: 0.6, 13: 0.7, 14: 1.1, 15: 1.0, 16: 0.6}
WORKING_WINDOWS = ((7.5, 11.5), (13.5, 17.0))

NO_SHOW_SHARE = 0.03
TRANSFER_SHARE = 0.03
RATING_SHARE = 0.65
QUEUE_SAMPLE_S = 15.0
HEARTBEAT_S = 30.0


@dataclass(frozen=True, slots=True)
class TrafficOptions:
    """How busy and how faulty the simulated province is."""

    load: float = 0.6
    always_open: bool = False
    duplicate_share: float = 0.01
    seed: int = 1
    camera_desks: int = 2
    skip_desks: frozenset[str] = frozenset()  # "site/desk" pairs a real agent serves instead


@dataclass(slots=True)
class _Desk:
    id: str
    services: list[str]
    staff: str
    queue: deque[tuple[str, str]] = field(default_factory=deque)
    busy: bool = False


@dataclass(slots=True)
class _Site:
    id: str
    desks: list[_Desk]
    rate_per_hour: float
    issued: int = 0
    waits: dict[str, datetime] = field(default_factory=dict)


class ProvinceTraffic:
    """Yields ``(moment, message)`` pairs in time order from ``start``."""

    def __init__(self, settings: HubSettings, start: datetime, options: TrafficOptions | None = None) -> None:
        self._options = options or TrafficOptions()
        self._zone = ZoneInfo(settings.timezone)
        self._rng = random.Random(self._options.seed)
        self._start = start
        self._events: list[tuple[datetime, int, str, tuple[object, ...]]] = []
        self._seq = itertools.count()
        self._sites: dict[str, _Site] = {}
        for configured in settings.sites:
            desks = [
                _Desk(d.id, d.services or [next(iter(SERVICE_MINUTES))], f"cb-{configured.id}-{d.id}")
                for d in configured.desks
                if f"{configured.id}/{d.id}" not in self._options.skip_desks
            ]
            if not desks:
                continue
            capacity = sum(60 / self._mean_minutes(d.services) for d in desks)
            self._sites[configured.id] = _Site(configured.id, desks, capacity * self._options.load)
        for site in self._sites.values():
            self._schedule(start, "arrival", site.id)
            for index, desk in enumerate(site.desks):
                self._schedule(start, "status", site.id, desk.id)
                self._schedule(
                    start + timedelta(seconds=self._rng.uniform(0, HEARTBEAT_S)),
                    "heartbeat",
                    site.id,
                    desk.id,
                )
                if index < self._options.camera_desks:
                    self._schedule(
                        start + timedelta(seconds=self._rng.uniform(0, QUEUE_SAMPLE_S)),
                        "queue",
                        site.id,
                        desk.id,
                    )

    def __iter__(self) -> Iterator[tuple[datetime, Envelope]]:
        while self._events:
            moment, _, action, args = heapq.heappop(self._events)
            for message in getattr(self, f"_on_{action}")(moment, *args):
                yield moment, message
                if self._rng.random() < self._options.duplicate_share:
                    yield moment, message  # the same message (same id) delivered twice

    # -- model --------------------------------------------------------------------------------------------

    def _schedule(self, moment: datetime, action: str, *args: object) -> None:
        heapq.heappush(self._events, (moment, next(self._seq), action, args))

    def _mean_minutes(self, services: list[str]) -> float:
        return sum(SERVICE_MINUTES.get(s, DEFAULT_SERVICE_MINUTES) for s in services) / max(1, len(services))

    def _intensity(self, moment: datetime) -> float:
        local = moment.astimezone(self._zone)
        if self._options.always_open:
            return 1.0
        hour = local.hour + local.minute / 60
        open_now = local.weekday() < 5 and any(a <= hour < b for a, b in WORKING_WINDOWS)
        return HOURLY_PROFILE.get(local.hour, 0.0) if open_now else 0.0

    def _on_arrival(self, moment: datetime, site_id: str) -> list[Envelope]:
        site = self._sites[site_id]
        # Thinning keeps the arrival process Poisson with a rate that varies by hour.
        peak = max(HOURLY_PROFILE.values()) if not self._options.always_open else 1.0
        gap_s = self._rng.expovariate(site.rate_per_hour * peak / 3600)
        self._schedule(moment + timedelta(seconds=gap_s), "arrival", site_id)
        if self._rng.random() > self._intensity(moment) / peak:
            return []
        service = self._rng.choice([s for d in site.desks for s in d.services])
        desk = min((d for d in site.desks if service in d.services), key=lambda d: len(d.queue) + d.busy)
        site.issued += 1
        ticket = f"{site.issued:04d}"
        desk.queue.append((ticket, service))
        site.waits[ticket] = moment
        message = TicketMessage(
            ts=moment,
            site=site_id,
            desk=desk.id,
            event=TicketEvent.ISSUED,
            ticket=ticket,
            service=service,
            priority=self._rng.random() < 0.08,
        )
        if not desk.busy:
            self._schedule(moment + timedelta(seconds=self._rng.uniform(5, 40)), "call", site_id, desk.id)
            desk.busy = True
        return [message]

    def _on_call(self, moment: datetime, site_id: str, desk_id: str) -> list[Envelope]:
        site = self._sites[site_id]
        desk = next(d for d in site.desks if d.id == desk_id)
        if not desk.queue:
            desk.busy = False
            return []
        ticket, service = desk.queue.popleft()

        def event(kind: TicketEvent, at: datetime, **extra: object) -> TicketMessage:
            return TicketMessage(
                ts=at,
                site=site_id,
                desk=desk_id,
                event=kind,
                ticket=ticket,
                service=service,
                staff=desk.staff,
                **extra,
            )

        messages: list[Envelope] = [event(TicketEvent.CALLED, moment)]
        if self._rng.random() < NO_SHOW_SHARE:
            messages_later = [
                (moment + timedelta(seconds=60), event(TicketEvent.RECALLED, moment + timedelta(seconds=60))),
                (
                    moment + timedelta(seconds=120),
                    event(TicketEvent.NO_SHOW, moment + timedelta(seconds=120)),
                ),
            ]
            for at, message in messages_later:
                self._schedule(at, "emit", message)
            self._schedule(moment + timedelta(seconds=125), "call", site_id, desk_id)
            return messages

        minutes = self._mean_minutes([service])
        duration = timedelta(minutes=self._rng.lognormvariate(math.log(minutes) - 0.1, 0.45))
        started = moment + timedelta(seconds=self._rng.uniform(10, 40))
        self._schedule(started, "emit", event(TicketEvent.STARTED, started))
        others = [d for d in site.desks if d is not desk and service not in d.services]
        if others and self._rng.random() < TRANSFER_SHARE:
            target = self._rng.choice(others)
            end = moment + duration / 2
            self._schedule(end, "transfer", site_id, desk_id, target.id, ticket, target.services[0])
            self._schedule(end, "emit", event(TicketEvent.TRANSFERRED, end, to_desk=target.id))
        else:
            end = moment + duration
            self._schedule(end, "emit", event(TicketEvent.FINISHED, end))
            waited = (moment - site.waits.pop(ticket, moment)).total_seconds() / 60
            if self._rng.random() < RATING_SHARE:
                rated = end + timedelta(seconds=self._rng.uniform(5, 40))
                score = self._score(waited)
                rating = RatingMessage(
                    ts=rated,
                    site=site_id,
                    desk=desk_id,
                    score=score,
                    ticket=ticket,
                    staff=desk.staff,
                    channel="button",
                )
                self._schedule(rated, "emit", rating)
        self._schedule(end + timedelta(seconds=self._rng.uniform(10, 30)), "call", site_id, desk_id)
        return messages

    def _on_transfer(
        self, moment: datetime, site_id: str, from_desk: str, to_desk: str, ticket: str, service: str
    ) -> list[Envelope]:
        site = self._sites[site_id]
        desk = next(d for d in site.desks if d.id == to_desk)
        desk.queue.append((ticket, service))
        site.waits[ticket] = moment
        if not desk.busy:
            desk.busy = True
            self._schedule(moment + timedelta(seconds=self._rng.uniform(5, 30)), "call", site_id, to_desk)
        return []

    def _on_emit(self, moment: datetime, message: Envelope) -> list[Envelope]:
        return [message]

    def _score(self, waited_minutes: float) -> int:
        satisfied = min(0.97, max(0.3, 0.97 - 0.025 * max(0.0, waited_minutes - 5)))
        if self._rng.random() < satisfied:
            return 4 if self._rng.random() < 0.6 else 3
        return 2 if self._rng.random() < 0.6 else 1

    def _on_queue(self, moment: datetime, site_id: str, desk_id: str) -> list[Envelope]:
        self._schedule(moment + timedelta(seconds=QUEUE_SAMPLE_S), "queue", site_id, desk_id)
        site = self._sites[site_id]
        desk = next(d for d in site.desks if d.id == desk_id)
        head = desk.queue[0][0] if desk.queue else None
        head_wait = (moment - site.waits[head]).total_seconds() if head in site.waits else None
        return [
            QueueMessage(
                ts=moment,
                site=site_id,
                desk=desk_id,
                length=len(desk.queue),
                est_wait_s=len(desk.queue) * self._mean_minutes(desk.services) * 60,
                head_wait_s=head_wait,
                source="camera",
                present=True,
            )
        ]

    def _on_heartbeat(self, moment: datetime, site_id: str, desk_id: str) -> list[Envelope]:
        self._schedule(moment + timedelta(seconds=HEARTBEAT_S), "heartbeat", site_id, desk_id)
        uptime = (moment - self._start).total_seconds()
        return [
            HeartbeatMessage(
                ts=moment,
                site=site_id,
                desk=desk_id,
                uptime_s=uptime,
                spool_depth=0,
                cpu_temp_c=round(self._rng.uniform(45, 62), 1),
            )
        ]

    def _on_status(self, moment: datetime, site_id: str, desk_id: str) -> list[Envelope]:
        return [StatusMessage(ts=moment, site=site_id, desk=desk_id, online=True)]
