"""Closed vocabularies shared by the model, the API and the roster import.

Codes are stable ASCII identifiers stored in the database and sent over the API;
the Chinese and English labels are for people.
"""

from __future__ import annotations

from typing import Final

# The four kinds of resource a mentor can share (domain notes, "What is shared").
RESOURCE_TYPES: Final[tuple[str, ...]] = ("information", "technology", "human_capital", "logistics")
RESOURCE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "information": ("信息", "information"),
    "technology": ("技术", "technology"),
    "human_capital": ("人力", "human capital"),
    "logistics": ("物流", "logistics"),
}

# Areas of collaboration the source article names.
AREAS: Final[tuple[str, ...]] = (
    "production_decisions",
    "product_type_adjustment",
    "marketing_innovation",
    "after_sales_follow_up",
)
AREA_LABELS: Final[dict[str, tuple[str, str]]] = {
    "production_decisions": ("生产决策", "production decisions"),
    "product_type_adjustment": ("产品类型调整", "product-type adjustment"),
    "marketing_innovation": ("营销创新", "marketing innovation"),
    "after_sales_follow_up": ("售后跟进", "after-sales follow-up"),
}

CHANNELS: Final[tuple[str, ...]] = ("taobao", "pinduoduo", "jd", "douyin", "kuaishou", "wechat")
CHANNEL_LABELS: Final[dict[str, tuple[str, str]]] = {
    "taobao": ("淘宝/天猫", "Taobao/Tmall"),
    "pinduoduo": ("拼多多", "Pinduoduo"),
    "jd": ("京东", "JD"),
    "douyin": ("抖音", "Douyin"),
    "kuaishou": ("快手", "Kuaishou"),
    "wechat": ("微信", "WeChat"),
}

LANGUAGES: Final[tuple[str, ...]] = (
    "mandarin",
    "cantonese",
    "minnan",
    "wu",
    "hakka",
    "xiang",
    "gan",
    "jin",
    "southwestern_mandarin",
    "uyghur",
    "tibetan",
    "mongolian",
    "zhuang",
    "yi",
)
LANGUAGE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "mandarin": ("普通话", "Mandarin"),
    "cantonese": ("粤语", "Cantonese"),
    "minnan": ("闽南话", "Southern Min"),
    "wu": ("吴语", "Wu"),
    "hakka": ("客家话", "Hakka"),
    "xiang": ("湘语", "Xiang"),
    "gan": ("赣语", "Gan"),
    "jin": ("晋语", "Jin"),
    "southwestern_mandarin": ("西南官话", "Southwestern Mandarin"),
    "uyghur": ("维吾尔语", "Uyghur"),
    "tibetan": ("藏语", "Tibetan"),
    "mongolian": ("蒙古语", "Mongolian"),
    "zhuang": ("壮语", "Zhuang"),
    "yi": ("彝语", "Yi"),
}

MENTOR_KINDS: Final[tuple[str, ...]] = ("household", "cooperative", "enterprise")
MENTOR_KIND_LABELS: Final[dict[str, tuple[str, str]]] = {
    "household": ("农户/个体户", "household"),
    "cooperative": ("合作社", "cooperative"),
    "enterprise": ("企业", "enterprise"),
}

# Annual sales bands, in units of 10,000 CNY (the unit rosters use), lower bound inclusive.
SALES_BANDS: Final[tuple[tuple[str, float, float | None], ...]] = (
    ("lt10", 0, 10),
    ("10-50", 10, 50),
    ("50-100", 50, 100),
    ("100-500", 100, 500),
    ("500-1000", 500, 1000),
    ("ge1000", 1000, None),
)

# Separation policies, from weakest to strongest: the pair must differ at this level.
SEPARATION_LEVELS: Final[tuple[str, ...]] = ("county", "prefecture", "province")

# Honour levels, from a roster's free text: the highest administrative level named wins.
HONOUR_LEVELS: Final[tuple[tuple[str, int], ...]] = (
    ("全国", 4),
    ("国家", 4),
    ("national", 4),
    ("省", 3),
    ("province", 3),
    ("市", 2),
    ("city", 2),
    ("prefecture", 2),
    ("县", 1),
    ("county", 1),
)
INTERNET_LEVELS: Final[tuple[str, ...]] = ("none", "mobile", "broadband")


def honour_level(text: str) -> int:
    """Level of one honour: 4 national, 3 provincial, 2 city, 1 county or unknown."""
    low = text.lower()
    return max((level for word, level in HONOUR_LEVELS if word in low), default=1)
