"""Candidate models compared on the real-footage set (evaluation only: the desk agent does not load them).

Each adapter turns one candidate's ONNX outputs into :class:`~edge.camera.detections.Detections`, the same
type the shipped detectors return, so ``evaluate.py`` scores them exactly like the shipped ones. The files
live in ``models/candidates/``; their sources, commits and licences are on their cards there.

- :class:`YuNetFaceDetector`: YuNet-n (libfacedetection.train, ``onnx/yunet_n_640_640.onnx``), decoded as
  OpenCV's ``FaceDetectorYN`` does (score = sqrt(cls × obj), box from the cell, ``exp`` of the size).
- :class:`YoloxNanoPersonDetector`: YOLOX-nano 416 (``model/yolox_nano.onnx`` of a YOLOX ONNX sample
  repository, exported from Megvii's weights), raw head outputs decoded with the grid, person class only.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.camera.detections import Detections
from edge.camera.detectors.base import OnnxDetector, clip_boxes, nms
from edge.camera.detectors.blazeface import BlazeFaceDetector

CANDIDATES = Path(__file__).resolve().parents[1] / "candidates"


def _letterbox_top_left(frame: npt.NDArray[np.uint8], size: int, fill: int) -> tuple[npt.NDArray[np.uint8], float]:
    """The frame scaled to fit a size×size square at its top-left corner; the rest ``fill``; the scale."""
    height, width = frame.shape[:2]
    scale = min(size / width, size / height)
    resized = cv2.resize(
        frame, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_LINEAR
    )
    canvas = np.full((size, size, 3), fill, np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    return canvas, scale


def _grid(size: int, stride: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    cells = size // stride
    rows, cols = np.divmod(np.arange(cells * cells, dtype=np.float32), cells)
    return cols, rows


class YuNetFaceDetector(OnnxDetector):
    """YuNet-n face detector at 640×640 (letterboxed), OpenCV ``FaceDetectorYN``'s decoding."""

    class_names: ClassVar[tuple[str, ...]] = ("face",)
    model_file = "candidates/face_yunet_n_640.onnx"
    _SIZE = 640
    _STRIDES = (8, 16, 32)
    model_inputs = {"input": (1, 3, _SIZE, _SIZE)}
    model_outputs = {
        **{f"cls_{s}": (1, (640 // s) ** 2, 1) for s in _STRIDES},
        **{f"obj_{s}": (1, (640 // s) ** 2, 1) for s in _STRIDES},
        **{f"bbox_{s}": (1, (640 // s) ** 2, 4) for s in _STRIDES},
    }

    def __init__(self, model_path: str | Path | None = None, *, score_threshold: float = 0.9, **kwargs: object) -> None:
        path = model_path or CANDIDATES / "face_yunet_n_640.onnx"
        super().__init__(path, score_threshold=score_threshold, iou_threshold=0.3, **kwargs)  # type: ignore[arg-type]

    def _detect(self, session: ort.InferenceSession, frame: npt.NDArray[np.uint8]) -> Detections:
        canvas, scale = _letterbox_top_left(frame, self._SIZE, 0)
        tensor = canvas.transpose(2, 0, 1)[None].astype(np.float32)  # BGR, 0-255, as FaceDetectorYN feeds it
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": tensor}), strict=True))
        boxes, scores = [], []
        for stride in self._STRIDES:
            score = np.sqrt(
                np.clip(outputs[f"cls_{stride}"][0, :, 0], 0, 1) * np.clip(outputs[f"obj_{stride}"][0, :, 0], 0, 1)
            )
            keep = score >= self.score_threshold
            if not keep.any():
                continue
            cols, rows = _grid(self._SIZE, stride)
            reg = outputs[f"bbox_{stride}"][0][keep]
            cx, cy = (cols[keep] + reg[:, 0]) * stride, (rows[keep] + reg[:, 1]) * stride
            w, h = np.exp(reg[:, 2]) * stride, np.exp(reg[:, 3]) * stride
            boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
            scores.append(score[keep])
        if not boxes:
            return Detections.empty()
        xyxy = clip_boxes(np.concatenate(boxes).astype(np.float32) / scale, frame.shape[1], frame.shape[0])
        confidence = np.concatenate(scores).astype(np.float32)
        kept = nms(xyxy, confidence, self.iou_threshold, self.max_detections)
        return Detections(xyxy[kept], confidence[kept], np.zeros(len(kept), np.int64))


class YoloxNanoPersonDetector(OnnxDetector):
    """YOLOX-nano 416 (COCO), person class; letterbox to the top-left with grey 114, raw 0-255 BGR input."""

    class_names: ClassVar[tuple[str, ...]] = ("person",)
    model_file = "candidates/person_yolox_nano.onnx"
    _SIZE = 416
    _STRIDES = (8, 16, 32)
    model_inputs = {"images": (1, 3, _SIZE, _SIZE)}
    model_outputs = {"output": (1, 3549, 85)}

    def __init__(self, model_path: str | Path | None = None, *, score_threshold: float = 0.3, **kwargs: object) -> None:
        path = model_path or CANDIDATES / "person_yolox_nano.onnx"
        super().__init__(path, score_threshold=score_threshold, iou_threshold=0.45, **kwargs)  # type: ignore[arg-type]
        grids = [_grid(self._SIZE, s) for s in self._STRIDES]
        self._cells = np.concatenate([np.stack(g, axis=1) for g in grids]).astype(np.float32)
        self._strides = np.concatenate([np.full((self._SIZE // s) ** 2, s, np.float32) for s in self._STRIDES])

    def _detect(self, session: ort.InferenceSession, frame: npt.NDArray[np.uint8]) -> Detections:
        if not hasattr(self, "_cells"):  # the warm-up run inside OnnxDetector.__init__
            return Detections.empty()
        canvas, scale = _letterbox_top_left(frame, self._SIZE, 114)
        tensor = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        raw = self._run(session, tensor)[0][0]
        score = raw[:, 4] * raw[:, 5]  # objectness × person
        keep = score >= self.score_threshold
        if not keep.any():
            return Detections.empty()
        centre = (raw[keep, :2] + self._cells[keep]) * self._strides[keep, None]
        size = np.exp(raw[keep, 2:4]) * self._strides[keep, None]
        xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(np.float32) / scale
        xyxy = clip_boxes(xyxy, frame.shape[1], frame.shape[0])
        confidence = score[keep].astype(np.float32)
        kept = nms(xyxy, confidence, self.iou_threshold, self.max_detections)
        return Detections(xyxy[kept], confidence[kept], np.zeros(len(kept), np.int64))


class BlazeFaceFullRangeDetector(BlazeFaceDetector):
    """MediaPipe BlazeFace full-range (192×192, one anchor per cell of a 48×48 grid), pre- and post-processed
    as the shipped back-camera BlazeFace is: centred letterbox, RGB in [-1, 1], sigmoid of the clipped logit."""

    model_file = "candidates/face_blazeface_full_range.onnx"
    input_size = 192
    _GRID = 48
    model_inputs = {"input": (1, 192, 192, 3)}
    model_outputs = {"reshaped_regressor_face_4": (1, 2304, 16), "reshaped_classifier_face_4": (1, 2304, 1)}

    def __init__(self, model_path: str | Path | None = None, *, score_threshold: float = 0.5) -> None:
        path = model_path or CANDIDATES / "face_blazeface_full_range.onnx"
        super().__init__(path, score_threshold=score_threshold)

    def _anchor_centres(self) -> npt.NDArray[np.float32]:
        cols, rows = _grid(self.input_size, self.input_size // self._GRID)
        return ((np.stack([cols, rows], axis=1) + 0.5) / self._GRID).astype(np.float32)


class MoveNetMultiPosePersonDetector(OnnxDetector):
    """MoveNet multipose lightning (at most 6 people): the person boxes of its output, keypoints dropped.

    The frame is letterboxed (centred, black) to 256×256 RGB int32, as the TF.js demos feed it. Each of the 6
    output rows holds 17 keypoints (y, x, score) and then a box (ymin, xmin, ymax, xmax, score), normalised to
    the input square. The file is about 19 MB, too big to commit: build_candidate_models.sh makes it.
    """

    class_names: ClassVar[tuple[str, ...]] = ("person",)
    model_file = "candidates/person_movenet_multipose.onnx"
    _SIZE = 256
    model_inputs = {"input": (1, "height", "width", 3)}
    model_outputs = {"output_0": (1, 6, 56)}

    def __init__(self, model_path: str | Path | None = None, *, score_threshold: float = 0.3, **kwargs: object) -> None:
        path = model_path or CANDIDATES / "person_movenet_multipose.onnx"
        super().__init__(path, score_threshold=score_threshold, iou_threshold=0.5, **kwargs)  # type: ignore[arg-type]

    def _detect(self, session: ort.InferenceSession, frame: npt.NDArray[np.uint8]) -> Detections:
        height, width = frame.shape[:2]
        size = self._SIZE
        scale = size / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        left, top = (size - new_w) // 2, (size - new_h) // 2
        canvas = np.zeros((size, size, 3), np.uint8)
        canvas[top : top + new_h, left : left + new_w] = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
        tensor = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.int32)[None]  # centred, as in the TF.js demos
        rows = self._run(session, tensor)[0][0]
        keep = rows[:, 55] >= self.score_threshold
        if not keep.any():
            return Detections.empty()
        box = rows[keep, 51:55] * size  # ymin, xmin, ymax, xmax in letterbox pixels
        xyxy = np.stack([box[:, 1] - left, box[:, 0] - top, box[:, 3] - left, box[:, 2] - top], axis=1) / scale
        xyxy = clip_boxes(xyxy.astype(np.float32), width, height)
        confidence = rows[keep, 55].astype(np.float32)
        kept = nms(xyxy, confidence, self.iou_threshold, self.max_detections)
        return Detections(xyxy[kept], confidence[kept], np.zeros(len(kept), np.int64))
