"""Names in reports follow Vietnamese alphabetical order; chart labels keep the part where names differ."""

from __future__ import annotations

from hub.reports.collation import names_key, vietnamese_key
from hub.reports.export_pdf import distinctive_labels


def test_names_sort_in_vietnamese_order() -> None:
    names = ["Đông Anh", "Dũng", "Ân Thi", "An Phú", "Ăn", "Bắc Ninh", "Bạc", "Bác", "Bà", "Ba", "Ưu", "Uyên"]
    expected = ["An Phú", "Ăn", "Ân Thi", "Ba", "Bà", "Bác", "Bạc", "Bắc Ninh", "Dũng", "Đông Anh", "Uyên", "Ưu"]
    assert sorted(names, key=vietnamese_key) == expected
    # Python's own order puts Đ after Z and Ă, Â after B: the evaluation pack used to follow it.
    assert sorted(names) != expected


def test_units_then_fields_then_officers() -> None:
    rows = [("Đông Anh", "Tư pháp", "cb-2"), ("Đông Anh", "Đất đai", "cb-1"), ("Bắc Ninh", "Xây dựng", "cb-3")]
    assert sorted(rows, key=lambda r: names_key(*r)) == [rows[2], rows[1], rows[0]]


def test_chart_labels_drop_the_words_all_share() -> None:
    labels = [
        "Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh",
        "Trung tâm Phục vụ hành chính công phường Kinh Bắc",
        "Trung tâm Phục vụ hành chính công phường Từ Sơn",
    ]
    assert distinctive_labels(labels) == ["tỉnh Bắc Ninh", "phường Kinh Bắc", "phường Từ Sơn"]
    assert distinctive_labels(["Quầy 1", "Quầy 2"]) == ["1", "2"]
    assert distinctive_labels(["Quầy 1", "Quầy 1"]) == ["1", "1"]
    assert distinctive_labels(["Bắc Ninh"]) == ["Bắc Ninh"]
