"""Detector settings as they appear in an edge node's YAML file, and the registry that builds detectors.

The ``type`` key picks the detector (a pydantic discriminated union, as in frigate), for example::

    detector:
      type: nanodet
      score_threshold: 0.35
      threads: 1
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from edge.camera.detectors.base import Detector
from edge.camera.detectors.blazeface import BlazeFaceDetector
from edge.camera.detectors.nanodet import NanoDetPersonDetector
from edge.camera.detectors.ssdlite import SsdLitePersonDetector
from protocol.config_files import describe_validation_error
from protocol.errors import ConfigError

logger = logging.getLogger(__name__)


def _score_threshold(default: float, description: str) -> Any:
    return Field(default, ge=0.0, le=1.0, title="Score threshold", description=description)


def _iou_threshold(default: float, thing: str) -> Any:
    return Field(
        default,
        gt=0.0,
        le=1.0,
        title="NMS overlap",
        description=f"Two boxes overlapping by more than this intersection-over-union are one {thing}.",
    )


class _DetectorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_path: Path | None = Field(
        None,
        title="Model file",
        description="Path of the ONNX file to load; leave empty for the model shipped in the repository's "
        "models/ directory.",
    )
    max_detections: int = Field(
        100,
        ge=1,
        le=1000,
        title="Most detections",
        description="Most objects reported per frame.",
    )
    threads: int = Field(
        1,
        ge=1,
        le=16,
        title="Inference threads",
        description="onnxruntime intra-op threads. Keep 1 on a Raspberry Pi: the desk agent's other work "
        "shares its cores.",
    )


class NanoDetConfig(_DetectorSettings):
    """NanoDet-m 416 person detector: the most complete person count (default)."""

    type: Literal["nanodet"] = Field(
        "nanodet", title="Detector type", description="nanodet: NanoDet-m 416 person detector."
    )
    score_threshold: float = _score_threshold(
        NanoDetPersonDetector.DEFAULT_SCORE_THRESHOLD, "Lowest person score counted, from 0 to 1."
    )
    iou_threshold: float = _iou_threshold(NanoDetPersonDetector.DEFAULT_IOU_THRESHOLD, "person")


class SsdLiteConfig(_DetectorSettings):
    """SSDLite-MobileNetV2 person detector: faster, but misses people cut by the frame's edge."""

    type: Literal["ssdlite"] = Field(
        "ssdlite", title="Detector type", description="ssdlite: SSDLite-MobileNetV2 person detector (fast fallback)."
    )
    score_threshold: float = _score_threshold(
        SsdLitePersonDetector.DEFAULT_SCORE_THRESHOLD, "Lowest person score counted, from 0 to 1."
    )
    iou_threshold: float = _iou_threshold(SsdLitePersonDetector.DEFAULT_IOU_THRESHOLD, "person")


class BlazeFaceConfig(_DetectorSettings):
    """MediaPipe BlazeFace back-camera face detector (faces for the emotion classifier)."""

    type: Literal["blazeface"] = Field(
        "blazeface", title="Detector type", description="blazeface: MediaPipe BlazeFace back-camera face detector."
    )
    score_threshold: float = _score_threshold(
        BlazeFaceDetector.DEFAULT_SCORE_THRESHOLD, "Lowest face score kept, from 0 to 1."
    )
    iou_threshold: float = _iou_threshold(BlazeFaceDetector.DEFAULT_IOU_THRESHOLD, "face")


DetectorConfig = Annotated[NanoDetConfig | SsdLiteConfig | BlazeFaceConfig, Field(discriminator="type")]
"""Any detector's settings; the ``type`` key says which."""

_ADAPTER: TypeAdapter[NanoDetConfig | SsdLiteConfig | BlazeFaceConfig] = TypeAdapter(DetectorConfig)

_Factory = Callable[..., Detector]

DETECTORS: dict[str, _Factory] = {
    "nanodet": NanoDetPersonDetector,
    "ssdlite": SsdLitePersonDetector,
    "blazeface": BlazeFaceDetector,
}
"""Detector classes by the config's ``type``."""


def parse_detector_config(
    data: Mapping[str, Any], source: str = "detector"
) -> NanoDetConfig | SsdLiteConfig | BlazeFaceConfig:
    """Validate a mapping (e.g. the ``detector`` section of a YAML file) as a detector config.

    Raises:
        ConfigError: an unknown ``type``, an unknown key or a bad value; the message names the key.
    """
    try:
        return _ADAPTER.validate_python(dict(data))
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source)) from None


def build_detector(config: NanoDetConfig | SsdLiteConfig | BlazeFaceConfig | Mapping[str, Any]) -> Detector:
    """Build (load and warm up) the detector that ``config`` describes.

    Args:
        config: a validated config, or a mapping validated with :func:`parse_detector_config`.

    Raises:
        ConfigError: the mapping is not a valid detector config.
        ModelLoadError: the model cannot be loaded.
    """
    if isinstance(config, Mapping):
        config = parse_detector_config(config)
    factory = DETECTORS[config.type]
    return factory(
        config.model_path,
        score_threshold=config.score_threshold,
        iou_threshold=config.iou_threshold,
        max_detections=config.max_detections,
        threads=config.threads,
    )
