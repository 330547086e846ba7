"""The kiosk's comment sentiment classifier, as a citizen and the code around it would notice it.

The comments below were written for these tests: none of them is in ``data/sentiment``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from edge.kiosk.sentiment import SentimentClassifier, SentimentModelError, SentimentPrediction
from protocol.errors import OneStopError

REPO = Path(__file__).resolve().parents[3]
CARD = REPO / "models" / "sentiment" / "README.md"
TEST_CSV = REPO / "data" / "sentiment" / "test.csv"
LABELS = {"negative", "neutral", "positive"}

NEGATIVE = [
    "Tôi chờ gần ba tiếng mà vẫn chưa được gọi tên, quá mệt mỏi.",
    "Cán bộ nói năng cộc cằn, hỏi lại thì bị quát.",
    "Phòng chờ không có điều hòa, nóng không chịu nổi.",
    "cho qua lau, ca buoi sang van chua xong",
    "Hồ sơ bị trả về ba lần mà không ai nói rõ thiếu gì 😡",
    "The staff were rude and I waited for hours.",
]
POSITIVE = [
    "Cán bộ hướng dẫn tận tình, chỉ mười phút là xong thủ tục.",
    "Phòng chờ mát mẻ, sạch sẽ, có nước uống, rất hài lòng.",
    "Cảm ơn chị cán bộ đã giúp mẹ tôi điền tờ khai.",
    "nhan vien nhiet tinh, lam nhanh, cam on nhieu",
    "phục vụ tốt lắm, 10 điểm 👍",
    "The officer was very kind and everything was done quickly.",
]
NEUTRAL = [
    "Cho tôi hỏi làm lại giấy khai sinh cần mang những giấy tờ gì?",
    "Tôi đến nộp hồ sơ đăng ký thường trú cho con.",
    "cho hoi thu 7 trung tam co lam viec khong",
    "Trung tâm mở cửa lúc mấy giờ sáng?",
    "Where can I get a copy of my marriage certificate?",
]


@pytest.fixture(scope="module")
def classifier() -> SentimentClassifier:
    return SentimentClassifier.load()


@pytest.mark.parametrize(
    ("text", "label"),
    [(t, "negative") for t in NEGATIVE] + [(t, "positive") for t in POSITIVE] + [(t, "neutral") for t in NEUTRAL],
)
def test_clear_comments_get_the_obvious_label(classifier: SentimentClassifier, text: str, label: str) -> None:
    assert classifier.predict([text])[0].label == label


def test_one_prediction_per_text_in_order(classifier: SentimentClassifier) -> None:
    texts = [NEGATIVE[0], POSITIVE[0], NEUTRAL[0], NEGATIVE[3], POSITIVE[3]]
    preds = classifier.predict(texts)
    assert len(preds) == len(texts)
    assert [p.label for p in preds] == ["negative", "positive", "neutral", "negative", "positive"]


def test_prediction_contract(classifier: SentimentClassifier) -> None:
    preds = classifier.predict(NEGATIVE + POSITIVE + NEUTRAL)
    assert len(preds) == len(NEGATIVE + POSITIVE + NEUTRAL) > 0
    for p in preds:
        assert isinstance(p, SentimentPrediction)
        assert p.label in LABELS
        assert 0.0 <= p.confidence <= 1.0
        probs = p.probabilities
        assert set(probs) == LABELS
        assert all(0.0 <= v <= 1.0 for v in probs.values())
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-6)
        assert p.confidence == pytest.approx(max(probs.values()))
        assert probs[p.label] == p.confidence
    with pytest.raises(AttributeError):
        preds[0].label = "positive"  # type: ignore[misc]


@pytest.mark.parametrize("blank", ["", "   ", "\n\t "])
def test_empty_or_whitespace_text_is_neutral(classifier: SentimentClassifier, blank: str) -> None:
    [pred] = classifier.predict([blank])
    assert pred.label == "neutral"
    assert pred.confidence == 1.0
    assert pred.probabilities == {"negative": 0.0, "neutral": 1.0, "positive": 0.0}


def test_empty_list_and_mixed_blank_entries(classifier: SentimentClassifier) -> None:
    assert classifier.predict([]) == []
    preds = classifier.predict(["", NEGATIVE[0], "  "])
    assert [p.label for p in preds] == ["neutral", "negative", "neutral"]


def test_a_comment_is_judged_the_same_whatever_comes_with_it(classifier: SentimentClassifier) -> None:
    alone = classifier.predict([NEUTRAL[2]])[0]
    together = classifier.predict([NEGATIVE[0], NEUTRAL[2], POSITIVE[0] * 5])[1]
    assert alone == together


def test_batched_mode_keeps_confident_labels(classifier: SentimentClassifier) -> None:
    # batching quantises several comments' activations together (documented); confident labels hold
    batched = SentimentClassifier.load(batch_size=8)
    texts = NEGATIVE + POSITIVE + NEUTRAL
    one = classifier.predict(texts)
    many = batched.predict(texts)
    assert len(many) == len(texts)
    assert [p.label for p in one if p.confidence >= 0.9] == [
        q.label for p, q in zip(one, many, strict=True) if p.confidence >= 0.9
    ]


def test_very_long_comment_is_handled(classifier: SentimentClassifier) -> None:
    text = "Chờ quá lâu, cán bộ thờ ơ. " * 200
    [pred] = classifier.predict([text])
    assert pred.label == "negative"


def test_bad_input_types_are_rejected(classifier: SentimentClassifier) -> None:
    with pytest.raises(TypeError):
        classifier.predict("một chuỗi, không phải danh sách")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        classifier.predict([None])  # type: ignore[list-item]


def test_missing_model_folder_raises_project_error(tmp_path: Path) -> None:
    with pytest.raises(SentimentModelError) as info:
        SentimentClassifier.load(tmp_path)
    assert isinstance(info.value, OneStopError)


def _card_macro_f1() -> float:
    match = re.search(r"held-out macro-F1: \*\*([0-9.]+)\*\*", CARD.read_text(encoding="utf-8"))
    assert match, "the model card must state the held-out macro-F1 as 'held-out macro-F1: **0.xxx**'"
    return float(match.group(1))


def test_held_out_macro_f1_matches_the_model_card(classifier: SentimentClassifier) -> None:
    with TEST_CSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 300
    labels = ["negative", "neutral", "positive"]
    y = np.array([labels.index(r["label"]) for r in rows])
    pred = np.array([labels.index(p.label) for p in classifier.predict([r["text"] for r in rows])])
    f1s = []
    for k in range(3):
        tp = np.sum((pred == k) & (y == k))
        precision = tp / max(1, np.sum(pred == k))
        recall = tp / max(1, np.sum(y == k))
        f1s.append(0.0 if tp == 0 else 2 * precision * recall / (precision + recall))
    assert float(np.mean(f1s)) >= _card_macro_f1() - 0.01
