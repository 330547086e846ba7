"""Facial emotion of citizens at the desk, as class probabilities and a valence in [-1, 1].

The classifier is mini-XCEPTION trained on FER2013 (``models/emotion_fer_mini_xception.onnx``, see its
model card). Single models reach about 66-73 % accuracy on FER2013, so one face in one frame says little:
the numbers are meant to be averaged over the frames of a visit and over many visits, never read per person.

Privacy: face crops exist only in memory for the duration of :meth:`EmotionClassifier.classify`; nothing is
written, logged or returned but the probabilities.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.camera.detections import Detections
from edge.camera.detectors.base import (
    DetectorClosedError,
    ModelLoadError,
    check_io,
    create_session,
    resolve_model_path,
    validate_frame,
)
from protocol.errors import OneStopError

logger = logging.getLogger(__name__)

EMOTION_CLASSES: Final[tuple[str, ...]] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Class names in the order of the model's outputs (FER2013's label order)."""

VALENCE_WEIGHTS: Final[dict[str, float]] = {
    "angry": -1.0,
    "disgust": -1.0,
    "fear": -0.6,
    "happy": 1.0,
    "sad": -0.8,
    "surprise": 0.3,
    "neutral": 0.0,
}
"""How pleasant each class is, from -1 to 1; see :func:`valence`."""

UNCERTAIN: Final[str] = "uncertain"
"""The outcome of :func:`outcome` when no class is likely enough to name."""

MIN_CONFIDENCE: Final[float] = 0.8
"""Below this top probability a face's expression is :data:`UNCERTAIN`.

Measured on hand-labelled real faces (models/eval/, scikit-image's lfw_subset): calm faces get spread-out
probabilities (mean top probability 0.53, with "sad", "angry" and "fear" as often as "neutral"), smiling
faces a confident "happy" (mean 0.89). 0.8 was chosen on half of those faces; on the other half it names
2 of 3 smiles "happy" and leaves 93 % of calm faces "neutral" or "uncertain" instead of an unpleasant class.
See the model card for the per-class figures."""

_WEIGHTS = np.array([VALENCE_WEIGHTS[name] for name in EMOTION_CLASSES], dtype=np.float64)
_SIZE = 64


def outcome(probabilities: npt.ArrayLike, min_confidence: float = MIN_CONFIDENCE) -> str:
    """The expression one face's probabilities [7] name: the most likely class if its probability is at
    least ``min_confidence``, else :data:`UNCERTAIN`.

    Raises:
        EmotionInputError: not 7 probabilities.
    """
    array = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if array.shape != (len(EMOTION_CLASSES),) or not np.isfinite(array).all():
        raise EmotionInputError(f"probabilities must be 7 finite numbers, found shape {list(array.shape)}")
    best = int(np.argmax(array))
    return EMOTION_CLASSES[best] if array[best] >= min_confidence else UNCERTAIN


class EmotionInputError(OneStopError, ValueError):
    """Face boxes or probabilities given to the emotion code have the wrong shape or values."""


def valence(probabilities: npt.ArrayLike) -> float:
    """Return how pleasant the expressions are, from -1 (displeased) to 1 (pleased).

    The valence is the expected value of the class weights in :data:`VALENCE_WEIGHTS` under the class
    probabilities; for several rows (faces or frames) it is that of their mean distribution, which equals
    the mean of the rows' valences. The weights place each class on the valence axis of Russell's
    circumplex model of affect, read for a public service desk:

    - happy +1: the one clearly pleased expression;
    - surprise +0.3: valence-ambiguous (pleasant and unpleasant surprise look alike), slightly positive on
      average, and FER2013's surprise faces are mostly pleasant;
    - neutral 0: most faces at a desk most of the time, so it must not tilt the average;
    - angry and disgust -1: the expressions of a citizen displeased with the service;
    - sad -0.8: unpleasant but less often aimed at the service (and often confused with neutral);
    - fear -0.6: unpleasant, but at a desk usually anxiety about the procedure rather than displeasure.

    The weights are a documented product choice, not a calibrated measurement.

    Args:
        probabilities: [7] or [N, 7] class probabilities in :data:`EMOTION_CLASSES` order, N >= 1.

    Raises:
        EmotionInputError: wrong shape, no rows, or values outside [0, 1].
    """
    array = np.asarray(probabilities, dtype=np.float64)
    if array.ndim == 1:
        array = array[np.newaxis]
    if array.ndim != 2 or array.shape[1] != len(EMOTION_CLASSES):
        raise EmotionInputError(f"probabilities must have shape [7] or [N, 7], found {list(array.shape)}")
    if array.shape[0] == 0:
        raise EmotionInputError("probabilities are empty: no face to take a valence of")
    if not np.all((array >= 0.0) & (array <= 1.0)):
        raise EmotionInputError("probabilities must be in [0, 1] (and not NaN)")
    sums = array.sum(axis=1, keepdims=True)
    if np.any(sums <= 0.0):
        raise EmotionInputError("every row of probabilities must have a positive sum")
    # Rows are renormalised so that averaged or rounded probabilities still weigh as a distribution.
    mean = (array / sums).mean(axis=0)
    return float(np.clip(mean @ _WEIGHTS, -1.0, 1.0))


