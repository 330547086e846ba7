"""Where frames come from: a USB/V4L2 camera, the Pi's CSI camera, an RTSP stream, or a video file.

A live source that drops (cable pulled, camera rebooted, stream gone) is reopened with back-off and its
health says so; frames live only in memory. A file source replays a recording, for the tests, the demo
and the benchmark, with frame times taken from the file so a replay is reproducible.
"""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from protocol.errors import OneStopError

logger = logging.getLogger(__name__)


class SourceError(OneStopError, RuntimeError):
    """A frame source cannot be opened at all (a missing file, an unusable device)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One BGR image and when it was taken, in seconds (monotonic, or video time for a file)."""

    image: npt.NDArray[np.uint8]
    t: float


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What the heartbeat says about the camera."""

    ok: bool
    reconnects: int
    frames: int


class _SourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSourceSettings(_SourceSettings):
    """A recorded video, replayed."""

    type: Literal["file"] = "file"
    path: Path = Field(description="Video file.")
    loop: bool = Field(False, description="Start again at the end (the demo).")
    realtime: bool = Field(False, description="Pace frames at the file's rate instead of as fast as possible.")


class DeviceSourceSettings(_SourceSettings):
    """A USB camera through V4L2."""

    type: Literal["v4l2"] = "v4l2"
    device: str = Field("/dev/video0", description="Device path or index, e.g. /dev/video0 or 0.")
    width: int = Field(640, ge=160, le=3840, description="Requested frame width.")
    height: int = Field(480, ge=120, le=2160, description="Requested frame height.")
    fps: int = Field(10, ge=1, le=60, description="Requested frame rate.")


class RtspSourceSettings(_SourceSettings):
    """An IP camera's RTSP stream; the URL (with its password) comes from the environment."""

    type: Literal["rtsp"] = "rtsp"
    url_env: str = Field("ONESTOP_CAMERA_URL", description="Environment variable holding rtsp://user:pass@host/…")


class CsiSourceSettings(_SourceSettings):
    """The Raspberry Pi camera module through libcamera (Debian's python3-picamera2)."""

    type: Literal["csi"] = "csi"
    width: int = Field(640, ge=160, le=4056, description="Frame width.")
    height: int = Field(480, ge=120, le=3040, description="Frame height.")


SourceSettings = Annotated[
    FileSourceSettings | DeviceSourceSettings | RtspSourceSettings | CsiSourceSettings, Field(discriminator="type")
]


class FrameSource(ABC):
    """Frames one after another."""

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame; None when there is none now (a live source reconnecting) or at a file's end."""

    @property
    @abstractmethod
    def finished(self) -> bool:
        """Whether the source will never give another frame (the end of a file not looped)."""

    @abstractmethod
    def health(self) -> SourceHealth:
        """Whether frames are arriving."""

    @abstractmethod
    def close(self) -> None:
        """Release the camera or file (idempotent)."""


class VideoFileSource(FrameSource):
    """A video file; frame times come from the file (frame index ÷ its frame rate)."""

    def __init__(self, settings: FileSourceSettings) -> None:
        if not settings.path.is_file():
            raise SourceError(f"video file not found: {settings.path}")
        self._settings = settings
        self._capture = cv2.VideoCapture(str(settings.path))
        if not self._capture.isOpened():
            raise SourceError(f"cannot decode video file {settings.path}")
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or 10.0
        self._index = 0
        self._offset = 0.0
        self._finished = False
        self._started = time.monotonic()

    def read(self) -> Frame | None:
        """The next frame of the file."""
        if self._finished:
            return None
        ok, image = self._capture.read()
        if not ok:
            if not self._settings.loop:
                self._finished = True
                return None
            self._offset += self._index / self.fps
            self._index = 0
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._capture.read()
            if not ok:
                self._finished = True
                return None
        t = self._offset + self._index / self.fps
        self._index += 1
        if self._settings.realtime:
            delay = self._started + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return Frame(np.asarray(image, dtype=np.uint8), t)

    @property
    def finished(self) -> bool:
        """At the end of a file that does not loop."""
        return self._finished

    def health(self) -> SourceHealth:
        """A file is healthy until it ends."""
        return SourceHealth(ok=not self._finished, reconnects=0, frames=self._index)

    def close(self) -> None:
        """Release the file."""
        self._capture.release()


