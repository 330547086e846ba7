"""Three voices of the citizen, side by side: the rating buttons, the comments and (where the camera measures it)
the face, per unit and hour, with a warning when the buttons disagree with the others beyond chance.

What is compared (see docs/alerts.md):

- buttons: the share of counted ratings that are satisfied (score at or above the scale's satisfied level);
- comments: the share of comments whose sentiment is not negative (positive or neutral);
- faces: the share of served citizens whose mean emotion valence over the service is not negative (>= 0).

The test: Fisher's exact test (two-sided) on the 2×2 table of the two voices' yes/no counts, made for the day
and for each hour that has at least ``MIN_RATINGS`` ratings and ``MIN_OTHER`` comments (or faces). The level
is ``ALPHA`` divided by the number of tests made that day (Bonferroni), and a warning also needs a gap of at
least ``MIN_GAP`` between the two shares, so that a small difference on a busy day is not a warning.
The two voices are not fully independent samples (one citizen may press a button and write a comment), so the
p-value is a screening figure, not a proof: the warning says where to look.

Pure functions over rows, and one reader that takes the rows from the record (a read-only connection).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.config import HubSettings, RatingScale
from hub.reports.record import open_record

MIN_RATINGS = 10
MIN_OTHER = 5
ALPHA = 0.01
MIN_GAP = 0.30

VOICE_NAMES = {"buttons": "nút đánh giá", "comments": "góp ý", "faces": "cảm xúc khuôn mặt"}


@dataclass(slots=True)
class Voices:
    """The counts behind the three voices over one hour (or the day)."""

    ratings: int = 0
    satisfied: int = 0
    comments: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    faces: int = 0
    faces_negative: int = 0
    valence_sum: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """Counts and shares (None where there is nothing to divide)."""
        return {
            "ratings": self.ratings,
            "satisfied": self.satisfied,
            "satisfied_share": _share(self.satisfied, self.ratings),
            "comments": self.comments,
            "comments_negative": self.negative,
            "comments_neutral": self.neutral,
            "comments_positive": self.positive,
            "comments_not_negative_share": _share(self.comments - self.negative, self.comments),
            "faces": self.faces,
            "faces_not_negative_share": _share(self.faces - self.faces_negative, self.faces),
            "mean_valence": self.valence_sum / self.faces if self.faces else None,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """One test of the buttons against another voice, over the day or one hour."""

    scope: str
    other: str
    buttons_yes: int
    buttons_n: int
    other_yes: int
    other_n: int
    p_value: float
    alpha: float
    warning: bool
    message: str

    def as_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "scope": self.scope,
            "other": self.other,
            "buttons_share": self.buttons_yes / self.buttons_n,
            "buttons": {"yes": self.buttons_yes, "n": self.buttons_n},
            "other_share": self.other_yes / self.other_n,
            "other_counts": {"yes": self.other_yes, "n": self.other_n},
            "p_value": self.p_value,
            "alpha": self.alpha,
            "warning": self.warning,
            "message": self.message,
        }


@dataclass(slots=True)
class ThreeVoices:
    """A unit's day: the voices per hour and for the day, the tests made and the warnings."""

    site: str
    name: str
    day: date
    hours: dict[int, Voices] = field(default_factory=dict)
    total: Voices = field(default_factory=Voices)
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def warnings(self) -> list[Comparison]:
        """The comparisons that found a disagreement beyond chance."""
        return [c for c in self.comparisons if c.warning]

    def as_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "site": self.site,
            "name": self.name,
            "date": self.day.isoformat(),
            "faces_measured": self.total.faces > 0,
            "day": self.total.as_json(),
            "hours": [{"hour": hour, **voices.as_json()} for hour, voices in sorted(self.hours.items())],
            "comparisons": [c.as_json() for c in self.comparisons],
            "warnings": [c.as_json() for c in self.warnings],
            "method": {
                "test": "Fisher's exact test, two-sided, on satisfied/not satisfied ratings against "
                "not negative/negative comments (or faces)",
                "min_ratings": MIN_RATINGS,
                "min_comments_or_faces": MIN_OTHER,
                "alpha": ALPHA,
                "correction": "Bonferroni over the tests made that day",
                "min_gap": MIN_GAP,
            },
        }


