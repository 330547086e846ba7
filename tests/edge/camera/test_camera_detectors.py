"""Person and face detectors on real images, their config and their failure modes."""

from __future__ import annotations

import shutil
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from pydantic import BaseModel

from edge.camera.detections import Detections
from edge.camera.detectors import (
    DETECTORS,
    MODELS_DIR,
    BlazeFaceConfig,
    BlazeFaceDetector,
    Detector,
    DetectorClosedError,
    FrameError,
    ModelLoadError,
    NanoDetConfig,
    NanoDetPersonDetector,
    OnnxDetector,
    SsdLiteConfig,
    SsdLitePersonDetector,
    build_detector,
    parse_detector_config,
)
from protocol.errors import ConfigError, OneStopError

Image = npt.NDArray[np.uint8]
REPO_ROOT = Path(__file__).resolve().parents[3]


def assert_valid_for(detections: Detections, frame: Image) -> None:
    height, width = frame.shape[:2]
    assert isinstance(detections, Detections)
    assert np.all(detections.xyxy[:, [0, 2]] >= 0) and np.all(detections.xyxy[:, [0, 2]] <= width)
    assert np.all(detections.xyxy[:, [1, 3]] >= 0) and np.all(detections.xyxy[:, [1, 3]] <= height)
    assert np.all(detections.class_id == 0)
    assert np.all(np.diff(detections.confidence) <= 0), "detections come best first"


def centres(detections: Detections) -> npt.NDArray[np.float32]:
    return ((detections.xyxy[:, :2] + detections.xyxy[:, 2:]) / 2).astype(np.float32)


def inside(points: npt.NDArray[np.float32], boxes: Detections) -> npt.NDArray[np.bool_]:
    """For each point, whether some box contains it."""
    x, y = points[:, :1], points[:, 1:]
    b = boxes.xyxy
    return np.any((x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3]), axis=1)


# --- people ------------------------------------------------------------------------------------------


def test_nanodet_counts_every_person_in_bus(nanodet: NanoDetPersonDetector, bus_image: Image) -> None:
    people = nanodet.detect(bus_image)
    assert len(people) == 4
    assert_valid_for(people, bus_image)
    # Two of the four stand cut by the frame's left and right edges.
    assert people.xyxy[:, 0].min() < 10
    assert people.xyxy[:, 2].max() > bus_image.shape[1] - 10


def test_nanodet_counts_both_people_in_zidane(nanodet: NanoDetPersonDetector, zidane_image: Image) -> None:
    people = nanodet.detect(zidane_image)
    assert len(people) == 2
    assert_valid_for(people, zidane_image)


@pytest.mark.parametrize("image_name", ["bus_image", "zidane_image"])
def test_ssdlite_finds_at_least_two_people(
    ssdlite: SsdLitePersonDetector, image_name: str, request: pytest.FixtureRequest
) -> None:
    image = request.getfixturevalue(image_name)
    people = ssdlite.detect(image)
    assert len(people) >= 2
    assert_valid_for(people, image)


def test_ssdlite_and_nanodet_agree_on_zidane(
    ssdlite: SsdLitePersonDetector, nanodet: NanoDetPersonDetector, zidane_image: Image
) -> None:
    assert inside(centres(ssdlite.detect(zidane_image)), nanodet.detect(zidane_image)).all()


def test_boxes_are_in_the_original_frames_pixels(nanodet: NanoDetPersonDetector, zidane_image: Image) -> None:
    small = np.asarray(cv2.resize(zidane_image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), np.uint8)
    full, half = nanodet.detect(zidane_image), nanodet.detect(small)
    assert len(full) == len(half) == 2
    order_full, order_half = np.argsort(full.xyxy[:, 0]), np.argsort(half.xyxy[:, 0])
    np.testing.assert_allclose(half.xyxy[order_half] * 2, full.xyxy[order_full], atol=40)


# --- faces -------------------------------------------------------------------------------------------


