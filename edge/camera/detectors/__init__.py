"""Object detectors for the desk camera: ``Detector.detect(frame) -> Detections``.

Build one from its settings with :func:`build_detector`; the ``type`` key picks the implementation.
"""

from edge.camera.detectors.base import (
    MODELS_DIR,
    Detector,
    DetectorClosedError,
    FrameError,
    ModelLoadError,
    OnnxDetector,
)
from edge.camera.detectors.blazeface import BlazeFaceDetector
from edge.camera.detectors.config import (
    DETECTORS,
    BlazeFaceConfig,
    DetectorConfig,
    NanoDetConfig,
    SsdLiteConfig,
    build_detector,
    parse_detector_config,
)
from edge.camera.detectors.nanodet import NanoDetPersonDetector
from edge.camera.detectors.ssdlite import SsdLitePersonDetector

__all__ = [
    "DETECTORS",
    "MODELS_DIR",
    "BlazeFaceConfig",
    "BlazeFaceDetector",
    "Detector",
    "DetectorClosedError",
    "DetectorConfig",
    "FrameError",
    "ModelLoadError",
    "NanoDetConfig",
    "NanoDetPersonDetector",
    "OnnxDetector",
    "SsdLiteConfig",
    "SsdLitePersonDetector",
    "build_detector",
    "parse_detector_config",
]
