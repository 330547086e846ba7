"""Personal-data settings of the hub: how long each kind of record is kept, and who answers for the data.

Law 91/2025/QH15 on personal data protection (in force 1 January 2026) asks that personal data be kept no
longer than its purpose needs and be erased when that purpose ends or the person asks; the retention below is
enforced by the hub's daily purge (``hub.retention``) and described in the impact assessment
(``onestop-hub privacy dpia``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetentionSettings(_Strict):
    """How long the record keeps each kind of data; the hub purges older data once a day."""

    enabled: bool = Field(True, description="Run the purge once a day in the running hub.")
    comment_text_days: int = Field(
        180, ge=1, le=3660, description="Days a consented comment text is kept; its sentiment stays."
    )
    ticket_records_years: int = Field(
        5,
        ge=1,
        le=50,
        description="Years per-ticket records (tickets, transactions, ratings, comments, emotions, queue samples) "
        "are kept; the daily figures of each unit are kept beyond.",
    )
    audit_years: int = Field(5, ge=1, le=50, description="Years audit-log entries are kept.")


class PrivacySettings(_Strict):
    """Who is responsible for the data, for the impact assessment and the notices."""

    controller: str = Field(
        "Văn phòng Ủy ban nhân dân tỉnh", description="The body that decides the purposes (bên kiểm soát dữ liệu)."
    )
    contact: str = Field(
        "Bộ phận Một cửa của đơn vị", description="Where a citizen asks about, or asks to erase, their data."
    )
    protection_officer: str | None = Field(
        None, description="The person or department in charge of personal-data protection, when named."
    )
