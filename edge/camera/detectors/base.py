"""The detector interface and what every ONNX detector shares: model lookup, session, frame checks, NMS.

A detector takes one BGR frame and returns :class:`~edge.camera.detections.Detections` in that frame's
pixel coordinates; its model's tensors never leave it. Sessions run on onnxruntime's CPU provider only
(onnxruntime lists ``AzureExecutionProvider`` first on some builds), with one intra-op thread unless
configured otherwise, because a Raspberry Pi shares its few cores with the rest of the desk agent.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.camera.detections import Detections
from protocol.errors import OneStopError
from protocol.resources import package_dir

logger = logging.getLogger(__name__)

# The ONNX files are committed under models/ and installed as the data package onestop_models.
MODELS_DIR = package_dir("onestop_models")


class ModelLoadError(OneStopError, RuntimeError):
    """An ONNX model is missing, unreadable, or not the model the code expects."""


class FrameError(OneStopError, ValueError):
    """A frame is not a BGR image: expected a uint8 array of shape [H, W, 3]."""


class DetectorClosedError(OneStopError, RuntimeError):
    """The detector was used after :meth:`Detector.close`."""


def resolve_model_path(model_path: str | Path | None, default_file: str) -> Path:
    """Return the model file to load: ``model_path`` if given, else ``<default_file>`` of the installed models.

    Raises:
        ModelLoadError: the file does not exist.
    """
    path = Path(model_path).expanduser() if model_path is not None else MODELS_DIR / default_file
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path} (expected the ONNX file {default_file})")
    return path


def create_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """Open an onnxruntime CPU session with ``threads`` intra-op threads.

    Raises:
        ModelLoadError: onnxruntime cannot load the file.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, found {threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # One inference at a time per detector: inter-op parallelism would only add threads.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped exceptions
        raise ModelLoadError(f"cannot load ONNX model {path}: {error}") from error


def check_io(
    session: ort.InferenceSession,
    path: Path,
    inputs: Mapping[str, Sequence[int | str]],
    outputs: Mapping[str, Sequence[int | str]],
) -> None:
    """Check that the session's inputs and outputs have the expected names and shapes.

    A dimension given as a string accepts any size (a dynamic batch).

    Raises:
        ModelLoadError: a name or a fixed dimension differs.
    """

    def matches(found: Sequence[Any], expected: Sequence[int | str]) -> bool:
        return len(found) == len(expected) and all(
            isinstance(e, str) or f == e for f, e in zip(found, expected, strict=True)
        )

    for kind, args, expected in (("input", session.get_inputs(), inputs), ("output", session.get_outputs(), outputs)):
        found = {a.name: list(a.shape) for a in args}
        for name, shape in expected.items():
            if name not in found or not matches(found[name], shape):
                raise ModelLoadError(
                    f"{path}: expected {kind} {name!r} with shape {list(shape)}, found {kind}s {found}"
                )


def validate_frame(frame: object) -> npt.NDArray[np.uint8]:
    """Return ``frame`` if it is a BGR image (uint8 [H, W, 3], H and W > 0).

    Raises:
        FrameError: anything else.
    """
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"frame must be a numpy array, found {type(frame).__name__}")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise FrameError(f"frame must be uint8 [H, W, 3] (BGR), found {frame.dtype} {list(frame.shape)}")
    return frame


def nms(
    xyxy: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou_threshold: float, max_detections: int
) -> npt.NDArray[np.int64]:
    """Return the indices kept by greedy non-maximum suppression, best score first."""
    if len(scores) == 0:
        return np.empty(0, dtype=np.int64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    # Scores were already thresholded by the caller: 0 keeps every candidate.
    kept = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, iou_threshold, top_k=max_detections)
    return np.asarray(kept, dtype=np.int64).reshape(-1)


