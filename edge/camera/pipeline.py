"""The desk camera, as a sequence of small stages: frame → people (detector) → tracks → zones → queue
figures and events → (for the citizen being served) face → emotion, averaged over the service.

Only numbers leave this module: the queue snapshot (to the agent's queue fusion) and one ``emotion``
message per finished service. Frames and face crops exist only in memory while a frame is processed.
The face search runs only inside the box of the person standing in the service zone, on the citizen's
side of the counter; people in the staff zone are counted for presence and never looked at further.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from edge.camera.detections import Detections
from edge.camera.detectors import Detector, NanoDetConfig, SsdLiteConfig, build_detector
from edge.camera.detectors.config import BlazeFaceConfig
from edge.camera.detectors.people import cut_by_edge, pair_up, suppress_covered
from edge.camera.emotion import EMOTION_CLASSES, EmotionClassifier, valence
from edge.camera.queue_monitor import (
    QueueEvent,
    QueueMonitor,
    QueueSnapshot,
    ReachedTicketMachine,
    ServiceEnded,
    WalkedOut,
)
from edge.camera.sources import Frame, FrameSource, SourceSettings
from edge.camera.tracking import Tracker
from edge.camera.zones import Zone, ZoneConfig, ZoneKind
from protocol.messages import EmotionMessage, LineEvent, LineMessage

logger = logging.getLogger(__name__)

MAX_LINE_S = 12 * 3600  # the protocol's bound on a line message's duration


class CameraZones(BaseModel):
    """The polygons a technician draws on the camera image (0–1 coordinates)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: ZoneConfig = Field(description="Where citizens wait in line.")
    service: ZoneConfig = Field(description="In front of the counter, where the citizen being served stands.")
    staff: ZoneConfig | None = Field(None, description="Behind the counter: presence of an officer only.")
    ticket_machine: ZoneConfig | None = Field(
        None,
        description="Around the ticket machine, where it stands inside the queue zone: the wait before the ticket.",
    )


class LineSettings(BaseModel):
    """Walk-outs and the wait before the ticket: counts and durations only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Send walk-outs and pre-ticket waits (kind line).")
    walkout_min_dwell_s: float = Field(
        30, ge=0, le=3600, description="A person must stand in the line this long before leaving counts as a walk-out."
    )


class EmotionSettings(BaseModel):
    """Emotion of the citizen being served (never of the staff)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Switch emotion reading off entirely.")
    every_n_frames: int = Field(3, ge=1, description="Read the face every n-th processed frame.")
    min_frames: int = Field(1, ge=1, description="Send an emotion message only with at least this many readings.")
    face: BlazeFaceConfig = Field(
        # 0.65 rather than MediaPipe's 0.5: on the real photos of models/eval/ the back of a head scored
        # 0.52-0.60 and every real face 0.74 or more.
        default_factory=lambda: BlazeFaceConfig(type="blazeface", score_threshold=0.65),
        description="The face detector (searched only in the head part of a counted person's box).",
    )


class PeopleSettings(BaseModel):
    """When a detection counts as a person (see models/eval/ for the footage these defaults come from)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_covered: float = Field(
        0.6, ge=0.0, le=1.0, description="Drop a box when more than this share of it lies under higher-scoring boxes."
    )
    confident_score: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="A person scored at least this once, in a box taller than wide, counts without a second opinion.",
    )
    second_opinion: bool = Field(
        True, description="Ask the other person detector about doubtful people (score below confident_score)."
    )
    second_opinion_score: float = Field(0.3, ge=0.0, le=1.0, description="Lowest score of the second detector.")
    second_opinion_add_score: float = Field(
        0.9, ge=0.0, le=1.0, description="A second-detector person this sure, paired with no one, is counted too."
    )
    second_opinion_every_n_frames: int = Field(
        3, ge=1, description="Run the second detector at most every n-th processed frame (it costs a detection)."
    )
    second_opinion_sweep_every_n_frames: int = Field(
        10, ge=1, description="Run the second detector unasked every n-th frame, to find people the first missed."
    )
    min_hits: int = Field(2, ge=1, description="Frames a person must be seen in before they count.")
    grace_s: float = Field(1.0, gt=0, description="Forget a person unseen for this long.")


class CameraSettings(BaseModel):
    """The desk camera: source, person detector, zones, emotion."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: SourceSettings = Field(description="Where frames come from (file, v4l2, rtsp, csi).")
    detector: NanoDetConfig | SsdLiteConfig = Field(
        default_factory=lambda: NanoDetConfig(type="nanodet"),
        discriminator="type",
        description="Person detector: nanodet (accurate) or ssdlite (fast).",
    )
    zones: CameraZones = Field(description="Queue, service and optional staff zones.")
    emotion: EmotionSettings = Field(default_factory=EmotionSettings, description="Citizen emotion.")
    line: LineSettings = Field(default_factory=LineSettings, description="Walk-outs and the wait before the ticket.")
    people: PeopleSettings = Field(default_factory=PeopleSettings, description="When a detection is a person.")
    max_fps: float = Field(5, gt=0, le=30, description="Process at most this many frames a second.")
    snapshot_interval_s: float = Field(1, gt=0, description="How often the queue figures go to the agent.")


