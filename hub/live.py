"""Live state of every desk today, the predicted wait, and the alerts when a wait target is at risk or broken.

Pure and synchronous: the caller passes the current time in. The board only knows the current local day;
it is rebuilt from the record at start-up.

The predicted wait of the last person in line is the remaining time of the service in progress plus one
mean recent service time per person ahead (a single-server queue); where two or more open desks serve the
same fields, their lines count as one served by all of them, as in the reports' Erlang C model.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hub.config import HubSettings, UnitLevel, wait_target
from hub.figures import mean
from hub.reports.staffing import expected_wait_in_line_s
from hub.store import QueueSample
from hub.visits import Visit, VisitStatus
from protocol.messages import AlertMessage, AlertState, AlertType
from protocol.topics import UNIT_WIDE_DESK

UNKNOWN_UNIT_LEVEL = UnitLevel.COMMUNE


@dataclass(frozen=True, slots=True)
class _Figures:
    """A desk's live figures now (``LiveBoard._figures``)."""

    waiting: list[tuple[str, tuple[datetime, Any]]]  # the tickets waiting, longest first: (ticket, (since, priority))
    waited: list[float]  # how long each has waited, seconds
    elapsed: float  # of the visit in service, seconds (0 without one)
    queue_length: int
    source: str
    head_wait: float | None
    present: bool | None
    predicted: float
    service_mean: float | None
    target: float | None
    state: str
    online: bool | None


@dataclass(slots=True)
class _Serving:
    ticket: str
    since: datetime
    staff: str | None


@dataclass(slots=True)
class _Desk:
    waiting: dict[str, tuple[datetime, bool]] = field(default_factory=dict)
    serving: _Serving | None = None
    recent_service_s: deque[float] = field(default_factory=deque)
    last_staff: str | None = None
    queue: QueueSample | None = None
    node_online: bool | None = None
    node_seen_at: datetime | None = None
    ratings: int = 0
    satisfied: int = 0
    walkouts: int = 0
    pre_ticket_waits: list[float] = field(default_factory=list)
    mismatch_since: datetime | None = None


DeskKey = tuple[str, str]


