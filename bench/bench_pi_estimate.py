"""Each edge model's latency on this host (onnxruntime, one thread), and an estimate for a Raspberry Pi 4 and 5.

`make test-arm64` proves the models give the same answers on arm64, but emulated speed says nothing about a
Pi's, and no Pi is at hand. So the Pi figures are an estimate, derived like this: ncnn's published benchmark
(Tencent/ncnn, `benchmark/README.md` at commit a4d2ea1, sections "Raspberry Pi 4 Model B Broadcom BCM2711B0,
Cortex-A72 (ARMv8) (1.8GHz x 4)" and "Raspberry Pi 5 Broadcom BCM2712, Cortex-A76 (ARMv8) (2.4GHz x 4)",
`benchncnn 10 1 0 -1 …`, one thread) times, on both Pis, networks of the same families as ours: nanodet_m
(320×320) for NanoDet, mobilenet_ssd (300×300) for SSDLite-MobileNetV2, blazeface (128×128) for BlazeFace.
The same three networks are timed here with ncnn's Python package (random weights, as benchncnn does), which
gives how many times slower each Pi is than this host on that network; each of our models' time here is
multiplied by its network's factor. The emotion model (mini-XCEPTION, 64×64) has no counterpart: it gets the
largest of the three factors.

What the estimate assumes: that onnxruntime on a Pi is as much slower than onnxruntime here as ncnn is there
(both use hand-written NEON and AVX2 kernels, but not equally good ones), and that the Pi runs at its stock
clock without throttling. Measure on a real Pi before relying on it.

Run: ``.venv/bin/python bench/bench_pi_estimate.py [--ncnn-params DIR]``, after ``scripts/fetch_test_assets.sh``.
The estimate needs ncnn's Python package (``pip install ncnn``; not a dependency of the project) and ncnn's
``benchmark/*.param`` files (DIR, from a checkout of Tencent/ncnn); without them only this host's figures
are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.camera.detectors import BlazeFaceDetector, NanoDetPersonDetector, SsdLitePersonDetector  # noqa: E402
from edge.camera.emotion import EmotionClassifier  # noqa: E402

cv2.setNumThreads(1)

# ncnn benchmark/README.md at commit a4d2ea1 (Tencent/ncnn), one thread: min ms on each Pi.
PUBLISHED_MIN_MS = {
    "nanodet_m": {"Pi 4": 103.05, "Pi 5": 19.63},
    "mobilenet_ssd": {"Pi 4": 250.71, "Pi 5": 45.42},
    "blazeface": {"Pi 4": 12.54, "Pi 5": 2.98},
}
NCNN_SHAPES = {"nanodet_m": (320, 320, 3), "mobilenet_ssd": (300, 300, 3), "blazeface": (128, 128, 3)}
COUNTERPART = {"NanoDet-m": "nanodet_m", "SSDLite": "mobilenet_ssd", "BlazeFace": "blazeface", "emotion": None}


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    """(min, median) milliseconds of ``call`` over ``runs`` runs after 3 warm-up runs."""
    for _ in range(3):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def our_models(runs: int) -> dict[str, tuple[float, float]]:
    """Each model as the pipeline calls it (preprocessing and decoding included), one thread."""
    import skimage.data

    wheel = sorted((ROOT / ".cache" / "test-assets").glob("ultralytics-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as archive:
        bus = cv2.imdecode(np.frombuffer(archive.read("ultralytics/assets/bus.jpg"), np.uint8), cv2.IMREAD_COLOR)
    assert bus is not None
    astronaut = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    face = np.array([[180, 50, 290, 200]], np.float32)
    results = {}
    with NanoDetPersonDetector(threads=1) as nanodet:
        results["NanoDet-m"] = timed(lambda: nanodet.detect(bus), runs)
    with SsdLitePersonDetector(threads=1) as ssdlite:
        results["SSDLite"] = timed(lambda: ssdlite.detect(bus), runs)
    with BlazeFaceDetector(threads=1) as blazeface:
        results["BlazeFace"] = timed(lambda: blazeface.detect(astronaut), runs)
    with EmotionClassifier(threads=1) as emotion:
        results["emotion"] = timed(lambda: emotion.classify(astronaut, face), runs)
    return results


def ncnn_here(params: Path, loops: int) -> dict[str, float]:
    """The min ms of ncnn's benchmark networks on this host, one thread, as benchncnn measures them."""
    import ncnn

    option = ncnn.Option()
    option.num_threads = 1
    option.use_vulkan_compute = False
    results = {}
    for name, shape in NCNN_SHAPES.items():
        net = ncnn.Net()
        net.opt = option
        net.load_param(str(params / f"{name}.param"))
        net.load_model(ncnn.DataReaderFromEmpty())
        blob = ncnn.Mat(shape)
        blob.fill(0.01)

        def run(net: ncnn.Net = net, blob: ncnn.Mat = blob) -> None:
            with net.create_extractor() as extractor:
                extractor.input(net.input_names()[0], blob)
                extractor.extract(net.output_names()[0])

        results[name] = timed(run, loops)[0]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ncnn-params", type=Path, help="ncnn's benchmark/ folder (the *.param files)")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; one thread per model")
    ours = our_models(args.runs)
    for model, (fastest, median) in ours.items():
        print(f"{model:10s} here: min {fastest:6.1f} ms, median {median:6.1f} ms")
    if args.ncnn_params is None:
        print("no --ncnn-params: no Pi estimate")
        return 0
    here = ncnn_here(args.ncnn_params, max(10, args.runs // 3))
    factors = {
        name: {pi: published / here[name] for pi, published in by_pi.items()}
        for name, by_pi in PUBLISHED_MIN_MS.items()
    }
    for name, by_pi in factors.items():
        print(
            f"ncnn {name:13s} here min {here[name]:6.1f} ms; published "
            + ", ".join(f"{pi} {PUBLISHED_MIN_MS[name][pi]:.1f} ms (×{factor:.1f})" for pi, factor in by_pi.items())
        )
    print("estimate (ESTIMATED, not measured): our model's min here × the Pi/host factor of its ncnn counterpart")
    for model, (fastest, _) in ours.items():
        counterpart = COUNTERPART[model]
        by_pi = (
            factors[counterpart]
            if counterpart
            else {pi: max(f[pi] for f in factors.values()) for pi in ("Pi 4", "Pi 5")}
        )
        print(
            f"{model:10s} "
            + ", ".join(f"{pi} ≈ {fastest * factor:6.1f} ms" for pi, factor in by_pi.items())
            + f"  (factor from {counterpart or 'the largest of the three'})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
