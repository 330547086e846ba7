"""Build data/sentiment/train.csv from the hand-written seeds and aspect templates.

The training corpus has three sources, all written for this project (CC0):

* ``data/sentiment/seeds/{negative,neutral,positive}*.txt``: hand-written comments, one a line.
* aspect templates below: a subject from one service aspect (wait, staff, procedure, fee, facilities,
  online services) with a predicate of the given polarity, alone or two aspects together; mixed
  comments carry an explicit overall verdict and are labelled by it.
* variants of both, made the way citizens type at a kiosk: diacritics stripped, teencode, emoji, a typo,
  lower case without punctuation.

The held-out ``test.csv`` is NOT built here: it was written by hand separately and is only read to
drop any training line that collides with a test line after normalisation.

Usage::

    python build_corpus.py --data-dir data/sentiment
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import unicodedata
from pathlib import Path

LABELS = ("negative", "neutral", "positive")


def strip_diacritics(text: str) -> str:
    """Vietnamese without tone marks or vowel hats, as typed on a keyboard with no IME."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def norm_key(text: str) -> str:
    """Key for duplicate detection: no diacritics, lower case, letters and digits only."""
    text = strip_diacritics(text.lower())
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    return " ".join(text.split())


TEENCODE = [
    (r"\bkhông\b", ["ko", "k", "hông", "khum"]),
    (r"\bđược\b", ["đc", "dc", "được"]),
    (r"\brồi\b", ["r", "rùi"]),
    (r"\bgì\b", ["j"]),
    (r"\bvậy\b", ["v", "z"]),
    (r"\bquá\b", ["wá", "quá"]),
    (r"\bnhiều\b", ["nhìu"]),
    (r"\bbiết\b", ["bít"]),
    (r"\bvới\b", ["vs"]),
    (r"\bcảm ơn\b", ["cám ơn", "tks", "thanks", "camon"]),
    (r"\bnhân viên\b", ["nv"]),
    (r"\bcán bộ\b", ["cb", "cán bộ"]),
    (r"\bhồ sơ\b", ["hs"]),
    (r"\btrước\b", ["trc"]),
    (r"\bthôi\b", ["thui"]),
    (r"\blắm\b", ["lắm", "lém"]),
    (r"\bngười\b", ["ng"]),
    (r"\bphút\b", ["p", "ph"]),
    (r"\bem\b", ["e"]),
    (r"\banh\b", ["a"]),
    (r"\bbình thường\b", ["bt", "bthg"]),
    (r"\bnhanh\b", ["nhanh"]),
]

EMOJI = {
    "negative": ["😡", "😤", "👎", "😞", "😠", "🙄", "😩", "😒", "💢", "😭"],
    "neutral": ["🙂", "🤔", "❓", "📄", "😐", "🙏"],
    "positive": ["👍", "😊", "❤️", "👏", "🥰", "😍", "🙏", "💯", "⭐", "😁"],
}


def teencode(text: str, rng: random.Random) -> str:
    """Shorthand a citizen types on a phone keyboard."""
    out = text.lower()
    for pattern, choices in TEENCODE:
        out = re.sub(pattern, lambda _m, c=choices: rng.choice(c), out)
    return out.rstrip(".")


