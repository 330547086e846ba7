"""What the hub does with each incoming message: validate, deduplicate, keep, rebuild visits, update live state.

Synchronous and free of MQTT, so that it is tested without a broker. A batch is one database transaction,
and the live board changes only once it is committed. When the database refuses a batch for anything but
a passing condition (a locked or full disk), the batch is split in halves until the one message it
refuses is found; that message is kept as rejected with the reason and everything else is committed, so
one bad message never stops the messages after it.

Besides the protocol's own rules, the hub rejects (with the reason): a payload over the configured size,
a message dated too far ahead of the hub's clock or too far back, and a repeated (site, desk, kind, id)
with different content. It judges every rating itself (see :meth:`Processor._judge_rating`), whatever
flags the kiosk sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sqlite3
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from hub.config import HubSettings
from hub.hall import Call
from hub.live import DeskKey, LiveBoard
from hub.live_feed import Change, LineChange, NodeChange, RatingChange, VisitChange, apply_change
from hub.loss import StreamLoss, overdue_by_device
from hub.progress import group_drained, stale_after_s
from hub.rollups import refresh as refresh_rollups
from hub.store import LOCK_SLOTS, MessageKey, QueueSample, Store, message_key
from hub.visits import TicketEventRecord, build_visit
from protocol.errors import ProtocolError
from protocol.messages import (
    AlertMessage,
    AlertState,
    AlertType,
    EmotionMessage,
    FeedbackMessage,
    HeartbeatMessage,
    LineMessage,
    Message,
    QueueMessage,
    RatingFlag,
    RatingMessage,
    StatusMessage,
    TicketEvent,
    TicketMessage,
    parse_message,
)
from protocol.topics import MessageKind

logger = logging.getLogger(__name__)

# Retained kinds may be old when the hub (re)subscribes; they are not rejected for their age.
_RETAINED_KINDS = (MessageKind.STATUS, MessageKind.CONFIG)
DUPLICATE_REASON = "duplicate id with different content: the first message with this id is kept"
# Hub rating flags that keep a rating out of the satisfaction figures (no_ticket is a flag only).
_HUB_NOT_COUNTED = (RatingFlag.BURST.value, RatingFlag.REPEAT.value)
PRUNE_EVERY = timedelta(minutes=1)
# Advisory lock slots (several workers on PostgreSQL, hub/postgres_store.py ``lock_keys``), each a space of its
# own. The head's few keys (visits, rated desks) on many slots, so that two batches seldom share one by chance;
# a batch's numbered devices (up to one per message) on the store's default, which bounds the locks a batch holds
# within the server's lock table (max_locks_per_transaction x max_connections: 6,400 by default).
HEAD_SLOTS = 1 << 16
DEVICE_SLOTS = LOCK_SLOTS


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message as it came off the broker; ``size`` is the payload's size when only a cut was kept."""

    topic: str
    payload: bytes
    received_at: datetime
    size: int | None = None


