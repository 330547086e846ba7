"""Settings of the reports: the ``evaluation:`` and ``staffing:`` sections of the hub's YAML file.

Self-contained (no import from ``hub.config``), so that the hub's configuration can include these models
without an import cycle. Every key has a default: existing configuration files stay valid.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NormRange(_Strict):
    """Dossiers an officer is expected to receive in a year at one unit level."""

    min: int = Field(gt=0, description="Lower end of the norm: at or above it the volume score is full.")
    max: int = Field(gt=0, description="Upper end of the norm, shown for reference.")

    @model_validator(mode="after")
    def _ordered(self) -> NormRange:
        if self.max < self.min:
            raise ValueError(f"max {self.max} is below min {self.min}")
        return self


class ProductivityNorms(_Strict):
    """Yearly productivity norms per unit level (dossiers received per desk officer)."""

    province: NormRange = Field(NormRange(min=1800, max=1800), description="Provincial centre.")
    district: NormRange = Field(NormRange(min=1000, max=1200), description="District-level unit (until 2025-06-30).")
    commune: NormRange = Field(NormRange(min=500, max=800), description="Commune-level unit.")

    def for_level(self, level: str) -> NormRange:
        """The norm of a level (``province``, ``district`` or ``commune``)."""
        norm: NormRange = getattr(self, level)
        return norm


class EvaluationWeights(_Strict):
    """Weights of the components of the proposed classification (they need not sum to 1: they are normalised
    over the components that have enough data)."""

    volume: float = Field(0.25, ge=0, description="Dossiers received against the norm.")
    wait: float = Field(0.20, ge=0, description="Share of waits within the target, adjusted for the case mix.")
    handling: float = Field(0.20, ge=0, description="Share of handling times within the target, case-mix adjusted.")
    satisfaction: float = Field(0.35, ge=0, description="Satisfied share of counted ratings, case-mix adjusted.")
    sentiment: float = Field(
        0.0, ge=0, description="Share of positive comments; 0 by default: comments are few and self-selected."
    )
    emotion: float = Field(
        0.0,
        ge=0,
        description="Citizens' mean emotion valence; 0 by default: a camera estimate, unreliable per face.",
    )

    @model_validator(mode="after")
    def _some_weight(self) -> EvaluationWeights:
        if self.volume + self.wait + self.handling + self.satisfaction + self.sentiment + self.emotion <= 0:
            raise ValueError("at least one weight must be above 0")
        return self


class ClassThresholds(_Strict):
    """Lowest composite score (0–100) of each proposed level; below ``completed`` is 'not completed'."""

    excellent: float = Field(90, ge=0, le=100, description="Hoàn thành xuất sắc nhiệm vụ.")
    good: float = Field(75, ge=0, le=100, description="Hoàn thành tốt nhiệm vụ.")
    completed: float = Field(55, ge=0, le=100, description="Hoàn thành nhiệm vụ.")

    @model_validator(mode="after")
    def _ordered(self) -> ClassThresholds:
        if not self.excellent >= self.good >= self.completed:
            raise ValueError("thresholds must satisfy excellent >= good >= completed")
        return self


# -- Decree 335/2025/NĐ-CP: dated evaluation profiles, officers, task-result conversions -------------------


class OfficerEntry(_Strict):
    """A desk officer as the pack names them (ids alone are not enough for a personnel council)."""

    name: str = Field(min_length=1, description="Full name, e.g. Nguyễn Thị An.")
    position: str = Field("Công chức Bộ phận Một cửa", min_length=1, description="Position (chức vụ, chức danh).")
    group: str | None = Field(
        None,
        description="Group of civil servants with similar tasks (for the 20 % quota); the whole unit if absent.",
    )


class Decree335Weights(_Strict):
    """How the task-result points (up to 70) are split between quantity, quality and progress."""

    quantity: float = Field(1.0, ge=0, description="Weight of quantity (completed ÷ assigned).")
    quality: float = Field(1.0, ge=0, description="Weight of quality (products meeting quality ÷ assigned).")
    progress: float = Field(1.0, ge=0, description="Weight of progress (products on time ÷ assigned).")

    @model_validator(mode="after")
    def _some_weight(self) -> Decree335Weights:
        if self.quantity + self.quality + self.progress <= 0:
            raise ValueError("at least one of quantity, quality, progress must weigh above 0")
        return self

    def shares(self) -> dict[str, float]:
        """The weights normalised to sum to 1."""
        total = self.quantity + self.quality + self.progress
        return {"quantity": self.quantity / total, "quality": self.quality / total, "progress": self.progress / total}


class EvaluationProfile(_Strict):
    """The rule a year is judged by: a method and its thresholds, in force over a dated span."""

    name: str = Field(min_length=1, description="Name shown in the pack, e.g. Nghị định 335/2025/NĐ-CP.")
    method: Literal["legacy_2021", "decree_335"] = Field(
        description="legacy_2021 (the composite score of the 2021 rules) or decree_335 (100-point scale).",
    )
    valid_from: date | None = Field(None, description="First day in force (inclusive); open if absent.")
    valid_until: date | None = Field(None, description="Last day in force (inclusive); open if absent.")
    thresholds: ClassThresholds | None = Field(
        None, description="Lowest score of each level; legacy_2021 uses evaluation.thresholds when absent."
    )

    @model_validator(mode="after")
    def _ordered(self) -> EvaluationProfile:
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValueError(f"valid_from {self.valid_from} is after valid_until {self.valid_until}")
        if self.method == "decree_335" and self.thresholds is None:
            raise ValueError("a decree_335 profile needs its thresholds")
        return self

    def in_force_on(self, day: date) -> bool:
        """Whether this profile judges a period starting on ``day``."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


