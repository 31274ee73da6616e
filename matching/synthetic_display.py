"""Display data of synthetic profiles (names, stories, phones...), deterministic by seed."""

from __future__ import annotations

import numpy as np

from matching import taxonomy, vocab

SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
)
GIVEN = tuple("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰红梅建国志文春海燕林峰辉云")
HONOURS = (
    "县级电商示范户",
    "市级农村电商带头人",
    "省级电商示范企业",
    "淘宝村带头人",
    "全国农村电商优秀案例",
    "返乡创业之星",
    "巾帼电商能手",
)
_VERBS = ("种", "养", "做", "经营")


def _short(county_name: str) -> str:
    """ "安溪县" -> "安溪": the usual prefix of local brand names."""
    return county_name[:-1] if len(county_name) > 2 and county_name[-1] in "县区市旗" else county_name


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """Surname + one or two given-name characters."""
    s = rng.integers(0, len(SURNAMES), n)
    g1, g2 = rng.integers(0, len(GIVEN), n), rng.integers(-len(GIVEN), len(GIVEN), n)
    return [SURNAMES[a] + GIVEN[b] + (GIVEN[c] if c >= 0 else "") for a, b, c in zip(s, g1, g2, strict=True)]


def mentor_names(
    rng: np.random.Generator, kind: np.ndarray, county_names: list[str], primary: np.ndarray
) -> list[str]:
    """Person name for households, "XX<product>专业合作社" / "XX农业有限公司" for the others."""
    people = person_names(rng, len(kind))
    suffix = rng.integers(0, 2, len(kind))
    out = []
    for i, k in enumerate(kind):
        place = _short(county_names[i])
        product = taxonomy.CATEGORIES[primary[i]].name_zh if primary[i] >= 0 else "特色农产品"
        if k == 1:
            out.append(f"{place}{people[i][0]}氏{product}专业合作社")
        elif k == 2:
            out.append(
                f"{place}{product}农业有限公司" if suffix[i] else f"{place}{people[i][:1]}家农业有限公司"
            )
        else:
            out.append(people[i])
    return out


def phones(rng: np.random.Generator, n: int) -> list[str]:
    """Fake mainland mobile numbers: 11 digits starting 13-19."""
    second = rng.integers(3, 10, n)
    rest = rng.integers(0, 10**9, n)
    return [f"1{a}{b:09d}" for a, b in zip(second, rest, strict=True)]


def _labels(flags: np.ndarray, codes: tuple[str, ...], labels: dict[str, tuple[str, str]]) -> str:
    return "、".join(labels[c][0] for c, f in zip(codes, flags, strict=True) if f)


def mentor_stories(
    county_names: list[str], primary: np.ndarray, years: np.ndarray, channels: np.ndarray, offered: np.ndarray
) -> list[str]:
    """Short Chinese first-person story of each mentor."""
    out = []
    for i, name in enumerate(county_names):
        product = taxonomy.CATEGORIES[primary[i]].name_zh if primary[i] >= 0 else "农产品"
        syn = taxonomy.CATEGORIES[primary[i]].synonyms[0] if primary[i] >= 0 else ""
        out.append(
            f"在{name}做{product}电商{int(years[i])}年，主打{syn}，主要在"
            f"{_labels(channels[i], vocab.CHANNELS, vocab.CHANNEL_LABELS) or '线下'}销售。"
            f"愿意分享{_labels(offered[i], vocab.RESOURCE_TYPES, vocab.RESOURCE_LABELS)}方面的经验，"
            f"带动更多乡亲一起致富。"
        )
    return out


def newcomer_stories(
    rng: np.random.Generator,
    county_names: list[str],
    primary: np.ndarray,
    channels: np.ndarray,
    needed: np.ndarray,
) -> list[str]:
    """Short Chinese first-person story (plans and needs) of each newcomer."""
    verbs = rng.integers(0, len(_VERBS), len(county_names))
    out = []
    for i, name in enumerate(county_names):
        cat = taxonomy.CATEGORIES[primary[i]] if primary[i] >= 0 else None
        product = cat.synonyms[0] if cat else "农产品"
        out.append(
            f"我在{name}{_VERBS[verbs[i]]}{product}，想通过"
            f"{_labels(channels[i], vocab.CHANNELS, vocab.CHANNEL_LABELS) or '网店'}把产品卖出去，"
            f"需要{_labels(needed[i], vocab.RESOURCE_TYPES, vocab.RESOURCE_LABELS) or '各方面'}的帮助。"
        )
    return out


def honours(rng: np.random.Generator, n: int, share: float = 0.4) -> list[tuple[str, ...]]:
    """Some mentors hold one or two honours."""
    has = rng.random(n) < share
    a, b = rng.integers(0, len(HONOURS), n), rng.integers(0, len(HONOURS), n)
    two = rng.random(n) < 0.3
    return [
        () if not h else (HONOURS[x],) if not t or x == y else (HONOURS[x], HONOURS[y])
        for h, x, y, t in zip(has, a, b, two, strict=True)
    ]
