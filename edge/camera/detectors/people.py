"""Checks that make a person detector's boxes look like people, learnt from real footage (models/eval/).

- :func:`suppress_covered`: a box mostly covered by higher-scoring boxes is dropped. On real clips NanoDet
  adds a second, lower-scored "person" inside a person's box, or a wide box straddling two people who walk
  side by side; plain NMS keeps both because their IoU with each single box is small. A person half
  hidden behind another in a line keeps their box: only the part of it that others cover counts, and a
  head and shoulders above the one in front leaves most of it uncovered.
- :func:`pair_up`: which boxes a second detector confirms (the second opinion for doubtful scores), and
  :func:`cut_by_edge`: boxes of people cut by the frame's edge, whom SSDLite misses by design, so that a
  missing second opinion is not held against them when they are tall and narrow like a person.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.camera.detections import Detections
from edge.camera.tracking import iou_matrix

_GRID = 8  # sample points per box side when measuring how much of a box others cover


def covered_share(box: npt.NDArray[np.float32], others: npt.NDArray[np.float32]) -> float:
    """Share of ``box`` [4] lying under the union of ``others`` [M, 4], from an 8x8 grid of points."""
    if len(others) == 0:
        return 0.0
    steps = (np.arange(_GRID, dtype=np.float32) + 0.5) / _GRID
    xs = box[0] + steps * (box[2] - box[0])
    ys = box[1] + steps * (box[3] - box[1])
    px, py = np.meshgrid(xs, ys)
    inside = (
        (px[..., None] >= others[:, 0])
        & (px[..., None] <= others[:, 2])
        & (py[..., None] >= others[:, 1])
        & (py[..., None] <= others[:, 3])
    )
    return float(inside.any(axis=2).mean())


def suppress_covered(detections: Detections, max_covered: float) -> Detections:
    """Drop every box of which more than ``max_covered`` lies under higher-scoring kept boxes."""
    if len(detections) < 2 or max_covered >= 1.0:
        return detections
    order = np.argsort(-detections.confidence, kind="stable")
    kept: list[int] = []
    for index in order:
        if covered_share(detections.xyxy[index], detections.xyxy[kept]) <= max_covered:
            kept.append(int(index))
    return detections[sorted(kept)]


def pair_up(boxes: npt.NDArray[np.float32], opinion: Detections, min_iou: float = 0.3) -> list[int | None]:
    """One-to-one matching of the second detector's boxes to ``boxes`` [N, 4], best overlap first: for
    each box, the index of its opinion box (IoU at least ``min_iou``), or None.

    One to one, so that a single wide box over two people (NanoDet on two men side by side) takes one of
    the second detector's two boxes and leaves the other to count as the second person.
    """
    pairs: list[int | None] = [None] * len(boxes)
    if len(boxes) == 0 or len(opinion) == 0:
        return pairs
    overlap = iou_matrix(boxes, opinion.xyxy)
    taken: set[int] = set()
    for flat in np.argsort(-overlap, axis=None):
        row, col = divmod(int(flat), overlap.shape[1])
        if overlap[row, col] < min_iou:
            break
        if pairs[row] is None and col not in taken:
            pairs[row] = col
            taken.add(col)
    return pairs


def cut_by_edge(
    boxes: npt.NDArray[np.float32], width: int, min_aspect: float = 1.5, margin: float = 2.0
) -> npt.NDArray[np.bool_]:
    """Boxes touching the left or right edge that are at least ``min_aspect`` times taller than wide.

    (Not the bottom edge: a small upright thing at the bottom of the frame is more often an object on a
    table than a person, and people close to the camera score high anyway.)
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.bool_)
    touches = (boxes[:, 0] <= margin) | (boxes[:, 2] >= width - margin)
    tall = (boxes[:, 3] - boxes[:, 1]) >= min_aspect * np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
    return np.asarray(touches & tall, dtype=np.bool_)
