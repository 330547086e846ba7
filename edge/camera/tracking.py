"""Following people from frame to frame, so that a person's time in the queue can be measured.

A small tracker in the spirit of ByteTrack: detections are matched to existing tracks by box overlap
(IoU), confident detections first and then the less confident ones, so that a person half-hidden for a
frame keeps their track; a track that finds no detection keeps its last box for a grace period (inertia),
so a missed detection neither drops a person from the count nor restarts their wait. A fallback on
centre distance keeps fast walkers (low IoU at a low frame rate) on their track.

A track counts only once it is *confirmed*: seen in ``min_hits`` frames (a detection that flickers for a
frame never counts) and *verified* as a person: it was once scored at the confident level in a box shaped
like a person (taller than wide), or the pipeline's second opinion (:meth:`Tracker.verify`) agreed.
Unseen tracks expire after ``grace_s``.

Written here rather than taken from ``supervision``, whose dependencies (av, matplotlib, scipy) are heavy
for a Raspberry Pi that only needs these ~150 lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.camera.detections import Detections


@dataclass(slots=True)
class Track:
    """One person followed across frames."""

    id: int
    xyxy: npt.NDArray[np.float32]
    first_seen: float
    last_seen: float
    hits: int = 1
    missed: int = 0
    best_score: float = 0.0
    verified: bool = False
    min_hits: int = 3
    second_opinions: int = 0

    @property
    def confirmed(self) -> bool:
        """Seen in at least ``min_hits`` frames and verified as a person: only then does it count."""
        return self.hits >= self.min_hits and self.verified


def iou_matrix(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Intersection over union of every box of ``a`` [N, 4] with every box of ``b`` [M, 4]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-6), 0).astype(np.float32)


class Tracker:
    """Assigns a stable id to each person."""

    def __init__(
        self,
        iou_threshold: float = 0.2,
        high_confidence: float = 0.5,
        grace_s: float = 1.0,
        max_centre_shift: float = 0.75,
        min_hits: int = 2,
        verified_score: float = 0.0,
        min_aspect: float = 1.0,
    ) -> None:
        if min_hits < 1:
            raise ValueError(f"min_hits must be >= 1, found {min_hits}")
        self._iou_threshold = iou_threshold
        self._high = high_confidence
        self._grace_s = grace_s
        self._min_hits = min_hits
        self._verified_score = verified_score
        self._min_aspect = min_aspect
        self._max_shift = max_centre_shift
        self._tracks: list[Track] = []
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        """Live tracks, including those briefly unseen."""
        return list(self._tracks)

    def update(self, detections: Detections, t: float) -> list[Track]:
        """Match this frame's detections; return the live tracks (seen now or within the grace period)."""
        unmatched_tracks = list(range(len(self._tracks)))
        confident = np.flatnonzero(detections.confidence >= self._high)
        weak = np.flatnonzero(detections.confidence < self._high)
        seen: set[int] = set()
        leftover = self._match(detections, confident, unmatched_tracks, seen, t)
        # Less confident detections first extend existing tracks; those left start tracks of their own, which
        # count only once confirmed by a second frame.
        leftover += self._match(detections, weak, unmatched_tracks, seen, t)
        for index in leftover:
            score = float(detections.confidence[index])
            seen.add(self._start(detections.xyxy[index], score, t, self._score_verifies(score, detections.xyxy[index])))
        for track in self._tracks:
            if track.id not in seen:
                track.missed += 1
        self._tracks = [track for track in self._tracks if t - track.last_seen <= self._grace_s]
        return list(self._tracks)

    def _start(self, box: npt.NDArray[np.float32], score: float, t: float, verified: bool) -> int:
        track = Track(self._next_id, box.copy(), t, t, best_score=score, verified=verified, min_hits=self._min_hits)
        self._tracks.append(track)
        self._next_id += 1
        return track.id

    def add_verified(self, detections: Detections, t: float) -> list[int]:
        """Add people another detector found confidently at time ``t`` that no track seen at ``t`` holds:
        they extend a track unseen in this frame, or start a track that is verified (it still needs
        ``min_hits`` frames). Returns the ids of the tracks they went to."""
        unseen = [i for i, track in enumerate(self._tracks) if track.last_seen != t]
        before = {track.id for track in self._tracks}
        seen: set[int] = set()
        leftover = self._match(detections, np.arange(len(detections)), unseen, seen, t)
        for index in leftover:
            self._start(detections.xyxy[index], float(detections.confidence[index]), t, verified=True)
        for track in self._tracks:
            if track.id in seen:
                track.verified = True
        return sorted(seen | {track.id for track in self._tracks if track.id not in before})

    def _score_verifies(self, score: float, box: npt.NDArray[np.float32]) -> bool:
        """A confident score verifies a person only for a box shaped like one (not wider than tall): a cat
        or a bag lying down scored as a person must get a second opinion."""
        return score >= self._verified_score and (box[3] - box[1]) >= self._min_aspect * (box[2] - box[0])

    def unverified(self, t: float) -> list[Track]:
        """Tracks seen in this frame (time ``t``) that still wait for a second opinion."""
        return [track for track in self._tracks if not track.verified and track.last_seen == t]

    def verify(self, track_ids: set[int], checked: set[int]) -> None:
        """Record a second opinion: tracks in ``track_ids`` are people; the others in ``checked`` were
        looked at and not confirmed this time (they may be confirmed later)."""
        for track in self._tracks:
            if track.id in checked:
                track.second_opinions += 1
            if track.id in track_ids:
                track.verified = True

    def _match(
        self,
        detections: Detections,
        candidates: npt.NDArray[np.intp],
        unmatched_tracks: list[int],
        seen: set[int],
        t: float,
    ) -> list[int]:
        """Greedy matching, best overlap first; returns the candidates left without a track."""
        if len(candidates) == 0:
            return []
        if not unmatched_tracks:
            return [int(c) for c in candidates]
        track_boxes = np.stack([self._tracks[i].xyxy for i in unmatched_tracks])
        det_boxes = detections.xyxy[candidates]
        score = iou_matrix(track_boxes, det_boxes)
        # Fallback for low IoU: a centre shift smaller than a fraction of the box width still matches,
        # scored below any real overlap.
        shift = _centre_shift(track_boxes, det_boxes)
        close = (score < self._iou_threshold) & (shift < self._max_shift)
        score = np.where(close, self._iou_threshold * (1 - shift / self._max_shift) * 0.99, score)
        left = set(range(len(candidates)))
        used_tracks: set[int] = set()
        for flat in np.argsort(-score, axis=None):
            row, col = divmod(int(flat), score.shape[1])
            value = score[row, col]
            if value <= 0:
                break
            if (value < self._iou_threshold and not close[row, col]) or row in used_tracks or col not in left:
                continue
            track = self._tracks[unmatched_tracks[row]]
            track.xyxy = det_boxes[col].copy()
            track.last_seen = t
            track.hits += 1
            track.missed = 0
            confidence = float(detections.confidence[candidates[col]])
            track.best_score = max(track.best_score, confidence)
            track.verified = track.verified or self._score_verifies(confidence, det_boxes[col])
            seen.add(track.id)
            used_tracks.add(row)
            left.discard(col)
        for row in sorted(used_tracks, reverse=True):
            unmatched_tracks.pop(row)
        return [int(candidates[c]) for c in sorted(left)]


def _centre_shift(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Distance between box centres in units of the track box's width."""
    ca = np.stack([(a[:, 0] + a[:, 2]) / 2, (a[:, 1] + a[:, 3]) / 2], axis=1)
    cb = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
    width = np.maximum(a[:, 2] - a[:, 0], 1.0)
    distance = np.linalg.norm(ca[:, None, :] - cb[None, :, :], axis=2)
    return (distance / width[:, None]).astype(np.float32)