class LiveBoard:
    """Today's live state per desk and the alerts that follow from it."""

    def __init__(self, settings: HubSettings) -> None:
        self._settings = settings
        self._day: str | None = None
        self._desks: dict[DeskKey, _Desk] = {}
        self._placement: dict[tuple[str, str], DeskKey] = {}
        self._counted_services: set[tuple[str, str, int]] = set()
        self._active: dict[tuple[str, str, AlertType], AlertMessage] = {}
        self._ticketing_sites: set[str] = set()
        # Several workers: the moment up to which every message sent has been heard (the group's sessions are
        # drained up to it, hub/progress.py); None: no such bound (one worker). A desk is judged offline only on
        # silence before it: a hub catching up on a backlog would otherwise take every desk for offline.
        self.heard_until: datetime | None = None
        # The wait target of a unit on a day, looked up once: every tick asks it of every desk (17,000 in the
        # country) and the settings do not change under a board.
        self._targets: dict[tuple[str, date], float | None] = {}

    # -- updates -----------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (before the board is rebuilt from the record)."""
        self._day = None
        self._desks.clear()
        self._placement.clear()
        self._counted_services.clear()
        self._active.clear()
        self._ticketing_sites.clear()

    def start_day(self, day: str) -> bool:
        """Forget yesterday's tickets when the local day changes; True when it changed."""
        if day == self._day:
            return False
        self._day = day
        self._targets.clear()
        self._placement.clear()
        self._counted_services.clear()
        self._ticketing_sites.clear()
        for desk in self._desks.values():
            desk.waiting.clear()
            desk.serving = None
            desk.ratings = desk.satisfied = 0
            desk.walkouts = 0
            desk.pre_ticket_waits.clear()
            desk.mismatch_since = None
        return True

    def apply_visit(self, site: str, day: str, visit: Visit) -> set[DeskKey]:
        """Take in a rebuilt visit of today; return the desks whose state changed."""
        if day != self._day:
            return set()
        self._ticketing_sites.add(site)
        changed: set[DeskKey] = set()
        previous = self._placement.pop((site, visit.ticket), None)
        if previous is not None:
            desk = self._desks[previous]
            desk.waiting.pop(visit.ticket, None)
            if desk.serving is not None and desk.serving.ticket == visit.ticket:
                desk.serving = None
            changed.add(previous)

        for transaction in visit.transactions:
            key = (site, visit.ticket, transaction.seq)
            service_s = transaction.service_s
            if service_s is not None and key not in self._counted_services:
                self._counted_services.add(key)
                recent = self._desk((site, transaction.desk)).recent_service_s
                recent.append(service_s)
                while len(recent) > self._settings.live.recent_services:
                    recent.popleft()
                changed.add((site, transaction.desk))
            if transaction.staff:
                self._desk((site, transaction.desk)).last_staff = transaction.staff

        placed_at: DeskKey | None = None
        if visit.status is VisitStatus.WAITING and visit.waiting_since is not None:
            desk_id = visit.waiting_desk or visit.issued_desk
            if desk_id:
                placed_at = (site, desk_id)
                self._desk(placed_at).waiting[visit.ticket] = (visit.waiting_since, visit.priority)
        elif visit.status is VisitStatus.SERVING:
            current = visit.transactions[-1]
            placed_at = (site, current.desk)
            self._desk(placed_at).serving = _Serving(visit.ticket, current.called_at, current.staff)
        if placed_at is not None:
            self._placement[(site, visit.ticket)] = placed_at
            changed.add(placed_at)
        return changed

    def apply_rating(
        self, site: str, desk_id: str, day: str, score: int, scale: int | None, counted: bool = True
    ) -> set[DeskKey]:
        """Count a rating given today at a desk (one the kiosk flagged as not counted changes nothing)."""
        if day != self._day or not counted:
            return set()
        desk = self._desk((site, desk_id))
        desk.ratings += 1
        desk.satisfied += int(score >= self._settings.rating.satisfied_min_for(scale))
        return {(site, desk_id)}

    def apply_line(self, site: str, desk_id: str, day: str, event: str, duration_s: float) -> set[DeskKey]:
        """Count a walk-out or a wait before the ticket seen today by a desk's camera."""
        if day != self._day:
            return set()
        desk = self._desk((site, desk_id))
        if event == "walkout":
            desk.walkouts += 1
        else:
            desk.pre_ticket_waits.append(duration_s)
        return {(site, desk_id)}

    def apply_queue(self, sample: QueueSample) -> set[DeskKey]:
        """Take in a queue measurement (a newer one replaces the older)."""
        desk = self._desk((sample.site, sample.desk))
        if desk.queue is not None and desk.queue.ts > sample.ts:
            return set()
        desk.queue = sample
        return {(sample.site, sample.desk)}

    def apply_node(self, site: str, desk_id: str, seen_at: datetime, online: bool | None) -> set[DeskKey]:
        """Take in a heartbeat (online None) or a status message from an edge node."""
        desk = self._desk((site, desk_id))
        if desk.node_seen_at is None or seen_at >= desk.node_seen_at:
            desk.node_seen_at = seen_at
            if online is not None:
                desk.node_online = online
            elif desk.node_online is None:
                desk.node_online = True
        return {(site, desk_id)}

    def _desk(self, key: DeskKey) -> _Desk:
        desk = self._desks.get(key)
        if desk is None:
            desk = self._desks[key] = _Desk()
        return desk

    # -- views -------------------------------------------------------------------------------------------

    def desks_of(self, site: str) -> list[str]:
        """Desk ids of a unit: configured ones first, then any that sent data."""
        configured = self._settings.site(site)
        ids = [d.id for d in configured.desks] if configured else []
        seen = sorted(d for s, d in self._desks if s == site and d not in ids)
        return ids + seen

    def sites(self) -> list[str]:
        """Unit ids: configured ones first, then any that sent data."""
        ids = [s.id for s in self._settings.sites]
        return ids + sorted({s for s, _ in self._desks if s not in ids})

    def target_wait_s(self, site: str, day: date) -> float | None:
        """The wait target in force at a unit on a day, seconds."""
        key = (site, day)
        if key not in self._targets:
            self._targets[key] = self._target_wait_s(site, day)
        return self._targets[key]

    def _target_wait_s(self, site: str, day: date) -> float | None:
        configured = self._settings.site(site)
        level = configured.level_on(day) if configured else UNKNOWN_UNIT_LEVEL
        rule = wait_target(self._settings, day, level)
        return rule.limit_s if rule else None

    def desk_view(self, site: str, desk_id: str, now: datetime) -> dict[str, Any]:
        """What a supervisor sees of one desk now."""
        desk = self._desks.get((site, desk_id)) or _Desk()
        configured_site = self._settings.site(site)
        configured_desk = next((d for d in configured_site.desks if d.id == desk_id), None) if configured_site else None
        f = self._figures(site, desk_id, desk, now)
        waiting_tickets: list[dict[str, Any]] = [
            {"ticket": t, "waited_s": waited, "priority": prio}
            for (t, (_, prio)), waited in zip(f.waiting, f.waited, strict=True)
        ]
        serving = None
        if desk.serving is not None:
            serving = {"ticket": desk.serving.ticket, "elapsed_s": f.elapsed, "staff": desk.serving.staff}
        return {
            "site": site,
            "desk": desk_id,
            "name": configured_desk.name if configured_desk else desk_id,
            "services": configured_desk.services if configured_desk else [],
            "queue_length": f.queue_length,
            "queue_source": f.source,
            "waiting_tickets": waiting_tickets,
            "serving": serving,
            "staff": desk.serving.staff if desk.serving else desk.last_staff,
            "staff_present": f.present,
            "head_wait_s": f.head_wait,
            "predicted_wait_s": f.predicted,
            "mean_service_s": f.service_mean,
            "target_wait_s": f.target,
            "state": f.state,
            "ratings_today": desk.ratings,
            "satisfaction_share_today": desk.satisfied / desk.ratings if desk.ratings else None,
            "node_online": f.online,
            "node_last_seen": desk.node_seen_at.isoformat() if desk.node_seen_at else None,
            "tickets_waiting": len(waiting_tickets),
            "walkouts_today": desk.walkouts,
            "pre_ticket_waits_today": len(desk.pre_ticket_waits),
            "pre_ticket_wait_mean_s": mean(desk.pre_ticket_waits),
            "line_mismatch": self._mismatch_view(site, desk_id, desk),
        }

    def _figures(self, site: str, desk_id: str, desk: _Desk, now: datetime) -> _Figures:
        """The live figures of a desk now, which the view shows and the alerts judge (every tick: every desk)."""
        live = self._settings.live
        waiting = sorted(desk.waiting.items(), key=lambda item: item[1][0])
        waited = [max(0.0, (now - since).total_seconds()) for _, (since, _) in waiting]
        sample = desk.queue
        fresh = sample is not None and (now - sample.ts).total_seconds() <= live.queue_sample_fresh_s
        service_mean = mean(list(desk.recent_service_s))
        service_s = service_mean if service_mean is not None else live.default_service_s
        remaining = elapsed = 0.0
        if desk.serving is not None:
            elapsed = max(0.0, (now - desk.serving.since).total_seconds())
            remaining = max(0.0, service_s - elapsed)

        if fresh and sample is not None:
            queue_length = sample.length
            source = sample.source
            since_sample = max(0.0, (now - sample.ts).total_seconds())
            head_wait = sample.head_wait_s + since_sample if sample.head_wait_s is not None else None
            if head_wait is None and waited:
                head_wait = waited[0]
            last_waited = 0.0
            present = sample.present
        else:
            queue_length = len(waiting)
            source = "tickets"
            head_wait = waited[0] if waited else None
            last_waited = waited[-1] if waited else 0.0
            present = None
        if present is None and desk.serving is not None:
            present = True
        predicted = last_waited + remaining + (queue_length - 1) * service_s if queue_length > 0 else 0.0
        pooled = self._pooled_wait_s(site, desk_id, now) if queue_length > 0 else None
        if pooled is not None:
            predicted = last_waited + pooled

        target = self.target_wait_s(site, now.astimezone(self._settings.zone).date())
        state = "ok"
        if target is not None:
            if head_wait is not None and head_wait > target:
                state = "broken"
            elif predicted > target:
                state = "at_risk"
        online = desk.node_online
        if self._silent(desk, now if self.heard_until is None else min(now, self.heard_until)):
            online = False
        return _Figures(
            waiting, waited, elapsed, queue_length, source, head_wait, present, predicted, service_mean, target,
            state, online,
        )  # fmt: skip

    def _silent(self, desk: _Desk, until: datetime) -> bool:
        """Whether a desk's node was silent for longer than ``live.offline_after_s`` up to ``until``."""
        seen = desk.node_seen_at
        return seen is not None and (until - seen).total_seconds() > self._settings.live.offline_after_s

    def _mismatch_view(self, site: str, desk_id: str, desk: _Desk) -> dict[str, Any] | None:
        """The camera's line against the tickets waiting, once the alert on their disagreement is raised."""
        alert = self._active.get((site, desk_id, AlertType.LINE_TICKET_MISMATCH))
        if alert is None or desk.queue is None:
            return None
        return {
            "camera_length": desk.queue.length,
            "tickets_waiting": len(desk.waiting),
            "since": desk.mismatch_since.isoformat() if desk.mismatch_since else None,
        }

    def new_ticket_wait_s(self, site: str, desk_id: str, now: datetime) -> float:
        """Expected wait of a ticket issued now at a desk: behind everyone in its line, by the live model."""
        view = self.desk_view(site, desk_id, now)
        service_s = view["mean_service_s"] or self._settings.live.default_service_s
        length = view["queue_length"]
        pooled = self._pooled_wait_s(site, desk_id, now, extra=1)
        if pooled is not None:
            return pooled
        serving = view["serving"]
        remaining = max(0.0, service_s - serving["elapsed_s"]) if serving else 0.0
        return remaining + length * service_s

    def _pooled_wait_s(self, site: str, desk_id: str, now: datetime, extra: int = 0) -> float | None:
        """Expected wait of the last person in line when two or more open desks serve the same fields.

        The model of the reports' Erlang C (``expected_wait_in_line_s``): the lines of those desks as one
        line, served by the desks that have an officer present or a citizen in service. None for a desk on
        its own, which keeps the single-desk prediction.
        """
        configured = self._settings.site(site)
        me = next((d for d in configured.desks if d.id == desk_id), None) if configured else None
        if configured is None or me is None or not me.services:
            return None
        live = self._settings.live
        length = open_desks = busy = 0
        times: list[float] = []
        for other in (d for d in configured.desks if sorted(d.services) == sorted(me.services)):
            desk = self._desks.get((site, other.id))
            if desk is None:
                continue
            sample = desk.queue
            fresh = sample is not None and (now - sample.ts).total_seconds() <= live.queue_sample_fresh_s
            length += sample.length if fresh and sample is not None else len(desk.waiting)
            if desk.serving is not None or (fresh and sample is not None and sample.present):
                open_desks += 1
                busy += desk.serving is not None
            times.extend(desk.recent_service_s)
        if open_desks < 2:
            return None
        service_s = mean(times) or live.default_service_s
        return expected_wait_in_line_s(length + extra, open_desks, busy, service_s)

    # -- alerts ------------------------------------------------------------------------------------------

    def active_alerts(self) -> list[AlertMessage]:
        """Alerts raised and not yet cleared."""
        return list(self._active.values())

    def evaluate(self, now: datetime) -> list[AlertMessage]:
        """Raise or clear alerts from the state now; return the changes."""
        changes: list[AlertMessage] = []
        clear_ratio = self._settings.live.at_risk_clear_ratio
        for (site, desk_id), desk in list(self._desks.items()):
            figures = self._figures(site, desk_id, desk, now)  # what desk_view shows, without the view
            target = figures.target
            if target is not None:
                head = figures.head_wait or 0.0
                predicted = figures.predicted
                changes += self._switch(
                    site,
                    desk_id,
                    AlertType.WAIT_TARGET_BROKEN,
                    head > target,
                    head <= target,
                    head,
                    target,
                    now,
                )
                changes += self._switch(
                    site,
                    desk_id,
                    AlertType.WAIT_TARGET_AT_RISK,
                    predicted > target,
                    predicted < clear_ratio * target,
                    predicted,
                    target,
                    now,
                )
            if figures.online is not None:
                offline = figures.online is False  # silent up to what has been heard (heard_until): raises
                # A raised alert clears on a heartbeat, not because a session fell behind (one just started).
                heard_lately = not self._silent(desk, now)
                changes += self._switch(
                    site, desk_id, AlertType.NODE_OFFLINE, offline, not offline and heard_lately, None, None, now
                )
            changes += self._evaluate_line_mismatch(site, desk_id, figures, now)
        return changes + self._evaluate_no_ratings(now)

    def _evaluate_line_mismatch(self, site: str, desk_id: str, figures: _Figures, now: datetime) -> list[AlertMessage]:
        """The camera sees a longer line than there are tickets waiting, for longer than configured: a ticket
        printer out of order, or people queuing without a ticket. Only at units that issue tickets today."""
        live = self._settings.live
        desk = self._desks[(site, desk_id)]
        gap = figures.queue_length - len(figures.waiting)
        disagree = (
            figures.source in ("camera", "fused")
            and site in self._ticketing_sites
            and gap >= live.line_mismatch_min_gap
        )
        if not disagree:
            desk.mismatch_since = None
        elif desk.mismatch_since is None:
            desk.mismatch_since = now
        lasted = (now - desk.mismatch_since).total_seconds() if desk.mismatch_since is not None else 0.0
        return self._switch(
            site,
            desk_id,
            AlertType.LINE_TICKET_MISMATCH,
            disagree and lasted >= live.line_mismatch_after_s,
            not disagree,
            lasted,
            live.line_mismatch_after_s,
            now,
        )

    def _evaluate_no_ratings(self, now: datetime) -> list[AlertMessage]:
        """A unit that served many today without one counted rating: its Decision 766 points would be 0."""
        threshold = self._settings.live.no_ratings_after_services
        rated: dict[str, int] = {}
        for (site, _), desk in self._desks.items():
            rated[site] = rated.get(site, 0) + desk.ratings
        served_by_site: dict[str, int] = {}
        for s, _, _ in self._counted_services:
            served_by_site[s] = served_by_site.get(s, 0) + 1
        sites = set(served_by_site) | {s for s, _, kind in self._active if kind is AlertType.NO_RATINGS}
        changes: list[AlertMessage] = []
        for site in sorted(sites):
            served = served_by_site.get(site, 0)
            none = rated.get(site, 0) == 0
            changes += self._switch(
                site,
                UNIT_WIDE_DESK,
                AlertType.NO_RATINGS,
                none and served >= threshold,
                not none or served < threshold,
                None,
                None,
                now,
            )
        return changes

    def _served_today(self, site: str) -> int:
        return sum(1 for s, _, _ in self._counted_services if s == site)

    def _switch(
        self,
        site: str,
        desk_id: str,
        kind: AlertType,
        raise_now: bool,
        clear_now: bool,
        value: float | None,
        target: float | None,
        now: datetime,
    ) -> list[AlertMessage]:
        key = (site, desk_id, kind)
        active = self._active.get(key)
        if active is None and raise_now:
            alert = self._alert(site, desk_id, kind, AlertState.RAISED, value, target, now)
            self._active[key] = alert
            return [alert]
        if active is not None and clear_now:
            del self._active[key]
            return [self._alert(site, desk_id, kind, AlertState.CLEARED, value, target, now)]
        return []

    def _alert(
        self,
        site: str,
        desk_id: str,
        kind: AlertType,
        state: AlertState,
        value: float | None,
        target: float | None,
        now: datetime,
    ) -> AlertMessage:
        configured_site = self._settings.site(site)
        site_name = configured_site.name if configured_site else site
        desk_name = self.desk_view(site, desk_id, now)["name"]
        where = f"{desk_name} – {site_name}"
        minutes = round((value or 0) / 60)
        limit = round((target or 0) / 60)
        raised = state is AlertState.RAISED
        if kind is AlertType.WAIT_TARGET_BROKEN:
            text = (
                f"{where}: người đầu hàng đã chờ {minutes} phút, vượt chỉ tiêu {limit} phút."
                if raised
                else f"{where}: thời gian chờ đã trở lại trong chỉ tiêu {limit} phút."
            )
        elif kind is AlertType.WAIT_TARGET_AT_RISK:
            text = (
                f"{where}: thời gian chờ dự báo {minutes} phút, sắp vượt chỉ tiêu {limit} phút."
                if raised
                else f"{where}: thời gian chờ dự báo đã giảm còn {minutes} phút."
            )
        elif kind is AlertType.NO_RATINGS:
            text = (
                f"{site_name}: đã phục vụ {self._served_today(site)} lượt hôm nay nhưng chưa nhận được đánh giá"
                " nào; kiểm tra thiết bị đánh giá (điểm hài lòng theo Quyết định 766 sẽ bằng 0)."
                if raised
                else f"{site_name}: đã nhận được đánh giá của người dân."
            )
        elif kind is AlertType.LINE_TICKET_MISMATCH:
            view = self.desk_view(site, desk_id, now)
            text = (
                f"{where}: camera thấy {view['queue_length']} người xếp hàng nhưng chỉ có {view['tickets_waiting']} số"
                f" đang chờ, đã {minutes} phút: máy in số có thể hỏng hoặc người xếp hàng không lấy số."
                if raised
                else f"{where}: hàng người và số đang chờ đã khớp lại."
            )
        else:
            text = f"{where}: thiết bị tại quầy mất kết nối." if raised else f"{where}: thiết bị đã kết nối lại."
        return AlertMessage(
            ts=now,
            site=site,
            desk=desk_id,
            alert=kind,
            state=state,
            severity="critical" if kind is AlertType.WAIT_TARGET_BROKEN else "warning",
            message=text,
            value_s=value,
            target_s=target,
        )

    # -- messages missing (hub/loss.py) ------------------------------------------------------------------

    def missing_alert(self, site: str, desk_id: str, missing: int, now: datetime) -> AlertMessage:
        """The messages_missing alert of a desk: raised with the count, or cleared when nothing is missing."""
        configured_site = self._settings.site(site)
        site_name = configured_site.name if configured_site else site
        where = f"{self.desk_view(site, desk_id, now)['name']} – {site_name}"
        raised = missing > 0
        text = (
            f"{where}: thiếu {missing} tin nhắn của thiết bị tại quầy (số thứ tự bị đứt quãng); "
            "số liệu của quầy có thể không đầy đủ."
            if raised
            else f"{where}: các tin nhắn bị thiếu của thiết bị đã đến đủ."
        )
        return AlertMessage(
            ts=now,
            site=site,
            desk=desk_id,
            alert=AlertType.MESSAGES_MISSING,
            state=AlertState.RAISED if raised else AlertState.CLEARED,
            severity="warning",
            message=text,
            count=missing,
        )

    def track_alert(self, alert: AlertMessage) -> None:
        """Count an alert raised (or cleared) elsewhere among the active ones."""
        key = (alert.site, alert.desk, alert.alert)
        if alert.state is AlertState.RAISED:
            self._active[key] = alert
            if alert.desk != UNIT_WIDE_DESK:
                self._desk((alert.site, alert.desk))  # evaluated from now on, so that it clears when it should
        else:
            self._active.pop(key, None)