def typo(text: str, rng: random.Random) -> str:
    """One slip of the finger: a dropped, doubled or swapped letter in one word."""
    words = text.split()
    candidates = [i for i, w in enumerate(words) if len(w) > 3 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        w = w[:j] + w[j + 1 :]
    elif kind == 1:
        w = w[:j] + w[j] + w[j:]
    else:
        w = w[: j - 1] + w[j] + w[j - 1] + w[j + 1 :]
    words[i] = w
    return " ".join(words)


def read_seeds(seed_dir: Path) -> list[tuple[str, str]]:
    rows = []
    for label in LABELS:
        for path in sorted(seed_dir.glob(f"{label}*.txt")):
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    rows.append((line, label))
    return rows


# --- aspect templates ------------------------------------------------------------------------------
# (subjects, negative predicates, positive predicates) per aspect.
ASPECTS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "wait": (
        ["thời gian chờ", "chờ đợi", "xếp hàng lấy số", "thời gian đợi đến lượt", "thời gian chờ gọi số"],
        [
            "quá lâu",
            "lâu kinh khủng",
            "mất cả buổi sáng",
            "hơn hai tiếng",
            "không thể chấp nhận được",
            "lâu hơn cam kết nhiều",
            "dài lê thê",
        ],
        [
            "rất nhanh",
            "chỉ vài phút",
            "ngắn, không phải đợi",
            "nhanh hơn tôi nghĩ",
            "chưa tới 10 phút",
            "hợp lý",
        ],
    ),
    "staff": (
        [
            "cán bộ",
            "nhân viên",
            "chị cán bộ quầy 2",
            "anh nhân viên tiếp nhận",
            "cán bộ quầy hộ tịch",
            "nhân viên hướng dẫn",
            "người trực quầy",
            "cán bộ trả kết quả",
        ],
        [
            "thái độ cáu gắt",
            "thiếu nhiệt tình",
            "nói trống không",
            "làm việc riêng trong giờ",
            "không thèm hướng dẫn",
            "quát dân",
            "hách dịch",
            "lơ là, thờ ơ",
            "trả lời nhát gừng",
        ],
        [
            "rất nhiệt tình",
            "thân thiện, dễ gần",
            "chu đáo",
            "lịch sự, nhã nhặn",
            "hướng dẫn tận tình",
            "làm việc chuyên nghiệp",
            "kiên nhẫn giải thích",
            "vui vẻ, niềm nở",
            "tận tâm",
        ],
    ),
    "procedure": (
        [
            "thủ tục",
            "quy trình",
            "thủ tục cấp sổ đỏ",
            "thủ tục khai sinh",
            "việc làm căn cước",
            "thủ tục chứng thực",
            "quy trình tiếp nhận hồ sơ",
        ],
        [
            "rườm rà",
            "phức tạp quá mức",
            "bắt đi lại nhiều lần",
            "lòng vòng",
            "chồng chéo, khó hiểu",
            "mất cả tuần chưa xong",
        ],
        ["đơn giản", "nhanh gọn", "rõ ràng, dễ hiểu", "xong ngay trong một lần", "thuận tiện", "minh bạch"],
    ),
    "fee": (
        ["lệ phí", "phí dịch vụ", "chi phí", "phí gửi xe", "tiền phí"],
        ["quá cao", "thu thêm ngoài quy định", "không có biên lai", "không niêm yết công khai", "đắt vô lý"],
        ["hợp lý", "công khai rõ ràng", "thu đúng quy định", "rẻ", "có biên lai đầy đủ"],
    ),
    "room": (
        ["phòng chờ", "khu vực chờ", "sảnh chờ", "không gian trung tâm"],
        ["nóng bức, ngột ngạt", "chật chội", "bẩn, nhiều rác", "thiếu ghế ngồi", "ồn ào, lộn xộn", "tối tăm"],
        [
            "sạch sẽ, thoáng mát",
            "rộng rãi",
            "mát mẻ, dễ chịu",
            "đủ ghế ngồi",
            "gọn gàng, ngăn nắp",
            "khang trang",
        ],
    ),
    "toilet": (
        ["nhà vệ sinh", "wc", "khu vệ sinh"],
        ["bẩn và hôi", "hỏng vòi nước", "khóa cửa không cho dùng", "không có giấy"],
        ["sạch sẽ", "có đủ giấy và xà phòng", "thơm tho, sạch", "rộng, sạch"],
    ),
    "parking": (
        ["bãi gửi xe", "chỗ để xe", "bãi đỗ ô tô", "chỗ gửi xe máy"],
        ["quá chật", "không có mái che", "thu phí cắt cổ", "không có người trông", "lộn xộn"],
        ["rộng rãi", "miễn phí", "có mái che", "có người trông cẩn thận", "gần cửa vào, tiện"],
    ),
    "aircon": (
        ["điều hòa", "quạt", "máy lạnh"],
        ["hỏng", "không bật", "chỉ để trang trí"],
        ["mát", "chạy tốt", "bật đầy đủ"],
    ),
    "online": (
        [
            "dịch vụ công trực tuyến",
            "cổng dịch vụ công",
            "trang web nộp hồ sơ",
            "ứng dụng VNeID",
            "hệ thống đặt lịch online",
            "thanh toán trực tuyến",
        ],
        [
            "hay bị lỗi",
            "không đăng nhập được",
            "chậm như rùa",
            "khó dùng",
            "treo liên tục",
            "báo lỗi khi tải file",
        ],
        [
            "dễ dùng",
            "tiện lợi",
            "chạy nhanh",
            "hoạt động ổn định",
            "rất tiện, không phải đi lại",
            "hướng dẫn dễ hiểu",
        ],
    ),
    "result": (
        ["kết quả", "việc trả kết quả", "giấy hẹn", "hồ sơ của tôi"],
        ["bị trễ hẹn", "trả sai thông tin", "bị treo cả tháng", "không ai thông báo"],
        ["đúng hẹn", "trả sớm hơn hẹn", "chính xác", "được báo qua tin nhắn"],
    ),
    "machine": (
        ["máy lấy số", "màn hình gọi số", "loa gọi số"],
        ["bị hỏng", "không hoạt động", "rè, không nghe rõ"],
        ["dễ dùng", "rõ ràng", "hoạt động tốt"],
    ),
}

