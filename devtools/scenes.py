"""Sample desk scenes with ground truth, for the camera tests, the demo and the benchmark.

Real people, cut from a photograph that ships in a registry package (``bus.jpg`` in the ``ultralytics``
wheel, read straight from the wheel, never copied into this repository), walk into a one-stop office, wait
in a line, are called to the counter one at a time, are served and leave. Beside each video a JSON file
gives the truth the camera must find: how many people stand in the queue zone in every frame, and when
each person entered the queue zone and the service zone (so their true wait); and, for the line itself,
when each person reached the ticket machine at the head of the line and who gave up and walked out.

Membership uses the same rule as the camera: the bottom-centre of the person's visible box.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

WIDTH, HEIGHT, FPS = 640, 480, 5
FEET_Y = 0.95
PERSON_HEIGHT = 0.67
SPEED = 0.3  # frame widths per second
QUEUE_SLOTS = (0.56, 0.38, 0.20)
MARGIN = 0.12  # background kept around each person, as a camera would see it
SERVICE_X = 0.80
ZONES = {
    "queue": [[0.08, 0.6], [0.645, 0.6], [0.645, 1.0], [0.08, 1.0]],
    "service": [[0.66, 0.6], [0.92, 0.6], [0.92, 1.0], [0.66, 1.0]],
    # The ticket machine stands at the head of the line, inside the queue zone.
    "ticket_machine": [[0.50, 0.6], [0.645, 0.6], [0.645, 1.0], [0.50, 1.0]],
}
EXIT_X = -0.3  # where a person who gives up walks to, out of the frame on the entrance side
# Person boxes in bus.jpg (810×1080), found once with the NanoDet detector and checked by eye. The photo's
# other two people are cut by its edge: a camera at a desk sees whole people, so they are not used.
BUS_PEOPLE = ((55, 386, 226, 895), (223, 402, 347, 847))
ULTRALYTICS_VERSION = "8.4.190"


@dataclass(frozen=True, slots=True)
class SceneSpec:
    """Who arrives when, how long each is served, and when the desk starts calling."""

    name: str
    arrivals_s: tuple[float, ...]
    service_s: tuple[float, ...]
    duration_s: float
    opens_at_s: float = 6.0
    walkouts: tuple[tuple[int, float], ...] = ()  # (person index, when they give up and leave the line)


SCENES = (
    SceneSpec("steady", arrivals_s=(0, 3, 6, 14, 24), service_s=(9, 8, 10, 7, 8), duration_s=70),
    SceneSpec("rush", arrivals_s=(0, 1.5, 3, 19, 26, 33), service_s=(6, 7, 6, 8, 6, 7), duration_s=85, opens_at_s=8),
)

# A person gives up at the back of the line and walks out, while the others wait for the desk to open.
LINE_SCENE = SceneSpec(
    "walkout", arrivals_s=(0, 2, 4, 20), service_s=(5, 5, 5, 5), duration_s=45, opens_at_s=16, walkouts=((2, 13.0),)
)


@dataclass(slots=True)
class _Walker:
    sprite: int
    x: float
    service_s: float
    phase: str = "walking"
    target: float = 0.0
    served_at: float | None = None
    truth: dict[str, float] = field(default_factory=dict)


def wheel_path(root: Path) -> Path:
    """The ultralytics wheel that scripts/fetch_test_assets.sh downloads."""
    return root / ".cache" / "test-assets" / f"ultralytics-{ULTRALYTICS_VERSION}-py3-none-any.whl"


def person_sprites(wheel: Path) -> list[npt.NDArray[np.uint8]]:
    """The people of bus.jpg, each cut out and also mirrored (six sprites), scaled to scene height."""
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read("ultralytics/assets/bus.jpg")
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError(f"cannot decode bus.jpg from {wheel}")
    photo = np.asarray(decoded, dtype=np.uint8)
    sprites: list[npt.NDArray[np.uint8]] = []
    target_height = int(PERSON_HEIGHT * HEIGHT)
    for x1, y1, x2, y2 in BUS_PEOPLE:
        pad_x, pad_y = int((x2 - x1) * MARGIN), int((y2 - y1) * MARGIN / 3)
        crop = photo[max(0, y1 - pad_y) : y2 + pad_y, max(0, x1 - pad_x) : x2 + pad_x]
        scale = target_height / crop.shape[0]
        size = (max(1, int(crop.shape[1] * scale)), target_height)
        sprite = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        sprites += [sprite, np.ascontiguousarray(sprite[:, ::-1])]
    return sprites


def _background() -> npt.NDArray[np.uint8]:
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[: int(0.58 * HEIGHT)] = (205, 222, 232)  # wall
    image[int(0.58 * HEIGHT) :] = (150, 150, 145)  # floor
    cv2.rectangle(image, (int(0.93 * WIDTH), int(0.35 * HEIGHT)), (WIDTH, HEIGHT), (60, 90, 140), -1)  # counter
    return image


def _in_polygon(point: tuple[float, float], polygon: list[list[float]]) -> bool:
    contour = (np.asarray(polygon, np.float32) * np.array([WIDTH, HEIGHT], np.float32)).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, point, False) >= 0


def render_scene(spec: SceneSpec, sprites: list[npt.NDArray[np.uint8]], video: Path) -> dict[str, Any]:
    """Write the scene's video (MJPG AVI) and return its ground truth (also written as ``.json`` beside it)."""
    background = _background()
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {video}")
    dt = 1.0 / FPS
    walkers: list[_Walker] = []
    queue: list[_Walker] = []
    serving: _Walker | None = None
    pending = list(zip(spec.arrivals_s, spec.service_s, strict=True))
    gives_up = dict(spec.walkouts)
    counts: list[int] = []
    people: list[_Walker] = []
    for index in range(int(spec.duration_s * FPS)):
        t = index * dt
        while pending and pending[0][0] <= t:
            _, service = pending.pop(0)
            walker = _Walker(sprite=len(people) % len(sprites), x=-0.08, service_s=service)
            walkers.append(walker)
            queue.append(walker)
            people.append(walker)
        for walker in list(queue):
            index_of = people.index(walker)
            if index_of in gives_up and t >= gives_up[index_of]:
                queue.remove(walker)
                walker.phase, walker.target = "walking_out", EXIT_X
                walker.truth["walked_out"] = 1.0
        for slot, walker in enumerate(queue):
            walker.target = QUEUE_SLOTS[slot] if slot < len(QUEUE_SLOTS) else -0.08  # a full line waits outside
        head = queue[0] if queue else None
        if serving is None and head is not None and t >= spec.opens_at_s and abs(head.x - head.target) < 1e-6:
            queue.pop(0)
            head.phase, head.target, serving = "to_service", SERVICE_X, head
        for walker in walkers:
            step = SPEED * dt
            walker.x += max(-step, min(step, walker.target - walker.x))
            if walker.phase == "to_service" and abs(walker.x - SERVICE_X) < 1e-6:
                walker.phase, walker.served_at = "serving", t
            if walker.phase == "serving" and walker.served_at is not None and t - walker.served_at >= walker.service_s:
                walker.phase, walker.target = "leaving", 1.25
            if walker.phase == "leaving" and walker.x > 0.95 and serving is walker:
                serving = None
        walkers = [w for w in walkers if EXIT_X < w.x < 1.2]

        frame = background.copy()
        in_queue = 0
        for walker in sorted(walkers, key=lambda w: w.x):
            box = _paste(frame, sprites[walker.sprite], walker.x)
            if box is None:
                continue
            foot = ((box[0] + box[2]) / 2, float(box[3]))
            if _in_polygon(foot, ZONES["queue"]):
                in_queue += 1
                walker.truth.setdefault("enter_queue_s", t)
                walker.truth["last_in_queue_s"] = t
            if _in_polygon(foot, ZONES["ticket_machine"]) and "enter_queue_s" in walker.truth:
                walker.truth.setdefault("enter_machine_s", t)
            if _in_polygon(foot, ZONES["service"]):
                walker.truth.setdefault("enter_service_s", t)
        counts.append(in_queue)
        writer.write(frame)
    writer.release()

    truth: dict[str, Any] = {
        "fps": FPS,
        "frames": len(counts),
        "zones": ZONES,
        "queue_length": counts,
        "people": [
            {
                "id": i,
                **w.truth,
                "wait_s": round(w.truth["enter_service_s"] - w.truth["enter_queue_s"], 3),
            }
            for i, w in enumerate(people)
            if "enter_queue_s" in w.truth and "enter_service_s" in w.truth
        ],
        "line": [
            {"id": i, **w.truth, "walked_out": "walked_out" in w.truth}
            for i, w in enumerate(people)
            if "enter_queue_s" in w.truth
        ],
    }
    video.with_suffix(".json").write_text(json.dumps(truth, indent=1))
    return truth


