"""The demo accounts' own profiles: a Zhaxia lead goose and a newcomer in another Jiangsu county.

The README tour runs a matching run over Jiangsu, approves the demo newcomer's proposal, and has both
accounts accept and report a check-in; so the two are written to be each other's best pair: the
mentor grows nursery seedlings and bonsai in Zhaxia (Shuyang), one link up the chain from the
newcomer's potted plants in Shaji (Suining, another county and prefecture), offers exactly what the
newcomer needs, sells on the same channels and has the track record and seats to take them on.
"""

from __future__ import annotations

from typing import Any, Final

from app.profiles.derived import derived_columns

# 扎下镇, 沭阳县 (the article's "lead goose" township) and 沙集镇, 睢宁县 (Xuzhou): both in Jiangsu.
STORY_MENTOR_REGION: Final = "321322115"
STORY_NEWCOMER_REGION: Final = "320324109"

_MENTOR: Final[dict[str, Any]] = {
    "name": "周建华花木家庭农场",
    "kind": "household",
    "contact_name": "周建华",
    "years_selling": 12,
    "sales_band": "100-500",
    "orders_per_month": 1800,
    "employees": 9,
    "capacity": 8,
    "honours": ["沭阳县电商示范户", "江苏省农村电商带头人"],
    "fulfilment_rate": 0.96,
    "channels": ["douyin", "taobao", "pinduoduo", "wechat"],
    "languages": ["mandarin"],
    "products": ["flowers.seedlings", "flowers.pots_miniascape"],
    "resources_offered": [
        {"type": "technology", "description": "抖音直播带货与盆栽拍摄、包装培训"},
        {"type": "logistics", "description": "共享活体植物快递协议价和防压包装"},
        {"type": "information", "description": "每周花木行情与平台活动规则"},
    ],
    "story": (
        "在扎下镇种花木十二年，从一个大棚做到带动全村开网店。主营绿化苗木、多肉盆栽和盆景，"
        "抖音直播卖盆栽，愿意把直播、拍摄、包装和快递协议价分享给外县的新农人。"
    ),
}

_NEWCOMER: Final[dict[str, Any]] = {
    "name": "王小梅",
    "experience_years": 0,
    "channels": ["douyin", "pinduoduo"],
    "languages": ["mandarin"],
    "products": ["flowers.pots_miniascape"],
    "resources_needed": ["technology", "logistics"],
    "internet": "broadband",
    "courier_km": 1.5,
    "goals": "半年内在抖音开店，把自家大棚的多肉盆栽卖到全国",
    "story": (
        "在沙集镇有两亩大棚，种多肉盆栽和小盆景，想学抖音直播卖盆栽，缺拍摄包装技术和活体植物的快递渠道。"
    ),
}


def story_mentor(account_id: int, phone: str) -> tuple[dict[str, Any], list[str]]:
    """The demo mentor's profile row (owned by the demo mentor account) and its products."""
    fields = {k: v for k, v in _MENTOR.items() if k != "products"}
    row = {
        **fields,
        "region_code": STORY_MENTOR_REGION,
        "phone": phone,
        "account_id": account_id,
        "capacity_used": 0,
        "is_active": True,
        "version": 1,
        **derived_columns(
            region_code=STORY_MENTOR_REGION,
            channels=fields["channels"],
            resources=[o["type"] for o in fields["resources_offered"]],
        ),
    }
    return row, list(_MENTOR["products"])


def story_newcomer(account_id: int, phone: str) -> tuple[dict[str, Any], list[str]]:
    """The demo newcomer's profile row (owned by the demo newcomer account) and its products."""
    fields = {k: v for k, v in _NEWCOMER.items() if k != "products"}
    row = {
        **fields,
        "region_code": STORY_NEWCOMER_REGION,
        "phone": phone,
        "account_id": account_id,
        "is_active": True,
        "version": 1,
        **derived_columns(
            region_code=STORY_NEWCOMER_REGION,
            channels=fields["channels"],
            resources=fields["resources_needed"],
        ),
    }
    return row, list(_NEWCOMER["products"])