def test_blazeface_finds_both_faces_in_zidane(
    blazeface: BlazeFaceDetector, nanodet: NanoDetPersonDetector, zidane_image: Image
) -> None:
    faces = blazeface.detect(zidane_image)
    assert len(faces) == 2
    assert_valid_for(faces, zidane_image)
    # Each face lies within a person, in the upper half of the frame, and is roughly square.
    assert inside(centres(faces), nanodet.detect(zidane_image)).all()
    assert np.all(centres(faces)[:, 1] < zidane_image.shape[0] / 2 + 50)
    width, height = faces.xyxy[:, 2] - faces.xyxy[:, 0], faces.xyxy[:, 3] - faces.xyxy[:, 1]
    np.testing.assert_allclose(width / height, 1.0, atol=0.25)


def test_blazeface_finds_the_astronauts_face(blazeface: BlazeFaceDetector, astronaut_image: Image) -> None:
    faces = blazeface.detect(astronaut_image)
    assert len(faces) == 1
    x_min, y_min, x_max, y_max = faces.xyxy[0]
    # The face is in the upper middle of the 512x512 portrait.
    assert 120 < (x_min + x_max) / 2 < 330 and 60 < (y_min + y_max) / 2 < 200


# --- any detector ------------------------------------------------------------------------------------


@pytest.fixture(params=["nanodet", "ssdlite", "blazeface"])
def detector(request: pytest.FixtureRequest) -> Detector:
    detector: Detector = request.getfixturevalue(request.param)
    return detector


def test_nothing_is_found_in_a_blank_frame(detector: Detector) -> None:
    for value in (0, 128, 255):
        assert len(detector.detect(np.full((480, 640, 3), value, dtype=np.uint8))) == 0


@pytest.mark.parametrize("shape", [(1, 1, 3), (37, 901, 3), (1080, 64, 3)])
def test_any_frame_size_is_accepted(detector: Detector, shape: tuple[int, int, int]) -> None:
    frame = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    assert_valid_for(detector.detect(frame), frame)


def test_non_contiguous_frames_are_accepted(detector: Detector, zidane_image: Image) -> None:
    view = zidane_image[::2, ::2]
    assert not view.flags["C_CONTIGUOUS"]
    assert len(detector.detect(view)) >= 1


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((48, 64), dtype=np.uint8),
        np.zeros((48, 64, 4), dtype=np.uint8),
        np.zeros((48, 64, 3), dtype=np.float32),
        np.zeros((0, 64, 3), dtype=np.uint8),
        [[0, 0, 0]],
    ],
    ids=["grey", "bgra", "float", "empty", "list"],
)
def test_non_bgr_frames_are_refused(detector: Detector, frame: Any) -> None:
    with pytest.raises(FrameError, match=r"uint8 \[H, W, 3\]|numpy array") as caught:
        detector.detect(frame)
    assert isinstance(caught.value, OneStopError) and isinstance(caught.value, ValueError)


def test_detector_records_its_latency(detector: Detector, zidane_image: Image) -> None:
    assert isinstance(detector, OnnxDetector)
    detector.detect(zidane_image)
    assert detector.last_inference_s is not None and 0 < detector.last_inference_s < 5


def test_closed_detector_refuses_frames_and_closes_twice() -> None:
    detector = BlazeFaceDetector()
    with detector:
        assert len(detector.detect(np.zeros((64, 64, 3), np.uint8))) == 0
    with pytest.raises(DetectorClosedError, match="closed"):
        detector.detect(np.zeros((64, 64, 3), np.uint8))
    detector.close()


def test_score_threshold_filters(zidane_image: Image) -> None:
    with NanoDetPersonDetector(score_threshold=0.7, threads=2) as strict:
        people = strict.detect(zidane_image)
    assert len(people) == 1
    assert people.confidence[0] >= 0.7


# --- model files -------------------------------------------------------------------------------------


def test_default_models_resolve_to_the_repository(nanodet: NanoDetPersonDetector) -> None:
    assert MODELS_DIR == REPO_ROOT / "models"
    assert nanodet.model_path == REPO_ROOT / "models" / "person_nanodet_m.onnx"


