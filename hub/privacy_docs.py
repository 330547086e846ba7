"""Personal-data documents generated from the hub's configuration, in Vietnamese.

- The data-processing impact assessment (hồ sơ đánh giá tác động xử lý dữ liệu cá nhân, Law 91/2025/QH15 on
  personal data protection, in force 1 January 2026; Decree 13/2023/NĐ-CP, Article 24, before it): what is
  processed where, for what purpose, on what legal basis, how long it is kept and who can see it, per data
  category. Markdown, or PDF through the reports' fpdf2 machinery (``hub.reports.export_pdf``).
- The notices for the camera signage at a desk and for the rating kiosk (Article 32 of the Law asks that
  people recorded in a public place be informed).

The texts state what the code does (nothing but numbers and labels leaves a desk; no frame, face crop or
embedding is stored or sent; comment texts only with consent), and take retention, roles, public units, API
keys and the contact from the configuration, so the document changes when the configuration does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.auth import ROUTE_ROLES, Role
from hub.config import HubSettings
from hub.reports.document import Column, Document, Paragraphs, Section, Table

LAW = "Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15 (hiệu lực từ 01/01/2026)"
ROLE_VI = {Role.VIEWER: "người xem", Role.SUPERVISOR: "giám sát viên", Role.ADMIN: "quản trị (bộ phận tổ chức cán bộ)"}


@dataclass(frozen=True, slots=True)
class Category:
    """One kind of data the system processes."""

    name: str
    what: str
    where: str
    purpose: str
    basis: str
    retention: str
    who: str


def categories(settings: HubSettings) -> list[Category]:
    """Every data category with its facts, from the configuration."""
    keep = settings.retention
    years = f"{keep.ticket_records_years} năm, sau đó chỉ giữ số liệu tổng hợp theo ngày của đơn vị"
    state_duty = (
        "Phục vụ hoạt động của cơ quan nhà nước theo pháp luật chuyên ngành (cơ chế một cửa, đánh giá chất lượng "
        f"phục vụ), trường hợp không cần sự đồng ý theo {LAW}"
    )
    return [
        Category(
            "Hình ảnh camera tại quầy và sảnh chờ",
            "Khung hình video của phía công dân (không bao giờ phía cán bộ)",
            "Chỉ trong bộ nhớ của thiết bị tại quầy (Raspberry Pi); không ghi ra đĩa, không gửi đi",
            "Đếm người chờ, đo thời gian chờ và ước tính cảm xúc chung trong lúc phục vụ",
            "Ghi hình nơi công cộng có thông báo (Điều 32 của Luật); chỉ con số rời khỏi thiết bị",
            "Không lưu: mỗi khung hình bị hủy ngay sau khi đếm; không có ảnh, ảnh khuôn mặt hay vector đặc trưng",
            "Không ai (không có gì được lưu)",
        ),
        Category(
            "Số liệu hàng đợi",
            "Số người chờ, thời gian chờ ước tính, có cán bộ tại quầy hay không",
            "Máy chủ trung tâm (hub), cơ sở dữ liệu SQLite" + (" và InfluxDB" if settings.influxdb else ""),
            "Bảng theo dõi trực tiếp, cảnh báo vượt chỉ tiêu thời gian chờ",
            "Dữ liệu đã khử định danh (không xác định được người cụ thể)",
            years,
            "Người xem trở lên; đơn vị công khai: " + (", ".join(settings.access.public_units) or "không có"),
        ),
        Category(
            "Vé và giao dịch",
            "Số vé trong ngày, quầy, lĩnh vực, mã cán bộ phục vụ, các mốc thời gian",
            "Máy chủ trung tâm (hub)",
            "Đo thời gian chờ và thời gian giải quyết so với chỉ tiêu; thống kê, dự báo nhu cầu",
            state_duty,
            years,
            "Người xem (số liệu theo ngày), giám sát viên (báo cáo)",
        ),
        Category(
            "Đánh giá mức độ hài lòng",
            "Điểm đánh giá ẩn danh, kênh, quầy và vé (nếu có)",
            "Máy chủ trung tâm (hub)",
            "Chỉ số hài lòng theo Quyết định 766/QĐ-TTg, đánh giá cán bộ",
            state_duty,
            years,
            "Người xem (tỷ lệ hài lòng), giám sát viên (báo cáo)",
        ),
        Category(
            "Góp ý bằng chữ",
            "Cảm xúc của góp ý (tích cực, trung tính, tiêu cực); nội dung chữ chỉ khi công dân đồng ý gửi",
            "Máy chủ trung tâm (hub)",
            "Cải tiến chất lượng phục vụ",
            "Sự đồng ý của công dân (ô đồng ý trên kiosk); không đồng ý thì nội dung không rời kiosk",
            f"Nội dung chữ: {keep.comment_text_days} ngày, rồi bị xóa (giữ cảm xúc); xóa sớm hơn theo yêu cầu",
            "Chỉ quản trị; mỗi lần đọc hoặc xóa đều được ghi nhật ký",
        ),
        Category(
            "Cảm xúc ước tính",
            "Xác suất trung bình của 7 loại cảm xúc trong một lượt phục vụ (không gắn với danh tính)",
            "Tính trên thiết bị tại quầy; máy chủ trung tâm chỉ nhận con số",
            "Một thành phần tham khảo trong đánh giá chất lượng phục vụ",
            "Dữ liệu đã khử định danh; ghi hình nơi công cộng có thông báo (Điều 32 của Luật)",
            years,
            "Giám sát viên (báo cáo), quản trị (hồ sơ đánh giá)",
        ),
        Category(
            "Dữ liệu cán bộ",
            "Mã cán bộ, khối lượng công việc, thời gian chờ và giải quyết, hài lòng, đề xuất xếp loại",
            "Máy chủ trung tâm (hub)",
            "Đánh giá, xếp loại cán bộ hằng năm",
            "Pháp luật về cán bộ, công chức và đánh giá, xếp loại (thực hiện nhiệm vụ của cơ quan nhà nước)",
            years,
            "Chỉ quản trị xem hồ sơ đánh giá; mỗi lần xem hoặc xuất đều được ghi nhật ký",
        ),
        Category(
            "Tài khoản và nhật ký truy cập",
            "Tên đăng nhập, vai trò, phiên đăng nhập; ai đã xem, xuất hay thay đổi gì, khi nào",
            "Máy chủ trung tâm (hub); mật khẩu chỉ lưu dạng băm scrypt",
            "Kiểm soát truy cập, truy vết trách nhiệm",
            "Bảo đảm an toàn dữ liệu theo Luật",
            f"Nhật ký: {keep.audit_years} năm",
            "Chỉ quản trị",
        ),
    ]


def _access_lines(settings: HubSettings) -> list[str]:
    lines = [f"{path}: từ vai trò {ROLE_VI[role]}" for path, role in ROUTE_ROLES if path.startswith("/api/")]
    users = settings.access.users
    lines.append(f"Số tài khoản: {len(users)} ({', '.join(f'{u.name}: {ROLE_VI[u.role]}' for u in users) or 'không'})")
    keys = settings.access.api_keys
    if keys:
        lines.append("Khóa API chỉ đọc: " + ", ".join(f"{k.name} ({ROLE_VI[k.role]})" for k in keys))
    lines.append("Đơn vị công khai (màn hình sảnh): " + (", ".join(settings.access.public_units) or "không có"))
    return lines


def dpia_document(settings: HubSettings, now: datetime) -> Document:
    """The impact assessment as a report document (for the PDF) built from the configuration."""
    privacy = settings.privacy
    rows: list[list[str | int | float | None]] = [
        [c.name, c.what, c.where, c.purpose, c.basis, c.retention, c.who] for c in categories(settings)
    ]
    table = Table(
        "Dữ liệu được xử lý",
        [
            Column("Loại dữ liệu", width=1.2),
            Column("Nội dung", width=1.6),
            Column("Nơi xử lý", width=1.3),
            Column("Mục đích", width=1.4),
            Column("Cơ sở pháp lý", width=1.6),
            Column("Thời hạn lưu", width=1.3),
            Column("Ai được xem", width=1.2),
        ],
        rows,
        main=True,
    )
    general = Paragraphs(
        None,
        [
            f"Bên kiểm soát dữ liệu: {privacy.controller}.",
            f"Liên hệ về dữ liệu cá nhân: {privacy.contact}.",
            f"Người phụ trách bảo vệ dữ liệu cá nhân: {privacy.protection_officer or 'chưa chỉ định'}.",
            f"Căn cứ: {LAW}; Nghị định 356/2025/NĐ-CP; trước đó Nghị định 13/2023/NĐ-CP (Điều 24).",
            f"Hệ thống: One-Stop Monitor, tỉnh {settings.province.name}, {len(settings.sites)} đơn vị.",
        ],
    )
    measures = Paragraphs(
        None,
        [
            "Chỉ con số và nhãn rời khỏi quầy; không lưu hay gửi khung hình, ảnh khuôn mặt, vector đặc trưng "
            "hay danh tính.",
            "Phía cán bộ không bao giờ được phân tích bằng camera.",
            "Nội dung góp ý chỉ được gửi khi công dân đồng ý; máy chủ từ chối góp ý có chữ mà không có đồng ý.",
            "Đăng nhập bắt buộc ngoài máy chủ nội bộ; mật khẩu băm scrypt; phiên đăng nhập thu hồi được; "
            "giới hạn đăng nhập sai; HTTPS khi cấu hình chứng chỉ.",
            "Nhật ký ghi lại ai đọc hoặc xuất hồ sơ đánh giá, nội dung góp ý, dữ liệu cán bộ và ai thay đổi phiên.",
            f"Xóa tự động hằng ngày theo thời hạn lưu ({'đang bật' if settings.retention.enabled else 'ĐANG TẮT'}); "
            "xóa một góp ý theo yêu cầu: `onestop-hub privacy erase-comment ID` hoặc API của quản trị.",
        ],
    )
    rights = Paragraphs(
        None,
        [
            "Công dân được biết về việc xử lý (biển thông báo tại quầy và trên kiosk), được từ chối gửi nội dung "
            "góp ý, được yêu cầu xóa nội dung góp ý đã gửi.",
            "Vì hệ thống không lưu hình ảnh hay danh tính, không có dữ liệu nào khác gắn được với một người cụ thể.",
        ],
    )
    risks = Paragraphs(
        None,
        [
            "Rò rỉ nội dung góp ý: giảm bằng quyền chỉ quản trị, nhật ký truy cập và thời hạn lưu ngắn.",
            "Dùng dữ liệu cán bộ sai mục đích: hồ sơ đánh giá chỉ quản trị xem; mỗi lần xem đều có dấu vết.",
            "Thiết bị tại quầy bị chiếm quyền: thiết bị chỉ được gửi loại tin của chính quầy mình (ACL của broker).",
        ],
    )
    return Document(
        title="Hồ sơ đánh giá tác động xử lý dữ liệu cá nhân",
        scope=privacy.controller,
        period=now.astimezone(settings.zone).strftime("%d/%m/%Y"),
        province=settings.province.name,
        generated_at=now,
        sections=[
            Section("1. Thông tin chung", [general]),
            Section("2. Dữ liệu, mục đích, cơ sở pháp lý, thời hạn lưu", [table], landscape=True),
            Section("3. Ai được xem", [Paragraphs(None, _access_lines(settings))]),
            Section("4. Biện pháp bảo vệ", [measures]),
            Section("5. Quyền của chủ thể dữ liệu", [rights]),
            Section("6. Rủi ro và biện pháp giảm thiểu", [risks]),
        ],
    )


def dpia_markdown(settings: HubSettings, now: datetime) -> str:
    """The impact assessment as Markdown."""
    document = dpia_document(settings, now)
    out = [f"# {document.title}", "", f"Tỉnh {document.province} — lập ngày {document.period}", ""]
    for section in document.sections:
        out += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                out.append("| " + " | ".join(c.title for c in block.columns) + " |")
                out.append("|" + "---|" * len(block.columns))
                out += ["| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in block.rows]
            elif isinstance(block, Paragraphs):
                out += [f"- {line}" for line in block.lines]
            out.append("")
    return "\n".join(out)


def dpia_pdf(settings: HubSettings, now: datetime) -> bytes:
    """The impact assessment as PDF (DejaVu Sans embedded for Vietnamese)."""
    from hub.reports.export_pdf import to_pdf

    return to_pdf(dpia_document(settings, now))


def camera_notice(settings: HubSettings) -> str:
    """The sign beside a desk camera (Article 32 of the Law: people recorded are informed)."""
    privacy = settings.privacy
    return "\n".join(
        [
            "KHU VỰC CÓ CAMERA ĐO THỜI GIAN CHỜ",
            "",
            "Camera tại đây chỉ dùng để đếm số người đang chờ, đo thời gian chờ và ước tính mức độ hài lòng chung "
            "trong lúc phục vụ, nhằm nâng cao chất lượng phục vụ của Bộ phận Một cửa.",
            "Hình ảnh chỉ được xử lý tức thời trên thiết bị tại quầy: không lưu hình ảnh, không nhận dạng khuôn "
            "mặt, không xác định danh tính, không gửi hình ảnh đi bất cứ đâu. Chỉ các con số được ghi nhận.",
            "Camera chỉ hướng về phía công dân chờ và được phục vụ, không theo dõi cán bộ.",
            f"Số liệu được lưu {settings.retention.ticket_records_years} năm, sau đó chỉ giữ số liệu tổng hợp.",
            f"Đơn vị chịu trách nhiệm: {privacy.controller}.",
            f"Mọi thắc mắc xin liên hệ: {privacy.contact}.",
            f"Căn cứ: Điều 32 {LAW}.",
        ]
    )


def kiosk_notice(settings: HubSettings) -> str:
    """The text shown on the rating kiosk before a citizen rates or writes a comment."""
    privacy = settings.privacy
    return "\n".join(
        [
            "ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG",
            "",
            "Đánh giá của Ông/Bà là ẩn danh: chỉ điểm số được ghi nhận, gắn với quầy và số vé, không gắn với tên "
            "hay giấy tờ của Ông/Bà.",
            "Nếu Ông/Bà viết góp ý, máy chỉ tự nhận biết góp ý tích cực, trung tính hay tiêu cực. Nội dung chữ chỉ "
            "được gửi đi khi Ông/Bà đánh dấu ô đồng ý; nếu không, nội dung không rời khỏi máy.",
            f"Nội dung góp ý được lưu {settings.retention.comment_text_days} ngày rồi tự động xóa. Ông/Bà có thể "
            "yêu cầu xóa sớm hơn.",
            f"Đơn vị chịu trách nhiệm: {privacy.controller}. Liên hệ: {privacy.contact}.",
            f"Căn cứ: {LAW}.",
        ]
    )
