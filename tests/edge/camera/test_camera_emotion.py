"""Facial emotion on real faces, the valence weights, and the promise that no crop is ever written."""

from __future__ import annotations

import builtins
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.camera.detections import Detections
from edge.camera.detectors import MODELS_DIR, BlazeFaceDetector, DetectorClosedError, FrameError, ModelLoadError
from edge.camera.emotion import (
    EMOTION_CLASSES,
    VALENCE_WEIGHTS,
    EmotionClassifier,
    EmotionInputError,
    square_crop_box,
    valence,
)

Image = npt.NDArray[np.uint8]


def test_classes_are_in_the_models_output_order() -> None:
    assert EMOTION_CLASSES == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert set(VALENCE_WEIGHTS) == set(EMOTION_CLASSES)


def test_the_smiling_astronaut_is_happy(
    blazeface: BlazeFaceDetector, emotion: EmotionClassifier, astronaut_image: Image
) -> None:
    faces = blazeface.detect(astronaut_image)
    assert len(faces) == 1
    probabilities = emotion.classify(astronaut_image, faces)
    assert probabilities.shape == (1, 7)
    assert EMOTION_CLASSES[int(probabilities[0].argmax())] == "happy"
    assert probabilities[0, EMOTION_CLASSES.index("happy")] > 0.9
    assert valence(probabilities) > 0.8


def test_shouting_zidane_is_angrier_than_the_smiling_astronaut(
    blazeface: BlazeFaceDetector, emotion: EmotionClassifier, zidane_image: Image, astronaut_image: Image
) -> None:
    zidane = emotion.classify(zidane_image, blazeface.detect(zidane_image))
    astronaut = emotion.classify(astronaut_image, blazeface.detect(astronaut_image))
    assert zidane.shape == (2, 7)
    np.testing.assert_allclose(zidane.sum(axis=1), 1.0, atol=1e-5)
    assert min(valence(row) for row in zidane) < 0 < valence(astronaut)


def test_a_batch_equals_faces_classified_one_by_one(
    blazeface: BlazeFaceDetector, emotion: EmotionClassifier, zidane_image: Image
) -> None:
    faces = blazeface.detect(zidane_image)
    together = emotion.classify(zidane_image, faces)
    one_by_one = np.concatenate([emotion.classify(zidane_image, faces[i]) for i in range(len(faces))])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    np.testing.assert_allclose(emotion.classify(zidane_image, faces.xyxy), together, atol=1e-6)


def test_no_faces_give_no_rows(emotion: EmotionClassifier, zidane_image: Image) -> None:
    assert emotion.classify(zidane_image, Detections.empty()).shape == (0, 7)
    assert emotion.classify(zidane_image, np.empty((0, 4))).shape == (0, 7)


@pytest.mark.parametrize(
    "box",
    [[-40, -40, 60, 60], [600, 300, 700, 420], [0, 0, 2, 2], [630, 470, 640, 480], [700, 500, 800, 600]],
    ids=["top-left-outside", "bottom-right-outside", "tiny", "corner", "entirely-outside"],
)
def test_faces_at_or_past_the_frame_edge_are_classified(emotion: EmotionClassifier, box: list[int]) -> None:
    frame = np.random.default_rng(1).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    probabilities = emotion.classify(frame, np.array([box], dtype=np.float32))
    assert probabilities.shape == (1, 7)
    assert np.isfinite(probabilities).all()


@pytest.mark.parametrize(
    ("boxes", "error"),
    [
        (np.zeros((2, 3)), EmotionInputError),
        (np.array([[0, 0, np.inf, 4]]), EmotionInputError),
        (np.zeros(4), EmotionInputError),
    ],
)
def test_bad_face_boxes_are_refused(emotion: EmotionClassifier, boxes: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"\[N, 4\]"):
        emotion.classify(np.zeros((64, 64, 3), np.uint8), boxes)


def test_bad_frames_are_refused(emotion: EmotionClassifier) -> None:
    with pytest.raises(FrameError):
        emotion.classify(np.zeros((64, 64), np.uint8), np.array([[0, 0, 10, 10]]))


def test_square_crop_is_centred_with_a_margin() -> None:
    assert square_crop_box(np.array([100.0, 50.0, 140.0, 130.0]), 0.1) == (72, 42, 168, 138)
    assert square_crop_box(np.array([10.0, 10.0, 20.0, 20.0]), 0.0) == (10, 10, 20, 20)


def test_classifier_lifecycle(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        EmotionClassifier(tmp_path / "missing.onnx")
    with pytest.raises(ModelLoadError, match="expected input 'faces'"):
        EmotionClassifier(MODELS_DIR / "face_blazeface_back.onnx")
    with pytest.raises(ValueError, match="margin"):
        EmotionClassifier(margin=-0.1)
    classifier = EmotionClassifier(threads=1)
    classifier.close()
    classifier.close()
    with pytest.raises(DetectorClosedError):
        classifier.classify(np.zeros((8, 8, 3), np.uint8), np.array([[0, 0, 4, 4]]))


def test_nothing_is_written_while_detecting_and_classifying(
    monkeypatch: pytest.MonkeyPatch, blazeface: BlazeFaceDetector, emotion: EmotionClassifier, zidane_image: Image
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a frame or crop was about to be written: {args[:1]}")

    real_open = builtins.open

    def open_read_only(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(flag in mode for flag in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(cv2, "imwrite", refuse)
    monkeypatch.setattr(cv2, "imencode", refuse)
    monkeypatch.setattr(builtins, "open", open_read_only)
    faces = blazeface.detect(zidane_image)
    assert emotion.classify(zidane_image, faces).shape == (2, 7)


# --- valence -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EMOTION_CLASSES)
def test_valence_of_a_certain_expression_is_its_weight(name: str) -> None:
    one_hot = np.zeros(7)
    one_hot[EMOTION_CLASSES.index(name)] = 1.0
    assert valence(one_hot) == pytest.approx(VALENCE_WEIGHTS[name])


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [
        ([1 / 7] * 7, sum(VALENCE_WEIGHTS.values()) / 7),
        ([[0, 0, 0, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0]], 0.0),
        ([[0, 0, 0, 0.5, 0, 0, 0.5]], 0.5),
        ([0, 0, 0, 2, 0, 0, 2], pytest.raises(EmotionInputError, match=r"\[0, 1\]")),
        ([0, 0, 0, 0, 0, 0, 0], pytest.raises(EmotionInputError, match="positive sum")),
        ([0.5, 0.5], pytest.raises(EmotionInputError, match=r"shape \[7\] or \[N, 7\]")),
        (np.zeros((0, 7)), pytest.raises(EmotionInputError, match="empty")),
        ([np.nan] * 7, pytest.raises(EmotionInputError, match="NaN")),
    ],
)
def test_valence(probabilities: Any, expected: float | AbstractContextManager[Any]) -> None:
    context = expected if not isinstance(expected, float) else nullcontext()
    with context:
        result = valence(probabilities)
        assert isinstance(expected, float)
        assert result == pytest.approx(expected)
        assert -1.0 <= result <= 1.0


def test_valence_of_many_rows_is_the_mean_of_their_valences() -> None:
    rows = np.random.default_rng(2).dirichlet(np.ones(7), size=20)
    assert valence(rows) == pytest.approx(np.mean([valence(row) for row in rows]))