@dataclass(frozen=True, slots=True)
class CameraFigures:
    """Health figures of the pipeline for the heartbeat."""

    fps: float
    model_latency_ms: float
    camera_ok: bool


def head_region(image: npt.NDArray[np.uint8], box: npt.NDArray[np.float32]) -> tuple[int, int, int, int] | None:
    """The upper part of a person's box where the face is searched (pixels, clipped); None when too small.

    A whole standing body (box at least 1.8 times taller than wide) has its head in the top 45 %; a shorter
    box is a head and shoulders or an upper body close to the camera, whose face may reach lower (a portrait
    of the held-out set had its chin at 88 % of the box), so the top 90 % is searched.
    """
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (int(v) for v in box)
    share = 0.45 if (y2 - y1) >= 1.8 * (x2 - x1) else 0.9
    head_bottom = y1 + int((y2 - y1) * share)
    x1, y1, x2, head_bottom = max(0, x1), max(0, y1), min(width, x2), min(height, head_bottom)
    if x2 - x1 < 8 or head_bottom - y1 < 8:
        return None
    return x1, y1, x2, head_bottom


class ServiceEmotion:
    """Averages the emotion of each citizen over their service."""

    def __init__(self, faces: Detector, classifier: EmotionClassifier) -> None:
        self._faces = faces
        self._classifier = classifier
        self._sums: dict[int, npt.NDArray[np.float64]] = {}
        self._counts: dict[int, int] = {}

    def observe(self, track_id: int, image: npt.NDArray[np.uint8], box: npt.NDArray[np.float32]) -> bool:
        """Read the face in the upper part of a person's box; True when a face was read."""
        head = head_region(image, box)
        if head is None:
            return False
        x1, y1, x2, y2 = head
        region = np.ascontiguousarray(image[y1:y2, x1:x2])
        faces: Detections = self._faces.detect(region)
        if len(faces) == 0:
            return False
        areas = (faces.xyxy[:, 2] - faces.xyxy[:, 0]) * (faces.xyxy[:, 3] - faces.xyxy[:, 1])
        probabilities = self._classifier.classify(region, faces[[int(np.argmax(areas))]])[0]
        self._sums[track_id] = self._sums.get(track_id, np.zeros(len(EMOTION_CLASSES))) + probabilities
        self._counts[track_id] = self._counts.get(track_id, 0) + 1
        return True

    def finish(self, track_id: int) -> tuple[int, npt.NDArray[np.float64]] | None:
        """Readings and mean probabilities of a finished service (and forget them)."""
        count = self._counts.pop(track_id, 0)
        total = self._sums.pop(track_id, None)
        if not count or total is None:
            return None
        return count, total / count


