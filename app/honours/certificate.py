"""The honour certificate as a PDF, set in a CJK font from the system (Debian's fonts-noto-cjk)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

# Debian's fonts-noto-cjk; face 2 of each collection is Simplified Chinese.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
SIMPLIFIED_CHINESE_FACE = 2


@dataclass(frozen=True, slots=True)
class CertificateText:
    """What a certificate says."""

    mentor_name: str
    title_zh: str
    title_en: str
    jurisdiction: str
    confirmed_on: date
    verification_code: str
    verify_url: str


@lru_cache(maxsize=1)
def font_path() -> Path:
    """The first installed CJK font (RuntimeError names the package to install when none is)."""
    for path in FONT_CANDIDATES:
        if path.exists():
            return path
    raise RuntimeError("no CJK font found: install the Debian package fonts-noto-cjk")


def render_certificate(text: CertificateText) -> bytes:
    """An A4 landscape certificate: name, honour, jurisdiction, date and the verification code."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(f"{text.title_zh} {text.mentor_name}")
    pdf.set_author("Jieduan 结对")
    pdf.set_auto_page_break(auto=False)
    pdf.add_font("cjk", fname=str(font_path()), collection_font_number=SIMPLIFIED_CHINESE_FACE)
    pdf.add_page()
    pdf.set_draw_color(170, 30, 30)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_line_width(0.4)
    pdf.rect(14, 14, 269, 182)

    def line(size: float, body: str, gap: float, colour: tuple[int, int, int] = (30, 30, 30)) -> None:
        pdf.set_font("cjk", size=size)
        pdf.set_text_color(*colour)
        pdf.cell(0, size * 0.5, body, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    pdf.set_y(32)
    line(40, "荣 誉 证 书", 4, (170, 30, 30))
    line(14, "Certificate of Honour", 14, (120, 120, 120))
    line(22, text.mentor_name, 8)
    line(14, "在结对帮扶中成绩突出，特授予", 6)
    line(32, f"“{text.title_zh}”", 2, (170, 30, 30))
    line(13, text.title_en, 12, (120, 120, 120))
    line(14, text.jurisdiction, 4)
    line(14, f"{text.confirmed_on.year} 年 {text.confirmed_on.month} 月 {text.confirmed_on.day} 日", 14)
    line(11, f"验证码 Verification code：{text.verification_code}", 2, (80, 80, 80))
    line(10, f"核验 Verify at {text.verify_url}", 0, (80, 80, 80))
    return bytes(pdf.output())
