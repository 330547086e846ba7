"""Settings of the reports: the ``evaluation:`` and ``staffing:`` sections of the hub's YAML file.

Self-contained (no import from ``hub.config``), so that the hub's configuration can include these models
without an import cycle. Every key has a default: existing configuration files stay valid.
"""

from __future__ import annotations

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


class StaffingSettings(_Strict):
    """Demand forecast and desks needed per hour."""

    answer_probability: float = Field(
        0.80, gt=0, lt=1, description="Probability with which a citizen's wait must be within the target."
    )
    history_weeks: int = Field(8, ge=2, le=104, description="Weeks of record the forecast and service rates use.")
    backtest_weeks: int = Field(3, ge=1, le=26, description="Weeks held out, one at a time, to choose the model.")
    open_hours: tuple[int, int] = Field((7, 17), description="First and last local hour of the staffing table.")
    max_desks: int = Field(50, ge=1, description="Upper bound searched for the desks needed in one hour.")
