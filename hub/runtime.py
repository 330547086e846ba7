"""One running hub worker: the record, the live board, the MQTT ingest and the live event fan-out.

The API reads through this object; it is opened in the web application's lifespan, never at import.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hub.adoption import Adoption
from hub.audit import AuditLog
from hub.config import HubSettings, TargetMetric, UnitLevel, targets_in_force, wait_target
from hub.events import Broadcaster
from hub.figures import compute_figures
from hub.hall import Call, RecentCalls, SpeechCache, call_text
from hub.ingest import Ingest
from hub.line import line_figures
from hub.live import UNKNOWN_UNIT_LEVEL, LiveBoard
from hub.live_feed import Change, LiveFeed, apply_change
from hub.notify import Notifier
from hub.processor import BatchOutcome, Processor
from hub.progress import SessionProgress
from hub.retention import DailyPurge, PurgeOutcome, kept_day_figures, purge
from hub.sinks.influx import InfluxSink
from hub.store import Store, open_store
from protocol.messages import AlertMessage, AlertState
from protocol.topics import UNIT_WIDE_DESK

logger = logging.getLogger(__name__)

STATE_ORDER = {"ok": 0, "at_risk": 1, "broken": 2}


class HubRuntime:
    """The hub's moving parts, started and stopped together."""

    def __init__(
        self,
        settings: HubSettings,
        store: Store | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings.database)
        # Who read or exported personnel data and comment texts, who changed users: in the record, every worker's.
        self.audit = AuditLog(self.store.connect(), clock=clock)
        self.board = LiveBoard(settings)
        self.processor = Processor(settings, self.store, self.board)
        self.lock = threading.Lock()
        self.clock = clock
        self.broadcaster: Broadcaster | None = None
        self.live_feed: LiveFeed | None = None
        self.adoption: Adoption | None = None
        # Several workers: each session this worker drains is probed through its queue at the broker, so that a
        # gap counts as lost only once every session is drained past it (hub/progress.py).
        group = settings.mqtt.shared_group
        self.progress = SessionProgress(self.store, group, self.lock) if group else None
        self.ingest = Ingest(
            settings.mqtt,
            self.processor,
            self.lock,
            self._on_batch,
            tick_s=settings.live.tick_s,
            clock=clock,
            limits=settings.ingest,
            progress=self.progress,
        )
        self.started_at = clock()
        # The hall display: numbers called lately, and their spoken form made once by espeak-ng.
        self.calls = RecentCalls()
        self.speech = SpeechCache(settings.hall)
        # Alert delivery by e-mail and webhook, on threads of its own, with its outbox in the record.
        self.notifier = Notifier(settings, self.store, alert_json, clock=clock)
        # An alert's deliveries are queued in the transaction that records it (durable with the raise).
        self.processor.take_alerts = self.notifier.take_in
        # ... and so is its publication on the broker's alert topic, made on this worker's ingest connection.
        self.notifier.publish = self.ingest.publish_confirmed
        # Should the record refuse to queue them there (a persistent error), the batch is kept without them.
        self.processor.defer_alerts = self.notifier.take_apart
        self.sink: InfluxSink | None = None
        self.daily_purge: DailyPurge | None = None
        if settings.influxdb is not None and settings.influxdb.enabled:
            self.sink = InfluxSink(settings, settings.influxdb, live_views=self.live_desk_views, clock=clock)

    def start(self, broadcaster: Broadcaster | None = None) -> None:
        """Rebuild today's live state from the record and start listening to the broker."""
        self.broadcaster = broadcaster
        listen = getattr(self.store, "listening_connection", None)
        group = self.settings.mqtt.shared_group
        if listen is not None and group:
            # Several workers on PostgreSQL: the board follows every worker's commits (hub/live_feed.py), and a
            # dead peer's share is taken over by a living worker (hub/adoption.py).
            self.processor.announce = True
            self.live_feed = LiveFeed(listen, self._resync, self._on_live)
            self.live_feed.start()
            self.adoption = Adoption(listen, group, self.settings.mqtt.client_id, self._adopted_ingest)
        else:  # one worker: it applies its own changes
            with self.lock:
                self.processor.restore(self.clock())
        self.notifier.start()
        if self.adoption is not None:
            self.adoption.start()
        self.ingest.start()
        if self.sink is not None:
            self.sink.start()
        if self.settings.retention.enabled:
            self.daily_purge = DailyPurge(self.purge)
            self.daily_purge.start()

    def close(self) -> None:
        """Stop ingest and close the store (idempotent)."""
        if self.adoption is not None:
            self.adoption.close()
        self.ingest.stop()
        if self.live_feed is not None:
            self.live_feed.close()
        if self.daily_purge is not None:
            self.daily_purge.stop()
        if self.sink is not None:
            self.sink.close()
        self.notifier.close()
        self.audit.close()
        self.store.close()

    # -- live fan-out (ingest worker thread) ----------------------------------------------------------------

    def _on_batch(self, outcome: BatchOutcome) -> None:
        if self.sink is not None:
            self.sink.wake()
        if outcome.alerts:  # only the alerts this worker raised, queued already with them: each delivered once
            self.notifier.wake()
        if self.live_feed is None:
            self._fan_out(outcome)

    def _adopted_ingest(self, client_id: str, handed_off: Callable[[], None]) -> Ingest:
        """An ingest connected with a dead peer's client id, into this worker's processor (hub/adoption.py)."""
        mqtt = self.settings.mqtt
        update: dict[str, Any] = {"client_id": client_id}
        if mqtt.username:  # each worker its own account, named as its client id (use_username_as_clientid)
            update.update(username=client_id, password_env=peer_password_env(mqtt.password_env, client_id))
        return Ingest(
            mqtt.model_copy(update=update),
            self.processor,
            self.lock,
            self._on_batch,
            tick_s=3600.0,  # this worker's own ingest re-evaluates the alerts
            clock=self.clock,
            limits=self.settings.ingest,
            on_taken_over=handed_off,
            progress=self.progress,  # probed by its adopter, so that its progress goes on
            probe_s=self.settings.live.tick_s,
        )

    def _resync(self) -> str:
        """Rebuild the live board from the record in one snapshot; the snapshot's text (live feed thread)."""
        with self.lock:
            self.board.reset()
            with self.store.snapshot() as snapshot:  # type: ignore[attr-defined]
                self.processor.restore(self.clock())
        return str(snapshot)

    def _on_live(self, changes: list[Change]) -> None:
        """Changes committed by any worker (this one included), in commit order: to the board, then out."""
        outcome = BatchOutcome()
        with self.lock:
            self.board.start_day(self.processor.local_day(self.clock()))
            for change in changes:
                outcome.changed_desks |= apply_change(self.board, change)
                if isinstance(change, AlertMessage):
                    outcome.alerts.append(change)
                elif isinstance(change, Call):
                    outcome.calls.append(change)
        self._fan_out(outcome)

    def _fan_out(self, outcome: BatchOutcome) -> None:
        """Send the changed desks, alerts and calls to the live stream's clients."""
        if self.broadcaster is None:
            return
        now = self.clock()
        # An alert changes its desk's card (the line-mismatch flag), so the desk is sent again with it.
        changed = outcome.changed_desks | {(a.site, a.desk) for a in outcome.alerts if a.desk != UNIT_WIDE_DESK}
        with self.lock:
            views = [self.board.desk_view(site, desk, now) for site, desk in sorted(changed)]
        for view in views:
            self.broadcaster.publish("desk", view)
        for alert in outcome.alerts:
            self.broadcaster.publish("alert", alert_json(alert))
        for call in outcome.calls:
            self.calls.add(call)
            self.broadcaster.publish("call", self.call_json(call, now))

    def call_json(self, call: Call, now: datetime) -> dict[str, Any]:
        """A call as the hall display receives it: the words, and whether (and where) to hear them."""
        configured = self.settings.site(call.site)
        desk = next((d for d in configured.desks if d.id == call.desk), None) if configured else None
        desk_name = desk.name if desk else call.desk
        hall = self.settings.hall
        fresh = abs((now - call.ts).total_seconds()) <= hall.announce_within_s
        speak = fresh and call.site in hall.speak_units
        return {
            "site": call.site,
            "desk": call.desk,
            "desk_name": desk_name,
            "ticket": call.ticket,
            "ts": call.ts.isoformat(),
            "recalled": call.recalled,
            "fresh": fresh,
            "text": call_text(hall, call.ticket, call.desk, desk_name),
            "speech_url": f"/api/v1/sites/{call.site}/hall/call.wav?desk={call.desk}&ticket={call.ticket}"
            if speak
            else None,
        }

    # -- views (any thread) -------------------------------------------------------------------------------

    def local_today(self) -> date:
        """Today in the hub's time zone."""
        return self.clock().astimezone(self.settings.zone).date()

    def level_of(self, site: str, day: date) -> UnitLevel:
        """A unit's level on a day (unknown units count as commune level)."""
        configured = self.settings.site(site)
        return configured.level_on(day) if configured else UNKNOWN_UNIT_LEVEL

    def known_sites(self, seen: dict[str, set[str]] | None = None) -> list[str]:
        """Configured units, then units that only appeared on the wire."""
        with self.lock:
            live = self.board.sites()
        seen = self.store.seen_units() if seen is None else seen
        return live + sorted(s for s in seen if s not in live)

    def sites_overview(self) -> list[dict[str, Any]]:
        """Every unit with its level today, name, coordinates and worst desk state now."""
        now = self.clock()
        today = self.local_today()
        result = []
        seen = self.store.seen_units()  # read once for every unit, not once per unit
        for site_id in self.known_sites(seen):
            configured = self.settings.site(site_id)
            live = self.site_live(site_id, now, seen.get(site_id, set()))
            states = [d["state"] for d in live["desks"]]
            result.append(
                {
                    "id": site_id,
                    "name": configured.name if configured else site_id,
                    "level": self.level_of(site_id, today).value,
                    "configured": configured is not None,
                    "admin_code": configured.admin_code if configured else None,
                    "lat": configured.lat if configured else None,
                    "lon": configured.lon if configured else None,
                    "desks": len(live["desks"]),
                    "people_waiting": sum(d["queue_length"] for d in live["desks"]),
                    "state": max(states, key=STATE_ORDER.__getitem__, default="ok"),
                    "target_wait_s": live["target_wait_s"],
                }
            )
        return result

    def site_live(self, site: str, now: datetime | None = None, seen: set[str] | None = None) -> dict[str, Any]:
        """Live state of every desk of a unit (``seen``: its desks heard from, when the caller has them)."""
        now = now or self.clock()
        seen = self.store.seen_units().get(site, set()) if seen is None else seen
        with self.lock:
            desk_ids = self.board.desks_of(site)
            desk_ids += sorted(d for d in seen if d not in desk_ids and d != "all")
            desks = [self.board.desk_view(site, desk, now) for desk in desk_ids]
            target = self.board.target_wait_s(site, now.astimezone(self.settings.zone).date())
            active = [alert_json(a) for a in self.board.active_alerts() if a.site == site]
        configured = self.settings.site(site)
        return {
            "site": site,
            "name": configured.name if configured else site,
            "at": now.astimezone(self.settings.zone).isoformat(),
            "target_wait_s": target,
            "people_waiting": sum(d["queue_length"] for d in desks),
            "desks": desks,
            "active_alerts": active,
        }

    def site_stats(self, site: str, day: date) -> dict[str, Any]:
        """The day's figures of a unit and of each of its desks against the targets in force that day."""
        level = self.level_of(site, day)
        rules = targets_in_force(self.settings, day, level)
        wait_rule = wait_target(self.settings, day, level)
        service_rule = rules.get(TargetMetric.HANDLING_PER_DOSSIER)
        day_text = day.isoformat()
        visits = self.store.visits(site, day_text)
        if not visits and day.year <= self.local_today().year - self.settings.retention.ticket_records_years:
            kept = kept_day_figures(self.record, site, day_text)  # the purge kept the day's figures
            if kept is not None:
                return kept
        figures = compute_figures(
            visits, self.store.ratings(site, day_text), wait_rule, service_rule, self.settings.rating
        )
        line = self.store.line_events(site, day_text)
        desk_ids = sorted(
            {t.desk for v in visits for t in v.transactions}
            | {v.issued_desk for v in visits if v.issued_desk}
            | {f.desk for f in line}
        )
        desks = []
        for desk in desk_ids:
            desk_figures = compute_figures(
                visits,
                self.store.ratings(site, day_text, desk),
                wait_rule,
                service_rule,
                self.settings.rating,
                desk,
            )
            desks.append({"desk": desk, **desk_figures.as_dict(), "line": line_figures(line, desk)})
        header = self._day_header(site, day_text, level)
        return {**header, **figures.as_dict(), "line": line_figures(line), "desks": desks}

    def _day_header(self, site: str, day_text: str, level: UnitLevel) -> dict[str, Any]:
        configured = self.settings.site(site)
        return {"site": site, "name": configured.name if configured else site, "date": day_text, "level": level.value}

    def site_day(self, site: str, day: date) -> dict[str, Any]:
        """A unit's figures of one day without the per-desk part, read from the daily roll-ups (the raw
        visits only for a day the roll-ups do not hold: a record older than them, not yet rebuilt)."""
        from hub.reports.rollup_reader import day_figures

        level = self.level_of(site, day)
        rules = targets_in_force(self.settings, day, level)
        day_text = day.isoformat()
        figures = day_figures(
            self.store,
            self.settings,
            site,
            day_text,
            wait_target(self.settings, day, level),
            rules.get(TargetMetric.HANDLING_PER_DOSSIER),
        )
        if figures is None:
            stats = self.site_stats(site, day)
            stats.pop("desks", None)
            return stats
        line = line_figures(self.store.line_events(site, day_text))
        return {**self._day_header(site, day_text, level), **figures.as_dict(), "line": line}

    def live_desk_views(self) -> list[dict[str, Any]]:
        """Every desk's live view now (for the InfluxDB sink's desk_state samples)."""
        now = self.clock()
        with self.lock:
            board = self.board
            return [board.desk_view(site, desk, now) for site in board.sites() for desk in board.desks_of(site)]

    def alerts(self, site: str | None, active_only: bool) -> list[dict[str, Any]]:
        """Active alerts now, or the recent history."""
        if active_only:
            with self.lock:
                active = self.board.active_alerts()
            return self.notifier.annotate([alert_json(a) for a in active if site is None or a.site == site])
        return self.notifier.annotate([alert_json(a) for a in self.store.alerts(site)])

    def health(self) -> dict[str, Any]:
        """Whether the hub is connected, and its running counts."""
        return {
            "mqtt_connected": self.ingest.connected,
            "last_error": self.ingest.last_error,
            "started_at": self.started_at.isoformat(),
            "ingest": asdict(self.ingest.counters),
            "stream_clients": self.broadcaster.client_count if self.broadcaster else 0,
            "influxdb": self.sink.as_dict() if self.sink else None,
            "notify": self.notifier.as_dict(),
            "messages_missing": sum(s.missing for s in self.store.stream_losses()),
            "nodes": [
                {
                    "site": n.site,
                    "desk": n.desk,
                    "last_seen": n.last_seen.isoformat(),
                    "online": n.online,
                    "silent_s": (self.clock() - n.last_seen).total_seconds(),
                    "heartbeat": n.heartbeat,
                }
                for n in self.store.nodes()
            ],
        }

    def loss(self) -> list[dict[str, Any]]:
        """Per device: the messages missing from its numbered streams, with the open gaps and their age, and
        how many have been missing longer than ``ingest.missing_grace_s`` (what its alert reports; hub/loss.py)."""
        at, grace = self.clock().timestamp(), self.settings.ingest.missing_grace_s
        drained = self.processor.drained(at)  # several workers: gaps still maybe queued at the broker wait too
        devices: dict[tuple[str, str], dict[str, Any]] = {}
        for s in self.store.stream_losses():
            device = devices.setdefault(
                (s.site, s.desk), {"site": s.site, "desk": s.desk, "missing": 0, "overdue": 0, "streams": []}
            )
            overdue = s.overdue(at, grace, drained)
            device["missing"] += s.missing
            device["overdue"] += overdue
            device["streams"].append(
                {
                    "stream": s.stream,
                    "highest": s.highest,
                    "missing": s.missing,
                    "overdue": overdue,
                    "gaps": [list(gap) for gap in s.gaps[:LOSS_GAPS_SHOWN]],
                    "gaps_age_s": [round(max(0.0, at - since), 1) for since in s.opened[:LOSS_GAPS_SHOWN]],
                    "gaps_open": len(s.gaps),
                    "written_off": s.written_off,
                }
            )
        return list(devices.values())

    def purge(self, now: datetime | None = None) -> PurgeOutcome:
        """Apply the retention settings to the record now (the daily purge and ``onestop-hub purge``)."""
        retention = self.settings.retention
        return purge(self.record, retention, self.settings.zone, now or self.clock(), self.site_stats, self.audit)

    @property
    def record(self) -> str | Path:
        """The record, for the parts that open connections of their own to it (retention, a comment's erasure):
        the PostgreSQL database's URL, or the SQLite file."""
        from hub.postgres_store import PostgresStore

        if isinstance(self.store, PostgresStore):
            return self.store.dsn
        return self.store.path


LOSS_GAPS_SHOWN = 100


def peer_password_env(password_env: str, client_id: str) -> str:
    """Where a worker finds another worker's MQTT password, to take its session over:
    ``ONESTOP_HUB_MQTT_PASSWORD_HUB_2`` for ``hub-2``."""
    return f"{password_env}_{re.sub(r'[^A-Za-z0-9]', '_', client_id).upper()}"


def alert_json(alert: AlertMessage) -> dict[str, Any]:
    """An alert as the API and the live stream show it."""
    data = alert.model_dump(mode="json", exclude_none=True)
    data["active"] = alert.state is AlertState.RAISED
    return data
