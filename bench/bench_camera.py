"""The desk camera on one thread: the whole pipeline against the bare detector on the same frames, and the
peak memory of the edge process.

- bare model: onnxruntime's ``run`` of NanoDet on the already prepared input tensors (nothing else);
- detector: ``detect()`` (resize, normalise, run, decode, NMS);
- pipeline: decode each frame from the video file, detect, track, zones, queue figures, and the face and
  emotion of the citizen in the service zone every third frame.
All three on the same frames of a sample scene, in the same run, printed as frames per second and as the
pipeline's cost relative to the bare model and to the detector. Then the desk agent with the camera runs in
a fresh process over the same video, and its peak resident memory (VmHWM) is read from /proc.

Run: ``.venv/bin/python bench/bench_camera.py`` (needs ``scripts/fetch_test_assets.sh`` first).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.scenes import make_scenes  # noqa: E402
from edge.camera.detectors import NanoDetPersonDetector  # noqa: E402
from edge.camera.detectors.nanodet import _INV_STD, _MEAN, _SIZE  # noqa: E402
from edge.camera.pipeline import CameraPipeline, CameraSettings  # noqa: E402
from edge.camera.sources import FileSourceSettings, VideoFileSource  # noqa: E402

cv2.setNumThreads(1)


def main() -> int:
    """Measure and print."""
    with tempfile.TemporaryDirectory() as tmp:
        video = make_scenes(ROOT, Path(tmp))[0]
        truth = json.loads(video.with_suffix(".json").read_text())
        source = VideoFileSource(FileSourceSettings(path=video))
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame.image)
        source.close()

        detector = NanoDetPersonDetector(threads=1)
        tensors = [
            np.ascontiguousarray(
                ((cv2.resize(f, (_SIZE, _SIZE)).astype(np.float32) - _MEAN) * _INV_STD).transpose(2, 0, 1)[None]
            )
            for f in frames
        ]
        session = detector._session
        assert session is not None
        name = session.get_inputs()[0].name
        started = time.perf_counter()
        for tensor in tensors:
            session.run(None, {name: tensor})
        bare = len(frames) / (time.perf_counter() - started)

        started = time.perf_counter()
        for image in frames:
            detector.detect(image)
        detect_fps = len(frames) / (time.perf_counter() - started)
        detector.close()

        settings = CameraSettings.model_validate(
            {
                "source": {"type": "file", "path": str(video)},
                "detector": {"type": "nanodet", "threads": 1},
                "zones": {
                    "queue": {"polygon": truth["zones"]["queue"]},
                    "service": {"polygon": truth["zones"]["service"]},
                },
            }
        )
        pipeline = CameraPipeline.build(settings, "bn-hcc", "q01")
        source = VideoFileSource(FileSourceSettings(path=video))
        started = time.perf_counter()
        processed = 0
        while (frame := source.read()) is not None:
            pipeline.process(frame)
            processed += 1
        whole = processed / (time.perf_counter() - started)
        source.close()

        peak_mb = agent_peak_memory(video, truth, Path(tmp))

    print(f"frames: {len(frames)} ({frames[0].shape[1]}x{frames[0].shape[0]}), one thread")
    print(f"bare NanoDet model run:      {bare:6.1f} fps")
    print(f"detector detect():           {detect_fps:6.1f} fps")
    print(f"whole camera pipeline:       {whole:6.1f} fps")
    print(f"pipeline cost vs bare model: {bare / whole:.2f}x  (aim: at most 1.20x)")
    print(f"pipeline cost vs detect():   {detect_fps / whole:.2f}x")
    print(f"edge process peak memory (agent + camera pipeline, VmHWM): {peak_mb:.0f} MB  (aim: under 300 MB)")
    real_footage()
    return 0


def real_footage(frames_wanted: int = 120) -> None:
    """The same ratio on real footage (vtest.avi of models/eval/, every 2nd frame as at 5 fps), where the
    people checks have work to do: doubtful boxes, the second detector's opinion, merged boxes."""
    from edge.camera.sources import Frame

    sys.path.insert(0, str(ROOT / "models" / "eval"))
    import evaluate  # noqa: PLC0415  (models/eval is not a package)

    frames = [image for index, image in evaluate.vtest_frames(step=2)][:frames_wanted]
    detector = NanoDetPersonDetector(threads=1)
    session = detector._session
    assert session is not None
    name = session.get_inputs()[0].name
    tensors = [
        np.ascontiguousarray(
            ((cv2.resize(f, (_SIZE, _SIZE)).astype(np.float32) - _MEAN) * _INV_STD).transpose(2, 0, 1)[None]
        )
        for f in frames
    ]
    started = time.perf_counter()
    for tensor in tensors:
        session.run(None, {name: tensor})
    bare = len(frames) / (time.perf_counter() - started)
    detector.close()
    labels = json.loads((ROOT / "models" / "eval" / "labels" / "vtest.json").read_text())
    pipeline = CameraPipeline.build(evaluate._pipeline_settings(labels["queue_zone"]), "bn-hcc", "q01")
    started = time.perf_counter()
    for k, image in enumerate(frames):
        pipeline.process(Frame(image, k * 0.2))
    whole = len(frames) / (time.perf_counter() - started)
    print(f"real footage (vtest.avi, {len(frames)} frames at 5 fps, people checks and second opinion on):")
    print(f"  bare NanoDet {bare:6.1f} fps, whole pipeline {whole:6.1f} fps: {bare / whole:.2f}x  (aim: at most 1.20x)")


def agent_peak_memory(video: Path, truth: dict[str, object], workdir: Path) -> float:
    """Run the desk agent with the camera over the video in a fresh process; return its peak RSS in MB."""
    zones = truth["zones"]
    assert isinstance(zones, dict)
    config = workdir / "node.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            site: bn-hcc
            desk: q01
            mqtt: {{host: 127.0.0.1, port: 1}}
            spool: {{path: {workdir / "outbox.db"}}}
            camera:
              source: {{type: file, path: {video}}}
              detector: {{type: nanodet, threads: 1}}
              zones:
                queue: {{polygon: {zones["queue"]}}}
                service: {{polygon: {zones["service"]}}}
            """
        )
    )
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from edge.agent import DeskAgent
        from edge.config import load_edge_settings
        agent = DeskAgent(load_edge_settings(Path({str(config)!r})))
        agent.start()
        while agent._camera is not None and agent._camera.is_alive():
            time.sleep(0.2)
        agent.close()
        status = Path("/proc/self/status").read_text()
        print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return int(result.stdout.strip().splitlines()[-1]) / 1024


if __name__ == "__main__":
    sys.exit(main())
