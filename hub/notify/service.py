"""The delivery worker: routes each alert to its subscribers, holds it through quiet hours, sends it by e-mail
and webhook with retries, and escalates what nobody acknowledged.

The hub's ingest queues an alert's deliveries in the very transaction that records the alert
(:meth:`Notifier.take_in`: a few rows in the record, no network), then wakes the sending threads; a worker
killed between that commit and anything after it leaves the deliveries queued for every worker. Nothing is
sent on the ingest's thread, so a mail server that hangs or a webhook that is down never slows ingest
(:meth:`Notifier.submit` hands alerts over on a queue, for callers outside a transaction). One thread routes
alerts and escalations; each channel has its own sending thread, so a webhook that times out does not hold
back the e-mails. Everything pending is in the record (:mod:`hub.notify.outbox`) and is sent after a restart.
With several hub workers on one record each worker runs a notifier on the shared outbox: a sending thread
claims a due delivery for ``notify.lease_s`` before it sends it, so each delivery is made by one worker, and
by another one if the first dies before it is done.

The alert's publication on the broker's alert topic (``onestop/v1/{site}/{desk}/alert``, docs/protocol.md) is
one more delivery of the same outbox, queued in the alert's transaction (:meth:`Notifier.take_in`) when the
worker has a broker to publish on (:attr:`Notifier.publish`): its own sending thread claims it (for
``BROKER_LEASE_S``, not ``notify.lease_s``: a publication takes milliseconds), publishes it at QoS 1 and marks
it sent only after the broker's PUBACK; it is retried, with a back-off up to ``BROKER_RETRY_MAX_S``, until the
broker takes it. An alert raised by a worker killed between its commit and its publication is published by the
next worker that claims it (any living one, or the same one restarted). At least once: a worker killed after
the PUBACK and before it marks the publication sent, or a PUBACK that comes after ``BROKER_PUBACK_S``, makes a
second copy; the payload's ``id`` names the alert, so a consumer keeps the first of each id.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.notify.channels import DeliveryError, send_email, send_webhook
from hub.notify.outbox import (
    BROKER_CHANNEL,
    BROKER_RECIPIENT,
    Acknowledgement,
    Attempt,
    Delivery,
    Outbox,
    StoreUnit,
    UnitOfWork,
    queue_delivery_in,
    schedule_escalation_in,
    take_alert_in,
    take_alerts_in,
)
from hub.notify.render import STAGE_ESCALATION, STAGE_FIRST, names_of, render
from hub.notify.settings import Recipient
from protocol.messages import AlertMessage, AlertState

if TYPE_CHECKING:
    from hub.config import HubSettings
    from hub.store import Store

logger = logging.getLogger(__name__)

CHANNELS = ("email", "webhook")
POLL_S = 1.0
BROKER_PUBACK_S = 10.0  # how long a publication on the broker waits for the PUBACK before it counts as failed
BROKER_LEASE_S = 3 * BROKER_PUBACK_S  # a claim on a publication: a worker dead mid-publish delays it this long
BROKER_RETRY_MAX_S = 30.0
BROKER_BATCH = 100  # publications claimed (and published) at once


def _broker_retry_s(attempt: int) -> float:
    """The pause after a publication's ``attempt``-th failure: 0.5 s, doubling up to ``BROKER_RETRY_MAX_S``."""
    return min(BROKER_RETRY_MAX_S, 0.5 * 2 ** (attempt - 1))


# Publish (topic, payload) messages at QoS 1, then wait at most the given seconds for the broker's PUBACKs: for
# each, None when acknowledged, else why not; DeliveryError when none could go (hub.ingest.Ingest.publish_confirmed).
Publish = Callable[[Sequence[tuple[str, bytes]], float], list[str | None]]


