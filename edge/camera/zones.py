"""Typed polygon zones in 0–1 frame coordinates, and which detections stand in them.

A person stands where their feet are: membership is tested on the bottom-centre of the box. Zones are
validated when configured (at least three points, inside the frame, not degenerate), so a technician's
typo stops the agent with the key named instead of silently counting nobody.
"""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.camera.detections import Detections


class ZoneKind(StrEnum):
    """What a zone is for."""

    QUEUE = "queue"
    SERVICE = "service"
    STAFF = "staff"
    TICKET_MACHINE = "ticket_machine"


class ZoneConfig(BaseModel):
    """A polygon drawn on the camera image, in fractions of its width and height (0–1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    polygon: list[tuple[float, float]] = Field(
        description="Corners [[x, y], …] in 0–1 of the frame's width and height, in drawing order."
    )

    @field_validator("polygon")
    @classmethod
    def _valid_polygon(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if len(points) < 3:
            raise ValueError(f"a zone needs at least 3 corners, found {len(points)}")
        for x, y in points:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"corner ({x}, {y}) is outside the frame: coordinates are fractions from 0 to 1")
        area = abs(_signed_area(np.asarray(points, dtype=np.float64)))
        if area < 1e-4:
            raise ValueError("the zone has (almost) no area: check the order and values of its corners")
        return points


def _signed_area(points: npt.NDArray[np.float64]) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


class Zone:
    """A zone scaled to a frame size."""

    def __init__(self, kind: ZoneKind, config: ZoneConfig, width: int, height: int) -> None:
        self.kind = kind
        self.polygon = (np.asarray(config.polygon, dtype=np.float32) * np.array([width, height], np.float32)).reshape(
            -1, 1, 2
        )

    def contains(self, points: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        """Which ``[N, 2]`` pixel points lie inside (or on the border of) the zone."""
        return np.array(
            [cv2.pointPolygonTest(self.polygon, (float(x), float(y)), False) >= 0 for x, y in points], dtype=np.bool_
        )


def feet(detections: Detections) -> npt.NDArray[np.float32]:
    """Bottom-centre of each box ``[N, 2]``: where a standing person is."""
    xyxy = detections.xyxy
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1).astype(np.float32)