def _paste(frame: npt.NDArray[np.uint8], sprite: npt.NDArray[np.uint8], x: float) -> tuple[int, int, int, int] | None:
    """Draw a person with their feet at (x, FEET_Y); return the visible box."""
    h, w = sprite.shape[:2]
    left = int(x * WIDTH - w / 2)
    top = int(FEET_Y * HEIGHT) - h
    x1, x2 = max(0, left), min(WIDTH, left + w)
    if x2 - x1 < w * 0.4:  # mostly outside the frame: not a visible person yet
        return None
    frame[top : top + h, x1:x2] = sprite[:, x1 - left : x2 - left]
    return x1, top, x2, top + h


def make_scenes(root: Path, out_dir: Path, specs: tuple[SceneSpec, ...] = SCENES) -> list[Path]:
    """Render the sample scenes into ``out_dir`` (skipping ones already there); return the videos."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sprites: list[npt.NDArray[np.uint8]] | None = None
    videos = []
    for spec in specs:
        video = out_dir / f"{spec.name}.avi"
        if not (video.exists() and video.with_suffix(".json").exists()):
            sprites = sprites or person_sprites(wheel_path(root))
            render_scene(spec, sprites, video)
        videos.append(video)
    return videos


if __name__ == "__main__":
    import sys

    repository = Path(__file__).resolve().parents[1]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else repository / "var" / "scenes"
    for path in make_scenes(repository, target):
        print(path)