def fisher_exact_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test on the table [[a, b], [c, d]].

    The sum of the probabilities (hypergeometric, margins fixed) of every table no more likely than the one
    observed.
    """
    row1, col1, n = a + b, a + c, a + b + c + d
    low, high = max(0, col1 - (n - row1)), min(row1, col1)

    def probability(x: int) -> float:
        return math.comb(col1, x) * math.comb(n - col1, row1 - x) / math.comb(n, row1)

    observed = probability(a)
    return min(1.0, sum(p for x in range(low, high + 1) if (p := probability(x)) <= observed * (1 + 1e-9)))


def compare_voices(
    rows_ratings: Iterable[tuple[datetime, int, int | None]],
    rows_comments: Iterable[tuple[datetime, str]],
    rows_faces: Iterable[tuple[datetime, float]],
    scale: RatingScale,
    zone: ZoneInfo,
    site: str,
    name: str,
    day: date,
) -> ThreeVoices:
    """The three voices per local hour from counted ratings (ts, score, scale), comments (ts, sentiment) and
    faces (ts, valence), and the comparisons of the buttons with the comments and with the faces."""
    result = ThreeVoices(site=site, name=name, day=day)

    def bucket(moment: datetime) -> list[Voices]:
        hour = moment.astimezone(zone).hour
        return [result.hours.setdefault(hour, Voices()), result.total]

    for ts, score, levels in rows_ratings:
        for voices in bucket(ts):
            voices.ratings += 1
            voices.satisfied += int(score >= scale.satisfied_min_for(levels))
    for ts, sentiment in rows_comments:
        for voices in bucket(ts):
            voices.comments += 1
            voices.negative += sentiment == "negative"
            voices.neutral += sentiment == "neutral"
            voices.positive += sentiment == "positive"
    for ts, valence in rows_faces:
        for voices in bucket(ts):
            voices.faces += 1
            voices.faces_negative += valence < 0
            voices.valence_sum += valence

    scopes = [("day", result.total)] + [(f"{hour:02d}:00", v) for hour, v in sorted(result.hours.items())]
    planned: list[tuple[str, str, Voices, int, int]] = []
    for scope, voices in scopes:
        if voices.ratings < MIN_RATINGS:
            continue
        if voices.comments >= MIN_OTHER:
            planned.append((scope, "comments", voices, voices.comments - voices.negative, voices.comments))
        if voices.faces >= MIN_OTHER:
            planned.append((scope, "faces", voices, voices.faces - voices.faces_negative, voices.faces))
    alpha = ALPHA / len(planned) if planned else ALPHA
    for scope, other, voices, other_yes, other_n in planned:
        p = fisher_exact_p(voices.satisfied, voices.ratings - voices.satisfied, other_yes, other_n - other_yes)
        gap = voices.satisfied / voices.ratings - other_yes / other_n
        warning = p < alpha and abs(gap) >= MIN_GAP
        result.comparisons.append(
            Comparison(
                scope=scope,
                other=other,
                buttons_yes=voices.satisfied,
                buttons_n=voices.ratings,
                other_yes=other_yes,
                other_n=other_n,
                p_value=p,
                alpha=alpha,
                warning=warning,
                message=_message(scope, other, voices, other_yes, other_n, p, warning),
            )
        )
    return result


def _message(scope: str, other: str, voices: Voices, other_yes: int, other_n: int, p: float, warning: bool) -> str:
    when = "Cả ngày" if scope == "day" else f"Khung giờ {scope}"
    buttons = f"{_percent(voices.satisfied / voices.ratings)} hài lòng trên {voices.ratings} lượt bấm nút"
    if other == "comments":
        others = f"{_percent(other_yes / other_n)} góp ý không tiêu cực ({other_n - other_yes}/{other_n} tiêu cực)"
    else:
        others = f"{_percent(other_yes / other_n)} khuôn mặt không tiêu cực ({other_n - other_yes}/{other_n} tiêu cực)"
    head = f"{when}: {buttons}, {others}"
    if not warning:
        return f"{head}; không chênh lệch đáng kể ({_p(p)})."
    if voices.satisfied / voices.ratings > other_yes / other_n:
        return (
            f"{head}: chênh lệch vượt mức ngẫu nhiên ({_p(p)}). Nút đánh giá tốt hơn hẳn {VOICE_NAMES[other]}: "
            "kiểm tra xem người dân có bị nhắc hoặc ép bấm đánh giá, hay nút bị bấm hộ."
        )
    return (
        f"{head}: chênh lệch vượt mức ngẫu nhiên ({_p(p)}). Nút đánh giá kém hơn hẳn {VOICE_NAMES[other]}: "
        "kiểm tra thiết bị đánh giá (nút hỏng, nhãn nút dễ nhầm)."
    )


def _percent(share: float) -> str:
    return f"{round(share * 100)} %"


def _p(p: float) -> str:
    return "p = " + f"{p:.2g}".replace(".", ",") if p >= 0.0001 else "p < 0,0001"


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def three_voices(settings: HubSettings, site: str, day: date) -> ThreeVoices:
    """A unit's three voices on a local day, read from the record (a read-only connection).

    Raises:
        RecordError: there is no record yet.
    """
    configured = settings.site(site)
    name = configured.name if configured else site
    conn = open_record(settings.database)
    try:
        args = (site, day.isoformat())
        ratings = [
            (datetime.fromisoformat(ts), score, scale)
            for ts, score, scale in conn.execute(
                "SELECT ts, score, scale FROM ratings WHERE site = ? AND day = ? AND counted = 1", args
            )
        ]
        comments = [
            (datetime.fromisoformat(ts), sentiment)
            for ts, sentiment in conn.execute("SELECT ts, sentiment FROM feedback WHERE site = ? AND day = ?", args)
        ]
        faces = [
            (datetime.fromisoformat(ts), valence)
            for ts, valence in conn.execute("SELECT ts, valence FROM emotions WHERE site = ? AND day = ?", args)
        ]
    finally:
        conn.close()
    return compare_voices(ratings, comments, faces, settings.rating, settings.zone, site, name, day)
