"""Vietnamese wording and number formats of the reports (1.234; 87,3 %; 12,5 phút)."""

from __future__ import annotations

LEVEL_NAMES = {"province": "cấp tỉnh", "district": "cấp huyện", "commune": "cấp xã"}
SENTIMENT_NAMES = {"positive": "tích cực", "neutral": "trung lập", "negative": "tiêu cực"}
BY_NAMES = {
    "province": "toàn tỉnh",
    "unit": "đơn vị",
    "desk": "quầy",
    "service": "lĩnh vực",
    "officer": "cán bộ",
}
NO_DATA = "—"


def fmt_int(value: int | float | None) -> str:
    """An integer with '.' between thousands; a dash for no value."""
    if value is None:
        return NO_DATA
    return f"{round(value):,}".replace(",", ".")


def fmt_num(value: float | None, decimals: int = 1) -> str:
    """A number with a decimal comma."""
    if value is None:
        return NO_DATA
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def fmt_pct(value: float | None, decimals: int = 1) -> str:
    """A share (0–1) as a percentage: 87,3 %."""
    return NO_DATA if value is None else f"{fmt_num(value * 100, decimals)} %"


def fmt_minutes(seconds: float | None, decimals: int = 1) -> str:
    """Seconds as minutes: 12,5 phút."""
    return NO_DATA if seconds is None else f"{fmt_num(seconds / 60, decimals)} phút"


def fmt_interval(interval: tuple[float, float] | None) -> str:
    """A share interval: 84,1–90,2 %."""
    if interval is None:
        return NO_DATA
    return f"{fmt_num(interval[0] * 100)}–{fmt_num(interval[1] * 100)} %"


def fmt_ratio(hits: int, total: int) -> str:
    """Evidence of a share: (1.642/1.881)."""
    return f"({fmt_int(hits)}/{fmt_int(total)})"
