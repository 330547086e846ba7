"""Patch tf2onnx 1.17.0 in place so that its TF.js path works with numpy 2 and TensorFlow 2.19.

tf2onnx 1.17.0 (the last release) predates numpy 2 and TF 2.19; converting a TF.js graph model then fails
in three places. This script rewrites those places in the installed package; it is idempotent and refuses
to touch a tf2onnx whose code no longer looks as expected (so a newer release is never half-patched).

1. ``np.product`` was removed in numpy 2: use ``np.prod`` (``tfjs_utils.py`` and ``graph.py``).
2. TF.js graphs carry ``_FusedConv2D``, ``_FusedMatMul`` and ``FusedDepthwiseConv2dNative`` nodes without
   the ``TArgs`` attribute TF 2.19's op definitions require for shape inference: fill it with ``T``
   repeated ``num_args`` times.
3. An op argument whose ``type_attr`` is absent from the node's attributes falls back to the default in
   the op definition instead of raising ``KeyError``.

Usage: ``python patch_tf2onnx.py`` with the interpreter of the throw-away conversion venv.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

MARKER = "# onestop-patch"

TARGS_FIX = f'''def tfjs_node_to_tf_node_def(node):
    """Converts a tfjs node to a tf node_def for use in tf shape inferencing"""
    node_def = node_def_pb2.NodeDef()
    ParseDict(node, node_def)
    {MARKER}: TF.js drops TArgs, which TF >= 2.x op definitions of the fused ops require
    if node_def.op in ("_FusedConv2D", "_FusedMatMul", "FusedDepthwiseConv2dNative",
                       "_FusedDepthwiseConv2dNative") and "TArgs" not in node_def.attr:
        num_args = node_def.attr["num_args"].i if "num_args" in node_def.attr else 0
        t_type = node_def.attr["T"].type
        node_def.attr["TArgs"].list.type.extend([t_type] * num_args)
    return node_def
'''

TARGS_OLD = '''def tfjs_node_to_tf_node_def(node):
    """Converts a tfjs node to a tf node_def for use in tf shape inferencing"""
    node_def = node_def_pb2.NodeDef()
    ParseDict(node, node_def)
    return node_def
'''

TYPE_ATTR_OLD = """            if arg.type_attr:
                dtype = tf_attr[arg.type_attr]
"""

TYPE_ATTR_NEW = f"""            {MARKER}: a type attribute TF.js left out takes the op definition's default
            if arg.type_attr and arg.type_attr not in tf_attr:
                dtype = next(a.default_value.type for a in tf_op_def.attr if a.name == arg.type_attr)
            elif arg.type_attr:
                dtype = tf_attr[arg.type_attr]
"""


def _replace_once(text: str, old: str, new: str, file: Path) -> str:
    if text.count(old) != 1:
        raise SystemExit(f"{file}: expected exactly one occurrence of {old!r}, found {text.count(old)}")
    return text.replace(old, new)


def patch(package_dir: Path) -> None:
    """Apply the three fixes to the tf2onnx installed in ``package_dir``."""
    tfjs_utils = package_dir / "tfjs_utils.py"
    graph = package_dir / "graph.py"

    text = tfjs_utils.read_text()
    if MARKER not in text:
        text = text.replace("np.product(", "np.prod(")
        text = _replace_once(text, TARGS_OLD, TARGS_FIX, tfjs_utils)
        text = _replace_once(text, TYPE_ATTR_OLD, TYPE_ATTR_NEW, tfjs_utils)
        tfjs_utils.write_text(text)
        print(f"patched {tfjs_utils}")

    text = graph.read_text()
    if "np.product(" in text:
        graph.write_text(text.replace("np.product(", "np.prod("))
        print(f"patched {graph}")


def main() -> None:
    spec = importlib.util.find_spec("tf2onnx")
    if spec is None or spec.origin is None:
        raise SystemExit("tf2onnx is not installed in this interpreter")
    patch(Path(spec.origin).parent)
    import tf2onnx  # noqa: PLC0415 - imported after patching to prove the patched code still loads

    if tf2onnx.__version__ != "1.17.0":
        print(f"warning: patch written for tf2onnx 1.17.0, found {tf2onnx.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