OPENERS = ["", "", "", "Hôm nay ", "Nói chung ", "Theo tôi ", "Lần này ", "Thật sự "]
NEG_CLOSERS = ["", ".", "!", ", rất bực mình.", ", thất vọng.", ", cần cải thiện.", ", không hài lòng."]
POS_CLOSERS = ["", ".", "!", ", rất hài lòng.", ", cảm ơn.", ", tôi rất vui.", ", đáng khen."]
NEG_VERDICTS = [
    "nhưng nhìn chung vẫn không hài lòng",
    "nhưng tổng thể quá tệ",
    "nhưng chờ quá lâu nên thất vọng",
    "nhưng tôi vẫn bực vì phải quay lại lần nữa",
]
POS_VERDICTS = [
    "nhưng nhìn chung vẫn hài lòng",
    "nhưng tổng thể rất tốt",
    "nhưng mọi việc đều xong nên tôi vui",
    "nhưng tôi vẫn đánh giá cao",
]

PROCEDURES = [
    "làm căn cước",
    "đăng ký khai sinh",
    "cấp đổi sổ đỏ",
    "chứng thực bản sao",
    "đăng ký kết hôn",
    "xin lý lịch tư pháp",
    "đăng ký hộ kinh doanh",
    "cấp phép xây dựng",
    "đăng ký thường trú",
    "trích lục khai tử",
    "sang tên xe",
    "làm hộ chiếu",
    "xác nhận tình trạng hôn nhân",
    "đổi giấy phép lái xe",
    "cấp bản sao trích lục",
]
QUESTIONS = [
    "cần mang giấy tờ gì",
    "mất bao lâu",
    "nộp ở quầy nào",
    "lệ phí bao nhiêu",
    "có làm online được không",
    "có cần ảnh thẻ không",
    "mấy ngày có kết quả",
    "có cần công chứng không",
]
ASKERS = ["Cho hỏi", "Xin hỏi", "Cho em hỏi", "Cho mình hỏi", "Tôi muốn hỏi", "Hỏi chút:", "Ad ơi"]
STATEMENTS = [
    "Tôi đến để",
    "Hôm nay tôi đến",
    "Mình qua để",
    "Tôi đang chờ",
    "Tôi đã nộp hồ sơ để",
    "Tôi quay lại để tiếp tục",
]
SUGGESTIONS = ["Đề nghị", "Kiến nghị", "Mong trung tâm", "Nên", "Góp ý:", "Đề xuất"]
IMPROVEMENTS = [
    "bố trí thêm quầy vào giờ cao điểm",
    "có thêm máy photo",
    "niêm yết lệ phí to rõ hơn",
    "mở cửa sáng thứ bảy",
    "cho thanh toán bằng mã QR",
    "gửi tin nhắn khi có kết quả",
    "có hướng dẫn bằng hình ảnh",
    "bổ sung biển chỉ dẫn ở tầng hai",
    "cho đặt lịch hẹn qua Zalo",
    "có thêm bàn viết tờ khai",
    "trả kết quả qua bưu điện",
    "công khai số đường dây nóng",
]


