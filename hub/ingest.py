"""The hub's MQTT side: subscribe, hand batches to the processor, acknowledge only what is committed.

paho-mqtt 2.x, MQTT 5, QoS 1, a persistent session (fixed client id, ``clean_start=False``), optionally a
shared subscription so that several hub workers split the load. Messages are acknowledged to the broker
only after the batch holding them is committed to the record, so a hub killed at any moment loses nothing:
the broker redelivers what was not acknowledged, and deduplication on the message id keeps the record
exactly-once. A batch the database cannot take now (locked, disk full) is retried with back-off, never
dropped; a batch it refuses for one message's sake is split by the processor until that message is found
and kept as rejected, so the hub never retries a poison batch forever.

Memory is bounded: a payload over ``ingest.max_payload_bytes`` is cut to a short preview on arrival (it is
rejected anyway), and the hand-over queue holds at most ``ingest.queue_messages`` messages and
``ingest.queue_bytes`` payload bytes. When it is full the network thread waits, so paho stops reading the
socket and the broker holds (QoS 1) or drops (QoS 0, within its own limits) what is not read yet.

With several workers (a shared group) each session is also probed through its own queue at the broker, on a
topic of its client id outside the desks' protocol, so that the record knows how far it is drained
(hub/progress.py): a probe is not a message of the record, and counts once the batch holding it is committed.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from hub.config import IngestSettings, MqttSettings
from hub.notify.channels import DeliveryError
from hub.processor import BatchOutcome, Incoming, Processor, is_transient
from hub.progress import SessionProgress, probe_payload, probe_sent, probe_topic
from protocol.topics import SUBSCRIPTION_ALL

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
# Messages the broker may send before the hub acknowledges them: two batches, so that the next batch arrives while
# one is being committed (messages are acknowledged after their commit; with one batch's worth the hub would
# wait for the network between batches). The inbox bounds what is held in memory (ingest.queue_messages).
RECEIVE_MAXIMUM = 2 * MAX_BATCH
BATCH_LINGER_S = 0.05  # behind the broker with a small batch in hand: how long to let the inbox fill (see _work)
MAX_TICK_SHARE = 0.1  # of the worker's time spent re-evaluating the live board at most (see _work)
DISCONNECT_WAIT_S = 5.0  # at a stop, how long to wait for the DISCONNECT to be sent

Listener = Callable[[BatchOutcome], None]


# What the network thread hands over: (topic, payload, mid, qos, connection generation, full size when the
# payload was cut). A plain tuple, and the arrival time is taken once per batch on the worker: the network
# thread competes with processing for the interpreter lock, so it does as little as possible per message.
_Received = tuple[str, bytes | bytearray, int, int, int, int | None]


class _Inbox:
    """A queue bounded in messages and payload bytes; ``put`` waits while it is full (back-pressure)."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self._items: deque[_Received | None] = deque()
        self._bytes = 0
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._ready = threading.Condition()
        self.waits = 0
        self.peak_bytes = 0

    def put(self, item: _Received | None, give_up: threading.Event | None = None) -> bool:
        """Add an item, waiting while full; False when ``give_up`` was set first (the item is not added)."""
        size = len(item[1]) if item is not None else 0
        with self._ready:
            if item is not None and self._full(size):
                self.waits += 1
                while self._full(size):
                    if give_up is not None and give_up.is_set():
                        return False
                    self._ready.wait(0.2)
            self._items.append(item)
            self._bytes += size
            self.peak_bytes = max(self.peak_bytes, self._bytes)
            self._ready.notify_all()
        return True

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)

    def _full(self, size: int) -> bool:
        # An empty inbox always takes one item, however large, so that nothing waits forever.
        return bool(self._items) and (len(self._items) >= self._max_items or self._bytes + size > self._max_bytes)

    def get(self, timeout: float | None = None) -> _Received | None:
        """Take the oldest item, waiting at most ``timeout`` seconds (``queue.Empty`` when none came)."""
        with self._ready:
            if not self._items:
                self._ready.wait_for(lambda: bool(self._items), timeout)
            return self._take()

    def get_nowait(self) -> _Received | None:
        """Take the oldest item (``queue.Empty`` when there is none)."""
        with self._ready:
            return self._take()

    def _take(self) -> _Received | None:
        if not self._items:
            raise queue.Empty
        item = self._items.popleft()
        if item is not None:
            self._bytes -= len(item[1])
        self._ready.notify_all()
        return item