def clip_boxes(xyxy: npt.NDArray[np.float32], width: int, height: int) -> npt.NDArray[np.float32]:
    """Clip boxes in place to the frame and return them."""
    np.clip(xyxy[:, 0::2], 0.0, float(width), out=xyxy[:, 0::2])
    np.clip(xyxy[:, 1::2], 0.0, float(height), out=xyxy[:, 1::2])
    return xyxy


class Detector(ABC):
    """Finds objects in BGR frames.

    Implementations are context managers; :meth:`close` is idempotent.
    """

    #: Names of the classes that ``Detections.class_id`` indexes.
    class_names: ClassVar[tuple[str, ...]]

    @abstractmethod
    def detect(self, frame: npt.NDArray[np.uint8]) -> Detections:
        """Return the objects in ``frame`` (BGR, uint8 [H, W, 3]) in its pixel coordinates.

        Raises:
            FrameError: ``frame`` is not a BGR image.
            DetectorClosedError: the detector was closed.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the model; later calls do nothing."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class OnnxDetector(Detector):
    """A detector backed by one onnxruntime session; subclasses do the model's pre- and post-processing.

    Args:
        model_path: the ONNX file; ``None`` loads ``models/<model_file>`` of the repository.
        score_threshold: lowest confidence kept, in [0, 1].
        iou_threshold: boxes overlapping a better one by more than this IoU are suppressed, in (0, 1].
        max_detections: most objects returned per frame.
        threads: onnxruntime intra-op threads.

    Raises:
        ModelLoadError: the model is missing, unreadable or has unexpected inputs or outputs.
        ValueError: a threshold or count out of range.
    """

    #: File name under ``models/`` loaded when no path is given.
    model_file: ClassVar[str]
    #: Expected input and output names and shapes of the ONNX model.
    model_inputs: ClassVar[Mapping[str, Sequence[int | str]]]
    model_outputs: ClassVar[Mapping[str, Sequence[int | str]]]

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        score_threshold: float,
        iou_threshold: float,
        max_detections: int = 100,
        threads: int = 1,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], found {score_threshold}")
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], found {iou_threshold}")
        if max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, found {max_detections}")
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_detections = int(max_detections)
        self.model_path = resolve_model_path(model_path, self.model_file)
        self._session: ort.InferenceSession | None = create_session(self.model_path, threads)
        check_io(self._session, self.model_path, self.model_inputs, self.model_outputs)
        self._input_name = next(iter(self.model_inputs))
        self.last_inference_s: float | None = None
        # The first run allocates onnxruntime's buffers and takes several times longer than the next ones:
        # pay it now rather than on the first real frame.
        started = time.perf_counter()
        self.detect(np.zeros((480, 640, 3), dtype=np.uint8))
        logger.info(
            "%s loaded %s (%d thread(s)); warm-up %.1f ms",
            type(self).__name__,
            self.model_path,
            threads,
            (time.perf_counter() - started) * 1000.0,
        )

    def detect(self, frame: npt.NDArray[np.uint8]) -> Detections:
        """Return the objects in ``frame`` (BGR, uint8 [H, W, 3]) in its pixel coordinates.

        Raises:
            FrameError: ``frame`` is not a BGR image.
            DetectorClosedError: the detector was closed.
        """
        if self._session is None:
            raise DetectorClosedError(f"{type(self).__name__} is closed")
        frame = validate_frame(frame)
        started = time.perf_counter()
        detections = self._detect(self._session, frame)
        self.last_inference_s = time.perf_counter() - started
        return detections

    def _run(self, session: ort.InferenceSession, tensor: npt.NDArray[Any]) -> list[npt.NDArray[np.float32]]:
        outputs: list[npt.NDArray[np.float32]] = session.run(None, {self._input_name: tensor})
        return outputs

    @abstractmethod
    def _detect(self, session: ort.InferenceSession, frame: npt.NDArray[np.uint8]) -> Detections:
        """Pre-process, run and post-process one validated frame."""

    def close(self) -> None:
        """Release the onnxruntime session; later calls do nothing."""
        self._session = None