@dataclass(slots=True)
class BatchOutcome:
    """What a batch changed: counts, desks whose live state changed, alerts raised or cleared."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    changed_desks: set[DeskKey] = field(default_factory=set)
    alerts: list[AlertMessage] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    isolated: int = 0


_Rejection = tuple[Incoming, str]


def is_transient(error: BaseException) -> bool:
    """Whether a database error may pass by itself (locked, busy, disk full or I/O, a lost PostgreSQL
    connection): retry, do not isolate."""
    if isinstance(error, sqlite3.OperationalError):
        return True
    psycopg = sys.modules.get("psycopg")  # only loaded when the record is on PostgreSQL
    return psycopg is not None and isinstance(error, psycopg.OperationalError)


_T = TypeVar("_T")


class DeliveriesRefused(Exception):
    """The record refused, with a persistent error, the deliveries of the alerts a unit of work raised."""


class Processor:
    """Turns incoming messages into the record and the live board."""

    def __init__(self, settings: HubSettings, store: Store, board: LiveBoard) -> None:
        self._settings = settings
        self._store = store
        self._board = board
        self._zone = settings.zone
        self._limits = settings.ingest
        self._pruned_at: datetime | None = None
        # Several workers (hub/live_feed.py): the changes of a batch are announced in its transaction and
        # reach this board through the feed, in commit order, rather than being applied here.
        self.announce = False
        # Alert delivery (hub/notify): called with the alerts a batch or a tick records, inside its transaction,
        # so that their deliveries are queued with them or not at all.
        self.take_alerts: Callable[[list[AlertMessage]], None] | None = None
        # Called after the commit with the alerts whose deliveries the record refused to queue in their transaction
        # (a persistent error, :meth:`_deliveries_apart`): the notifier queues them on its own.
        self.defer_alerts: Callable[[list[AlertMessage]], None] | None = None

    def local_day(self, moment: datetime) -> str:
        """The local day (YYYY-MM-DD, hub time zone) of a moment."""
        return moment.astimezone(self._zone).date().isoformat()

    def process(self, batch: Sequence[Incoming], now: datetime) -> BatchOutcome:
        """Handle a batch; malformed or refused messages are kept as rejected, never raised.

        Raises:
            sqlite3.OperationalError: the database is unavailable (locked, full); nothing was kept and the
                caller retries the whole batch later.
        """
        self._board.start_day(self.local_day(now))
        parsed: list[tuple[Incoming, Message]] = []
        rejections: list[_Rejection] = []
        for item in batch:
            try:
                parsed.append((item, self._parse(item, now)))
            except ProtocolError as error:
                rejections.append((item, str(error)))
            except Exception as error:  # anything the validation did not foresee is still only a rejection
                rejections.append((item, f"payload could not be read: {type(error).__name__}: {error}"))
        outcome = BatchOutcome()
        self._commit(parsed, rejections, outcome)
        return outcome

    def _parse(self, item: Incoming, now: datetime) -> Message:
        size = item.size if item.size is not None else len(item.payload)
        limit = self._limits.max_payload_bytes
        if size > limit:
            raise ProtocolError(f"payload: {size} bytes, more than the hub's limit of {limit} bytes")
        message = parse_message(item.topic, item.payload)
        ahead = (message.ts - now).total_seconds()
        if ahead > self._limits.max_ahead_s:
            raise ProtocolError(
                f"ts: {message.ts.isoformat()} is {ahead:.0f} s ahead of the hub's clock "
                f"(at most {self._limits.max_ahead_s:.0f} s allowed)"
            )
        if -ahead > self._limits.max_age_days * 86400 and message.kind not in _RETAINED_KINDS:
            raise ProtocolError(
                f"ts: {message.ts.isoformat()} is more than {self._limits.max_age_days:g} days before the hub's clock"
            )
        return message

    def _commit(
        self, parsed: list[tuple[Incoming, Message]], rejections: list[_Rejection], outcome: BatchOutcome
    ) -> None:
        """Keep a batch in one transaction; isolate the message the database refuses by bisection."""
        try:
            attempt, changes = self._deliveries_apart(
                lambda queue: self._write(parsed, rejections, queue), lambda done: done[0].alerts
            )
        except Exception as error:
            if is_transient(error) or not parsed:
                raise
            if len(parsed) > 1:
                half = len(parsed) // 2
                self._commit(parsed[:half], rejections, outcome)
                self._commit(parsed[half:], [], outcome)
                return
            item, message = parsed[0]
            reason = f"the record refused {message.kind.value} {message.id!r}: {type(error).__name__}: {error}"
            logger.error("isolated a message the database refuses (%s); kept as rejected", reason)
            attempt, changes = self._write([], [*rejections, (item, reason)])
            outcome.isolated += 1
        outcome.accepted += attempt.accepted
        outcome.duplicates += attempt.duplicates
        outcome.rejected += attempt.rejected
        outcome.calls.extend(attempt.calls)
        outcome.alerts.extend(attempt.alerts)
        if not self.announce:
            for change in changes:  # the live board moves only for what was committed
                outcome.changed_desks |= apply_change(self._board, change)

    def _write(
        self, parsed: list[tuple[Incoming, Message]], rejections: list[_Rejection], queue_deliveries: bool = True
    ) -> tuple[BatchOutcome, list[Change]]:
        attempt = BatchOutcome()
        effects: list[Change] = []
        dirty_visits: set[tuple[str, str, str]] = set()
        dirty_desks: set[tuple[str, str, str]] = set()  # (site, day, desk) rows of the daily roll-ups
        numbered: list[Message] = []
        with self._store.transaction():
            for item, reason in rejections:
                self._reject(item, reason)
                attempt.rejected += 1
            keys = [message_key(m) for _, m in parsed]
            firsts: dict[MessageKey, int] = {}
            for index, key in enumerate(keys):
                firsts.setdefault(key, index)
            # Each id once, also between workers (the record's unique key), before any lock: the messages kept
            # here are this batch's alone; the others' stored payloads tell a duplicate from a conflicting id.
            stored = self._store.claim_messages(
                [(parsed[i][1], parsed[i][0].payload, parsed[i][0].received_at) for i in firsts.values()]
            )
            self._store.lock_keys(
                self._head_keys([parsed[i][1] for k, i in firsts.items() if k not in stored]), HEAD_SLOTS
            )
            for index, ((item, message), key) in enumerate(zip(parsed, keys, strict=True)):
                if firsts[key] == index and key not in stored:
                    stored[key] = item.payload.decode("utf-8", errors="replace")
                    attempt.accepted += 1
                    numbered.append(message)
                    self._keep(message, dirty_visits, effects, attempt.calls)
                    if isinstance(message, RatingMessage | FeedbackMessage | EmotionMessage):
                        dirty_desks.add((message.site, self.local_day(message.ts), message.desk))
                    continue
                first = stored.get(key)
                if first is None or _same_content(first, item.payload):  # None: deleted since (a purge)
                    attempt.duplicates += 1
                    numbered.append(message)
                else:
                    self._reject(item, DUPLICATE_REASON)
                    attempt.rejected += 1
            for (site, day, ticket), events in self._store.visits_events(list(dirty_visits)).items():
                dirty_desks.update((site, day, desk) for e in events for desk in (e.desk, e.to_desk) if desk)
                visit = build_visit(ticket, events)
                self._store.save_visit(site, day, visit)
                effects.append(VisitChange(site, day, visit))
            refresh_rollups(self._store, {(site, day) for site, day, _ in dirty_visits}, dirty_desks)
            if any(m.seq is not None for m in numbered) and parsed:
                self._note_numbers(numbered, parsed[-1][0].received_at, attempt, effects)
            self._queue_deliveries(attempt.alerts, queue_deliveries)
            if self.announce:
                self._store.announce([*effects, *attempt.calls])
        return attempt, effects

    def _queue_deliveries(self, alerts: list[AlertMessage], queue: bool) -> None:
        """Queue the deliveries of alerts in the transaction in progress (``queue`` False: they are handed over
        after the commit instead). Raises :class:`DeliveriesRefused` when the record refuses them for good."""
        if not alerts or self.take_alerts is None or not queue:
            return
        self._store.query("SELECT 1", flush=True)  # the unit's own writes first: a refusal below is the deliveries'
        try:
            self.take_alerts(alerts)
            self._store.query("SELECT 1", flush=True)
        except Exception as error:
            if is_transient(error):
                raise
            raise DeliveriesRefused(error) from error

    def _deliveries_apart(self, unit: Callable[[bool], _T], alerts_of: Callable[[_T], list[AlertMessage]]) -> _T:
        """Run a unit of work that queues its alerts' deliveries in its transaction. When the record refuses them
        for good (a persistent error of the delivery tables, not of the batch), run it once more without them, so
        that the batch is kept (not split, no message rejected for it) and nothing is counted twice (the first
        attempt was rolled back whole); its alerts then go to :attr:`defer_alerts`, queued apart."""
        try:
            return unit(True)
        except DeliveriesRefused as refused:
            logger.error(
                "the record refused to queue the deliveries of the alerts raised (%s); committing without them, "
                "to be queued apart",
                refused.__cause__,
            )
        done = unit(False)
        alerts = alerts_of(done)
        if alerts and self.defer_alerts is not None:
            self.defer_alerts(alerts)
        return done

    def _head_keys(self, messages: list[Message]) -> list[int]:
        """What a batch must hold alone from the start, when several workers write one record (the "head" locks,
        :data:`HEAD_SLOTS`): each visit it has ticket events of (events of one visit committed by two workers
        at once would each rebuild half of it) and each desk it has ratings of (a rating's verdict reads the
        desk's ratings). Few per batch, so two batches seldom share one. As 63-bit keys.

        A batch's other locks come later, in this order (so no two transactions ever wait on each other in a
        cycle): the unit-days of its roll-ups (hub/rollups.py), then its numbered devices
        (:meth:`_note_numbers`, :data:`DEVICE_SLOTS`), after which the commit writes the rows other workers'
        batches write too (nodes, numbered streams). Deduplication needs no lock: :meth:`Store.claim_messages`.
        """
        names = {
            f"v\x1f{m.site}\x1f{self.local_day(m.ts)}\x1f{m.ticket}" for m in messages if isinstance(m, TicketMessage)
        }
        names |= {_device_lock(m.site, m.desk) for m in messages if isinstance(m, RatingMessage)}
        return _lock_numbers(names)

    def _note_numbers(
        self, messages: list[Message], now: datetime, attempt: BatchOutcome, effects: list[Change]
    ) -> None:
        """Follow each device's numbered stream (hub/loss.py) and keep its messages_missing alert in step with
        the numbers missing for longer than ``ingest.missing_grace_s`` (:meth:`_missing_alerts`)."""
        numbers: dict[tuple[str, str, str], list[int]] = {}
        for m in messages:
            if m.seq is not None and m.stream is not None:
                numbers.setdefault((m.site, m.desk, m.stream), []).append(m.seq)
        devices = list(dict.fromkeys((site, desk) for site, desk, _ in numbers))
        # The batch's "tail": its numbered devices, held from here to the commit (read, note, save).
        self._store.lock_keys(_lock_numbers({_device_lock(*device) for device in devices}), DEVICE_SLOTS)
        streams = {(s.site, s.desk, s.stream): s for s in self._store.stream_losses(devices)}
        # Only a device with numbers missing before this batch can have its alert raised (a batch that fills the
        # last gap of a device clears its alert): of the others, none is asked for.
        gapped = {(s.site, s.desk) for s in streams.values() if s.missing}
        for key, seqs in numbers.items():
            stream = streams.setdefault(key, StreamLoss(*key))
            stream.note(seqs, now.timestamp())
            self._store.save_stream_loss(stream, now)
        alerts = self._missing_alerts(streams.values(), now, gapped)
        attempt.alerts.extend(alerts)
        effects.extend(alerts)

    def _missing_alerts(
        self, streams: Collection[StreamLoss], now: datetime, maybe_raised: Collection[tuple[str, str]] | None = None
    ) -> list[AlertMessage]:
        """Raise a device's messages_missing alert when its count of numbers missing for longer than the grace
        grows beyond what its alert says; clear it when none is. Runs under the devices' advisory locks, so the
        state in the record (alert_states) is each alert's truth across workers: raised once, cleared once.

        Gaps younger than the grace are left out: with several workers on a shared subscription, or after a
        broker's redelivery, a device's numbers are committed out of order and most gaps fill moments later.
        With several workers, so are gaps opened after the moment every session of the group is drained up to
        (:meth:`drained`): their numbers may still wait in a session's queue at the broker.
        """
        none_raised = maybe_raised is not None and not maybe_raised  # None: any device may have its alert raised
        if none_raised and not any(s.gaps or s.written_off for s in streams):
            return []  # nothing overdue anywhere (without counting it stream by stream, a country's batch)
        at, grace = now.timestamp(), self._limits.missing_grace_s
        drained = self.drained(at)
        overdue = overdue_by_device(streams, at, grace, drained)
        if not any(overdue.values()) and none_raised:
            return []
        asked = [d for d, count in overdue.items() if count or maybe_raised is None or d in maybe_raised]
        raised = self._store.raised_alerts(AlertType.MESSAGES_MISSING, asked) if asked else []
        alerted = {(a.site, a.desk): a.count or 0 for a in raised}
        # A raised alert clears when its gaps fill, not when a session falls behind (one started, one back from
        # the dead): the sessions' progress only holds raises back.
        settled = overdue if drained >= at - grace else overdue_by_device(streams, at, grace)
        alerts: list[AlertMessage] = []
        for device, count in overdue.items():
            was = alerted.get(device, 0)
            if count > was or (was and not settled[device]):
                alert = self._board.missing_alert(*device, count, now)
                self._store.set_alert_state(alert)
                self._store.add_alert(alert)
                alerts.append(alert)
        return alerts

    def _overdue_tick(self, now: datetime, drained: float) -> list[AlertMessage]:
        """Raise the messages_missing alerts of gaps that outlived the grace with no further traffic from their
        device (``drained``: the tick's :meth:`drained`). Reads first without locks; locks only the devices whose
        alert must change, and checks again."""
        at, grace = now.timestamp(), self._limits.missing_grace_s
        streams = self._store.stream_losses(open_only=True)
        if not streams:
            return []
        overdue = overdue_by_device(streams, at, grace, drained)
        overdue = {device: count for device, count in overdue.items() if count}  # only these may have grown
        if not overdue:
            return []
        raised = self._store.raised_alerts(AlertType.MESSAGES_MISSING, list(overdue))
        alerted = {(a.site, a.desk): a.count or 0 for a in raised}
        grown = [device for device, count in overdue.items() if count > alerted.get(device, 0)]
        if not grown:
            return []

        def raise_overdue(queue: bool) -> list[AlertMessage]:
            with self._store.transaction():
                self._store.lock_keys(_lock_numbers({_device_lock(*device) for device in grown}), DEVICE_SLOTS)
                alerts = self._missing_alerts(self._store.stream_losses(grown), now)
                self._queue_deliveries(alerts, queue)  # delivered as every alert: queued with its raise
                if self.announce and alerts:
                    self._store.announce(list(alerts))
            return alerts

        alerts = self._deliveries_apart(raise_overdue, lambda raised: raised)
        if not self.announce:
            for alert in alerts:
                self._board.track_alert(alert)
        return alerts

    def drained(self, at: float) -> float:
        """The moment (POSIX seconds) up to which every MQTT session of this worker's group that someone still
        drains has been drained (hub/progress.py: one small read); infinity without a shared group (one worker:
        the grace alone decides)."""
        group = self._settings.mqtt.shared_group
        if not group:
            return math.inf
        stale = stale_after_s(self._limits.missing_grace_s, self._settings.live.tick_s)
        return group_drained(self._store.session_progress(group), at, stale)

    def _reject(self, item: Incoming, reason: str) -> None:
        payload, note = rejected_payload(item, self._limits.rejected_payload_bytes)
        self._store.add_rejected(_text(item.topic), payload, _text(reason + note)[:2000], item.received_at)

    def _keep(
        self, message: Message, dirty_visits: set[tuple[str, str, str]], effects: list[Change], calls: list[Call]
    ) -> None:
        day = self.local_day(message.ts)
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
                calls.append(Call(message.site, message.desk, message.ticket, message.ts, recalled))
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
            effects.append(sample)
        elif isinstance(message, RatingMessage):
            hub_flags = self._judge_rating(message, day)
            counted = message.counted and not any(flag in _HUB_NOT_COUNTED for flag in hub_flags)
            self._store.add_rating(message, day, counted, hub_flags)
            effects.append(RatingChange(message.site, message.desk, day, message.score, message.scale, counted))
        elif isinstance(message, FeedbackMessage):
            self._store.add_feedback(message, day)
        elif isinstance(message, EmotionMessage):
            self._store.add_emotion(message, day)
        elif isinstance(message, LineMessage):
            self._store.add_line_event(message, day)
            effects.append(LineChange(message.site, message.desk, day, message.event.value, message.duration_s))
        elif isinstance(message, HeartbeatMessage):
            self._store.record_node(message.site, message.desk, message.ts, None, message)
            effects.append(NodeChange(message.site, message.desk, message.ts, None))
        elif isinstance(message, StatusMessage):
            self._store.record_node(message.site, message.desk, message.ts, message.online, None)
            effects.append(NodeChange(message.site, message.desk, message.ts, message.online))
        # config and alert messages are kept in the raw record only.

    def _judge_rating(self, message: RatingMessage, day: str) -> tuple[str, ...]:
        """The hub's own flags on a rating, from what the record holds (the kiosk's flags are kept apart).

        The rules of the kiosk (``edge/kiosk/integrity.py``), applied to what the hub knows:

        - ``burst``: another rating of the same desk within ``ingest.rating_burst_s`` of it is already in
          the record; not counted (500 presses in a few seconds count once).
        - ``repeat``: the same ticket at the same desk already has a counted rating on this channel; or,
          without a ticket, a counted rating without a ticket came less than
          ``ingest.rating_no_ticket_gap_s`` before or after; not counted.
        - ``no_ticket``: no ticket, or a ticket the hub has not seen called at this desk that day;
          counted once (per ticket and channel, or per gap), but flagged.
        """
        limits = self._limits
        store = self._store
        site, desk = message.site, message.desk
        flags: list[str] = []
        burst = timedelta(seconds=limits.rating_burst_s)
        if burst and store.rating_exists(site, day, desk, between=(message.ts - burst, message.ts + burst)):
            flags.append(RatingFlag.BURST.value)
        if message.ticket is not None:
            if store.rating_exists(
                site, day, desk, ticket=message.ticket, channel=message.channel.value, counted_only=True
            ):
                flags.append(RatingFlag.REPEAT.value)
            if not store.ticket_served_at(site, day, message.ticket, desk):
                flags.append(RatingFlag.NO_TICKET.value)
        else:
            gap = timedelta(seconds=limits.rating_no_ticket_gap_s)
            if gap and store.rating_exists(
                site, day, desk, between=(message.ts - gap, message.ts + gap), without_ticket=True, counted_only=True
            ):
                flags.append(RatingFlag.REPEAT.value)
            flags.append(RatingFlag.NO_TICKET.value)
        return tuple(flags)

    def tick(self, now: datetime) -> list[AlertMessage]:
        """Re-evaluate live alerts now (waits grow without messages); keep and return the changes.

        About once a minute it also deletes rejected messages beyond the configured count and age.
        """
        self._board.start_day(self.local_day(now))
        drained = self.drained(now.timestamp())
        self._board.heard_until = None if math.isinf(drained) else datetime.fromtimestamp(drained, UTC)
        alerts = self._board.evaluate(now)
        missing = self._overdue_tick(now, drained)
        if alerts:
            evaluated = alerts

            def claim(queue: bool) -> list[AlertMessage]:
                with self._store.transaction():
                    # Every worker's board sees every desk and evaluates the same alerts: the one whose change of
                    # state the record takes first raises (or clears) it; the others' boards follow the record.
                    claimed = self._store.claim_alerts(evaluated)
                    for alert in claimed:
                        self._store.add_alert(alert)
                    self._queue_deliveries(claimed, queue)
                    if self.announce and claimed:
                        self._store.announce(list(claimed))
                return claimed

            alerts = self._deliveries_apart(claim, lambda claimed: claimed)
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            self.prune_rejected(now)
        return [*alerts, *missing]

    def prune_rejected(self, now: datetime) -> int:
        """Apply the retention of rejected messages (count and age); return how many were deleted."""
        limits = self._limits
        return self._store.prune_rejected(limits.rejected_keep_count, now - timedelta(days=limits.rejected_keep_days))

    def restore(self, now: datetime) -> None:
        """Rebuild today's live board from the record (after a restart).

        Records dated further ahead of ``now`` than ``ingest.max_ahead_s`` (kept before the hub checked the
        time window) must not pin a queue or keep a silent node online: such queue samples are left out, and
        such a node counts as last seen ``now``.
        """
        day = self.local_day(now)
        horizon = now + timedelta(seconds=self._limits.max_ahead_s)
        self._board.start_day(day)
        for site, visits in self._store.visits_on(day).items():
            for visit in visits:
                self._board.apply_visit(site, day, visit)
        for sample in self._store.latest_queue_samples(until=horizon):
            self._board.apply_queue(sample)
        # A node "seen" in the future was seen at most now: silent from here on, it goes offline in time.
        if self._store.clamp_node_times(horizon, now):
            logger.warning("nodes last seen after %s (kept before the time window existed) now count as seen", horizon)
        for node in self._store.nodes():
            self._board.apply_node(node.site, node.desk, node.last_seen, node.online)
        for site, desks in self._store.seen_units().items():
            for desk in desks:
                for rating in self._store.ratings(site, day, desk):
                    self._board.apply_rating(site, desk, day, rating.score, rating.scale, rating.counted)
            for line in self._store.line_events(site, day):
                self._board.apply_line(site, line.desk, day, line.event, line.duration_s)
        for alert in self._store.raised_alerts():  # raised before the restart, or by another worker
            self._board.track_alert(alert)
        self._restore_missing(now)

    def _restore_missing(self, now: datetime) -> None:
        """A messages_missing alert raised before the record kept its state (alert_states) stays active across
        a restart, and is recorded there, so that it clears when its gaps fill."""
        streams = self._store.stream_losses(open_only=True)
        if not streams:
            return
        tracked = {(a.site, a.desk) for a in self._store.raised_alerts(AlertType.MESSAGES_MISSING)}
        latest: dict[tuple[str, str], AlertMessage] = {}
        for alert in self._store.alerts(limit=1000):  # newest first
            if alert.alert is AlertType.MESSAGES_MISSING:
                latest.setdefault((alert.site, alert.desk), alert)
        untracked = [latest[d] for d in {(s.site, s.desk) for s in streams} - tracked if d in latest]
        for stored in untracked:
            if stored.state is AlertState.RAISED:
                self._store.set_alert_state(stored)
                self._board.track_alert(stored)


def _device_lock(site: str, desk: str) -> str:
    return f"d\x1f{site}\x1f{desk}"


def _lock_numbers(names: set[str]) -> list[int]:
    """Advisory lock names as 63-bit keys, sorted (so that two transactions never wait on each other)."""
    return sorted({int.from_bytes(hashlib.blake2b(n.encode(), digest_size=8).digest(), "big") >> 1 for n in names})


def rejected_payload(item: Incoming, limit: int) -> tuple[bytes, str]:
    """What of a rejected payload is kept, and a note for the reason when something was left out.

    A comment's text is kept only with the citizen's consent: on a ``feedback`` topic the text of a
    payload without ``"consent": true`` is removed, and a payload that cannot be read as a JSON object is
    not kept at all. Everything is cut to ``limit`` bytes.
    """
    payload = item.payload
    size = item.size if item.size is not None else len(payload)
    if item.topic.rsplit("/", 1)[-1] == MessageKind.FEEDBACK.value:
        try:
            data = json.loads(payload) if item.size is None else None
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            return b"", " (payload not kept: a comment's text may be in it)"
        if "text" in data and data.get("consent") is not True:
            data["text"] = None
            payload = json.dumps(data, ensure_ascii=False).encode()
            note = " (text removed: no consent)"
            return payload[:limit], note + _cut_note(len(payload), limit)
    return payload[:limit], _cut_note(size, limit)


def _text(value: str) -> str:
    # Lone surrogates cannot be written as UTF-8; a rejection must never fail for its own sake.
    return value.encode("utf-8", errors="replace").decode("utf-8")


def _cut_note(size: int, limit: int) -> str:
    return f" (payload cut to {limit} of {size} bytes)" if size > limit else ""


def _same_content(stored: str, payload: bytes) -> bool:
    text = payload.decode("utf-8", errors="replace")
    if text == stored:
        return True
    try:
        return bool(json.loads(text) == json.loads(stored))
    except ValueError:
        return False
