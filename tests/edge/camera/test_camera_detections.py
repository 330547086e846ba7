"""The Detections container: validation, indexing and immutability."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import pytest

from edge.camera.detections import Detections, DetectionsError
from protocol.errors import OneStopError


def make(n: int = 3) -> Detections:
    xyxy = np.array([[10 * i, 5 * i, 10 * i + 8, 5 * i + 20] for i in range(n)], dtype=np.float32)
    return Detections(
        xyxy=xyxy,
        confidence=np.linspace(0.9, 0.5, n, dtype=np.float32),
        class_id=np.arange(n, dtype=np.int64),
    )


@pytest.mark.parametrize(
    ("xyxy", "confidence", "class_id", "expectation"),
    [
        ([[0, 0, 1, 1]], [0.5], [0], nullcontext()),
        ([[0.0, 0.0, 0.0, 0.0]], [1.0], [2], nullcontext()),
        ([], [], [], nullcontext()),
        ([[0, 0, 1]], [0.5], [0], pytest.raises(DetectionsError, match=r"xyxy must have shape \[N, 4\]")),
        ([0, 0, 1, 1], [0.5], [0], pytest.raises(DetectionsError, match=r"\[N, 4\]")),
        ([[0, 0, 1, 1]], [0.5, 0.4], [0], pytest.raises(DetectionsError, match="confidence must have shape")),
        ([[0, 0, 1, 1]], [0.5], [0, 1], pytest.raises(DetectionsError, match="class_id must have shape")),
        ([[0, 0, 1, 1]], [0.5], [0.5], pytest.raises(DetectionsError, match="class_id must hold integers")),
        ([[0, 0, 1, 1]], [0.5], [-1], pytest.raises(DetectionsError, match="class_id must be >= 0")),
        ([[0, 0, np.nan, 1]], [0.5], [0], pytest.raises(DetectionsError, match="finite")),
        ([[5, 0, 1, 1]], [0.5], [0], pytest.raises(DetectionsError, match="x_max >= x_min")),
        ([[0, 5, 1, 1]], [0.5], [0], pytest.raises(DetectionsError, match="y_max >= y_min")),
        ([[0, 0, 1, 1]], [1.5], [0], pytest.raises(DetectionsError, match=r"confidence must be in \[0, 1\]")),
        ([[0, 0, 1, 1]], [np.nan], [0], pytest.raises(DetectionsError, match="confidence")),
    ],
)
def test_detections_validate_their_arrays(
    xyxy: Any, confidence: Any, class_id: Any, expectation: AbstractContextManager[Any]
) -> None:
    with expectation:
        detections = Detections(xyxy=xyxy, confidence=confidence, class_id=class_id)
        assert detections.xyxy.dtype == np.float32
        assert detections.confidence.dtype == np.float32
        assert detections.class_id.dtype == np.int64
        assert detections.xyxy.shape == (len(detections), 4)


def test_detections_error_is_a_project_value_error() -> None:
    with pytest.raises(DetectionsError) as caught:
        Detections(xyxy=[[0, 0, 1]], confidence=[0.5], class_id=[0])
    assert isinstance(caught.value, OneStopError)
    assert isinstance(caught.value, ValueError)


def test_empty_detections_have_typed_zero_length_arrays() -> None:
    empty = Detections.empty()
    assert len(empty) == 0
    assert empty.xyxy.shape == (0, 4)
    assert empty.confidence.shape == (0,)
    assert empty.class_id.shape == (0,)
    assert list(empty) == []
    assert empty == Detections(xyxy=np.zeros((0, 4)), confidence=[], class_id=[])


@pytest.mark.parametrize(
    ("index", "expected_classes"),
    [
        (np.array([True, False, True]), [0, 2]),
        (np.array([False, False, False]), []),
        (1, [1]),
        (-1, [2]),
        (slice(1, None), [1, 2]),
        ([2, 0], [2, 0]),
        (np.array([1]), [1]),
        ([], []),
    ],
)
def test_indexing_returns_detections(index: Any, expected_classes: list[int]) -> None:
    detections = make()
    selected = detections[index]
    assert isinstance(selected, Detections)
    assert selected.class_id.tolist() == expected_classes
    for box, confidence, class_id in selected:
        assert np.array_equal(box, detections.xyxy[class_id])
        assert confidence == pytest.approx(float(detections.confidence[class_id]))


def test_boolean_mask_filters_like_supervision() -> None:
    detections = make(4)
    confident = detections[detections.confidence > 0.7]
    assert len(confident) == 2
    assert np.all(confident.confidence > 0.7)


@pytest.mark.parametrize(
    ("index", "expectation"),
    [
        (np.array([True, False]), pytest.raises(DetectionsError, match=r"boolean mask must have shape \[3\]")),
        (np.array([0.5]), pytest.raises(DetectionsError, match="integers or a boolean mask")),
        (7, pytest.raises(IndexError)),
    ],
)
def test_bad_indexes_raise(index: Any, expectation: AbstractContextManager[Any]) -> None:
    with expectation:
        make()[index]


def test_detections_are_immutable_copies() -> None:
    xyxy = np.array([[0, 0, 10, 10]], dtype=np.float32)
    detections = Detections(xyxy=xyxy, confidence=[0.5], class_id=[0])
    xyxy[0, 0] = 5  # the caller's array changes; the detections must not
    assert detections.xyxy[0, 0] == 0
    with pytest.raises(ValueError, match="read-only"):
        detections.xyxy[0, 0] = 3
    with pytest.raises(ValueError, match="read-only"):
        detections.confidence[0] = 0.1
    with pytest.raises(AttributeError):
        detections.xyxy = xyxy  # type: ignore[misc]


def test_equality_and_area() -> None:
    assert make() == make()
    assert make() != make(2)
    assert make(2).area.tolist() == [160.0, 160.0]
