"""Vietnamese alphabetical order (collation) for names in reports: a ă â b c d đ e ê g h i k l m n o ô ơ p q r s
t u ư v x y, letters before tones, tones in dictionary order (ngang, huyền, hỏi, ngã, sắc, nặng), case last.

Python's own order puts "Đ" after "Z" and "Â" after "Á"; ``sorted(names, key=vietnamese_key)`` does not."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
# NFD combining marks: the letter-making ones (breve, circumflex, horn) and the five tones.
LETTER_MARKS = {"\u0306": "breve", "\u0302": "circumflex", "\u031b": "horn"}
TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền, hỏi, ngã, sắc, nặng
COMPOSED = {("a", "breve"): "ă", ("a", "circumflex"): "â", ("e", "circumflex"): "ê", ("o", "circumflex"): "ô"}
COMPOSED |= {("o", "horn"): "ơ", ("u", "horn"): "ư"}
LETTER_RANK = {letter: 1000 + i for i, letter in enumerate(ALPHABET)}
FOREIGN_BASE = 2000  # f, j, w, z and other letters after the Vietnamese alphabet


def _letters(text: str) -> list[tuple[str, int]]:
    """(letter, tone) pairs: each base character with its letter-making mark folded in, its tone apart."""
    out: list[tuple[str, int]] = []
    for char in unicodedata.normalize("NFD", text.casefold()):
        if char in LETTER_MARKS and out:
            base, tone = out[-1]
            out[-1] = (COMPOSED.get((base, LETTER_MARKS[char]), base), tone)
        elif char in TONES and out:
            out[-1] = (out[-1][0], TONES[char])
        elif unicodedata.combining(char):
            continue
        else:
            out.append((char, 0))
    return out


def _rank(letter: str) -> int:
    if letter in LETTER_RANK:
        return LETTER_RANK[letter]
    if letter.isalpha():
        return FOREIGN_BASE + ord(letter)
    return ord(letter)  # spaces, digits and punctuation before letters, in code point order


@lru_cache(maxsize=4096)  # a report sorts thousands of rows by a few hundred unit and field names
def vietnamese_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """Sort key: letters first, then tones, then the text itself (so that the order is total)."""
    pairs = _letters(text)
    return tuple(_rank(letter) for letter, _ in pairs), tuple(tone for _, tone in pairs), text


def names_key(*names: str) -> tuple[tuple[tuple[int, ...], tuple[int, ...], str], ...]:
    """Sort key of several names in turn (unit, then field, then officer), each in Vietnamese order."""
    return tuple(vietnamese_key(name) for name in names)
