"""From tracked people to what the desk reports: queue length, how long each person has waited, the wait
measured when a person reaches the service area, service start and end, and whether an officer is present;
and, for the line itself, who gave up (a walk-out) and how long people queued before reaching the ticket
machine when one stands inside the queue zone.

Pure and synchronous: the caller passes each frame's tracks and time. A person's zone is the zone under
their feet (bottom-centre of the box); a track kept alive through a missed detection keeps its zone, so
one missed frame neither changes the count nor restarts a wait.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from edge.camera.tracking import Track
from edge.camera.zones import Zone, ZoneKind


@dataclass(slots=True)
class _Person:
    zone: ZoneKind | None = None
    queue_since: float | None = None
    service_since: float | None = None
    joined_at: float | None = None
    last_in_line_at: float | None = None
    served: bool = False
    ticketed: bool = False


@dataclass(frozen=True, slots=True)
class WaitMeasured:
    """A person reached the service area after waiting in the queue."""

    track_id: int
    wait_s: float
    at: float


@dataclass(frozen=True, slots=True)
class ServiceStarted:
    """A citizen stepped into the service area."""

    track_id: int
    at: float


@dataclass(frozen=True, slots=True)
class ServiceEnded:
    """The citizen left the service area (or was lost from view)."""

    track_id: int
    at: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class WalkedOut:
    """A person stood in the line at least the minimum dwell and left without being served or ticketed."""

    track_id: int
    in_line_s: float
    at: float


@dataclass(frozen=True, slots=True)
class ReachedTicketMachine:
    """A person who joined the line reached the ticket-machine zone."""

    track_id: int
    wait_s: float
    at: float


QueueEvent = WaitMeasured | ServiceStarted | ServiceEnded | WalkedOut | ReachedTicketMachine


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """The desk as the camera sees it now."""

    length: int
    head_wait_s: float | None
    est_wait_s: float | None
    staff_present: bool | None
    in_service: tuple[int, ...]
    waits_in_queue: dict[int, float] = field(default_factory=dict)


class QueueMonitor:
    """Turns tracks into queue figures and events."""

    def __init__(
        self,
        zones: dict[ZoneKind, Zone],
        recent_services: int = 10,
        count_grace_s: float = 0.6,
        walkout_min_dwell_s: float = 30.0,
    ) -> None:
        if ZoneKind.QUEUE not in zones:
            raise ValueError("a queue zone is required")
        self._zones = zones
        self._walkout_min_dwell_s = walkout_min_dwell_s
        self._count_grace_s = count_grace_s
        self._people: dict[int, _Person] = {}
        self._fresh: set[int] = set()
        self._service_times: deque[float] = deque(maxlen=recent_services)

    def update(self, tracks: list[Track], t: float) -> tuple[QueueSnapshot, list[QueueEvent]]:
        """Take this frame's live tracks; return the snapshot and what happened."""
        events: list[QueueEvent] = []
        # A track unseen for a moment keeps its place (one missed detection does not change the count); one
        # unseen for longer is most likely a person who moved on under a new track, so it stops counting, but
        # keeps its state until the tracker drops it, in case the person is found again.
        live = {track.id for track in tracks if track.confirmed}
        fresh = [track for track in tracks if track.confirmed and t - track.last_seen <= self._count_grace_s]
        boxes = np.stack([track.xyxy for track in fresh]) if fresh else np.zeros((0, 4), np.float32)
        feet = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1) if len(boxes) else boxes[:, :2]
        membership = {kind: zone.contains(feet) for kind, zone in self._zones.items()}
        for index, track in enumerate(fresh):
            zone = next(
                (
                    kind
                    # Staff before queue: where a queue polygon overlaps the desk, the officer is not in line.
                    for kind in (ZoneKind.SERVICE, ZoneKind.STAFF, ZoneKind.QUEUE)
                    if kind in membership and membership[kind][index]
                ),
                None,
            )
            person = self._people.setdefault(track.id, _Person())
            self._move(track.id, person, zone, t, events)
            at_machine = ZoneKind.TICKET_MACHINE in membership and bool(membership[ZoneKind.TICKET_MACHINE][index])
            self._follow_line(track.id, person, zone, at_machine, t, events)
        for track_id in list(self._people):
            if track_id not in live:
                person = self._people.pop(track_id)
                self._move(track_id, person, None, t, events)
                self._walked_out(track_id, person, events)
        self._fresh = {track.id for track in fresh}
        return self._snapshot(t, has_staff_zone=ZoneKind.STAFF in self._zones), events

    def _move(self, track_id: int, person: _Person, zone: ZoneKind | None, t: float, events: list[QueueEvent]) -> None:
        if zone is person.zone:
            return
        if person.zone is ZoneKind.SERVICE and person.service_since is not None:
            duration = t - person.service_since
            self._service_times.append(duration)
            events.append(ServiceEnded(track_id, t, duration))
            person.service_since = None
        if zone is ZoneKind.QUEUE and person.queue_since is None:
            person.queue_since = t
        if zone is ZoneKind.SERVICE:
            if person.queue_since is not None:
                events.append(WaitMeasured(track_id, t - person.queue_since, t))
                person.queue_since = None
            person.service_since = t
            events.append(ServiceStarted(track_id, t))
        if zone is ZoneKind.STAFF:
            person.queue_since = None
        # Walking from the line to the counter may cross ground outside both zones: the wait runs on. A person
        # who leaves the line for good is lost from view, and their wait is dropped with their track.
        person.zone = zone

    def _follow_line(
        self,
        track_id: int,
        person: _Person,
        zone: ZoneKind | None,
        at_machine: bool,
        t: float,
        events: list[QueueEvent],
    ) -> None:
        if zone is ZoneKind.STAFF:  # an officer crossing the line is no citizen in it
            person.joined_at = person.last_in_line_at = None
            return
        if zone is ZoneKind.SERVICE:
            person.served = True
        if zone is ZoneKind.QUEUE:
            if person.joined_at is None:
                person.joined_at = t
            person.last_in_line_at = t
        if at_machine and person.joined_at is not None and not person.ticketed and not person.served:
            person.ticketed = True
            events.append(ReachedTicketMachine(track_id, t - person.joined_at, t))

    def _walked_out(self, track_id: int, person: _Person, events: list[QueueEvent]) -> None:
        # Only when the tracker lets the person go: someone who reached the counter, or took a ticket (the
        # ticket's own no_show counts them), is not a walk-out; a passer-by under the minimum dwell neither.
        if person.served or person.ticketed or person.joined_at is None or person.last_in_line_at is None:
            return
        in_line = person.last_in_line_at - person.joined_at
        if in_line >= self._walkout_min_dwell_s:
            events.append(WalkedOut(track_id, in_line, person.last_in_line_at))

    def _snapshot(self, t: float, has_staff_zone: bool) -> QueueSnapshot:
        people = {tid: p for tid, p in self._people.items() if tid in self._fresh}
        waiting = {
            tid: t - p.queue_since
            for tid, p in people.items()
            if p.zone is ZoneKind.QUEUE and p.queue_since is not None
        }
        mean_service = sum(self._service_times) / len(self._service_times) if self._service_times else None
        staff = any(p.zone is ZoneKind.STAFF for p in people.values()) if has_staff_zone else None
        return QueueSnapshot(
            length=len(waiting),
            head_wait_s=max(waiting.values()) if waiting else None,
            est_wait_s=len(waiting) * mean_service if mean_service is not None else None,
            staff_present=staff,
            in_service=tuple(tid for tid, p in people.items() if p.zone is ZoneKind.SERVICE),
            waits_in_queue=waiting,
        )
