"""The one type every detector returns: boxes, confidences and class ids, validated.

Modelled on supervision's ``Detections``: a small dataclass of parallel numpy arrays that later stages
(tracking, zones, emotion) filter with boolean masks, e.g. ``people = detections[detections.confidence > 0.5]``.
Boxes are in pixel coordinates of the original frame, so no stage needs to know a model's input size.

Instances are immutable: the arrays are private read-only copies, so a stage cannot change what another
stage sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from protocol.errors import OneStopError


class DetectionsError(OneStopError, ValueError):
    """Arrays given to :class:`Detections` do not have the expected shapes, types or values."""


def _read_only(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False, init=False)
class Detections:
    """Detected objects in one frame.

    Attributes:
        xyxy: float32 array [N, 4] of boxes ``x_min, y_min, x_max, y_max`` in pixels of the original frame
            (``x_max >= x_min``, ``y_max >= y_min``).
        confidence: float32 array [N] of scores in [0, 1].
        class_id: int64 array [N] of class indices into the detector's ``class_names``.
    """

    xyxy: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    class_id: npt.NDArray[np.int64]

    def __init__(self, xyxy: npt.ArrayLike, confidence: npt.ArrayLike, class_id: npt.ArrayLike) -> None:
        """Validate and copy the arrays (any array-like; converted to float32, float32 and int64).

        Raises:
            DetectionsError: shapes that do not match, non-integer class ids, non-finite or inverted boxes,
                confidences outside [0, 1].
        """
        xyxy = np.array(xyxy, dtype=np.float32, copy=True)
        if xyxy.size == 0:
            xyxy = xyxy.reshape(0, 4)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise DetectionsError(f"xyxy must have shape [N, 4], found {xyxy.shape}")
        n = xyxy.shape[0]
        confidence = np.array(confidence, dtype=np.float32, copy=True).reshape(-1)
        if confidence.shape != (n,):
            raise DetectionsError(f"confidence must have shape [{n}] to match xyxy, found {confidence.shape}")
        raw_class_id = np.asarray(class_id)
        if raw_class_id.size and not np.issubdtype(raw_class_id.dtype, np.integer):
            raise DetectionsError(f"class_id must hold integers, found dtype {raw_class_id.dtype}")
        class_ids = np.array(raw_class_id, dtype=np.int64, copy=True).reshape(-1)
        if class_ids.shape != (n,):
            raise DetectionsError(f"class_id must have shape [{n}] to match xyxy, found {class_ids.shape}")
        if not np.isfinite(xyxy).all():
            raise DetectionsError("xyxy must be finite, found NaN or infinity")
        if np.any(xyxy[:, 2] < xyxy[:, 0]) or np.any(xyxy[:, 3] < xyxy[:, 1]):
            raise DetectionsError("xyxy boxes must have x_max >= x_min and y_max >= y_min")
        if not np.all((confidence >= 0.0) & (confidence <= 1.0)):
            raise DetectionsError("confidence must be in [0, 1] (and not NaN)")
        if np.any(class_ids < 0):
            raise DetectionsError("class_id must be >= 0")
        object.__setattr__(self, "xyxy", _read_only(xyxy))
        object.__setattr__(self, "confidence", _read_only(confidence))
        object.__setattr__(self, "class_id", _read_only(class_ids))

    @classmethod
    def empty(cls) -> Detections:
        """Return detections with no objects."""
        return cls(
            xyxy=np.empty((0, 4), dtype=np.float32),
            confidence=np.empty(0, dtype=np.float32),
            class_id=np.empty(0, dtype=np.int64),
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __iter__(self) -> Iterator[tuple[npt.NDArray[np.float32], float, int]]:
        """Yield ``(xyxy, confidence, class_id)`` per object."""
        for i in range(len(self)):
            yield self.xyxy[i], float(self.confidence[i]), int(self.class_id[i])

    def __getitem__(self, index: int | slice | list[int] | npt.NDArray[Any]) -> Detections:
        """Select objects by position, slice, index array or boolean mask; always returns Detections.

        Raises:
            DetectionsError: a boolean mask whose length differs from the number of objects.
            IndexError: a position out of range.
        """
        if isinstance(index, int | np.integer):
            index = [int(index)]
        elif not isinstance(index, slice):
            index = np.asarray(index)
            if index.dtype == np.bool_:
                if index.shape != (len(self),):
                    raise DetectionsError(f"boolean mask must have shape [{len(self)}], found {index.shape}")
            elif index.size == 0:
                index = index.astype(np.int64)
            elif not np.issubdtype(index.dtype, np.integer):
                raise DetectionsError(f"index must be integers or a boolean mask, found dtype {index.dtype}")
        return Detections(xyxy=self.xyxy[index], confidence=self.confidence[index], class_id=self.class_id[index])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Detections):
            return NotImplemented
        return (
            np.array_equal(self.xyxy, other.xyxy)
            and np.array_equal(self.confidence, other.confidence)
            and np.array_equal(self.class_id, other.class_id)
        )

    @property
    def area(self) -> npt.NDArray[np.float32]:
        """Box areas in square pixels, [N]."""
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])

    def __repr__(self) -> str:
        return f"Detections(n={len(self)}, classes={sorted(set(self.class_id.tolist()))})"
