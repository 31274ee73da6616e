"""Two-level product taxonomy of Chinese rural e-commerce, with industrial-chain links.

Leaves have stable ASCII codes ("tea.growing") stored in the database; synonyms map the words farmers
and rosters use (红茶, 猕猴桃, "Tea") to a leaf. Chain links point upstream -> downstream and are what
lets retrieval surface complementary pairs (a tea grower and a tea processor), not only identical ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np


@dataclass(frozen=True)
class Group:
    """A top-level product group."""

    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Category:
    """A leaf category: the unit profiles, matching and diversity rules work with."""

    code: str
    parent: str
    name_zh: str
    name_en: str
    synonyms: tuple[str, ...]


GROUPS: tuple[Group, ...] = (
    Group("tea", "茶叶", "tea"),
    Group("fruit", "水果", "fruit"),
    Group("veg", "蔬菜菌菇", "vegetables and mushrooms"),
    Group("grain", "粮油", "grain and oil"),
    Group("livestock", "畜禽", "livestock and poultry"),
    Group("aquatic", "水产", "aquatic products"),
    Group("flowers", "花卉苗木", "flowers and nursery stock"),
    Group("herbs", "中药材", "medicinal herbs"),
    Group("nuts", "坚果炒货", "nuts and roasted snacks"),
    Group("honey", "蜂产品", "bee products"),
    Group("food", "特色食品", "specialty foods"),
    Group("crafts", "手工艺品", "handicrafts"),
    Group("apparel", "服装纺织", "apparel and textiles"),
    Group("inputs", "农资", "farm inputs"),
    Group("tourism", "乡村旅游", "rural tourism"),
)

# (code, name_zh, name_en, synonyms): the parent is the code's prefix before the dot.
_LEAVES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("tea.growing", "茶叶种植", "tea growing", ("茶叶", "茶", "茶园", "种茶", "鲜叶", "tea", "tea garden")),
    (
        "tea.processing",
        "茶叶加工",
        "tea processing",
        (
            "制茶",
            "绿茶",
            "红茶",
            "白茶",
            "乌龙茶",
            "普洱",
            "普洱茶",
            "黑茶",
            "岩茶",
            "龙井",
            "铁观音",
            "tea processing",
            "green tea",
            "black tea",
            "pu'er",
        ),
    ),
    (
        "tea.packaging_gifts",
        "茶叶包装与礼盒",
        "tea packaging and gift sets",
        ("茶叶礼盒", "茶礼盒", "茶叶包装", "tea gift box", "tea packaging"),
    ),
    ("tea.ware", "茶具", "tea ware", ("茶具", "茶杯", "茶壶", "紫砂壶", "tea ware", "teapot")),
    ("fruit.orchard", "果园种植", "orchard fruit", ("水果", "果园", "鲜果", "fruit", "orchard")),
    (
        "fruit.citrus",
        "柑橘",
        "citrus",
        (
            "柑橘",
            "脐橙",
            "橙子",
            "沃柑",
            "砂糖橘",
            "柚子",
            "蜜柚",
            "橘子",
            "citrus",
            "orange",
            "navel orange",
            "pomelo",
        ),
    ),
    (
        "fruit.apple_pear",
        "苹果梨",
        "apples and pears",
        ("苹果", "梨", "红富士", "酥梨", "香梨", "apple", "pear"),
    ),
    ("fruit.kiwi", "猕猴桃", "kiwifruit", ("猕猴桃", "奇异果", "kiwi", "kiwifruit")),
    (
        "fruit.tropical",
        "热带水果",
        "tropical fruit",
        ("芒果", "荔枝", "龙眼", "菠萝", "香蕉", "火龙果", "百香果", "mango", "lychee", "longan", "banana"),
    ),
    ("fruit.grapes", "葡萄", "grapes", ("葡萄", "阳光玫瑰", "提子", "grape", "grapes")),
    (
        "fruit.berries",
        "莓果",
        "berries",
        ("蓝莓", "草莓", "樱桃", "杨梅", "blueberry", "strawberry", "cherry"),
    ),
    (
        "fruit.dried",
        "果干蜜饯",
        "dried fruit",
        (
            "果干",
            "葡萄干",
            "红枣",
            "大枣",
            "柿饼",
            "芒果干",
            "蜜饯",
            "dried fruit",
            "raisin",
            "jujube",
            "red date",
        ),
    ),
    (
        "fruit.processed",
        "果汁果酱",
        "juice and preserves",
        ("果汁", "果酱", "水果罐头", "果酒", "juice", "jam", "canned fruit"),
    ),
    (
        "veg.fresh",
        "蔬菜种植",
        "fresh vegetables",
        (
            "蔬菜",
            "青菜",
            "大棚蔬菜",
            "西红柿",
            "黄瓜",
            "土豆",
            "马铃薯",
            "红薯",
            "山药",
            "vegetable",
            "vegetables",
            "potato",
            "sweet potato",
        ),
    ),
    (
        "veg.mushrooms",
        "食用菌",
        "mushrooms",
        (
            "食用菌",
            "香菇",
            "木耳",
            "黑木耳",
            "菌菇",
            "松茸",
            "羊肚菌",
            "野生菌",
            "mushroom",
            "mushrooms",
            "shiitake",
        ),
    ),
    (
        "veg.pickled",
        "酱腌菜",
        "pickled vegetables",
        ("酱菜", "榨菜", "泡菜", "咸菜", "酸菜", "pickles", "kimchi"),
    ),
    (
        "veg.dried",
        "干菜",
        "dried vegetables",
        ("干菜", "笋干", "梅干菜", "干豆角", "dried vegetables", "dried bamboo shoots"),
    ),
    ("grain.rice", "大米", "rice", ("大米", "稻米", "五常大米", "水稻", "rice")),
    (
        "grain.wheat_flour",
        "面粉挂面",
        "flour and noodles",
        ("面粉", "挂面", "小麦", "手工面", "flour", "wheat"),
    ),
    (
        "grain.coarse",
        "杂粮",
        "coarse grains",
        ("杂粮", "小米", "玉米", "荞麦", "燕麦", "黄豆", "绿豆", "millet", "corn", "buckwheat", "soybean"),
    ),
    (
        "grain.oilseed",
        "油料种植",
        "oilseed crops",
        ("油菜", "油菜籽", "花生", "油茶", "油茶籽", "芝麻", "rapeseed", "peanut", "oil-tea camellia"),
    ),
    (
        "grain.oil",
        "食用油",
        "edible oil",
        (
            "食用油",
            "菜籽油",
            "花生油",
            "山茶油",
            "茶油",
            "茶籽油",
            "芝麻油",
            "香油",
            "edible oil",
            "camellia oil",
            "peanut oil",
        ),
    ),
    ("livestock.pigs", "生猪养殖", "pig farming", ("生猪", "黑猪", "土猪", "养猪", "猪肉", "pig", "pork")),
    (
        "livestock.cattle_sheep",
        "牛羊养殖",
        "cattle and sheep",
        ("牛羊", "牛肉", "羊肉", "肉牛", "黄牛", "滩羊", "羊", "cattle", "beef", "lamb", "mutton", "sheep"),
    ),
    (
        "livestock.poultry",
        "家禽养殖",
        "poultry",
        ("家禽", "土鸡", "走地鸡", "鸡", "鸭", "鹅", "poultry", "chicken", "duck", "goose"),
    ),
    ("livestock.eggs", "禽蛋", "eggs", ("鸡蛋", "土鸡蛋", "鸭蛋", "咸鸭蛋", "皮蛋", "鹅蛋", "egg", "eggs")),
    (
        "livestock.meat_processing",
        "肉制品加工",
        "meat processing",
        (
            "腊肉",
            "香肠",
            "腊肠",
            "牛肉干",
            "风干肉",
            "熏肉",
            "火腿",
            "卤味",
            "cured meat",
            "sausage",
            "beef jerky",
        ),
    ),
    (
        "livestock.dairy",
        "乳制品",
        "dairy",
        ("牛奶", "奶", "酸奶", "奶酪", "奶皮子", "奶粉", "milk", "dairy", "cheese"),
    ),
    (
        "aquatic.seafood",
        "海鲜捕捞养殖",
        "seafood",
        (
            "海鲜",
            "海产",
            "海虾",
            "梭子蟹",
            "生蚝",
            "扇贝",
            "海参",
            "鲍鱼",
            "seafood",
            "oyster",
            "scallop",
            "sea cucumber",
        ),
    ),
    (
        "aquatic.freshwater",
        "淡水养殖",
        "freshwater aquaculture",
        ("淡水鱼", "小龙虾", "大闸蟹", "河蟹", "鱼", "甲鱼", "鳝鱼", "crayfish", "hairy crab", "fish"),
    ),
    (
        "aquatic.dried",
        "海产干货",
        "dried seafood",
        ("海产干货", "海带", "紫菜", "虾皮", "鱿鱼干", "鱼干", "干贝", "kelp", "seaweed", "dried shrimp"),
    ),
    (
        "aquatic.processed",
        "水产加工",
        "processed seafood",
        ("鱼丸", "即食海参", "水产加工", "鱼罐头", "fish balls", "processed seafood"),
    ),
    (
        "flowers.seedlings",
        "苗木种植",
        "nursery seedlings",
        ("苗木", "花苗", "绿化苗木", "树苗", "花木", "seedlings", "nursery stock", "saplings"),
    ),
    (
        "flowers.cut",
        "鲜切花",
        "cut flowers",
        ("鲜花", "鲜切花", "玫瑰", "百合", "康乃馨", "cut flowers", "rose"),
    ),
    (
        "flowers.pots_miniascape",
        "盆景盆栽",
        "bonsai and potted plants",
        ("盆景", "盆栽", "多肉", "绿植", "兰花", "bonsai", "miniascape", "potted plants", "succulents"),
    ),
    (
        "flowers.garden_supplies",
        "园艺资材",
        "garden supplies",
        ("花盆", "营养土", "园艺工具", "园艺", "flower pots", "gardening supplies"),
    ),
    (
        "herbs.growing",
        "中药材种植",
        "herb growing",
        (
            "中药材",
            "药材",
            "三七",
            "当归",
            "黄芪",
            "党参",
            "天麻",
            "人参",
            "medicinal herbs",
            "ginseng",
            "notoginseng",
        ),
    ),
    (
        "herbs.processing",
        "中药饮片",
        "herbal slices",
        ("中药饮片", "饮片", "药材加工", "herbal slices", "herb processing"),
    ),
    (
        "herbs.health_products",
        "滋补养生品",
        "health foods",
        ("枸杞", "灵芝", "石斛", "铁皮石斛", "阿胶", "花茶", "养生茶", "goji", "wolfberry", "lingzhi"),
    ),
    (
        "nuts.growing",
        "坚果种植",
        "nut growing",
        (
            "核桃",
            "板栗",
            "山核桃",
            "碧根果",
            "榛子",
            "巴旦木",
            "坚果",
            "walnut",
            "chestnut",
            "hazelnut",
            "nuts",
        ),
    ),
    (
        "nuts.roasted",
        "炒货",
        "roasted nuts and seeds",
        ("炒货", "瓜子", "葵花籽", "南瓜子", "糖炒栗子", "roasted seeds", "sunflower seeds"),
    ),
    (
        "honey.beekeeping",
        "养蜂",
        "beekeeping",
        ("养蜂", "蜂蜜", "土蜂蜜", "槐花蜜", "百花蜜", "honey", "beekeeping"),
    ),
    (
        "honey.products",
        "蜂产品加工",
        "bee products",
        ("蜂王浆", "蜂胶", "蜂花粉", "蜂蜡", "royal jelly", "propolis", "bee pollen"),
    ),
    (
        "food.spices",
        "香辛料种植",
        "spice growing",
        ("花椒", "辣椒", "八角", "生姜", "大蒜", "胡椒", "sichuan pepper", "chili", "ginger", "garlic"),
    ),
    (
        "food.sauces",
        "调味品",
        "sauces and condiments",
        (
            "辣椒酱",
            "豆瓣酱",
            "酱油",
            "醋",
            "陈醋",
            "火锅底料",
            "调味品",
            "chili sauce",
            "vinegar",
            "soy sauce",
            "hotpot base",
        ),
    ),
    (
        "food.noodles",
        "米粉粉面",
        "rice noodles",
        ("米粉", "螺蛳粉", "酸辣粉", "米线", "粉丝", "rice noodles", "river snail noodles"),
    ),
    ("food.snacks", "休闲零食", "snacks", ("零食", "锅巴", "麻花", "辣条", "薯片", "红薯干", "snacks")),
    ("food.baked", "糕点", "pastries", ("糕点", "月饼", "酥饼", "点心", "年糕", "pastry", "mooncake")),
    (
        "food.brown_sugar",
        "红糖甘蔗",
        "sugarcane and brown sugar",
        ("红糖", "古法红糖", "甘蔗", "黑糖", "brown sugar", "sugarcane"),
    ),
    (
        "crafts.bamboo_rattan",
        "竹藤编织",
        "bamboo and rattan",
        ("竹编", "藤编", "竹制品", "草编", "柳编", "bamboo weaving", "rattan"),
    ),
    (
        "crafts.textiles",
        "刺绣蜡染",
        "embroidery and batik",
        ("刺绣", "蜡染", "扎染", "苗绣", "织锦", "embroidery", "batik"),
    ),
    ("crafts.pottery", "陶瓷", "pottery", ("陶瓷", "陶器", "瓷器", "土陶", "pottery", "ceramics")),
    (
        "crafts.woodwork",
        "木制品",
        "woodwork",
        ("木制品", "木雕", "实木家具", "木工", "woodwork", "wood carving", "furniture"),
    ),
    ("apparel.fabrics", "面料辅料", "fabrics", ("面料", "布料", "辅料", "fabric", "textile materials")),
    (
        "apparel.costumes",
        "演出服汉服",
        "costumes and hanfu",
        ("演出服", "汉服", "舞台服装", "表演服", "costumes", "hanfu"),
    ),
    ("apparel.clothing", "服装", "clothing", ("服装", "衣服", "童装", "女装", "clothing", "apparel")),
    (
        "apparel.home_textiles",
        "家纺",
        "home textiles",
        ("家纺", "床品", "被子", "蚕丝被", "home textiles", "bedding"),
    ),
    ("inputs.seeds", "种子种苗", "seeds and seedlings", ("种子", "种苗", "菜籽苗", "育苗", "seeds")),
    ("inputs.fertilizer", "肥料", "fertilizer", ("肥料", "有机肥", "化肥", "农家肥", "fertilizer", "manure")),
    ("inputs.machinery", "农机具", "farm machinery", ("农机", "农机具", "农具", "farm machinery", "tractor")),
    (
        "tourism.farm_stay",
        "农家乐民宿",
        "farm stays",
        ("农家乐", "民宿", "乡村民宿", "farm stay", "homestay"),
    ),
    (
        "tourism.picking",
        "采摘体验",
        "pick-your-own",
        ("采摘", "采摘园", "观光园", "pick-your-own", "fruit picking"),
    ),
)

CATEGORIES: tuple[Category, ...] = tuple(
    Category(code, code.split(".")[0], zh, en, syn) for code, zh, en, syn in _LEAVES
)

# Upstream -> downstream: the supplier's know-how complements the buyer's, and vice versa.
CHAIN_LINKS: tuple[tuple[str, str], ...] = (
    ("tea.growing", "tea.processing"),
    ("tea.processing", "tea.packaging_gifts"),
    ("tea.ware", "tea.packaging_gifts"),
    ("fruit.orchard", "fruit.dried"),
    ("fruit.orchard", "fruit.processed"),
    ("fruit.orchard", "tourism.picking"),
    ("fruit.citrus", "fruit.processed"),
    ("fruit.apple_pear", "fruit.processed"),
    ("fruit.kiwi", "fruit.processed"),
    ("fruit.berries", "fruit.processed"),
    ("fruit.berries", "tourism.picking"),
    ("fruit.tropical", "fruit.dried"),
    ("fruit.grapes", "fruit.dried"),
    ("fruit.grapes", "fruit.processed"),
    ("inputs.seeds", "veg.fresh"),
    ("inputs.seeds", "flowers.seedlings"),
    ("inputs.fertilizer", "fruit.orchard"),
    ("inputs.fertilizer", "veg.fresh"),
    ("veg.fresh", "veg.pickled"),
    ("veg.fresh", "veg.dried"),
    ("veg.mushrooms", "veg.dried"),
    ("grain.rice", "food.noodles"),
    ("grain.wheat_flour", "food.baked"),
    ("grain.coarse", "food.snacks"),
    ("grain.oilseed", "grain.oil"),
    ("livestock.pigs", "livestock.meat_processing"),
    ("livestock.cattle_sheep", "livestock.meat_processing"),
    ("livestock.cattle_sheep", "livestock.dairy"),
    ("livestock.poultry", "livestock.eggs"),
    ("livestock.poultry", "livestock.meat_processing"),
    ("aquatic.seafood", "aquatic.dried"),
    ("aquatic.seafood", "aquatic.processed"),
    ("aquatic.freshwater", "aquatic.processed"),
    ("flowers.seedlings", "flowers.pots_miniascape"),
    ("flowers.seedlings", "flowers.cut"),
    ("flowers.garden_supplies", "flowers.pots_miniascape"),
    ("herbs.growing", "herbs.processing"),
    ("herbs.processing", "herbs.health_products"),
    ("nuts.growing", "nuts.roasted"),
    ("honey.beekeeping", "honey.products"),
    ("food.spices", "food.sauces"),
    ("food.brown_sugar", "food.baked"),
    ("apparel.fabrics", "apparel.costumes"),
    ("apparel.fabrics", "apparel.clothing"),
    ("apparel.fabrics", "apparel.home_textiles"),
    ("crafts.pottery", "tea.ware"),
)

# Relation kinds between a newcomer's category and a mentor's, as used by explanations.
RELATION_NONE, RELATION_SIBLING, RELATION_DOWNSTREAM, RELATION_UPSTREAM, RELATION_SAME = 0, 1, 2, 3, 4


@cache
def category_index() -> dict[str, int]:
    """Map each leaf code to its column in category matrices."""
    return {c.code: i for i, c in enumerate(CATEGORIES)}


@cache
def group_index() -> dict[str, int]:
    """Map each group code to its position in GROUPS."""
    return {g.code: i for i, g in enumerate(GROUPS)}


@cache
def _synonym_table() -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    exact: dict[str, str] = {}
    for cat in CATEGORIES:
        for word in (cat.code, cat.name_zh, cat.name_en, *cat.synonyms):
            exact.setdefault(word.strip().lower(), cat.code)
    # Longest first, so "山茶油" wins over "茶" inside "我家榨山茶油".
    by_length = tuple(sorted(exact.items(), key=lambda kv: (-len(kv[0]), kv[0])))
    return exact, by_length


def lookup_product(text: str) -> str | None:
    """Map a free product word ("红茶", "Tea", "猕猴桃") to a leaf code, or None."""
    key = text.strip().lower()
    if not key:
        return None
    exact, by_length = _synonym_table()
    if key in exact:
        return exact[key]
    for word, code in by_length:
        # Short Latin words ("tea") only count as whole words, so "steak" is not tea.
        if word.isascii() and len(word) <= 4:
            if word in key.replace(",", " ").split():
                return code
        elif word in key:
            return code
    return None


@cache
def relation_matrix() -> np.ndarray:
    """(C, C) int8: relation of mentor category j to newcomer category i (RELATION_* codes)."""
    idx = category_index()
    n = len(CATEGORIES)
    rel = np.zeros((n, n), dtype=np.int8)
    parents = np.array([group_index()[c.parent] for c in CATEGORIES])
    rel[parents[:, None] == parents[None, :]] = RELATION_SIBLING
    for up, down in CHAIN_LINKS:
        # Newcomer upstream, mentor downstream: the mentor is the newcomer's buyer/processor.
        rel[idx[up], idx[down]] = RELATION_DOWNSTREAM
        rel[idx[down], idx[up]] = RELATION_UPSTREAM
    np.fill_diagonal(rel, RELATION_SAME)
    rel.setflags(write=False)
    return rel


def compatibility_matrix(same: float = 0.85, chain: float = 1.0, sibling: float = 0.3) -> np.ndarray:
    """(C, C) float32 relevance of mentor category j to newcomer category i, for retrieval.

    A chain link scores above an identical product: the domain prefers complementary pairs, which
    spread know-how without seeding the next price war.
    """
    rel = relation_matrix()
    values = np.array([0.0, sibling, chain, chain, same], dtype=np.float32)
    return values[rel]


# How quickly a leaf's goods spoil in transit: 1.0 needs a cold chain (seafood, dairy, fresh meat, cut
# flowers, berries), 0.5 is fresh but travels a few days (most fruit, vegetables, eggs, live plants), 0.0
# keeps (tea, dried and processed food, crafts). Coordinators weigh distance by it.
_PERISHABILITY: dict[str, float] = {
    "aquatic.seafood": 1.0,
    "aquatic.freshwater": 1.0,
    "livestock.dairy": 1.0,
    "livestock.meat_processing": 1.0,
    "flowers.cut": 1.0,
    "fruit.berries": 1.0,
    "veg.mushrooms": 1.0,
    "tourism.picking": 0.5,
    "fruit.orchard": 0.5,
    "fruit.citrus": 0.5,
    "fruit.apple_pear": 0.5,
    "fruit.kiwi": 0.5,
    "fruit.tropical": 1.0,
    "fruit.grapes": 0.5,
    "veg.fresh": 1.0,
    "livestock.eggs": 0.5,
    "livestock.poultry": 0.5,
    "livestock.pigs": 0.5,
    "livestock.cattle_sheep": 0.5,
    "flowers.seedlings": 0.5,
    "flowers.pots_miniascape": 0.5,
    "tea.growing": 0.5,
    "honey.beekeeping": 0.0,
}


@cache
def perishability() -> np.ndarray:
    """(C,) float32 perishability of each leaf: 1 needs a cold chain, 0.5 fresh, 0 keeps."""
    out = np.array([_PERISHABILITY.get(c.code, 0.0) for c in CATEGORIES], dtype=np.float32)
    out.setflags(write=False)
    return out


@cache
def chain_link_matrix() -> np.ndarray:
    """(C, C) bool: mentor category j is one link up or down the chain from newcomer category i."""
    rel = relation_matrix()
    out = (rel == RELATION_DOWNSTREAM) | (rel == RELATION_UPSTREAM)
    out.setflags(write=False)
    return out
