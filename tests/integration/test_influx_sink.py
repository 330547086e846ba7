"""The InfluxDB write path against a real server that speaks the InfluxDB v2 write API (Debian's VictoriaMetrics,
which also lets the test read the points back): points written equal points read; while the server is down the
hub keeps ingesting and the record stays whole; when it returns the sink catches up from the record."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker, free_port
from hub.config import HubSettings, load_settings
from hub.sinks.influx import record_points
from hub.sinks.points import SinkPoint, point_from_alert
from hub.sinks.record import RecordReader
from protocol.messages import (
    EmotionMessage,
    Envelope,
    FeedbackMessage,
    HeartbeatMessage,
    QueueMessage,
    QueueSource,
    RatingChannel,
    RatingMessage,
    Sentiment,
    StatusMessage,
    TicketEvent,
    TicketMessage,
)
from tests.support.hub_server import HubServer, Publisher
from tests.support.require import require

pytestmark = pytest.mark.integration

SITE = "bn-viet-yen"
Sample = tuple[str, tuple[tuple[str, str], ...], int, float]


class VictoriaMetrics:
    """A VictoriaMetrics process on a free loopback port with its own data directory; stops and starts again
    on the same port and data (an InfluxDB outage)."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
        require(Path(binary).exists(), "VictoriaMetrics (Debian's victoria-metrics)", "./scripts/setup.sh installs it")
        self.binary = binary
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> VictoriaMetrics:
        log = open(self.workdir / "vm.log", "ab")  # noqa: SIM115 - the process keeps it
        self._process = subprocess.Popen(
            [
                self.binary,
                f"-storageDataPath={self.workdir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                "-search.disableCache",
            ],
            stdout=log,
            stderr=log,
        )
        wait_for(lambda: self._answers(), "VictoriaMetrics to start")
        return self

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=20)
            self._process = None

    def samples(self) -> set[Sample]:
        """Every stored sample: (measurement_field, tags, time in ms, value)."""
        response = httpx.post(f"{self.url}/api/v1/export", data={"match[]": '{__name__!=""}'}, timeout=10)
        response.raise_for_status()
        found: set[Sample] = set()
        for line in response.text.splitlines():
            if not line.strip():
                continue
            item = httpx.Response(200, content=line).json()
            metric = dict(item["metric"])
            name = metric.pop("__name__")
            for ts, value in zip(item["timestamps"], item["values"], strict=True):
                found.add((name, tuple(sorted(metric.items())), int(ts), float(value)))
        return found


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def as_samples(points: list[SinkPoint]) -> set[Sample]:
    """What a point becomes in VictoriaMetrics: one sample per field, named measurement_field, in ms."""
    return {
        (f"{p.measurement}_{name}", tuple(sorted(p.tags.items())), p.ts_ns // 1_000_000, float(value))
        for p in points
        for name, value in p.fields.items()
    }


def expected_from_record(settings: HubSettings, database: str) -> set[Sample]:
    with RecordReader(database) as reader:
        points = record_points(settings, reader, reader.messages_after(0, 1_000_000))
        points += [point_from_alert(row["seq"], row["payload"]) for row in reader.alerts_after(0, 1_000_000)]
        return as_samples(points)


def visit(number: str, desk: str, issued: datetime, waited_min: int, served_min: int) -> list[Envelope]:
    staff = f"cb-{desk}"
    called = issued + timedelta(minutes=waited_min)
    return [
        TicketMessage(ts=issued, site=SITE, desk=desk, event=TicketEvent.ISSUED, ticket=number, service="dat-dai"),
        TicketMessage(ts=called, site=SITE, desk=desk, event=TicketEvent.CALLED, ticket=number, staff=staff),
        TicketMessage(
            ts=called + timedelta(minutes=served_min),
            site=SITE,
            desk=desk,
            event=TicketEvent.FINISHED,
            ticket=number,
            staff=staff,
        ),
    ]


def first_burst(start: datetime) -> list[Envelope]:
    messages: list[Envelope] = []
    messages += visit("0001", "q01", start, 6, 10)
    messages += visit("0002", "q01", start + timedelta(minutes=1), 20, 5)
    messages += visit("0003", "q02", start + timedelta(minutes=2), 3, 8)
    for i, length in enumerate([0, 2, 5, 3, 1]):
        messages.append(
            QueueMessage(
                ts=start + timedelta(minutes=i),
                site=SITE,
                desk="q01",
                length=length,
                est_wait_s=length * 300.0,
                head_wait_s=60.0 * i,
                source=QueueSource.CAMERA,
                present=True,
            )
        )
    for i, score in enumerate([4, 3, 1]):
        messages.append(
            RatingMessage(
                ts=start + timedelta(minutes=20 + i),
                site=SITE,
                desk="q01",
                score=score,
                staff="cb-q01",
                channel=RatingChannel.BUTTON,
            )
        )
    messages += [
        FeedbackMessage(
            ts=start + timedelta(minutes=25), site=SITE, desk="q01", sentiment=Sentiment.POSITIVE, confidence=0.9
        ),
        EmotionMessage(
            ts=start + timedelta(minutes=26),
            site=SITE,
            desk="q02",
            frames=12,
            valence=0.4,
            probabilities={
                "angry": 0.05,
                "disgust": 0.0,
                "fear": 0.02,
                "happy": 0.5,
                "sad": 0.03,
                "surprise": 0.1,
                "neutral": 0.3,
            },
        ),
        HeartbeatMessage(ts=start + timedelta(minutes=27), site=SITE, desk="q01", uptime_s=3600, spool_depth=0),
        StatusMessage(ts=start + timedelta(minutes=28), site=SITE, desk="q02", online=True),
    ]
    return messages


def second_burst(start: datetime) -> list[Envelope]:
    messages: list[Envelope] = visit("0004", "q02", start + timedelta(minutes=40), 9, 4)
    messages += [
        RatingMessage(
            ts=start + timedelta(minutes=55 + i),  # a minute apart: the hub counts closer ones without a ticket once
            site=SITE,
            desk="q02",
            score=4,
            staff="cb-q02",
            channel=RatingChannel.TOUCH,
        )
        for i in range(30)
    ]
    return messages


BURSTS_SPAN = timedelta(minutes=90)  # from the first burst's first message to the second's last


def bursts_start(zone: tzinfo) -> datetime:
    """Two hours ago, or earlier where the bursts would reach past the unit's local midnight: the day's figures
    are read by local date, and a run between midnight and two in the morning in Hà Nội split them over two days
    (it failed in CI at 18:30 UTC)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    day = start.astimezone(zone).date()
    if (start + BURSTS_SPAN).astimezone(zone).date() != day:
        start = datetime(day.year, day.month, day.day, 22, tzinfo=zone).astimezone(UTC)  # ends before midnight
    return start


def sink_status(hub: HubServer) -> dict[str, Any]:
    status: dict[str, Any] = hub.get("/api/v1/health")["influxdb"]
    return status


@pytest.fixture()
def influx(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path / "vm")
    (tmp_path / "vm").mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_points_written_equal_points_read_and_the_sink_catches_up_after_an_outage(
    broker: MosquittoBroker, influx: VictoriaMetrics, record_url: str
) -> None:
    database = record_url  # on SQLite and on PostgreSQL: the sink follows the record by position on both
    data = load_settings().model_dump()
    data["influxdb"] = {
        "url": influx.url,
        "org": "onestop",
        "bucket": "onestop",
        "batch_size": 7,  # several writes per burst
        "flush_interval_s": 0.2,
        "retry_min_s": 0.2,
        "retry_max_s": 1.0,
        "timeout_s": 2,
        "live_interval_s": 0,
    }
    settings = HubSettings.model_validate(data)
    start = bursts_start(settings.zone)
    first, second = first_burst(start), second_burst(start)

    with HubServer(broker, database, client_id="hub-influx", settings=settings) as hub, Publisher(broker) as publisher:
        publisher.send(first)
        hub.wait_until(lambda c: c["accepted"] >= len(first))
        wait_for(lambda: sink_status(hub)["messages_behind"] == 0 and sink_status(hub)["writes"] >= 3, "the sink")
        wait_for(lambda: influx.samples() == expected_from_record(settings, database), "the points to be readable")

        read = influx.samples()
        desk = (("desk", "q01"), ("site", SITE), ("source", "camera"))
        assert sorted(v for n, tags, _, v in read if n == "queue_length" and tags == desk) == [0, 1, 2, 3, 5]
        assert sorted(v for n, _, _, v in read if n == "rating_score") == [1, 3, 4]
        assert sorted(v for n, _, _, v in read if n == "visit_wait_s") == [180, 360, 1200]
        assert sorted(v for n, _, _, v in read if n == "visit_within_target") == [0, 1, 1]
        assert {n for n, *_ in read} >= {"feedback_confidence", "emotion_valence", "device_health_online"}
        # The heartbeats are two hours old: the hub raised node_offline, and the sink copied the alerts too.
        assert {dict(tags)["alert"] for n, tags, _, _ in read if n == "alert_raised"} == {"node_offline"}

        # InfluxDB goes away: ingest goes on, the record stays whole, the sink waits.
        influx.stop()
        publisher.send(second)
        counts = hub.wait_until(lambda c: c["accepted"] >= len(first) + len(second))
        assert counts["accepted"] == len(first) + len(second)
        stats = hub.get(f"/api/v1/sites/{SITE}/stats", date=start.astimezone(settings.zone).date().isoformat())
        assert stats["ratings"] == 33 and stats["transactions"] == 4
        wait_for(lambda: sink_status(hub)["last_error"] is not None, "the sink to notice the outage")
        assert sink_status(hub)["messages_behind"] > 0

        # InfluxDB returns: the sink sends what it missed, from the record.
        influx.start()
        wait_for(lambda: sink_status(hub)["messages_behind"] == 0, "the sink to catch up", timeout=30)
        wait_for(
            lambda: influx.samples() == expected_from_record(settings, database), "the missed points to be readable"
        )
        read = influx.samples()
        assert len([v for n, _, _, v in read if n == "rating_score"]) == 33
        assert sorted(v for n, _, _, v in read if n == "visit_wait_s") == [180, 360, 540, 1200]
        assert sink_status(hub)["last_error"] is None