class CameraPipeline:
    """Runs the stages on each frame and hands numbers to the agent."""

    def __init__(
        self,
        settings: CameraSettings,
        site: str,
        desk: str,
        detector: Detector,
        emotion: ServiceEmotion | None,
        on_snapshot: Callable[[QueueSnapshot], None] = lambda s: None,
        on_emotion: Callable[[EmotionMessage], None] = lambda m: None,
        on_line: Callable[[LineMessage], None] = lambda m: None,
        second_opinion: Detector | None = None,
    ) -> None:
        self.settings = settings
        self._on_line = on_line
        self._site, self._desk = site, desk
        self._detector = detector
        self._second = second_opinion
        self._emotion = emotion
        self._on_snapshot = on_snapshot
        self._on_emotion = on_emotion
        people = settings.people
        # Without a second detector, a doubtful person is never verified: only confident ones count.
        self._tracker = Tracker(grace_s=people.grace_s, min_hits=people.min_hits, verified_score=people.confident_score)
        self._last_opinion_frame: int | None = None
        self._found_by_second: set[int] = set()
        self._monitor: QueueMonitor | None = None
        self._frames = 0
        self._last_snapshot_at: float | None = None
        self._latencies: list[float] = []
        self._frame_times: list[float] = []
        self.snapshot: QueueSnapshot | None = None

    @classmethod
    def build(
        cls,
        settings: CameraSettings,
        site: str,
        desk: str,
        on_snapshot: Callable[[QueueSnapshot], None] = lambda s: None,
        on_emotion: Callable[[EmotionMessage], None] = lambda m: None,
        on_line: Callable[[LineMessage], None] = lambda m: None,
    ) -> CameraPipeline:
        """Load the models the settings name (each warms up once)."""
        emotion = None
        if settings.emotion.enabled:
            emotion = ServiceEmotion(build_detector(settings.emotion.face), EmotionClassifier())
        second = None
        if settings.people.second_opinion:
            other = SsdLiteConfig if isinstance(settings.detector, NanoDetConfig) else NanoDetConfig
            second = build_detector(
                other(score_threshold=settings.people.second_opinion_score, threads=settings.detector.threads)
            )
        detector = build_detector(settings.detector)
        return cls(settings, site, desk, detector, emotion, on_snapshot, on_emotion, on_line, second)

    def _zones(self, width: int, height: int) -> dict[ZoneKind, Zone]:
        configured = {ZoneKind.QUEUE: self.settings.zones.queue, ZoneKind.SERVICE: self.settings.zones.service}
        if self.settings.zones.staff is not None:
            configured[ZoneKind.STAFF] = self.settings.zones.staff
        if self.settings.zones.ticket_machine is not None:
            configured[ZoneKind.TICKET_MACHINE] = self.settings.zones.ticket_machine
        return {kind: Zone(kind, zone, width, height) for kind, zone in configured.items()}

    def process(self, frame: Frame) -> tuple[QueueSnapshot, list[QueueEvent]]:
        """Run every stage on one frame; return the queue now and what happened in this frame."""
        if self._monitor is None:
            height, width = frame.image.shape[:2]
            self._monitor = QueueMonitor(
                self._zones(width, height), walkout_min_dwell_s=self.settings.line.walkout_min_dwell_s
            )
        started = time.perf_counter()
        people = self._detector.detect(frame.image)
        self._latencies.append((time.perf_counter() - started) * 1000)
        people = suppress_covered(people, self.settings.people.max_covered)
        tracks = self._tracker.update(people, frame.t)
        self._second_opinion(frame)
        snapshot, events = self._monitor.update(tracks, frame.t)
        if self._emotion is not None and self._frames % self.settings.emotion.every_n_frames == 0:
            boxes = {track.id: track.xyxy for track in tracks}
            for track_id in snapshot.in_service:
                if track_id in boxes:
                    self._emotion.observe(track_id, frame.image, boxes[track_id])
        for event in events:
            if isinstance(event, ServiceEnded) and self._emotion is not None:
                self._publish_emotion(event.track_id)
            elif isinstance(event, WalkedOut | ReachedTicketMachine) and self.settings.line.enabled:
                self._publish_line(event)
        self._frames += 1
        self._frame_times.append(time.perf_counter())
        self.snapshot = snapshot
        if self._last_snapshot_at is None or frame.t - self._last_snapshot_at >= self.settings.snapshot_interval_s:
            self._last_snapshot_at = frame.t
            self._on_snapshot(snapshot)
        return snapshot, events

    def _second_opinion(self, frame: Frame) -> None:
        """Verify doubtful people, and find people the detector missed.

        A doubtful person (seen, not yet verified) is verified when cut by the frame's left or right edge
        and shaped like a person, or when the second detector has a box paired with theirs. The second
        detector runs at most every n-th frame, and only while someone waits for its opinion or a person
        only it found is still in view; its confident boxes (``add_score``) paired with nobody are people
        the first detector missed or merged with a neighbour, and are tracked like any other. Every
        ``second_opinion_sweep_every_n_frames`` it also runs unasked, to find people the first detector
        misses entirely (a man seen from the side, in a grey photo).
        """
        waiting = self._tracker.unverified(frame.t)
        if waiting:
            edge = cut_by_edge(np.stack([track.xyxy for track in waiting]), frame.image.shape[1])
            self._tracker.verify({track.id for track, cut in zip(waiting, edge, strict=True) if cut}, set())
            waiting = [track for track, cut in zip(waiting, edge, strict=True) if not cut]
        alive = {track.id for track in self._tracker.tracks}
        self._found_by_second &= alive
        people = self.settings.people
        since = None if self._last_opinion_frame is None else self._frames - self._last_opinion_frame
        wanted = waiting or self._found_by_second
        if (
            self._second is None
            or (since is not None and since < people.second_opinion_every_n_frames)
            or (not wanted and since is not None and since < people.second_opinion_sweep_every_n_frames)
        ):
            return
        self._last_opinion_frame = self._frames
        opinion = self._second.detect(frame.image)
        seen = [track for track in self._tracker.tracks if track.last_seen == frame.t]
        pairs = pair_up(np.stack([t.xyxy for t in seen]) if seen else np.zeros((0, 4), np.float32), opinion)
        self._tracker.verify(
            {track.id for track, pair in zip(seen, pairs, strict=True) if pair is not None},
            {track.id for track in waiting},
        )
        paired = {pair for pair in pairs if pair is not None}
        missed = [
            k
            for k in range(len(opinion))
            if k not in paired and opinion.confidence[k] >= self.settings.people.second_opinion_add_score
        ]
        if missed:
            self._found_by_second |= set(self._tracker.add_verified(opinion[missed], frame.t))

    def _publish_emotion(self, track_id: int) -> None:
        assert self._emotion is not None
        result = self._emotion.finish(track_id)
        if result is None or result[0] < self.settings.emotion.min_frames:
            return
        count, mean = result
        probabilities = {name: round(float(p), 4) for name, p in zip(EMOTION_CLASSES, mean, strict=True)}
        drift = 1.0 - sum(probabilities.values())  # rounding: keep the sum at 1 for the protocol's check
        probabilities["neutral"] = round(probabilities["neutral"] + drift, 4)
        self._on_emotion(
            EmotionMessage(
                site=self._site,
                desk=self._desk,
                frames=count,
                probabilities=probabilities,
                valence=max(-1.0, min(1.0, valence(mean))),
            )
        )

    def _publish_line(self, event: WalkedOut | ReachedTicketMachine) -> None:
        if isinstance(event, WalkedOut):
            kind, duration = LineEvent.WALKOUT, event.in_line_s
        else:
            kind, duration = LineEvent.PRE_TICKET_WAIT, event.wait_s
        if duration > MAX_LINE_S:  # half a day "in line" is a poster or a plant the detector took for a person
            logger.info("ignored a %s of %.0f s: longer than anyone queues", kind.value, duration)
            return
        self._on_line(LineMessage(site=self._site, desk=self._desk, event=kind, duration_s=round(duration, 2)))

    def figures(self, camera_ok: bool) -> CameraFigures:
        """Frames per second and mean detector latency over the last frames."""
        recent = self._frame_times[-50:]
        fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
        latency = sum(self._latencies[-50:]) / len(self._latencies[-50:]) if self._latencies else 0.0
        del self._frame_times[:-50], self._latencies[:-50]
        return CameraFigures(round(fps, 2), round(latency, 1), camera_ok)

    def run(
        self,
        source: FrameSource,
        stop: threading.Event,
        on_figures: Callable[[CameraFigures], None] = lambda f: None,
    ) -> None:
        """Process frames until ``stop`` is set or the source ends, at most ``max_fps`` a second."""
        interval = 1.0 / self.settings.max_fps
        last_processed = -1e9
        last_figures = time.monotonic()
        while not stop.is_set() and not source.finished:
            frame = source.read()
            if frame is not None and frame.t - last_processed >= interval * 0.999:
                last_processed = frame.t
                self.process(frame)
            if time.monotonic() - last_figures >= 5:
                last_figures = time.monotonic()
                on_figures(self.figures(source.health().ok))