@dataclass(slots=True)
class IngestCounters:
    """Running totals since start."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    isolated: int = 0
    cut: int = 0
    inbox_waits: int = 0


class Ingest:
    """Subscriber, batching worker and broker publisher (for the alerts' outbox) of one hub worker."""

    def __init__(
        self,
        settings: MqttSettings,
        processor: Processor,
        lock: threading.Lock,
        listener: Listener,
        tick_s: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: IngestSettings | None = None,
        on_taken_over: Callable[[], None] | None = None,
        progress: SessionProgress | None = None,
        probe_s: float | None = None,
    ) -> None:
        self._settings = settings
        # Several workers (hub/progress.py): this session is probed through its own queue at the broker, every
        # ``probe_s`` (the tick by default), and how far it is drained is kept in the record.
        self._progress = progress
        self._probe_topic = probe_topic(settings.client_id) if progress is not None else None
        self._probe_s = probe_s if probe_s is not None else tick_s
        self._probing = False  # the broker took the probe subscription on the current connection
        self._probes: list[mqtt.MQTTMessageInfo] = []  # probes sent, not taken by the broker yet (PUBACK)
        self._refused: dict[int, str] = {}  # message ids of publications the broker refused (PUBACK), and why
        # A worker's session adopted by this one (hub/adoption.py): handed back when the broker says another
        # client took it over, never fought for.
        self._on_taken_over = on_taken_over
        self._limits = limits or IngestSettings()
        self._processor = processor
        self._lock = lock
        self._listener = listener
        self._tick_s = tick_s
        self._clock = clock
        self._queue = _Inbox(self._limits.queue_messages, self._limits.queue_bytes)
        self._generation = 0
        self._connected = threading.Event()
        self._disconnected = threading.Event()  # set by on_disconnect, cleared by on_connect
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self.counters = IngestCounters()
        self.last_error: str | None = None
        self._client = self._build_client()

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up and the subscription acknowledged (SUBACK)."""
        return self._connected.is_set()

    def _build_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._settings.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self._settings.username:
            client.username_pw_set(self._settings.username, self._settings.password)
        if self._settings.tls:
            ca = str(self._settings.tls_ca_file) if self._settings.tls_ca_file else None
            client.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(min_delay=1, max_delay=60)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        return client

    def start(self) -> None:
        """Connect in the background and start the worker; returns at once."""
        self._worker = threading.Thread(target=self._work, name="hub-ingest", daemon=True)
        self._worker.start()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self._settings.session_expiry_s
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self._client.connect_async(
            self._settings.host,
            self._settings.port,
            keepalive=self._settings.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected and subscribed, at most ``timeout`` seconds."""
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """Finish the batch in hand, disconnect and stop (idempotent)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join(timeout=30)
        self._client.disconnect()
        # The DISCONNECT goes out on paho's network thread: wait for it (on_disconnect) before stopping that
        # thread, or the broker sees the connection merely drop (and would publish a will, count a failure).
        if self._connected.is_set() or self._client.is_connected():
            self._disconnected.wait(DISCONNECT_WAIT_S)
        self._client.loop_stop()

    def publish_confirmed(self, messages: Sequence[tuple[str, bytes]], timeout_s: float) -> list[str | None]:
        """Publish (topic, payload) messages at QoS 1, then wait for the broker's PUBACKs, at most ``timeout_s``
        in all (the alerts' publications, hub.notify.service): for each, None when acknowledged, else why not.
        One not acknowledged in time may still be sent by paho when the connection comes back (a retry then makes
        a second copy).

        Raises:
            DeliveryError: the broker is not connected (nothing was published).
        """
        if not self._client.is_connected():
            raise DeliveryError(f"the broker {self._settings.host}:{self._settings.port} is not connected")
        infos = [self._client.publish(topic, payload, qos=1) for topic, payload in messages]
        deadline = time.monotonic() + timeout_s
        errors: list[str | None] = []
        for (topic, _), info in zip(messages, infos, strict=True):
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as error:
                errors.append(f"publishing on {topic} failed: {error}")
                continue
            if not info.is_published():
                errors.append(f"no PUBACK from the broker within {timeout_s:g} s")
                continue
            # A PUBACK may refuse it (MQTT 5: "Not authorized" where the broker's ACL does not allow the topic).
            refused = self._refused.pop(info.mid, None)
            errors.append(None if refused is None else f"the broker refused the publication on {topic}: {refused}")
        return errors

    # -- paho callbacks (network thread) ------------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            logger.error("MQTT broker %s:%s refused the hub: %s", self._settings.host, self._settings.port, reason_code)
            return
        self._generation += 1
        self._disconnected.clear()
        topic = SUBSCRIPTION_ALL
        if self._settings.shared_group:
            topic = f"$share/{self._settings.shared_group}/{SUBSCRIPTION_ALL}"
        # no_local: the hub does not receive the alerts it publishes itself.
        subscriptions = [(topic, SubscribeOptions(qos=1, noLocal=True))]
        if self._probe_topic is not None:  # its own probes, non-shared: it must receive what it publishes there
            subscriptions.append((self._probe_topic, SubscribeOptions(qos=1, noLocal=False)))
        self._probing = False
        client.subscribe(subscriptions)
        self.last_error = None
        logger.info(
            "hub connected to MQTT %s:%s (session present: %s), subscribed to %s",
            self._settings.host,
            self._settings.port,
            flags.session_present,
            topic,
        )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[mqtt.ReasonCode],
        properties: Properties | None,
    ) -> None:
        # Connected counts from the SUBACK: only then does the broker route the desks' messages to the hub.
        if reason_codes and not reason_codes[0].is_failure:
            if self._probe_topic is not None:
                self._probing = len(reason_codes) > 1 and not reason_codes[1].is_failure
                if not self._probing:  # the session then counts as probed by nobody: the grace alone decides
                    logger.error(
                        "MQTT broker refused the hub's probe subscription %s (%s): check its ACL "
                        "(docs/scaling.md); messages_missing waits for the grace only",
                        self._probe_topic,
                        reason_codes[1:],
                    )
            self._connected.set()
        else:
            self.last_error = f"broker refused the subscription: {reason_codes}"
            logger.error("MQTT broker refused the hub's subscription: %s", reason_codes)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: mqtt.ReasonCode,
        properties: Properties | None,
    ) -> None:
        # Called with paho's own locks held: only note it (a probe refused by the ACL, see _probe).
        if reason_code.is_failure:
            self._refused[mid] = str(reason_code)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._disconnected.set()
        if self._on_taken_over is not None and reason_code == "Session taken over":
            client.disconnect()  # no reconnection: the session's own worker is back
            self._on_taken_over()
            return
        if self._stopping.is_set():
            logger.info("hub disconnected from the MQTT broker (%s)", reason_code)
        else:
            self.last_error = f"disconnected: {reason_code}"
            logger.warning("hub lost the MQTT broker (%s); reconnecting with back-off", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        payload = message.payload
        size: int | None = None
        if len(payload) > self._limits.max_payload_bytes:  # rejected anyway: keep only what is shown of it
            size = len(payload)
            payload = bytes(payload[: self._limits.rejected_payload_bytes])
            self.counters.cut += 1
        item = (message.topic, payload, message.mid, message.qos, self._generation, size)
        self._queue.put(item, give_up=self._stopping)  # not queued when stopping: not acknowledged either
        self.counters.inbox_waits = self._queue.waits

    # -- worker thread ------------------------------------------------------------------------------------

    def _work(self) -> None:
        next_tick = next_probe = time.monotonic()
        while True:
            timeout = max(0.0, min(next_tick, next_probe) - time.monotonic())
            behind = len(self._queue) > 0  # messages waiting already: the broker has more for this worker
            try:
                first = self._queue.get(timeout=timeout)
            except queue.Empty:
                first = None
                if self._stopping.is_set():
                    return
            else:
                if first is None and self._stopping.is_set():
                    self._drain_and_process()
                    return
            if first is not None:
                batch = [first]
                self._fill(batch)
                if behind and len(batch) < MAX_BATCH // 2 and not self._stopping.is_set():
                    # Behind, yet few messages in the inbox: the network thread had little time to read them.
                    # Give it some, so that the batch's fixed costs (its statements, locks, commit) are shared by
                    # more messages; a worker that took what came at once kept committing batches of a few dozen.
                    time.sleep(BATCH_LINGER_S)
                    self._fill(batch)
                self._process(batch)
            if time.monotonic() >= next_tick:
                began = time.monotonic()
                self._tick()
                # A tick judges every desk of the board (a country's 17,000 on every worker): at most a tenth of
                # the worker's time, so that a large board slows its alerts a little, not its ingest.
                next_tick = time.monotonic() + max(self._tick_s, (time.monotonic() - began) / MAX_TICK_SHARE)
            if time.monotonic() >= next_probe:
                self._probe()
                next_probe = time.monotonic() + self._probe_s

    def _fill(self, batch: list[_Received]) -> None:
        """Add what the inbox holds to ``batch``, up to ``MAX_BATCH`` (a stop's mark is left in it)."""
        while len(batch) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._queue.put(None)
                return
            batch.append(item)

    def _drain_and_process(self) -> None:
        batch: list[_Received] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                batch.append(item)
        if batch:
            self._process(batch)

    def _process(self, batch: list[_Received]) -> None:
        data, probes = batch, list[bytes | bytearray]()
        if self._probe_topic is not None:  # this session's probes: not messages of the record
            data = [item for item in batch if item[0] != self._probe_topic]
            probes = [item[1] for item in batch if item[0] == self._probe_topic]
        outcome = self._commit(data) if data else BatchOutcome()
        if outcome is None:
            return  # not acknowledged: the broker redelivers after restart
        if probes:
            self._drained(probes)
        for _, _, mid, qos, generation, _ in batch:
            if qos > 0 and generation == self._generation:
                self._client.ack(mid, qos)
        if not data:
            return
        self.counters.accepted += outcome.accepted
        self.counters.duplicates += outcome.duplicates
        self.counters.rejected += outcome.rejected
        self.counters.isolated += outcome.isolated
        self.counters.batches += 1
        if outcome.rejected:
            logger.warning("rejected %d malformed message(s); kept with reasons in the record", outcome.rejected)
        self._notify(outcome)  # its alerts go on the broker from the outbox (hub.notify.service)

    def _commit(self, batch: list[_Received]) -> BatchOutcome | None:
        """Hand a batch to the processor, retrying while the database refuses it; None when given up at a stop."""
        delay = 0.2
        while True:
            try:
                now = self._clock()
                incoming = [Incoming(topic, bytes(payload), now, size) for topic, payload, _, _, _, size in batch]
                with self._lock:
                    return self._processor.process(incoming, now)
            except Exception as error:  # the database is unavailable: keep the batch, retry, never drop it
                if not is_transient(error):
                    logger.error("unexpected error on a batch (%s); retrying it", error)
                self.counters.retries += 1
                self.last_error = f"database write failed: {error}"
                logger.exception("writing a batch of %d messages failed; retrying in %.1f s", len(batch), delay)
                if self._stopping.is_set() and delay > 5:
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _probe(self) -> None:
        """Send a probe through this session's queue at the broker, and keep when (hub/progress.py). A probe the
        broker refuses (an ACL without the probe topic: its PUBACK says so) would never come back, and a session
        probed but never drained holds every gap back: probing then stops until the next connection."""
        if self._progress is None or self._probe_topic is None or not self._probing or not self._connected.is_set():
            return
        # A probe's refusal is noted (_on_publish) before paho marks it published: those marked are settled.
        taken: list[mqtt.MQTTMessageInfo] = []
        waiting: list[mqtt.MQTTMessageInfo] = []
        for info in self._probes:
            (taken if info.is_published() else waiting).append(info)
        self._probes = waiting
        refused = [self._refused.pop(info.mid) for info in taken if info.mid in self._refused]
        if len(self._refused) > 1000:  # others' (an alert's publication) are not this worker's concern here
            self._refused.clear()
        if refused:
            self._probing = False
            logger.error(
                "MQTT broker refused the hub's probe on %s (%s): check its ACL (docs/scaling.md); "
                "messages_missing waits for the grace only",
                self._probe_topic,
                refused[0],
            )
            return
        sent = self._clock().timestamp()
        info = self._client.publish(self._probe_topic, probe_payload(sent), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return
        self._probes.append(info)
        try:
            self._progress.probed(self._settings.client_id, sent)
        except Exception:
            logger.exception("keeping when this MQTT session was probed failed; again at the next probe")

    def _drained(self, probes: list[bytes | bytearray]) -> None:
        """Everything this session's queue held before these probes is committed: keep how far it is drained."""
        sent = [moment for moment in map(probe_sent, map(bytes, probes)) if moment is not None]
        if not sent or self._progress is None:
            return
        try:  # never ahead of this hub's clock, whatever a probe says
            self._progress.drained(self._settings.client_id, min(max(sent), self._clock().timestamp()))
        except Exception:
            logger.exception("keeping how far this MQTT session is drained failed; again at the next probe")

    def _tick(self) -> None:
        try:
            with self._lock:
                alerts = self._processor.tick(self._clock())
        except Exception:
            logger.exception("re-evaluating live alerts failed; trying again at the next tick")
            return
        if alerts:
            self._notify(BatchOutcome(alerts=alerts))

    def _notify(self, outcome: BatchOutcome) -> None:
        try:
            self._listener(outcome)
        except Exception:
            logger.exception("a live-update listener failed")
