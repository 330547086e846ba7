"""What a delivered alert says: the Vietnamese e-mail and the webhook's JSON body.

All words a supervisor reads are here, in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from protocol.messages import AlertMessage, AlertState, AlertType
from protocol.topics import UNIT_WIDE_DESK

KIND_TITLES: dict[AlertType, str] = {
    AlertType.WAIT_TARGET_BROKEN: "Vượt chỉ tiêu thời gian chờ",
    AlertType.WAIT_TARGET_AT_RISK: "Sắp vượt chỉ tiêu thời gian chờ",
    AlertType.SERVICE_TARGET_BROKEN: "Vượt chỉ tiêu thời gian giải quyết",
    AlertType.NODE_OFFLINE: "Thiết bị tại quầy mất kết nối",
    AlertType.NO_RATINGS: "Chưa có đánh giá của người dân",
    AlertType.MESSAGES_MISSING: "Thiếu tin nhắn từ thiết bị tại quầy",
}
SEVERITY_WORDS = {"critical": "Nghiêm trọng", "warning": "Cảnh báo"}
STAGE_FIRST = "first"
STAGE_ESCALATION = "escalation"


@dataclass(frozen=True, slots=True)
class Names:
    """The names people know a unit and a desk by."""

    site: str
    desk: str | None


@dataclass(frozen=True, slots=True)
class Rendered:
    """One alert as a recipient receives it."""

    subject: str
    body: str
    json: dict[str, Any]


def render(
    alert: AlertMessage,
    names: Names,
    stage: str,
    delivery_id: str,
    recipient_id: str,
    zone: ZoneInfo,
    alert_json: Callable[[AlertMessage], dict[str, Any]],
    dashboard_url: str | None = None,
    escalated_from: str | None = None,
    waited_minutes: float | None = None,
) -> Rendered:
    """The subject, plain-text body and webhook JSON of an alert for one recipient."""
    title = KIND_TITLES.get(alert.alert, alert.alert.value)
    where = names.site if names.desk is None else f"{names.desk} – {names.site}"
    cleared = alert.state is AlertState.CLEARED
    escalated = stage == STAGE_ESCALATION
    if cleared:
        prefix = "[Đã hết cảnh báo]"
    elif escalated:
        prefix = "[Chuyển cấp – chưa ai xác nhận]"
    else:
        prefix = f"[{SEVERITY_WORDS.get(alert.severity, 'Cảnh báo')}]"
    subject = f"{prefix} {title}: {where}"
    local = alert.ts.astimezone(zone)
    lines = [alert.message, ""]
    if escalated:
        waited = f" sau {round(waited_minutes)} phút" if waited_minutes is not None else ""
        lines += [
            f"Cảnh báo này đã được gửi cho {escalated_from or 'người phụ trách'} nhưng chưa ai xác nhận{waited}.",
            "",
        ]
    lines += [
        f"Đơn vị: {names.site}",
        *([f"Quầy: {names.desk}"] if names.desk is not None else []),
        f"Loại cảnh báo: {title}",
        f"Mức độ: {SEVERITY_WORDS.get(alert.severity, alert.severity)}",
        f"{'Kết thúc' if cleared else 'Phát sinh'} lúc: {_local_text(local)} (giờ Việt Nam)",
    ]
    if dashboard_url and not cleared:
        lines += ["", f"Xem và xác nhận trên bảng điều khiển: {dashboard_url.rstrip('/')}/#/unit/{alert.site}"]
    lines += [
        "",
        "Thư tự động của hệ thống giám sát Bộ phận Một cửa; vui lòng không trả lời thư này.",
        f"Mã cảnh báo: {alert.id}",
    ]
    data = {
        **alert_json(alert),
        "site_name": names.site,
        "desk_name": names.desk,
        "title": f"{prefix} {title}: {where}",
        "delivery_id": delivery_id,
        "recipient": recipient_id,
        "escalation": escalated,
    }
    return Rendered(subject=subject, body="\n".join(lines) + "\n", json=data)


def names_of(alert: AlertMessage, site_name: str | None, desk_name: str | None) -> Names:
    """The unit's and desk's names (ids where the configuration has none; no desk for unit-wide alerts)."""
    desk = None if alert.desk == UNIT_WIDE_DESK else (desk_name or alert.desk)
    return Names(site=site_name or alert.site, desk=desk)


def _local_text(moment: datetime) -> str:
    return f"{moment:%H:%M} ngày {moment:%d/%m/%Y}"
