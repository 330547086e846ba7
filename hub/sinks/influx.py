"""Copies the record to InfluxDB 2.x, on its own thread, catching up from the record after any outage.

The record (SQLite) is the system of record; InfluxDB is a copy for operators who already run it with
Grafana. The sink never sits on ingest's path: ingest only wakes it (an event) after a committed batch. The
sink reads the stored messages and alerts after its cursor, turns them into points (``hub.sinks.points``),
writes them in one request and only then moves the cursor, which is kept in the record itself. A failed write
is retried with exponential back-off (``retry_min_s`` doubling to ``retry_max_s``) while ingest goes on
untouched; when InfluxDB is back the sink sends everything it missed, oldest first, in batches. A point sent
twice (after a write that succeeded but whose answer was lost) lands on the same series and time and
overwrites itself.

Only ``desk_state`` — samples of the live board, which is not in the record — lives in memory while InfluxDB is
away, up to ``live_buffer_points`` (the oldest are dropped beyond that).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from hub.config import HubSettings, wait_target
from hub.live import UNKNOWN_UNIT_LEVEL
from hub.sinks.points import (
    HUB_COUNTED,
    MessagePoints,
    SinkPoint,
    point_from_alert,
    point_from_desk_view,
    points_from_message,
    points_from_transactions,
)
from hub.sinks.record import Position, RecordReader, as_dicts, position_of
from hub.sinks.settings import InfluxSettings
from protocol.errors import OneStopError

logger = logging.getLogger(__name__)

MESSAGES_CURSOR = "influxdb.messages"
ALERTS_CURSOR = "influxdb.alerts"


def record_points(settings: HubSettings, reader: RecordReader, rows: Sequence[Any]) -> list[SinkPoint]:
    """The points a run of stored messages (rows of ``RecordReader.messages_after``) gives, with one ``visit``
    point per ended transaction of every visit a ticket event touched."""
    zone = settings.zone
    out = MessagePoints()
    for row in rows:
        data = json.loads(row["payload"])
        if row["counted"] is not None:  # the hub judges ratings itself, whatever flags the kiosk sent
            data[HUB_COUNTED] = bool(row["counted"])
        day = datetime.fromisoformat(data["ts"]).astimezone(zone).date().isoformat()
        points_from_message(row["seq"], row["kind"], data, out, day, settings.rating.satisfied_min_for)
    for site, day, ticket in sorted(out.visits):
        transactions = as_dicts(reader.transactions(site, day, ticket))
        out.points += points_from_transactions(site, transactions, _target_s(settings, site, date.fromisoformat(day)))
    return out.points


def _target_s(settings: HubSettings, site: str, day: date) -> float | None:
    configured = settings.site(site)
    level = configured.level_on(day) if configured else UNKNOWN_UNIT_LEVEL
    rule = wait_target(settings, day, level)
    return rule.limit_s if rule else None


def behind(newest: Position, cursor: Position) -> int:
    """About how many rows the sink has still to send (positions are row numbers, with gaps): 0 exactly when
    it has sent the newest row, at least 1 otherwise."""
    if cursor >= newest:
        return 0
    return max(1, newest.seq - cursor.seq)


class SinkWriteError(OneStopError, ConnectionError):
    """InfluxDB did not take a write."""


class PointWriter(Protocol):
    """Writes line-protocol points; raises on any failure."""

    def write(self, lines: Sequence[str]) -> None:
        """Write the points (one request)."""
        ...

    def close(self) -> None:
        """Release the connection (idempotent)."""
        ...


class InfluxWriter:
    """``influxdb-client``'s synchronous write API: one HTTP request per batch, no retries of its own (the
    sink retries, so that it knows what was written)."""

    def __init__(self, settings: InfluxSettings) -> None:
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._settings = settings
        self._precision: Any = WritePrecision.NS
        self._client = InfluxDBClient(
            url=settings.url,
            token=settings.token or "no-token",
            org=settings.org,
            timeout=int(settings.timeout_s * 1000),
            retries=False,
            enable_gzip=True,
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: Sequence[str]) -> None:
        """Write the points; raises :class:`SinkWriteError` with the server's or the network's reason."""
        try:
            self._api.write(
                bucket=self._settings.bucket,
                org=self._settings.org,
                record=list(lines),
                write_precision=self._precision,
            )
        except Exception as error:  # urllib3 and the client raise many kinds; all mean "not written"
            raise SinkWriteError(f"InfluxDB at {self._settings.url} did not take the write: {error}") from error

    def close(self) -> None:
        """Close the HTTP client (idempotent)."""
        self._api.close()
        self._client.close()


@dataclass(slots=True)
class SinkStatus:
    """How the sink is doing, for ``/api/v1/health``."""

    url: str
    bucket: str
    points_written: int = 0
    writes: int = 0
    failures: int = 0
    last_error: str | None = None
    last_write_at: str | None = None
    messages_cursor: int = 0
    alerts_cursor: int = 0
    messages_behind: int = 0
    live_points_buffered: int = 0
    live_points_dropped: int = 0


class InfluxSink:
    """The background writer: wake it after each committed batch, close it at shutdown."""

    def __init__(
        self,
        settings: HubSettings,
        influx: InfluxSettings,
        writer: PointWriter | None = None,
        live_views: Callable[[], list[dict[str, Any]]] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._influx = influx
        self._reader = RecordReader(settings.database)
        self._writer_factory: Callable[[], PointWriter] = (lambda: writer) if writer else (lambda: InfluxWriter(influx))
        self._writer: PointWriter | None = None
        self._live_views = live_views
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: deque[SinkPoint] = deque()
        self._next_live = 0.0
        self.status = SinkStatus(url=influx.url, bucket=influx.bucket)

    def start(self) -> None:
        """Start the writer thread (returns at once)."""
        if not self._influx.token:
            logger.warning("%s is not set: writing to InfluxDB without a token", self._influx.token_env)
        self._thread = threading.Thread(target=self._run, name="influx-sink", daemon=True)
        self._thread.start()
        logger.info("InfluxDB sink writing to %s, bucket %s", self._influx.url, self._influx.bucket)

    def wake(self) -> None:
        """New rows are in the record (called by ingest after a commit; never blocks)."""
        self._wake.set()

    def close(self) -> None:
        """Stop the thread after the write in hand and close the connections (idempotent)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._influx.timeout_s + 5)
            self._thread = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._reader.close()

    def as_dict(self) -> dict[str, Any]:
        """The status as JSON."""
        from dataclasses import asdict

        return asdict(self.status)

    # -- the thread ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._influx.retry_min_s
        while not self._stop.is_set():
            try:
                more = self._deliver()
            except Exception as error:
                self.status.failures += 1
                self._refresh_lag()  # before the error shows: whoever reads the error reads the lag with it
                self.status.last_error = str(error)
                logger.warning("InfluxDB write failed (%s); trying again in %.1f s", error, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self._influx.retry_max_s)
                continue
            delay = self._influx.retry_min_s
            if not more:
                self._wake.wait(self._influx.flush_interval_s)
                self._wake.clear()

    def _deliver(self) -> bool:
        """Send one batch from the record (and the live samples due); True when more rows are waiting."""
        reader = self._reader
        self._sample_live()
        messages_cursor = reader.cursor(MESSAGES_CURSOR)
        alerts_cursor = reader.cursor(ALERTS_CURSOR)
        rows = reader.messages_after(messages_cursor, self._influx.batch_size)
        alert_rows = reader.alerts_after(alerts_cursor, self._influx.batch_size)
        points = self._points(rows)
        points += [point_from_alert(row["seq"], row["payload"]) for row in alert_rows]
        live = list(self._live)
        if points or live:
            if self._writer is None:
                self._writer = self._writer_factory()
            self._writer.write([p.to_line() for p in points + live])
            self.status.writes += 1
            self.status.points_written += len(points) + len(live)
            self.status.last_write_at = self._clock().isoformat()
            self.status.last_error = None
            for _ in live:
                self._live.popleft()
        if rows:
            messages_cursor = position_of(rows[-1])
            reader.save_cursor(MESSAGES_CURSOR, messages_cursor)
        if alert_rows:
            alerts_cursor = position_of(alert_rows[-1])
            reader.save_cursor(ALERTS_CURSOR, alerts_cursor)
        newest_message, _ = reader.last_positions()
        self.status.messages_cursor = messages_cursor.seq
        self.status.alerts_cursor = alerts_cursor.seq
        self.status.messages_behind = behind(newest_message, messages_cursor)
        self.status.live_points_buffered = len(self._live)
        return len(rows) == self._influx.batch_size or len(alert_rows) == self._influx.batch_size

    def _refresh_lag(self) -> None:
        try:
            newest_message, _ = self._reader.last_positions()
            self.status.messages_behind = behind(newest_message, self._reader.cursor(MESSAGES_CURSOR))
        except Exception:  # the record itself is busy or gone: the next attempt tells
            logger.debug("could not measure the sink's lag", exc_info=True)

    def _points(self, rows: Sequence[Any]) -> list[SinkPoint]:
        return record_points(self._settings, self._reader, rows)

    def _sample_live(self) -> None:
        interval = self._influx.live_interval_s
        if self._live_views is None or interval <= 0 or time.monotonic() < self._next_live:
            return
        self._next_live = time.monotonic() + interval
        now = self._clock()
        for view in self._live_views():
            self._live.append(point_from_desk_view(view, now))
        while len(self._live) > self._influx.live_buffer_points:
            self._live.popleft()
            self.status.live_points_dropped += 1
