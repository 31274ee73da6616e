"""Reasons in words (zh-CN and en) and suggested commitments (offered ∩ needed) of one proposal.

Computed lazily per proposal: building strings for a million rows is left to callers who ask.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from matching import taxonomy, vocab
from matching.regions import haversine_km
from matching.types import Commitment, MentorTable, NewcomerTable

Lang = Literal["zh", "en"]

# Resource -> (area, zh template, en template, cadence days). {p} is the newcomer's product.
_COMMITMENT_PLAN: dict[str, tuple[str, str, str, int]] = {
    "information": (
        "production_decisions",
        "每两周分享一次{p}的市场行情、价格信号与平台规则变化",
        "share {p} market prices, demand signals and platform rule changes every two weeks",
        14,
    ),
    "technology": (
        "marketing_innovation",
        "每周一次店铺运营、产品拍摄与直播带货实操指导",
        "weekly hands-on coaching in store operation, product photos and live-streaming",
        7,
    ),
    "human_capital": (
        "product_type_adjustment",
        "每月一次线上培训，必要时派运营人员协助调整{p}产品结构",
        "a monthly training session, lending an operator to adjust the {p} product line",
        30,
    ),
    "logistics": (
        "after_sales_follow_up",
        "共享快递合同或冷链仓储，协助首批{p}发货并跟进售后",
        "share courier contracts or cold-chain storage, help ship the first {p} orders and "
        "follow up after-sales",
        14,
    ),
}


def _cats(table: MentorTable | NewcomerTable, row: int) -> list[int]:
    start, end = table.categories.indptr[row], table.categories.indptr[row + 1]
    return [int(c) for c in table.categories.indices[start:end]]


def _name(col: int, lang: Lang) -> str:
    cat = taxonomy.CATEGORIES[col]
    return cat.name_zh if lang == "zh" else cat.name_en


def product_relation(mentors: MentorTable, newcomers: NewcomerTable, m: int, n: int) -> tuple[int, int, int]:
    """(relation code, newcomer category, mentor category) of the strongest product link of a pair."""
    rel = taxonomy.relation_matrix()
    best = (taxonomy.RELATION_NONE, -1, -1)
    for i in _cats(newcomers, n):
        for j in _cats(mentors, m):
            if rel[i, j] > best[0]:
                best = (int(rel[i, j]), i, j)
    return best


def _product_reason(relation: tuple[int, int, int], lang: Lang, same_market: bool) -> str | None:
    kind, i, j = relation
    if kind == taxonomy.RELATION_NONE:
        return None
    a, b = _name(i, lang), _name(j, lang)
    group = next(g for g in taxonomy.GROUPS if g.code == taxonomy.CATEGORIES[i].parent)
    if kind == taxonomy.RELATION_SAME:
        if lang == "zh":
            return f"你们都做{a}：同品类经验可直接借鉴" + (
                "" if same_market else "，且对方在不同市场，不构成直接竞争"
            )
        return f"you both sell {a}: directly reusable know-how" + (
            "" if same_market else ", in different markets, so no direct rivalry"
        )
    if kind == taxonomy.RELATION_DOWNSTREAM:
        return (
            f"您做{a}，对方做{b}：产业链上下游（对方在下游）"
            if lang == "zh"
            else f"you do {a}, the mentor does {b}: one industrial chain (mentor downstream)"
        )
    if kind == taxonomy.RELATION_UPSTREAM:
        return (
            f"您做{a}，对方做{b}：产业链上下游（对方在上游）"
            if lang == "zh"
            else f"you do {a}, the mentor does {b}: one industrial chain (mentor upstream)"
        )
    return (
        f"您做{a}，对方做{b}：同属{group.name_zh}行业"
        if lang == "zh"
        else f"you do {a}, the mentor does {b}: both in {group.name_en}"
    )


def _labels(flags: np.ndarray, codes: tuple[str, ...], labels: dict[str, tuple[str, str]], lang: Lang) -> str:
    sep = "、" if lang == "zh" else ", "
    return sep.join(labels[c][0 if lang == "zh" else 1] for c, f in zip(codes, flags, strict=True) if f)


def reasons(
    mentors: MentorTable, newcomers: NewcomerTable, m: int, n: int, parts: dict[str, float], lang: Lang = "zh"
) -> list[str]:
    """Why this pair: one short sentence per score part that matters, strongest evidence first."""
    zh = lang == "zh"
    out: list[str] = []
    same_pref = newcomers.county[n] // 100 == mentors.county[m] // 100
    text = _product_reason(product_relation(mentors, newcomers, m, n), lang, same_pref)
    if text:
        out.append(text)
    both = newcomers.resources[n] & mentors.resources[m]
    if both.any():
        names = _labels(both, vocab.RESOURCE_TYPES, vocab.RESOURCE_LABELS, lang)
        out.append(
            f"对方能提供您需要的{names}资源" if zh else f"the mentor offers the {names} support you need"
        )
    elif newcomers.resources[n].any():
        out.append(
            "注意：对方提供的资源与您的需求没有交集，暂无可建议的共享承诺"
            if zh
            else "note: the mentor offers none of the resources you need, so no commitment is suggested"
        )
    channels = newcomers.channels[n] & mentors.channels[m]
    if channels.any():
        names = _labels(channels, vocab.CHANNELS, vocab.CHANNEL_LABELS, lang)
        out.append(f"共同的销售渠道：{names}" if zh else f"shared sales channels: {names}")
    langs = newcomers.languages[n] & mentors.languages[m]
    if langs.any():
        names = _labels(langs, vocab.LANGUAGES, vocab.LANGUAGE_LABELS, lang)
        out.append(f"沟通语言相通：{names}" if zh else f"you can talk in {names}")
    km = float(
        haversine_km(
            float(newcomers.lat[n]), float(newcomers.lon[n]), float(mentors.lat[m]), float(mentors.lon[m])
        )
    )
    cross = "跨省" if newcomers.county[n] // 10000 != mentors.county[m] // 10000 else "省内跨县"
    cross_en = "another province" if cross == "跨省" else "another county of your province"
    out.append(
        f"相距约{km:.0f}公里（{cross}），物流与交流可行" if zh else f"about {km:.0f} km apart ({cross_en})"
    )
    rate = mentors.track_record[m]
    if not np.isnan(rate):
        out.append(
            f"对方以往承诺履约率{rate:.0%}" if zh else f"the mentor kept {rate:.0%} of past commitments"
        )
    if parts.get("homogenization", 0.0) > 0:
        out.append(
            "注意：与对方同一地级市且产品相同，存在同质化竞争风险"
            if zh
            else "caution: same product in the mentor's own prefecture, a risk of price wars"
        )
    if parts.get("equity", 0.0) >= 0.75:
        out.append(
            "您所在县电商基础较弱，优先安排优秀带头人"
            if zh
            else "your county is under-served by e-commerce, so it gets priority for strong mentors"
        )
    return out


def suggested_commitments(
    mentors: MentorTable, newcomers: NewcomerTable, m: int, n: int
) -> tuple[Commitment, ...]:
    """Resources offered ∩ needed, each with an area, a concrete description and a check-in cadence.

    Exactly the intersection: when it is empty there is no suggestion (reasons() says so), never an
    invented commitment the mentor does not offer.
    """
    both = newcomers.resources[n] & mentors.resources[m]
    chosen = [r for r, f in zip(vocab.RESOURCE_TYPES, both, strict=True) if f]
    cats = _cats(newcomers, n)
    p_zh = _name(cats[0], "zh") if cats else "产品"
    p_en = _name(cats[0], "en") if cats else "product"
    out = []
    for r in chosen:
        area, zh, en, days = _COMMITMENT_PLAN[r]
        out.append(Commitment(r, area, zh.format(p=p_zh), en.format(p=p_en), days))
    return tuple(out)