def _default_profiles() -> list[EvaluationProfile]:
    return [
        EvaluationProfile(
            name="Quy tắc 2021 (điểm tổng hợp, theo năm)",
            method="legacy_2021",
            valid_until=date(2025, 12, 31),
        ),
        EvaluationProfile(
            name="Nghị định 335/2025/NĐ-CP",
            method="decree_335",
            valid_from=date(2026, 1, 1),
            thresholds=ClassThresholds(excellent=90, good=70, completed=50),
        ),
    ]


class Decree335Settings(_Strict):
    """Conversions and weights of the task results under Decree 335/2025/NĐ-CP (Điều 14)."""

    general_max: float = Field(30, gt=0, le=100, description="Most points of the general criteria.")
    task_max: float = Field(70, gt=0, le=100, description="Most points of the task results.")
    weights: Decree335Weights = Field(default_factory=Decree335Weights, description="Quantity/quality/progress.")
    error_deduction: float = Field(
        0.25, ge=0, le=1, description="Share of a product's quality point lost per major error (Điều 14)."
    )
    late_deduction: float = Field(
        0.25, ge=0, le=1, description="Share of a product's progress point lost per late product (Điều 14)."
    )
    satisfaction_bar: float = Field(
        0.90, gt=0, le=1, description="Satisfied share that gives full quality (Decision 766's bar)."
    )
    min_ratings_month: int = Field(
        10, ge=1, description="Fewer counted ratings in a month than this: satisfaction does not scale quality."
    )
    quota_share: float = Field(
        0.20, ge=0, le=1, description="'Xuất sắc' may not exceed this share of 'tốt' per unit and task group."
    )


class EvaluationSettings(_Strict):
    """How the annual evaluation pack proposes a classification for each desk officer."""

    norms: ProductivityNorms = Field(default_factory=ProductivityNorms, description="Yearly norms per level.")
    weights: EvaluationWeights = Field(default_factory=EvaluationWeights, description="Component weights.")
    thresholds: ClassThresholds = Field(default_factory=ClassThresholds, description="Score of each level.")
    min_ratings: int = Field(
        30, ge=1, description="Fewer counted ratings than this: satisfaction is shown but neither scored nor ranked."
    )
    min_transactions: int = Field(
        100, ge=1, description="Fewer dossiers than this in the period: no classification is proposed."
    )
    excellent_min_satisfaction_low: float = Field(
        0.90,
        ge=0,
        le=1,
        description="'Excellent' also needs the lower end of the 95 % interval of satisfaction at least this.",
    )
    confidence: float = Field(0.95, gt=0.5, lt=1, description="Confidence level of the satisfaction intervals.")
    profiles: list[EvaluationProfile] = Field(
        default_factory=_default_profiles,
        description="Dated rules: a period is judged by the profile in force on its first day.",
    )
    decree335: Decree335Settings = Field(
        default_factory=Decree335Settings, description="Task-result conversions under Decree 335/2025/NĐ-CP."
    )
    officers: dict[str, OfficerEntry] = Field(
        default_factory=dict, description="Officer id (as on the tickets) → name, position and task group."
    )

    @model_validator(mode="after")
    def _profiles_do_not_overlap(self) -> EvaluationSettings:
        spans = sorted((p.valid_from or date.min, p.valid_until or date.max, p.name) for p in self.profiles)
        for (_, end, first), (start, _, second) in zip(spans, spans[1:], strict=False):
            if start <= end:
                raise ValueError(f"profiles {first!r} and {second!r} are both in force on {start}")
        return self

    def profile_for(self, day: date) -> EvaluationProfile | None:
        """The profile in force on ``day`` (None when no profile covers it)."""
        return next((p for p in self.profiles if p.in_force_on(day)), None)


class StaffingSettings(_Strict):
    """Demand forecast and desks needed per hour."""

    answer_probability: float = Field(
        0.80, gt=0, lt=1, description="Probability with which a citizen's wait must be within the target."
    )
    history_weeks: int = Field(8, ge=2, le=104, description="Weeks of record the forecast and service rates use.")
    backtest_weeks: int = Field(3, ge=1, le=26, description="Weeks held out, one at a time, to choose the model.")
    open_hours: tuple[int, int] = Field((7, 17), description="First and last local hour of the staffing table.")
    max_desks: int = Field(50, ge=1, description="Upper bound searched for the desks needed in one hour.")