def test_explicit_model_path_is_loaded(tmp_path: Path, zidane_image: Image) -> None:
    copy = tmp_path / "faces.onnx"
    shutil.copy(MODELS_DIR / "face_blazeface_back.onnx", copy)
    with BlazeFaceDetector(str(copy)) as detector:
        assert detector.model_path == copy
        assert len(detector.detect(zidane_image)) == 2


def test_missing_model_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="model file not found: .*nothing.onnx"):
        SsdLitePersonDetector(tmp_path / "nothing.onnx")


def test_wrong_model_is_reported() -> None:
    with pytest.raises(ModelLoadError, match="expected input 'image' with shape \\[1, 3, 416, 416\\]"):
        NanoDetPersonDetector(MODELS_DIR / "face_blazeface_back.onnx")


def test_corrupt_model_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="cannot load ONNX model"):
        BlazeFaceDetector(broken)


@pytest.mark.parametrize(
    ("kwargs", "expectation"),
    [
        ({"score_threshold": 1.5}, pytest.raises(ValueError, match="score_threshold")),
        ({"iou_threshold": 0.0}, pytest.raises(ValueError, match="iou_threshold")),
        ({"max_detections": 0}, pytest.raises(ValueError, match="max_detections")),
        ({"threads": 0}, pytest.raises(ValueError, match="threads")),
        ({"max_detections": 1}, nullcontext()),
    ],
)
def test_constructor_arguments_are_checked(kwargs: dict[str, Any], expectation: AbstractContextManager[Any]) -> None:
    with expectation, BlazeFaceDetector(**kwargs):
        pass


# --- config and registry -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected_class"),
    [
        ({"type": "nanodet"}, NanoDetPersonDetector),
        ({"type": "ssdlite", "score_threshold": 0.4}, SsdLitePersonDetector),
        ({"type": "blazeface", "threads": 1, "max_detections": 5}, BlazeFaceDetector),
    ],
)
def test_build_detector_picks_the_type(data: dict[str, Any], expected_class: type[Detector]) -> None:
    with build_detector(data) as detector:
        assert type(detector) is expected_class
        assert detector.class_names == (("face",) if expected_class is BlazeFaceDetector else ("person",))


def test_build_detector_uses_the_configured_values() -> None:
    config = parse_detector_config({"type": "ssdlite", "score_threshold": 0.42, "iou_threshold": 0.3})
    assert isinstance(config, SsdLiteConfig)
    with build_detector(config) as detector:
        assert isinstance(detector, SsdLitePersonDetector)
        assert (detector.score_threshold, detector.iou_threshold) == (0.42, 0.3)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"type": "nanodet", "scor_threshold": 0.3}, "scor_threshold"),
        ({"type": "blazeface", "score_threshold": 2}, "score_threshold"),
        ({"type": "ssdlite", "threads": 0}, "threads"),
        ({"type": "yolo"}, "yolo"),
        ({"score_threshold": 0.3}, "type"),
        ({"type": "nanodet", "model_path": ["a"]}, "model_path"),
    ],
)
def test_bad_config_raises_naming_the_key(data: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named) as caught:
        build_detector(data)
    assert isinstance(caught.value, ValueError)


def test_every_config_field_is_described() -> None:
    configs: list[type[BaseModel]] = [NanoDetConfig, SsdLiteConfig, BlazeFaceConfig]
    for config in configs:
        for name, field in config.model_fields.items():
            assert field.description, f"{config.__name__}.{name} has no description"
        assert config.model_config.get("extra") == "forbid"


def test_registry_covers_every_config_type() -> None:
    assert set(DETECTORS) == {"nanodet", "ssdlite", "blazeface"}
    assert NanoDetConfig().type == "nanodet"
    assert SsdLiteConfig().type == "ssdlite"
    assert BlazeFaceConfig().type == "blazeface"
