"""MediaPipe BlazeFace back-camera face detector (``models/face_blazeface_back.onnx``, see its model card).

The back-camera variant looks for faces that are small in the frame (people a few metres from a desk
camera), unlike the selfie-oriented front model. Its six facial keypoints are dropped: nothing downstream
needs them, and keeping less about a face is the point.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.camera.detections import Detections
from edge.camera.detectors.base import OnnxDetector, clip_boxes, nms

logger = logging.getLogger(__name__)

_SIZE = 256
_ANCHORS = 896
# Logits are clipped before the sigmoid as MediaPipe does, so exp() cannot overflow.
_LOGIT_LIMIT = 80.0


def _anchor_centres() -> npt.NDArray[np.float32]:
    """MediaPipe's SSD anchors for this model: strides 16, 32, 32, 32 on a 256-px input.

    The three stride-32 layers share one 8x8 grid, so the 16x16 grid has 2 anchors per cell and the 8x8
    grid 6; every anchor has the fixed size 1, so only the centres matter.
    """
    centres = []
    for grid, per_cell in ((16, 2), (8, 6)):
        y, x = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(x.ravel() + 0.5) / grid, (y.ravel() + 0.5) / grid], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
    result = np.concatenate(centres).astype(np.float32)
    assert result.shape == (_ANCHORS, 2)
    return result


class BlazeFaceDetector(OnnxDetector):
    """Faces in a frame, with MediaPipe BlazeFace (back camera, 256x256; about 8 ms on one x86 core).

    The frame is letterboxed (centred, black borders) to a square and resized to 256x256, keeping its
    aspect ratio as MediaPipe does. ``class_id`` is always 0 (face).

    Args:
        model_path: the ONNX file; ``None`` loads ``models/face_blazeface_back.onnx``.
        score_threshold: lowest face score kept (MediaPipe's 0.5 by default).
        iou_threshold: NMS IoU above which the lower-scored box is dropped (MediaPipe's 0.3).
        max_detections: most faces returned per frame.
        threads: onnxruntime intra-op threads.

    Raises:
        ModelLoadError: the model is missing, unreadable or not BlazeFace back.
    """

    class_names = ("face",)
    model_file = "face_blazeface_back.onnx"
    model_inputs = {"image": (1, _SIZE, _SIZE, 3)}
    model_outputs = {"regressors": (1, _ANCHORS, 16), "classificators": (1, _ANCHORS, 1)}

    #: Side of the square input, pixels (a subclass for another BlazeFace variant changes it and the anchors).
    input_size: ClassVar[int] = _SIZE

    DEFAULT_SCORE_THRESHOLD: ClassVar[float] = 0.5
    DEFAULT_IOU_THRESHOLD: ClassVar[float] = 0.3

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        iou_threshold: float = DEFAULT_IOU_THRESHOLD,
        max_detections: int = 100,
        threads: int = 1,
    ) -> None:
        self._anchors = self._anchor_centres()
        self._canvas = np.zeros((self.input_size, self.input_size, 3), dtype=np.uint8)
        super().__init__(
            model_path,
            score_threshold=score_threshold,
            iou_threshold=iou_threshold,
            max_detections=max_detections,
            threads=threads,
        )

    def _anchor_centres(self) -> npt.NDArray[np.float32]:
        return _anchor_centres()

    def _detect(self, session: ort.InferenceSession, frame: npt.NDArray[np.uint8]) -> Detections:
        size = self.input_size
        height, width = frame.shape[:2]
        scale = size / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        left, top = (size - new_w) // 2, (size - new_h) // 2
        canvas = self._canvas
        canvas.fill(0)
        canvas[top : top + new_h, left : left + new_w] = cv2.resize(
            frame, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        )
        rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        tensor = (rgb.astype(np.float32) * (1.0 / 127.5) - 1.0)[np.newaxis]
        regressors, logits = self._run(session, tensor)

        logit = np.clip(logits[0, :, 0], -_LOGIT_LIMIT, _LOGIT_LIMIT)
        score = 1.0 / (1.0 + np.exp(-logit))
        keep = np.flatnonzero(score >= self.score_threshold)
        if keep.size == 0:
            return Detections.empty()
        reg = regressors[0, keep, :4] / size
        centre = reg[:, :2] + self._anchors[keep]
        half = reg[:, 2:4] / 2.0
        # Normalised letterbox coordinates -> letterbox pixels -> frame pixels.
        xyxy = np.concatenate([centre - half, centre + half], axis=1) * size
        xyxy -= np.array([left, top, left, top], dtype=np.float32)
        xyxy = (xyxy / np.array([new_w / width, new_h / height] * 2, dtype=np.float32)).astype(np.float32)
        clip_boxes(xyxy, width, height)
        confidence = score[keep].astype(np.float32)
        kept = nms(xyxy, confidence, self.iou_threshold, self.max_detections)
        return Detections(xyxy=xyxy[kept], confidence=confidence[kept], class_id=np.zeros(len(kept), np.int64))
