"""The per-architecture half of `make test-arm64` (scripts/test_arm64.sh): run the edge's models and mock pins
on fixed inputs, write the outputs, and compare an arm64 run with an x86 run.

  arm64_check.py --write-inputs DIR   real frames as raw arrays (no image decoder differences): bus.jpg from
                                      the ultralytics wheel, scikit-image's astronaut
  arm64_check.py --run DIR OUT.json   each model on them, the example config's check, gpiozero mock pins
  arm64_check.py --compare DIR        arm64.json against x86.json; exit 1 beyond the tolerance

Tolerance: the same number of detections; boxes within 0.25 % of the frame's longer side (2.7 px on bus.jpg);
scores and emotion probabilities within 2e-3. onnxruntime's x86 and ARM kernels round floats differently. A
first guess of 1 px and 1e-3 was exceeded by NanoDet on the first run (1.07 px, 1.14e-3), which is why the
tolerance is relative to the frame; the differences measured are printed on every run.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BOX_TOLERANCE = 0.0025  # of the frame's longer side
SCORE_TOLERANCE = 2e-3


def write_inputs(target: Path) -> None:
    import cv2
    import skimage.data

    wheel = sorted((ROOT / ".cache" / "test-assets").glob("ultralytics-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as archive:
        bus = cv2.imdecode(np.frombuffer(archive.read("ultralytics/assets/bus.jpg"), np.uint8), cv2.IMREAD_COLOR)
    astronaut = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    target.mkdir(parents=True, exist_ok=True)
    np.save(target / "bus.npy", np.ascontiguousarray(bus))
    np.save(target / "astronaut.npy", np.ascontiguousarray(astronaut))


def _detections(detections: Any) -> dict[str, Any]:
    return {"xyxy": detections.xyxy.round(3).tolist(), "confidence": detections.confidence.round(5).tolist()}


def run(folder: Path, name: str) -> None:
    import platform

    from gpiozero import Button, Device
    from gpiozero.pins.mock import MockFactory

    from edge.camera.detectors import BlazeFaceDetector, NanoDetPersonDetector, SsdLitePersonDetector
    from edge.camera.emotion import EmotionClassifier
    from edge.config import load_edge_settings

    bus = np.load(folder / "bus.npy")
    astronaut = np.load(folder / "astronaut.npy")
    out: dict[str, Any] = {
        "machine": platform.machine(),
        "frame_sizes": {"bus": max(bus.shape[:2]), "astronaut": max(astronaut.shape[:2])},
    }
    with NanoDetPersonDetector() as nanodet:
        out["nanodet_bus"] = _detections(nanodet.detect(bus))
    with SsdLitePersonDetector() as ssdlite:
        out["ssdlite_bus"] = _detections(ssdlite.detect(bus))
    with BlazeFaceDetector() as blazeface:
        out["blazeface_astronaut"] = _detections(blazeface.detect(astronaut))
    with EmotionClassifier() as emotion:
        face = np.array([[180, 50, 290, 200]], np.float32)  # fixed box: the same input on both machines
        out["emotion_astronaut"] = emotion.classify(astronaut, face)[0].round(5).tolist()
    settings = load_edge_settings(ROOT / "config" / "edge.example.yaml")
    out["config_ok"] = bool(settings.site)
    Device.pin_factory = MockFactory()
    button = Button(17)
    Device.pin_factory.pin(17).drive_low()
    pressed = button.is_pressed
    Device.pin_factory.pin(17).drive_high()
    out["mock_pin_button"] = pressed and not button.is_pressed
    button.close()
    (folder / name).write_text(json.dumps(out, indent=1))
    print(
        f"{name}: {out['machine']}, nanodet {len(out['nanodet_bus']['xyxy'])} people, "
        f"ssdlite {len(out['ssdlite_bus']['xyxy'])}, blazeface {len(out['blazeface_astronaut']['xyxy'])} face(s), "
        f"config {out['config_ok']}, mock pin {out['mock_pin_button']}"
    )


def compare(folder: Path) -> int:
    arm = json.loads((folder / "arm64.json").read_text())
    x86 = json.loads((folder / "x86.json").read_text())
    failures = []
    if arm["machine"] != "aarch64":
        failures.append(f"the arm64 run reports machine {arm['machine']!r}")
    for key, frame in (("nanodet_bus", "bus"), ("ssdlite_bus", "bus"), ("blazeface_astronaut", "astronaut")):
        limit_px = BOX_TOLERANCE * x86["frame_sizes"][frame]
        a, b = np.asarray(arm[key]["xyxy"]), np.asarray(x86[key]["xyxy"])
        if a.shape != b.shape:
            failures.append(f"{key}: {len(a)} detections on arm64, {len(b)} on x86")
            continue
        box = float(np.abs(a - b).max()) if a.size else 0.0
        score = (
            float(np.abs(np.asarray(arm[key]["confidence"]) - np.asarray(x86[key]["confidence"])).max())
            if a.size
            else 0.0
        )
        print(
            f"{key}: {len(a)} detections, max box difference {box:.4f} px (limit {limit_px:.1f}),"
            f" max score difference {score:.2e}"
        )
        if box > limit_px or score > SCORE_TOLERANCE:
            failures.append(f"{key}: box {box} px / score {score} beyond tolerance")
    emotion = float(np.abs(np.asarray(arm["emotion_astronaut"]) - np.asarray(x86["emotion_astronaut"])).max())
    print(f"emotion_astronaut: max probability difference {emotion:.2e}")
    if emotion > SCORE_TOLERANCE:
        failures.append(f"emotion: {emotion} beyond tolerance")
    for key in ("config_ok", "mock_pin_button"):
        if not arm[key]:
            failures.append(f"{key} failed on arm64")
    for failure in failures:
        print("FAIL:", failure)
    print("test-arm64: " + ("passed" if not failures else "failed"))
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write-inputs"] and len(argv) == 2:
        write_inputs(Path(argv[1]))
        return 0
    if argv[:1] == ["--run"] and len(argv) == 3:
        run(Path(argv[1]), argv[2])
        return 0
    if argv[:1] == ["--compare"] and len(argv) == 2:
        return compare(Path(argv[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