def square_crop_box(xyxy: npt.NDArray[np.floating[Any]], margin: float) -> tuple[int, int, int, int]:
    """Return the square ``x0, y0, x1, y1`` (exclusive ends) around a face box, grown by ``margin``.

    The side is the box's longer side times ``1 + 2 * margin``; the square is centred on the box and may
    extend past the frame (the caller pads).
    """
    x_min, y_min, x_max, y_max = (float(v) for v in xyxy)
    side = max(x_max - x_min, y_max - y_min, 1.0) * (1.0 + 2.0 * margin)
    cx, cy = (x_min + x_max) / 2.0, (y_min + y_max) / 2.0
    x0, y0 = round(cx - side / 2.0), round(cy - side / 2.0)
    size = max(1, round(side))
    return x0, y0, x0 + size, y0 + size


class EmotionClassifier:
    """Seven-class facial expression probabilities for the faces a face detector found.

    Each face is cropped as a square around its box with a small margin (FER2013 faces are tightly but not
    exactly cropped), converted to grey, resized to 64x64 and scaled to [-1, 1]; all faces of a frame run
    as one batch.

    Args:
        model_path: the ONNX file; ``None`` loads ``models/emotion_fer_mini_xception.onnx``.
        margin: extra border on each side of the face box, as a fraction of its longer side.
        threads: onnxruntime intra-op threads.

    Raises:
        ModelLoadError: the model is missing, unreadable or not the 7-class mini-XCEPTION.
        ValueError: a negative margin.
    """

    model_file: Final[str] = "emotion_fer_mini_xception.onnx"
    class_names: Final[tuple[str, ...]] = EMOTION_CLASSES

    def __init__(self, model_path: str | Path | None = None, *, margin: float = 0.1, threads: int = 1) -> None:
        if not 0.0 <= margin <= 1.0:
            raise ValueError(f"margin must be in [0, 1], found {margin}")
        self.margin = float(margin)
        self.model_path = resolve_model_path(model_path, self.model_file)
        self._session: ort.InferenceSession | None = create_session(self.model_path, threads)
        check_io(
            self._session,
            self.model_path,
            {"faces": ("batch", _SIZE, _SIZE, 1)},
            {"probabilities": ("batch", len(EMOTION_CLASSES))},
        )
        # The finished model records its class order; a model trained with another order would silently
        # swap happy for sad, so refuse it.
        recorded = self._session.get_modelmeta().custom_metadata_map.get("classes")
        if recorded is not None and tuple(json.loads(recorded)) != EMOTION_CLASSES:
            raise ModelLoadError(f"{self.model_path}: classes {recorded}, expected {list(EMOTION_CLASSES)}")
        self.last_inference_s: float | None = None
        started = time.perf_counter()
        self._run(np.zeros((1, _SIZE, _SIZE, 1), dtype=np.float32))
        logger.info(
            "EmotionClassifier loaded %s (%d thread(s)); warm-up %.1f ms",
            self.model_path,
            threads,
            (time.perf_counter() - started) * 1000.0,
        )

    def classify(self, frame: npt.NDArray[np.uint8], face_boxes: Detections | npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Return the class probabilities of each face, [N, 7] in :data:`EMOTION_CLASSES` order.

        Args:
            frame: the BGR frame (uint8 [H, W, 3]) the faces were found in.
            face_boxes: the faces, as :class:`Detections` or an [N, 4] array of ``x_min, y_min, x_max,
                y_max`` in the frame's pixels.

        Raises:
            FrameError: ``frame`` is not a BGR image.
            EmotionInputError: ``face_boxes`` is not [N, 4].
            DetectorClosedError: the classifier was closed.
        """
        if self._session is None:
            raise DetectorClosedError("EmotionClassifier is closed")
        frame = validate_frame(frame)
        xyxy = face_boxes.xyxy if isinstance(face_boxes, Detections) else np.asarray(face_boxes, np.float32)
        if xyxy.size == 0:
            return np.empty((0, len(EMOTION_CLASSES)), dtype=np.float32)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4 or not np.isfinite(xyxy).all():
            raise EmotionInputError(f"face_boxes must be a finite [N, 4] array, found {list(xyxy.shape)}")
        started = time.perf_counter()
        batch = np.stack([self._face_tensor(frame, box) for box in xyxy])
        probabilities = self._run(batch)
        self.last_inference_s = time.perf_counter() - started
        return probabilities

    def _face_tensor(self, frame: npt.NDArray[np.uint8], box: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        height, width = frame.shape[:2]
        x0, y0, x1, y1 = square_crop_box(box, self.margin)
        # A face at the frame's edge keeps its square shape: replicate the border rather than squash it.
        crop = frame[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
        if crop.size == 0:
            crop = np.zeros((1, 1, 3), dtype=np.uint8)
        pad = (max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width))
        if any(pad):
            crop = np.asarray(cv2.copyMakeBorder(crop, *pad, borderType=cv2.BORDER_REPLICATE), dtype=np.uint8)
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        shrink = grey.shape[0] > _SIZE
        resized = cv2.resize(grey, (_SIZE, _SIZE), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return ((resized.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., np.newaxis]

    def _run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        assert self._session is not None
        (probabilities,) = self._session.run(None, {"faces": batch})
        return np.asarray(probabilities, dtype=np.float32)

    def close(self) -> None:
        """Release the model; later calls do nothing."""
        self._session = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
