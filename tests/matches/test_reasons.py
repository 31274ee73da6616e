"""The audit trail's reasons read in the page's language (the console's timeline)."""

from __future__ import annotations

import pytest

from app.console.render import REASON_CODES
from app.matches import reasons
from app.matches.reasons import SERVICE_REASONS, reason_words


@pytest.mark.parametrize(
    ("stored", "zh", "en"),
    [
        (reasons.ACCEPTED, "双方均已接受", "both parties accepted"),
        (reasons.REPLACED_BY_RUN, "已被新一轮匹配替换", "replaced by a newer matching run"),
        ("too_far: 两地相距太远", "距离太远：两地相距太远", "too far: 两地相距太远"),
        ("too_far:", "距离太远", "too far"),
        ("party_withdrew: 改种粮食", "一方退出：改种粮食", "a party withdrew: 改种粮食"),
        ("mentor:", "导师谢绝", "the mentor declined"),
        ("先试三个月", "先试三个月", "先试三个月"),  # an approval's note from before notes had a code
        ("note: 先试: 三个月", "备注：先试: 三个月", "note: 先试: 三个月"),
    ],
)
def test_a_stored_reason_in_words(stored, zh, en):
    assert reason_words(stored, "zh-CN", REASON_CODES) == zh
    assert reason_words(stored, "en", REASON_CODES) == en


def test_every_reason_the_service_writes_has_chinese_words():
    for stored, (zh, en) in SERVICE_REASONS.items():
        assert en == stored and zh and not zh.isascii()
