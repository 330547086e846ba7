"""Fixtures for the camera tests: real test images and the real ONNX models, each loaded once.

bus.jpg and zidane.jpg ship only inside the ultralytics wheel (AGPL-3.0), so they are read straight out of
the wheel that ``scripts/fetch_test_assets.sh`` downloads into ``.cache/test-assets/`` and are never copied
into the repository. Decoded images stay in memory.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.camera.detectors import BlazeFaceDetector, NanoDetPersonDetector, SsdLitePersonDetector
from edge.camera.emotion import EmotionClassifier
from tests.support.require import require, require_module

REPO_ROOT = Path(__file__).resolve().parents[3]
ASSETS_DIR = REPO_ROOT / ".cache" / "test-assets"

Image = npt.NDArray[np.uint8]


@pytest.fixture(scope="session")
def ultralytics_wheel() -> Path:
    """The ultralytics wheel fetched by scripts/fetch_test_assets.sh."""
    wheels = sorted(ASSETS_DIR.glob("ultralytics-*.whl"))
    require(bool(wheels), f"test assets (the ultralytics wheel in {ASSETS_DIR})", "scripts/fetch_test_assets.sh")
    return wheels[-1]


def _read_wheel_image(wheel: Path, name: str) -> Image:
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(f"ultralytics/assets/{name}")
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None, f"cannot decode {name} from {wheel}"
    return np.asarray(decoded, dtype=np.uint8)


@pytest.fixture(scope="session")
def bus_image(ultralytics_wheel: Path) -> Image:
    """bus.jpg (810x1080): four people, two of them cut by the frame's edge; two visible faces."""
    return _read_wheel_image(ultralytics_wheel, "bus.jpg")


@pytest.fixture(scope="session")
def zidane_image(ultralytics_wheel: Path) -> Image:
    """zidane.jpg (1280x720): two people, two faces."""
    return _read_wheel_image(ultralytics_wheel, "zidane.jpg")


@pytest.fixture(scope="session")
def astronaut_image() -> Image:
    """scikit-image's astronaut (Eileen Collins, public domain), smiling, as BGR."""
    data = require_module("skimage.data", "scikit-image", "installed with the dev extra: ./scripts/setup.sh")
    return np.asarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), dtype=np.uint8)


@pytest.fixture(scope="session")
def nanodet() -> Iterator[NanoDetPersonDetector]:
    with NanoDetPersonDetector() as detector:
        yield detector


@pytest.fixture(scope="session")
def ssdlite() -> Iterator[SsdLitePersonDetector]:
    with SsdLitePersonDetector() as detector:
        yield detector


@pytest.fixture(scope="session")
def blazeface() -> Iterator[BlazeFaceDetector]:
    with BlazeFaceDetector() as detector:
        yield detector


@pytest.fixture(scope="session")
def emotion() -> Iterator[EmotionClassifier]:
    with EmotionClassifier() as classifier:
        yield classifier