class Notifier:
    """Alert delivery of one hub worker; :meth:`start` it, :meth:`submit` alerts, :meth:`close` it."""

    def __init__(
        self,
        settings: HubSettings,
        store: Store,
        alert_json: Callable[[AlertMessage], dict[str, Any]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        worker: str | None = None,
    ) -> None:
        self._hub = settings
        self.settings = settings.notify
        self._store = store
        self._alert_json = alert_json
        self._clock = clock
        # Who holds a claimed delivery: this worker (machine and MQTT client id, unique per worker and the same
        # after a restart, so that a restarted worker takes back at once what it held when it died).
        self.worker = worker or f"{socket.gethostname()}/{settings.mqtt.client_id}"
        self.outbox = Outbox(store.connect())
        self._queue: queue.Queue[tuple[AlertMessage, bool] | None] = queue.Queue()  # (alert, publish it too)
        # Set before start() when this worker publishes alerts on the broker (the runtime: its ingest's client).
        self.publish: Publish | None = None
        self._wake = {channel: threading.Event() for channel in (*CHANNELS, BROKER_CHANNEL)}
        self._stopping = threading.Event()
        self._intake_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.last_error: str | None = None

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the routing thread, and a sending thread for each channel a recipient uses."""
        released = self.outbox.release_claims(self.worker)
        if released:
            logger.warning("%d deliveries claimed by this worker before a restart are sent again", released)
        self._threads = [threading.Thread(target=self._route_loop, name="hub-notify", daemon=True)]
        used = {channel for recipient in self.settings.recipients for channel in recipient.channels}
        self._threads += [
            threading.Thread(target=self._send_loop, args=(channel,), name=f"hub-notify-{channel}", daemon=True)
            for channel in CHANNELS
            if channel in used
        ]
        if self.publish is not None:
            self._threads.append(
                threading.Thread(target=self._send_loop, args=(BROKER_CHANNEL,), name="hub-notify-broker", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        """Stop the threads (an attempt in flight finishes or times out) and close the tables (idempotent)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._queue.put(None)
        self.wake()
        longest = max(self.settings.webhook.timeout_s, self.settings.smtp.timeout_s if self.settings.smtp else 0)
        for thread in self._threads:
            thread.join(timeout=longest + 5)
        self.outbox.close()

    def submit(self, alerts: Iterable[AlertMessage], publish: bool = False) -> None:
        """Hand alerts over for delivery (with ``publish``, for their publication on the broker too); returns at
        once (called on the ingest thread)."""
        for alert in alerts:
            self._queue.put((alert, publish))

    def take_apart(self, alerts: Iterable[AlertMessage]) -> None:
        """Alerts committed without their deliveries, the record having refused to queue them in the alerts'
        transaction (``Processor.defer_alerts``): queued by the routing thread in a transaction of its own, their
        publication on the broker included; should that fail too, the deliveries to people are caught up at the
        next start (``catch_up_minutes``) and the publication is not made."""
        self.submit(alerts, publish=self.publish is not None)

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll (after the clock moved, in tests)."""
        for event in self._wake.values():
            event.set()
        self._queue.put(None)  # the routing thread looks at escalations

    # -- acknowledgement and views (any thread) -------------------------------------------------------------

    def acknowledge(self, alert_id: str, by: str) -> Acknowledgement | None:
        """Record that ``by`` acknowledged an alert; None when no such alert was raised."""
        if not self.outbox.known(alert_id):
            alert = next((a for a in self._store.alerts(limit=1000) if a.id == alert_id), None)
            if alert is None:
                return None
            self._intake(alert)
        return self.outbox.acknowledge(alert_id, by, self._clock())

    def annotate(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Alerts as the API shows them, with ``acknowledged_by`` and ``acknowledged_at`` where acknowledged."""
        for alert in alerts:
            ack = self.outbox.acknowledgement(str(alert.get("id")))
            if ack is not None:
                alert["acknowledged_by"] = ack.by
                alert["acknowledged_at"] = ack.at.isoformat()
        return alerts

    def as_dict(self) -> dict[str, Any]:
        """Delivery counts for the health view."""
        return {
            "recipients": len(self.settings.recipients),
            "alerts_seen": self.outbox.alerts_seen(),
            "deliveries": self.outbox.counts(),
            "broker": self.outbox.counts(broker=True),
            "queued": self._queue.qsize(),
            "last_error": self.last_error,
        }

    # -- routing thread -----------------------------------------------------------------------------------

    def _route_loop(self) -> None:
        try:
            self._catch_up()
        except Exception:
            logger.exception("catching up on alerts raised before the start failed")
        while not self._stopping.is_set():
            timeout = POLL_S
            upcoming = self.outbox.next_escalation()
            if upcoming is not None:
                timeout = min(POLL_S, max(0.02, (upcoming - self._clock()).total_seconds()))
            try:
                item = self._queue.get(timeout=timeout)
                while item is not None or not self._queue.empty():
                    if item is not None:
                        self._intake(*item)
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            except Exception:
                logger.exception("routing an alert failed; it is caught up at the next start")
            try:
                self._escalate(self._clock())
            except Exception:
                logger.exception("escalating alerts failed; trying again shortly")

    def _catch_up(self) -> None:
        """Alerts kept in the record in the last minutes that the deliveries never saw (a crash in between)."""
        since = self._clock() - timedelta(minutes=self.settings.catch_up_minutes)
        missed = [a for a in self._store.alerts(limit=1000) if a.ts >= since and not self.outbox.known(a.id)]
        for alert in sorted(missed, key=lambda a: a.ts):
            self._intake(alert)

    def take_in(self, alerts: Iterable[AlertMessage]) -> None:
        """Queue the deliveries of alerts inside the transaction that records them (the processor's batch or
        tick, on its writing thread): they commit together, so a worker killed right after the commit leaves
        them in the outbox, for any worker's sending threads. :meth:`wake` the senders after the commit."""
        unit = StoreUnit(self._store)
        alerts = list(alerts)
        days = [(alert, alert.ts.astimezone(self._hub.zone).date().isoformat()) for alert in alerts]
        publish = self.publish is not None
        for alert, taken in zip(alerts, take_alerts_in(unit, days), strict=True):  # one read for many
            self._queue_deliveries(unit, alert, taken, publish)

    def _intake(self, alert: AlertMessage, publish: bool = False) -> None:
        with self._intake_lock, self.outbox.unit() as unit:
            self._take(unit, alert, publish)
        for event in self._wake.values():
            event.set()

    def _take(self, unit: UnitOfWork, alert: AlertMessage, publish: bool = False) -> None:
        """Keep an alert and queue its deliveries and escalations, all in one unit of work; with ``publish``, its
        publication on the broker too (an alert just raised: not one caught up at a start or acknowledged later)."""
        taken = take_alert_in(unit, alert, alert.ts.astimezone(self._hub.zone).date().isoformat())
        self._queue_deliveries(unit, alert, taken, publish)

    def _queue_deliveries(
        self, unit: UnitOfWork, alert: AlertMessage, taken: tuple[str, bool] | None, publish: bool
    ) -> None:
        """Queue the deliveries and escalations of an alert just taken in (``take_alert_in``'s answer); with
        ``publish``, its publication on the broker too."""
        if taken is None:
            return
        root, continues = taken
        now = self._clock()
        if publish:  # every alert raised goes on the broker, a re-raising after a restart too (as it always did)
            queue_delivery_in(unit, alert.id, BROKER_RECIPIENT, BROKER_CHANNEL, STAGE_FIRST, now, now)
        if continues:
            return  # the same alert as before a restart: it went out to people under its first id
        for recipient in self.settings.recipients:
            if not recipient.wants(alert.site, alert.alert):
                continue
            if alert.state is AlertState.CLEARED and not recipient.cleared:
                continue
            due = self._due(recipient, alert, now)
            for channel in recipient.channels:
                queue_delivery_in(unit, alert.id, recipient.id, channel, STAGE_FIRST, now, due)
            if recipient.escalation is not None and alert.state is AlertState.RAISED:
                after = timedelta(minutes=recipient.escalation.after_minutes)
                schedule_escalation_in(unit, root, recipient.id, recipient.escalation.to, alert.ts + after)

    def _due(self, recipient: Recipient, alert: AlertMessage, now: datetime) -> datetime:
        """Now, or the end of the recipient's quiet hours for a non-critical alert raised in them."""
        if recipient.quiet_hours is None or alert.alert in self.settings.critical_kinds:
            return now
        release = recipient.quiet_hours.release_at(now.astimezone(self._hub.zone))
        return now if release is None else release

    def _escalate(self, now: datetime) -> None:
        for due in self.outbox.due_escalations(now):
            if due.acknowledged:
                self.outbox.decide_escalation(due.root_id, due.to_recipient, "acknowledged", now)
                continue
            if due.cleared:
                self.outbox.decide_escalation(due.root_id, due.to_recipient, "cleared", now)
                continue
            target = self.settings.recipient(due.to_recipient)
            if target is None:
                self.outbox.decide_escalation(due.root_id, due.to_recipient, "no_recipient", now)
                continue
            alert = AlertMessage.model_validate_json(due.payload)
            when = self._due(target, alert, now)
            deliveries = [(target.id, channel, STAGE_ESCALATION, when) for channel in target.channels]
            # One worker decides (and queues) it; an acknowledgement made meanwhile, through any worker, stops it.
            if not self.outbox.decide_escalation(due.root_id, due.to_recipient, "sent", now, deliveries):
                continue
            logger.info("alert %s unacknowledged: escalated to %s", due.root_id, target.id)
            for event in self._wake.values():
                event.set()

    # -- sending threads ----------------------------------------------------------------------------------

    def _send_loop(self, channel: str) -> None:
        wake = self._wake[channel]
        while not self._stopping.is_set():
            wake.clear()
            try:
                while not self._stopping.is_set():
                    now = self._clock()
                    if channel == BROKER_CHANNEL:  # many at once: an alert storm must not trail by a minute
                        until = now + timedelta(seconds=BROKER_LEASE_S)
                        publications = self.outbox.claim_due_many(channel, now, self.worker, until, BROKER_BATCH)
                        if not publications:
                            break
                        self._publish(publications)
                        continue
                    lease_until = now + timedelta(seconds=self.settings.lease_s)
                    delivery = self.outbox.claim_due(channel, now, self.worker, lease_until)
                    if delivery is None:
                        break
                    self._deliver(delivery)
                upcoming = self.outbox.next_due(channel)
            except Exception:
                logger.exception("reading the %s outbox failed; trying again shortly", channel)
                upcoming = None
            timeout = POLL_S
            if upcoming is not None:
                timeout = min(POLL_S, max(0.02, (upcoming - self._clock()).total_seconds()))
            wake.wait(timeout)

    def _deliver(self, delivery: Delivery) -> None:
        recipient = self.settings.recipient(delivery.recipient)
        delivery_id = f"{delivery.alert_id}:{delivery.recipient}:{delivery.channel}:{delivery.stage}"
        attempt = delivery.attempts + 1
        started = time.monotonic()
        ok = False
        if recipient is None:
            detail = "the recipient is no longer in the configuration"
        else:
            try:
                detail = self._send(delivery, recipient, delivery_id, attempt)
                ok = True
            except DeliveryError as error:
                detail = str(error)
            except Exception as error:  # a bug must not stop the worker: log it as a failed attempt
                logger.exception("delivering %s failed unexpectedly", delivery_id)
                detail = f"{type(error).__name__}: {error}"
        now = self._clock()
        retry = self.settings.retry
        final = ok or recipient is None or attempt >= retry.max_attempts
        retry_at = None if final else now + timedelta(seconds=retry.delay_after(attempt))
        self.outbox.record_attempt(delivery.seq, now, ok, detail, (time.monotonic() - started) * 1000, retry_at)
        if ok:
            logger.info("alert %s delivered to %s by %s", delivery.alert_id, delivery.recipient, delivery.channel)
        else:
            self.last_error = f"{delivery.channel} to {delivery.recipient}: {detail}"
            logger.warning(
                "alert %s to %s by %s, attempt %d failed: %s%s",
                delivery.alert_id,
                delivery.recipient,
                delivery.channel,
                attempt,
                detail,
                "" if retry_at is None else f"; next attempt at {retry_at.isoformat()}",
            )

    def _publish(self, publications: list[Delivery]) -> None:
        """Publish alerts on the broker's alert topic, with exactly the payloads they always had (all sent, then
        each PUBACK waited for); each is retried until the broker acknowledges it (never given up: the topic is
        the alert's record on the broker)."""
        started = time.monotonic()
        try:
            if self.publish is None:
                raise DeliveryError("this worker has no broker to publish on")
            alerts = [AlertMessage.model_validate_json(p.payload) for p in publications]
            errors = self.publish([(alert.topic, alert.to_payload()) for alert in alerts], BROKER_PUBACK_S)
        except DeliveryError as error:
            errors = [str(error)] * len(publications)
        except Exception as error:  # a bug must not stop the worker: logged as failed attempts
            logger.exception("publishing %d alert(s) on the broker failed unexpectedly", len(publications))
            errors = [f"{type(error).__name__}: {error}"] * len(publications)
        now = self._clock()
        duration_ms = (time.monotonic() - started) * 1000
        attempts = [
            Attempt(p.seq, True, "PUBACK", duration_ms, None)
            if error is None
            else Attempt(p.seq, False, error, duration_ms, now + timedelta(seconds=_broker_retry_s(p.attempts + 1)))
            for p, error in zip(publications, errors, strict=True)
        ]
        self.outbox.record_attempts(now, attempts)
        failed = [attempt.detail for attempt in attempts if not attempt.ok]
        if failed:
            self.last_error = f"broker: {failed[0]}"
            logger.warning(
                "%d of %d alert(s) not published on the broker yet: %s", len(failed), len(attempts), failed[0]
            )

    def _send(self, delivery: Delivery, recipient: Recipient, delivery_id: str, attempt: int) -> str:
        alert = AlertMessage.model_validate_json(delivery.payload)
        site = self._hub.site(alert.site)
        desk = next((d.name for d in site.desks if d.id == alert.desk), None) if site else None
        escalated_from = waited = None
        if delivery.stage == STAGE_ESCALATION:
            source = next((e for e in self.outbox.escalations(delivery.alert_id) if e["to"] == recipient.id), None)
            first = self.settings.recipient(source["from"]) if source else None
            escalated_from = first.name if first else None
            waited = (self._clock() - alert.ts).total_seconds() / 60
        rendered = render(
            alert,
            names_of(alert, site.name if site else None, desk),
            delivery.stage,
            delivery_id,
            recipient.id,
            self._hub.zone,
            self._alert_json,
            self.settings.dashboard_url,
            escalated_from,
            waited,
        )
        if delivery.channel == "email":
            assert recipient.email is not None and self.settings.smtp is not None
            return send_email(self.settings.smtp, recipient.email, rendered, delivery_id)
        assert recipient.webhook is not None
        return send_webhook(self.settings.webhook, recipient.webhook, rendered, delivery_id, attempt)
