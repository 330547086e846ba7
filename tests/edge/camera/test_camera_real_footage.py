"""The camera on real footage with hand-made labels (models/eval/): the issue's figures as a regression test.

The labels were written by a person looking at the frames; no expectation here comes from a model under
test. The media are read in place from registry packages (scripts/fetch_test_assets.sh).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from edge.camera.detections import Detections
from edge.camera.detectors import NanoDetPersonDetector, build_detector
from edge.camera.detectors.people import covered_share, cut_by_edge, suppress_covered
from edge.camera.emotion import UNCERTAIN, EmotionClassifier, EmotionInputError, outcome
from edge.camera.pipeline import EmotionSettings, head_region
from edge.camera.queue_monitor import QueueMonitor
from edge.camera.tracking import Tracker
from edge.camera.zones import Zone, ZoneConfig, ZoneKind
from tests.support.require import require

REPO_ROOT = Path(__file__).resolve().parents[3]


def _load_evaluate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("models_eval_evaluate", REPO_ROOT / "models" / "eval" / "evaluate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


evaluate = _load_evaluate()


@pytest.fixture(scope="session")
def eval_assets(ultralytics_wheel: Path) -> None:
    """The opencv-doc media of the set; missing: fail under CI, else skip with the command to run."""
    require(
        (evaluate.OPENCV_DATA / "vtest.avi").is_file(),
        f"test assets (Debian's opencv-doc media in {evaluate.OPENCV_DATA})",
        "scripts/fetch_test_assets.sh",
    )
    missing = evaluate.missing_archives()
    require(
        not missing, f"test assets (package archives {missing} in {evaluate.ASSETS})", "scripts/fetch_test_assets.sh"
    )
    photos = evaluate.missing_debian_photos()
    require(not photos, f"test assets (photos from Debian packages: {photos})", "scripts/fetch_test_assets.sh")


@pytest.fixture(scope="session")
def pipeline_figures(eval_assets: None) -> dict[str, Any]:
    """The whole pipeline, shipped defaults, over the set (once per session: about a minute)."""
    with build_detector(EmotionSettings().face) as faces:
        figures: dict[str, Any] = evaluate.evaluate_pipeline(faces=faces)
    return figures


def test_people_per_frame_meet_the_issue_figures(pipeline_figures: dict[str, Any]) -> None:
    people = pipeline_figures["people_per_frame"]
    assert people["frames"] >= 20
    assert people["exact_share"] >= 0.90, pipeline_figures
    assert people["mae"] <= 0.15, pipeline_figures


def test_held_out_frames_are_as_good(pipeline_figures: dict[str, Any]) -> None:
    heldout = pipeline_figures["vtest_heldout"]
    assert heldout["frames"] == 5
    assert heldout["exact_share"] >= 0.8 and heldout["mae"] <= 0.2, pipeline_figures


def test_no_person_is_counted_on_animals_objects_or_empty_scenes(pipeline_figures: dict[str, Any]) -> None:
    """Animals, objects, empty streets and rooms, an empty church, and pictures: a drawing of a crowd, a
    cartoon fish, a rendered monkey head, a graffiti of faces, a printed newspaper page with photos of faces,
    a plaster head."""
    assert pipeline_figures["negatives"] == 36
    # The issue asks for at most 1 false person per 100 negatives; with 36 negatives that means none.
    assert pipeline_figures["false_people_per_100_negatives"] <= 1.0, pipeline_figures["false_people_on"]


def test_people_and_faces_on_pictures_are_not_people(pipeline_figures: dict[str, Any]) -> None:
    """Real photos whose only people or faces are depicted (a newspaper's printed portraits, a plaster head,
    the paintings and statue of an empty church, a graffiti of a cartoon man, a drawing of a crowd): nobody
    is counted, so no face is looked for there."""
    assert pipeline_figures["negatives_with_pictures_of_people"] == 5
    assert pipeline_figures["false_people_on_pictures"] == 0, pipeline_figures["false_people_on"]
    assert pipeline_figures["faces"]["faces_on_pictures"]["found"] == 0, pipeline_figures["faces"]


def test_a_face_found_on_a_picture_is_reported_apart_from_real_and_false_faces() -> None:
    """The matcher against hand boxes: a face on a printed photo is neither a hit nor a false face."""
    item = {
        "id": "desk with a poster",
        "faces": [[0.10, 0.10, 0.20, 0.30]],
        "depicted": [{"box": [0.60, 0.10, 0.70, 0.30], "what": "face"}],
    }
    on_real = [10.0, 10.0, 20.0, 30.0]
    on_poster = [61.0, 11.0, 69.0, 29.0]
    on_the_wall = [40.0, 60.0, 50.0, 80.0]
    found = np.array([on_real, on_poster, on_the_wall], np.float32)
    assert evaluate.match_faces(found, item, 100, 100) == (1, 1, 0, 1)
    assert evaluate.match_faces(found[1:2], item, 100, 100) == (0, 0, 1, 1)


def test_faces_found_where_the_pipeline_looks_meet_the_issue_figures(pipeline_figures: dict[str, Any]) -> None:
    faces = pipeline_figures["faces"]
    assert faces["labelled_faces"] == 15
    assert faces["precision"] >= 0.95 and faces["recall"] >= 0.95, faces


def test_faces_held_out_from_the_threshold_choice_meet_the_issue_figures(pipeline_figures: dict[str, Any]) -> None:
    """Six actors round a card table, Grace Hopper's portrait, a close head-and-shoulders portrait: faces
    added after the face threshold had been chosen on the first seven."""
    held_out = pipeline_figures["faces"]["held_out"]
    assert held_out["labelled_faces"] == 8
    assert held_out["precision"] >= 0.95 and held_out["recall"] >= 0.95, pipeline_figures["faces"]


def test_occluded_people_in_a_real_group_are_not_lost_by_the_containment_check(
    eval_assets: None, nanodet: NanoDetPersonDetector
) -> None:
    """On every labelled vtest frame, the boxes kept after suppression still cover everyone surely in the
    zone (groups of two and three walking side by side, a woman half hidden behind a man at frame 760)."""
    labels = evaluate._labels("vtest.json")
    frames = {int(k): v for k, v in labels["frames"].items()}
    for index, image in evaluate.vtest_frames():
        if index not in frames:
            continue
        height, width = image.shape[:2]
        kept = suppress_covered(nanodet.detect(image), max_covered=0.6)
        confident = kept[kept.confidence >= 0.5]
        low, _ = evaluate.truth_range(frames[index], labels["queue_zone"], labels["boundary_margin"])
        assert evaluate.feet_in_zone(confident.xyxy, labels["queue_zone"], width, height) >= low - 1, index
        assert evaluate.feet_in_zone(kept.xyxy, labels["queue_zone"], width, height) >= low, index


def test_a_box_inside_a_better_one_is_dropped_and_a_half_hidden_one_kept() -> None:
    man = [100, 100, 200, 400]
    inside = [120, 110, 180, 250]  # a "second person" in the man's chest: fully covered
    behind = [170, 60, 260, 330]  # someone behind his shoulder: about a third covered
    detections = Detections([man, inside, behind], [0.8, 0.5, 0.6], [0, 0, 0])
    kept = suppress_covered(detections, max_covered=0.6)
    assert kept.xyxy.tolist() == [man, behind]
    assert covered_share(np.array(inside, np.float32), np.array([man], np.float32)) == 1.0


def test_a_face_close_to_the_camera_is_searched_below_the_top_of_the_box() -> None:
    """A standing body has its face in the top 45 % of its box; a head-and-shoulders box (the portrait of
    mahotas' author: chin at 88 % of the box) is searched down to 90 %."""
    image = np.zeros((1000, 1000, 3), np.uint8)
    standing = np.array([100, 100, 300, 700], np.float32)
    close = np.array([0, 60, 980, 1000], np.float32)
    assert head_region(image, standing) == (100, 100, 300, 370)
    assert head_region(image, close) == (0, 60, 980, 906)


def test_people_cut_by_the_edge_are_recognised_by_shape() -> None:
    boxes = np.array([[600, 100, 640, 300], [600, 300, 640, 330], [100, 100, 140, 300]], np.float32)
    assert cut_by_edge(boxes, 640).tolist() == [True, False, False]


def test_a_track_counts_after_two_frames_and_expires_quickly() -> None:
    tracker = Tracker(grace_s=1.0, min_hits=2, verified_score=0.55)
    person = Detections([[100, 100, 180, 340]], [0.8], [0])
    assert not any(t.confirmed for t in tracker.update(person, 0.0))
    assert all(t.confirmed for t in tracker.update(person, 0.2))
    assert tracker.update(Detections.empty(), 1.0)  # unseen 0.8 s: still held
    assert tracker.update(Detections.empty(), 1.4) == []  # unseen 1.2 s: gone


def test_a_confident_box_wider_than_tall_needs_a_second_opinion() -> None:
    """A cat lying down scored 0.59 "person" (scikit-image's chelsea): a score alone does not make it one."""
    tracker = Tracker(min_hits=2, verified_score=0.55)
    cat = Detections([[0, 0, 450, 300]], [0.59], [0])
    tracker.update(cat, 0.0)
    tracks = tracker.update(cat, 0.2)
    assert [t.confirmed for t in tracks] == [False]
    assert [t.id for t in tracker.unverified(0.2)] == [tracks[0].id]
    tracker.verify({tracks[0].id}, {tracks[0].id})  # a second detector agrees (it would not, for a cat)
    assert [t.confirmed for t in tracker.tracks] == [True]


def test_staff_behind_the_desk_are_not_the_queue() -> None:
    size = (640, 480)
    queue = ZoneConfig(polygon=[(0.0, 0.3), (1.0, 0.3), (1.0, 1.0), (0.0, 1.0)])  # drawn over the desk too
    staff = ZoneConfig(polygon=[(0.6, 0.3), (1.0, 0.3), (1.0, 0.6), (0.6, 0.6)])
    service = ZoneConfig(polygon=[(0.0, 0.0), (0.1, 0.0), (0.1, 0.1)])
    zones = {
        ZoneKind.QUEUE: Zone(ZoneKind.QUEUE, queue, *size),
        ZoneKind.STAFF: Zone(ZoneKind.STAFF, staff, *size),
        ZoneKind.SERVICE: Zone(ZoneKind.SERVICE, service, *size),
    }
    monitor, tracker = QueueMonitor(zones), Tracker()
    officer_and_citizen = Detections([[480, 40, 540, 250], [100, 200, 160, 420]], [0.9, 0.9], [0, 0])
    for step in range(3):
        snapshot, _ = monitor.update(tracker.update(officer_and_citizen, step * 0.2), step * 0.2)
    assert snapshot.length == 1 and snapshot.staff_present is True


def test_calm_faces_are_not_called_unpleasant(eval_assets: None, emotion: EmotionClassifier) -> None:
    figures = evaluate.evaluate_emotion(emotion)
    held_out = figures["held_out"]
    # Measured 2026-11-29: happy 0.67, calm faces neutral-or-uncertain 0.93 on the held-out half.
    assert held_out["outcome"]["happy"] >= 0.6, figures
    assert held_out["outcome_calm_not_unpleasant"] >= 0.85, figures
    # The shipped argmax calls most calm faces angry, fear or sad: the reason for the uncertain outcome.
    assert figures["all"]["argmax"]["neutral"] < 0.5, figures


def test_outcome_names_only_confident_classes() -> None:
    assert outcome([0.02, 0.0, 0.02, 0.9, 0.02, 0.02, 0.02]) == "happy"
    assert outcome([0.3, 0.0, 0.2, 0.1, 0.2, 0.0, 0.2]) == UNCERTAIN
    with pytest.raises(EmotionInputError, match="7 finite numbers"):
        outcome([0.5, 0.5])


def test_waits_on_real_footage_are_within_ten_percent_or_fifteen_seconds(eval_assets: None) -> None:
    figures = evaluate.evaluate_waits()
    assert figures["labelled_waits"] == 3
    assert all(person["measured_wait_s"] is not None for person in figures["people"]), figures
    assert figures["all_within_10pct_or_15s"], figures
    assert figures["false_waits"] == [], figures