class CaptureSource(FrameSource):
    """A live camera or stream through OpenCV, reopened with back-off when it drops."""

    def __init__(self, target: str | int, options: dict[int, float] | None = None, max_backoff_s: float = 30.0):
        self._target = target
        self._options = options or {}
        self._max_backoff = max_backoff_s
        self._capture: cv2.VideoCapture | None = None
        self._retry_at = 0.0
        self._backoff = 1.0
        self._reconnects = 0
        self._frames = 0
        self._last_frame_at: float | None = None
        self._open()

    def _open(self) -> None:
        capture = cv2.VideoCapture(self._target)
        for prop, value in self._options.items():
            capture.set(prop, value)
        if capture.isOpened():
            self._capture = capture
            self._backoff = 1.0
        else:
            capture.release()
            self._capture = None
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, self._max_backoff)

    def read(self) -> Frame | None:
        """The next frame, or None while the camera is away (it is reopened with back-off)."""
        if self._capture is None:
            if time.monotonic() < self._retry_at:
                time.sleep(0.05)
                return None
            self._reconnects += 1
            logger.info("reopening the camera (attempt %d)", self._reconnects)
            self._open()
            return None
        ok, image = self._capture.read()
        if not ok or image is None:
            logger.warning("the camera stopped delivering frames; reopening")
            self._capture.release()
            self._capture = None
            self._retry_at = time.monotonic() + self._backoff
            return None
        self._frames += 1
        self._last_frame_at = time.monotonic()
        return Frame(np.asarray(image, dtype=np.uint8), self._last_frame_at)

    @property
    def finished(self) -> bool:
        """A live source never finishes."""
        return False

    def health(self) -> SourceHealth:
        """Frames arrived within the last five seconds."""
        fresh = self._last_frame_at is not None and time.monotonic() - self._last_frame_at < 5
        return SourceHealth(ok=fresh, reconnects=self._reconnects, frames=self._frames)

    def close(self) -> None:
        """Release the camera."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class PiCameraSource(FrameSource):
    """The CSI camera module through picamera2 (installed from Debian: python3-picamera2)."""

    def __init__(self, settings: CsiSourceSettings) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as error:
            raise SourceError(
                "camera type csi needs Debian's python3-picamera2 (apt install python3-picamera2)"
            ) from error
        self._camera: Any = Picamera2()
        config = self._camera.create_video_configuration(
            main={"size": (settings.width, settings.height), "format": "BGR888"}
        )
        self._camera.configure(config)
        self._camera.start()
        self._frames = 0
        self._last: float | None = None

    def read(self) -> Frame | None:
        """The next frame from libcamera."""
        image = self._camera.capture_array()
        self._frames += 1
        self._last = time.monotonic()
        return Frame(np.ascontiguousarray(image[:, :, :3]), self._last)

    @property
    def finished(self) -> bool:
        """A live source never finishes."""
        return False

    def health(self) -> SourceHealth:
        """Frames arrived within the last five seconds."""
        return SourceHealth(self._last is not None and time.monotonic() - self._last < 5, 0, self._frames)

    def close(self) -> None:
        """Stop the camera."""
        self._camera.stop()


def open_source(
    settings: FileSourceSettings | DeviceSourceSettings | RtspSourceSettings | CsiSourceSettings,
) -> FrameSource:
    """Open the source the configuration describes.

    Raises:
        SourceError: a missing file, a missing RTSP URL, or no picamera2 for a CSI camera.
    """
    if isinstance(settings, FileSourceSettings):
        return VideoFileSource(settings)
    if isinstance(settings, DeviceSourceSettings):
        target: str | int = int(settings.device) if settings.device.isdigit() else settings.device
        return CaptureSource(
            target,
            {
                cv2.CAP_PROP_FRAME_WIDTH: settings.width,
                cv2.CAP_PROP_FRAME_HEIGHT: settings.height,
                cv2.CAP_PROP_FPS: settings.fps,
            },
        )
    if isinstance(settings, RtspSourceSettings):
        url = os.environ.get(settings.url_env)
        if not url:
            raise SourceError(f"camera type rtsp needs the stream URL in the environment variable {settings.url_env}")
        return CaptureSource(url)
    return PiCameraSource(settings)