def template_rows(rng: random.Random, per_class: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    names = list(ASPECTS)
    for label in ("negative", "positive"):
        for _ in range(per_class):
            a1, a2 = rng.sample(names, 2)
            s1, neg1, pos1 = ASPECTS[a1]
            s2, neg2, pos2 = ASPECTS[a2]
            good = label == "positive"
            shape = rng.random()
            subj1 = rng.choice(s1)
            if shape < 0.45:
                text = rng.choice(OPENERS) + subj1 + " " + rng.choice(pos1 if good else neg1)
                text += rng.choice(POS_CLOSERS if good else NEG_CLOSERS)
            elif shape < 0.8:
                text = (
                    rng.choice(OPENERS)
                    + subj1
                    + " "
                    + rng.choice(pos1 if good else neg1)
                    + ", "
                    + rng.choice(s2)
                    + " "
                    + rng.choice(pos2 if good else neg2)
                )
                text += rng.choice(POS_CLOSERS if good else NEG_CLOSERS)
            else:
                # mixed: the other aspect has the opposite polarity; the stated verdict decides
                text = (
                    subj1
                    + " "
                    + rng.choice(neg1 if good else pos1)
                    + " "
                    + rng.choice(POS_VERDICTS if good else NEG_VERDICTS)
                    + ", "
                    + rng.choice(s2)
                    + " "
                    + rng.choice(pos2 if good else neg2)
                    + "."
                )
            rows.append((text[0].upper() + text[1:], label))
    # neutral seeds are fewer than the other two, so templates top neutral up to a roughly even balance
    for _ in range(per_class + 200):
        shape = rng.random()
        if shape < 0.45:
            text = f"{rng.choice(ASKERS)} {rng.choice(PROCEDURES)} {rng.choice(QUESTIONS)}?"
        elif shape < 0.75:
            text = f"{rng.choice(STATEMENTS)} {rng.choice(PROCEDURES)}."
        else:
            text = f"{rng.choice(SUGGESTIONS)} {rng.choice(IMPROVEMENTS)}."
        rows.append((text, "neutral"))
    return rows


def variants(text: str, label: str, rng: random.Random) -> list[str]:
    """Kiosk-typing variants of one comment (the comment itself not included)."""
    out = []
    has_marks = strip_diacritics(text) != text
    # many kiosks have no Vietnamese input method: most comments also get a twin typed without marks
    if has_marks and rng.random() < 0.85:
        plain = strip_diacritics(text)
        out.append(plain.lower() if rng.random() < 0.6 else plain)
    if rng.random() < 0.25:
        short = teencode(text, rng)
        out.append(strip_diacritics(short) if rng.random() < 0.5 else short)
    if rng.random() < 0.15:
        out.append(text.rstrip(".!") + " " + rng.choice(EMOJI[label]) * rng.randint(1, 3))
    if rng.random() < 0.1:
        out.append(typo(text, rng))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data/sentiment"))
    parser.add_argument("--templates-per-class", type=int, default=260)
    parser.add_argument("--seed", type=int, default=20250701)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    base = read_seeds(args.data_dir / "seeds") + template_rows(rng, args.templates_per_class)
    rows = []
    for text, label in base:
        rows.append((text, label))
        rows.extend((v, label) for v in variants(text, label, rng))

    test_keys: set[str] = set()
    test_path = args.data_dir / "test.csv"
    if test_path.exists():
        with test_path.open(encoding="utf-8", newline="") as fh:
            test_keys = {norm_key(r["text"]) for r in csv.DictReader(fh)}

    seen: dict[str, str] = {}
    exact: set[str] = set()
    kept = []
    conflicts = 0
    for text, label in rows:
        key = norm_key(text)
        if text in exact or key in test_keys:
            continue
        if key in seen and seen[key] != label:
            conflicts += 1
        seen.setdefault(key, label)
        exact.add(text)
        kept.append((text, label))
    rng.shuffle(kept)

    out = args.data_dir / "train.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(kept)
    counts = {lab: sum(1 for _, y in kept if y == lab) for lab in LABELS}
    print(f"wrote {out}: {len(kept)} rows {counts}; label conflicts on normalised text: {conflicts}")


if __name__ == "__main__":
    main()
