"""Benchmark: kiosk comment sentiment, comments per second on one thread.

Baseline, measured in the same run: the bare onnxruntime session of ``models/sentiment/sentiment.onnx``
on comments tokenised beforehand, one per run. Against it: the whole ``SentimentClassifier.predict()``
path (tokenising included) at batch 1 and batched. Prints ratios against the baseline; asserts nothing.

Run: ``.venv/bin/python bench/bench_sentiment.py [--repeat 3] [--batch 16]``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.kiosk.sentiment import DEFAULT_MODEL_DIR, SentimentClassifier  # noqa: E402
from edge.kiosk.tokenizer import UnigramTokenizer  # noqa: E402


def rate(fn: Callable[[], None], n: int, repeat: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(n / (time.perf_counter() - t0))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    with (REPO / "data" / "sentiment" / "test.csv").open(encoding="utf-8", newline="") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]

    tok = UnigramTokenizer.from_json(DEFAULT_MODEL_DIR / "tokenizer.json")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(DEFAULT_MODEL_DIR / "sentiment.onnx"), options, providers=["CPUExecutionProvider"]
    )
    feeds = []
    for t in texts:
        ids = np.array([tok.encode_with_specials("query: " + t, 256)], dtype=np.int64)
        feeds.append({"input_ids": ids, "attention_mask": np.ones_like(ids)})

    def bare() -> None:
        for f in feeds:
            session.run(["probabilities"], f)

    base = rate(bare, len(texts), args.repeat)
    one = SentimentClassifier.load(threads=1, batch_size=1)
    many = SentimentClassifier.load(threads=1, batch_size=args.batch)
    r1 = rate(lambda: one.predict(texts), len(texts), args.repeat)
    rb = rate(lambda: many.predict(texts), len(texts), args.repeat)
    mean_tokens = np.mean([f["input_ids"].shape[1] for f in feeds])
    print(f"{len(texts)} comments, {mean_tokens:.1f} tokens on average, one onnxruntime thread")
    print(f"baseline  bare session, pre-tokenised, batch 1 : {base:7.1f} comments/s  (1.00x)")
    print(f"predict() batch 1, tokenising included         : {r1:7.1f} comments/s  ({r1 / base:.2f}x)")
    label = f"predict() batch {args.batch}, tokenising included"
    print(f"{label:<47}: {rb:7.1f} comments/s  ({rb / base:.2f}x)")


if __name__ == "__main__":
    main()
